// The feeds page: the flood, traffic and KPI widgets and a map with the
// roads and flood layers, mounted as the wall mounts them.

import { Hub } from '../hub.js';
import { pickLang, makeT } from '../i18n.js';
import { mount as flood } from '../widgets/flood.js';
import { mount as traffic } from '../widgets/traffic.js';
import { mount as kpi } from '../widgets/kpi.js';
import { layer as trafficLayer } from '../layers/traffic.js';
import { layer as floodLayer } from '../layers/flood.js';

const lang = pickLang();
document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';

async function main() {
  const r = await fetch('/api/v1/public', { credentials: 'same-origin' });
  const pub = r.ok ? await r.json() : { map: { center: [20.0, 110.33], zoom: 11.8 }, districts: [] };
  const hub = new Hub();
  const ctx = { hub, lang, t: makeT(lang), pub, opts: {} };
  const widgets = [
    flood(document.getElementById('w-flood'), ctx),
    traffic(document.getElementById('w-traffic'), { ...ctx, opts: { keyOnly: false } }),
    kpi(document.getElementById('w-kpi'), ctx),
  ];

  const canvas = document.getElementById('fd-map');
  let raf = 0;
  const redraw = () => { if (!raf) raf = requestAnimationFrame(draw); };
  const layers = [trafficLayer({ ...ctx, redraw }), floodLayer({ ...ctx, redraw })];
  // The stations sit in the city centre: frame them, not the whole map.
  const center = [20.005, 110.325];
  const zoom = (pub.map && pub.map.zoom ? pub.map.zoom : 11.8) + 1.4;

  function draw() {
    raf = 0;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(canvas.clientWidth * dpr);
    const hh = Math.round(canvas.clientHeight * dpr);
    if (canvas.width !== w || canvas.height !== hh) { canvas.width = w; canvas.height = hh; }
    const c = canvas.getContext('2d');
    c.fillStyle = '#06101c';
    c.fillRect(0, 0, w, hh);
    const world = 256 * Math.pow(2, zoom) * dpr;
    const mx = (lng) => ((lng + 180) / 360) * world;
    const my = (lat) => {
      const s = Math.sin((lat * Math.PI) / 180);
      return (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * world;
    };
    const cx = mx(center[1]);
    const cy = my(center[0]);
    const project = (lat, lng) => [mx(lng) - cx + w / 2, my(lat) - cy + hh / 2];
    c.strokeStyle = 'rgba(79,160,255,0.35)';
    c.lineWidth = 1.5 * dpr;
    for (const d of pub.districts || []) {
      c.beginPath();
      d.polygon.forEach(([la, ln], i) => { const [x, y] = project(la, ln); if (i) c.lineTo(x, y); else c.moveTo(x, y); });
      c.closePath();
      c.stroke();
    }
    for (const l of layers) l.draw(c, project);
  }
  new ResizeObserver(redraw).observe(canvas);
  setInterval(redraw, 5000);
  hub.start();
  window.citywallFeeds = { hub, widgets, layers, redraw };
}

main();
