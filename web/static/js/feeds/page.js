// The feeds page: the flood, traffic and KPI widgets and the city map with
// the roads and flood layers, mounted as the wall mounts them.

import { Hub } from '../hub.js';
import { makeT } from '../i18n.js';
import { api, pickLang } from '../kit.js';
import { CityMap } from '../citymap.js';
import { mount as flood } from '../widgets/flood.js';
import { mount as traffic } from '../widgets/traffic.js';
import { mount as kpi } from '../widgets/kpi.js';
import { layer as trafficLayer } from '../layers/traffic.js';
import { layer as floodLayer } from '../layers/flood.js';
import { extentOf } from './common.js';

const lang = pickLang();

async function main() {
  const pub = await api('/api/v1/public').catch(() => ({ districts: [] }));
  const hub = new Hub();
  const ctx = { hub, lang, t: makeT(lang), pub, opts: {} };
  const widgets = [
    flood(document.getElementById('w-flood'), ctx),
    traffic(document.getElementById('w-traffic'), { ...ctx, opts: { keyOnly: false } }),
    kpi(document.getElementById('w-kpi'), ctx),
  ];

  // The stations and roads sit in the city centre: the map frames them,
  // not the whole city, once they are known (the districts until then).
  let cm = null;
  let framed = '';
  const frame = () => {
    if (!cm) return;
    const box = extentOf(layers.flatMap((l) => l.extent() || []));
    const key = JSON.stringify(box);
    if (!box || key === framed) return;
    framed = key;
    const m = 0.01; // degrees around them, so one station is not a street's view
    cm.opts.bounds = [[box[0][0] - m, box[0][1] - m], [box[1][0] + m, box[1][1] + m]];
    cm.fit();
  };
  const layers = [trafficLayer({ ...ctx, redraw: frame }), floodLayer({ ...ctx, redraw: frame })];
  window.citywallFeeds = { hub, widgets, layers, map: null };
  hub.start();

  cm = await CityMap.create(document.getElementById('fd-map'), { pub, lang });
  window.citywallFeeds.map = cm;
  await cm.ready;
  for (const l of layers) l.add(cm);
  frame();
}

main();
