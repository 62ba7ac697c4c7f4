// The wall page: header with clock and connection state, the heat map, hot
// topics and the ticket ticker. It only wires widgets together; each widget
// lives in its own module so later pages can reuse them.

import { Hub } from './hub.js';
import { CellStore } from './cells.js';
import { HeatMap } from './heatmap.js';
import { HotTopics } from './hottopics.js';
import { TicketTicker } from './ticker.js';
import { TodayStats } from './stats.js';
import { pickLang, makeT, makeClock, Categories } from './i18n.js';

const STALE_AFTER = 5 * 60 * 1000; // ms without data before the header says so
const BANNER_AFTER = 1500; // ms offline before the banner shows; a quick reconnect stays quiet

const $ = (id) => document.getElementById(id);

const lang = pickLang();
const t = makeT(lang);
let clock = makeClock(lang);
document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);

// loadPublic fetches the page configuration, retrying for as long as it
// takes: a wall may boot before the server does.
async function loadPublic() {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch('/api/v1/public', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (res.ok) return await res.json();
      throw new Error('HTTP ' + res.status);
    } catch (err) {
      const delay = Math.min(30000, 1000 * 2 ** Math.min(attempt, 5)) * (0.75 + Math.random() * 0.5);
      showBanner(t('banner.loading'), String(err.message || err));
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

function showBanner(text, detail) {
  $('banner-text').textContent = text;
  $('banner-detail').textContent = detail || '';
  $('banner').hidden = false;
  document.body.classList.add('is-offline');
}

function hideBanner() {
  $('banner').hidden = true;
  document.body.classList.remove('is-offline');
}

// segmented fills a button group and calls onPick with the chosen value.
function segmented(nav, items, current, onPick) {
  const buttons = items.map(({ value, label }) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.dataset.value = value;
    b.addEventListener('click', () => {
      for (const o of buttons) o.classList.toggle('active', o === b);
      onPick(value);
    });
    b.classList.toggle('active', value === current);
    return b;
  });
  nav.replaceChildren(...buttons);
}

function resLabel(r) {
  const key = 'res.' + r;
  const s = t(key);
  return s === key ? 'H3 r' + r : s;
}

function windowLabel(w, short) {
  const key = (short ? 'window.short.' : 'window.') + w;
  const s = t(key);
  return s === key ? w : s;
}

async function main() {
  const pub = await loadPublic();
  hideBanner();
  document.body.classList.remove('is-loading');

  const city = pub.city || {};
  if (city.timezone) clock = makeClock(lang, city.timezone);
  const cityName = lang === 'en' ? city.name_en || city.name || '' : city.name || city.name_en || '';
  $('title').textContent = cityName ? t('title', { city: cityName }) : t('title.short');
  $('subtitle').textContent = lang === 'en' ? (city.name ? city.name + '市12345热线 · 城市运行监测' : '') :
    (city.name_en ? city.name_en + ' 12345 Hotline · City Operations' : '');
  document.title = $('title').textContent;

  const geo = pub.geo || {};
  const resolutions = (geo.resolutions && geo.resolutions.length ? geo.resolutions : [7, 8, 9]).map(Number);
  const windows = geo.windows && geo.windows.length ? geo.windows : ['15m', '1h', '24h'];
  const categories = new Categories(pub.categories || []);

  // The heat layer comes from the address, so each wall screen can be set
  // up once with a bookmark and survives reloads.
  const params = new URLSearchParams(location.search);
  const sel = {
    res: resolutions.includes(Number(params.get('res'))) ? Number(params.get('res')) :
      (resolutions.includes(8) ? 8 : resolutions[Math.floor(resolutions.length / 2)]),
    window: windows.includes(params.get('window')) ? params.get('window') :
      (windows.includes('1h') ? '1h' : windows[0]),
    category: params.get('category') || 'all',
  };
  if (sel.category !== 'all' && categories.en.size > 0 && !categories.en.has(sel.category)) sel.category = 'all';

  const hub = new Hub();
  const cells = new CellStore();
  const m = pub.map || {};
  const map = new HeatMap($('map'), cells, {
    center: Array.isArray(m.center) && m.center.length === 2 ? m.center : [20.03, 110.33],
    zoom: Number.isFinite(m.zoom) ? m.zoom : 11.5,
    tileUrl: m.tile_url || '',
    tileCrs: m.tile_crs || 'wgs84',
    formatNumber: t.num,
    units: { km: t('unit.km'), m: t('unit.m') },
    areas: Array.isArray(pub.districts) ? pub.districts : [],
  });
  map.setLegendTitle(t('map.legend'));

  let heatSub = null;
  let heatError = '';
  let mapStats = null;
  const heatTopic = () => `heat/${sel.res}/${sel.window}/${sel.category}`;
  const showHeat = () => {
    if (heatSub) heatSub.close();
    heatError = '';
    map.setData(new Map());
    heatSub = hub.subscribe(heatTopic(), (u, topic) => {
      if (u.type === 'snapshot') map.setData(topic.state);
      else if (u.type === 'delta') map.invalidate();
    });
    updateMeta();
  };
  const updateMeta = () => {
    const catLabel = sel.category === 'all' ? t('category.all') : categories.label(sel.category, lang).primary;
    const parts = [windowLabel(sel.window), catLabel];
    if (mapStats && mapStats.cells > 0) parts.push(t('map.cells', { n: t.num(mapStats.cells) }));
    if (mapStats && mapStats.missing > 0) parts.push(t('map.loading'));
    if (heatError) parts.push('⚠ ' + heatError);
    const s = parts.join(' · ');
    if ($('map-meta').textContent !== s) $('map-meta').textContent = s;
    const h = windowLabel(sel.window);
    if ($('hot-meta').textContent !== h) $('hot-meta').textContent = h;
  };
  map.addEventListener('stats', (e) => { mapStats = e.detail; updateMeta(); });
  hub.addEventListener('topicerror', (e) => {
    if (e.detail.topic === heatTopic()) {
      heatError = e.detail.reason || e.detail.code;
      updateMeta();
    }
  });

  const hot = new HotTopics($('hot'), hub, { window: sel.window, t, categories, limit: 10 });
  new TicketTicker($('ticker'), hub, {
    t, categories, clock, max: 8,
    onTicket: (tk) => map.pulse(Number(tk.lat), Number(tk.lng), !!tk.urgent),
  });
  new TodayStats($('today'), hub, { t });

  const remember = () => {
    const p = new URLSearchParams(location.search);
    p.set('res', sel.res);
    p.set('window', sel.window);
    p.set('category', sel.category);
    history.replaceState(null, '', location.pathname + '?' + p.toString());
  };

  segmented($('windows'), windows.map((w) => ({ value: w, label: windowLabel(w) })), sel.window, (w) => {
    sel.window = w;
    hot.setWindow(w);
    showHeat();
    remember();
  });
  segmented($('resolutions'), resolutions.map((r) => ({ value: String(r), label: resLabel(r) })), String(sel.res), (r) => {
    sel.res = Number(r);
    showHeat();
    remember();
  });
  const select = $('category');
  const opts = [['all', t('category.all')]];
  for (const name of categories.en.keys()) opts.push([name, categories.label(name, lang).primary]);
  if (!opts.some(([v]) => v === sel.category)) opts.push([sel.category, sel.category]);
  select.replaceChildren(...opts.map(([v, label]) => {
    const o = document.createElement('option');
    o.value = v;
    o.textContent = label;
    o.selected = v === sel.category;
    return o;
  }));
  select.addEventListener('change', () => {
    sel.category = select.value;
    showHeat();
    remember();
  });

  // Connection state, banner and staleness share one timer with the clock.
  let status = { state: 'connecting' };
  let offlineSince = Date.now();
  hub.addEventListener('status', (e) => {
    status = e.detail;
    if (status.state === 'open') offlineSince = 0;
    else if (!offlineSince) offlineSince = Date.now();
    if (status.state === 'closed' && status.attempt > 0 && status.attempt % 4 === 0) checkSession();
    renderConn();
  });

  // A refused WebSocket upgrade looks the same to the page as a server that
  // is down. Ask the API now and then: if the session is no longer valid,
  // reloading brings up the sign-in form instead of retrying for ever.
  const checkSession = async () => {
    try {
      const res = await fetch('/api/v1/public', { credentials: 'same-origin' });
      if (res.status === 401) location.reload();
    } catch (err) {
      // the server is down; the hub keeps retrying
    }
  };

  const renderConn = () => {
    const now = Date.now();
    const conn = $('conn');
    const cls = 'conn conn-' + status.state;
    if (conn.className !== cls) conn.className = cls;
    const text = t('conn.' + status.state);
    if ($('conn-text').textContent !== text) $('conn-text').textContent = text;

    const idle = hub.lastDataAt ? now - hub.lastDataAt : 0;
    const stale = status.state === 'open' && idle > STALE_AFTER;
    $('stale').hidden = !stale;
    if (stale) $('stale').textContent = t('stale', { m: Math.floor(idle / 60000) });

    if (status.state === 'stopped') {
      showBanner(t('banner.stopped', { reason: status.reason || status.code }), '');
    } else if (offlineSince && now - offlineSince > BANNER_AFTER) {
      const detail = status.retryAt ? t('banner.retry', {
        n: status.attempt, s: Math.max(0, Math.ceil((status.retryAt - now) / 1000)),
      }) : '';
      showBanner(t('banner.reconnecting'), detail);
    } else {
      hideBanner();
    }
  };

  const tick = () => {
    const now = new Date();
    const ts = clock.time(now);
    if ($('clock-time').textContent !== ts) $('clock-time').textContent = ts;
    const ds = clock.date(now) + (clock.zone ? ' · ' + clock.zone : '');
    if ($('clock-date').textContent !== ds) $('clock-date').textContent = ds;
    renderConn();
    // Align to the next second so the clock does not drift visibly.
    setTimeout(tick, 1000 - (Date.now() % 1000) + 5);
  };

  // A handle for the browser console when someone debugs a wall on site.
  window.citywall = { hub, map, cells, hot, sel };

  showHeat();
  hub.start();
  tick();
}

main();
