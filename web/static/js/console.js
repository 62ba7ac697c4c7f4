// The wall console (/console, patrol staff and commanders): the wall as it
// is now, live from its hub topic, drawn as a miniature of its canvas;
// switch layout, camera set or tour; find a camera by name, tag or map
// area, preview it, and push it into a video slot. Every change goes
// through the API, which audits it; the miniature shows the result when
// the wall's topic does, as the wall's displays do.

import { Hub } from './hub.js';
import { makeT, makeClock } from './i18n.js';
import { el, api, pickLang, translator } from './kit.js';
import { CityMap } from './citymap.js';
import { layer as cameraLayer } from './layers/cameras.js';

const STR = {
  zh: {
    title: '大屏控制台', wall: '大屏', open: '打开大屏 ↗', now: '大屏现状', controls: '切换', audit: '操作记录',
    layout: '布局', set: '视频组', for: '人工接管', switch: '切换', start: '开始', pause: '暂停',
    resume: '继续', skip: '下一组', release: '交还计划', cameras: '摄像机检索', clearArea: '清除区域',
    drawHint: '拖动平移 · 滚轮缩放 · 点击摄像机预览 · Shift+拖动框选区域', preview: '预览', slot: '推送到窗口', push: '推送上墙', search: '名称或标签',
    'src.default': '默认', 'src.manual': '人工接管', 'src.schedule': '计划', none: '（无）', ok: '已完成', failed: '失败',
    until: '至 {t}', by: '操作人 {who}', version: '版本 {n}',
    'cam.idle': '待机', 'cam.connecting': '接入中', 'cam.live': '直播', 'cam.stalled': '画面停滞', 'cam.offline': '离线',
    'cam.unsupported': '格式不支持', 'cam.unknown': '状态未知', emptySlot: '空闲', pickCamera: '选择一路摄像机预览',
    'kind.map': '地图', 'kind.kpi': '指标', 'kind.hot': '热点', 'kind.alerts': '预警', 'kind.flood': '水情',
    'kind.traffic': '交通', 'kind.clock': '时钟', 'kind.ticker': '工单', 'kind.video': '视频', found: '{n} 路',
    'tag.school-gate': '校门', 'tag.kitchen': '后厨', 'tag.reservoir': '水库', 'tag.road': '道路',
    'tag.waterlogging': '易涝点', 'tag.square': '广场',
    edit: '配置', schedule: '计划', new: '新建', fromSearch: '以检索结果新建视频组', save: '保存', delete: '删除',
    saved: '已保存', deleted: '已删除', badJSON: 'JSON 格式错误',
  },
  en: {
    title: 'Wall console', wall: 'Wall', open: 'Open the wall ↗', now: 'The wall now', controls: 'Switch', audit: 'Audit trail',
    layout: 'Layout', set: 'Camera set', for: 'Hold for', switch: 'Switch', start: 'Start', pause: 'Pause',
    resume: 'Resume', skip: 'Skip', release: 'Back to schedule', cameras: 'Find cameras', clearArea: 'Clear area',
    drawHint: 'Drag to pan · wheel to zoom · click a camera to preview · Shift+drag to pick an area', preview: 'Preview', slot: 'Into slot', push: 'Push to wall', search: 'Name or tag',
    'src.default': 'default', 'src.manual': 'manual', 'src.schedule': 'scheduled', none: '(none)', ok: 'done', failed: 'failed',
    until: 'until {t}', by: 'by {who}', version: 'version {n}',
    'cam.idle': 'idle', 'cam.connecting': 'connecting', 'cam.live': 'live', 'cam.stalled': 'stalled', 'cam.offline': 'offline',
    'cam.unsupported': 'unsupported', 'cam.unknown': 'no state', emptySlot: 'empty', pickCamera: 'Pick a camera to preview',
    'kind.map': 'Map', 'kind.kpi': 'KPIs', 'kind.hot': 'Hot', 'kind.alerts': 'Alerts', 'kind.flood': 'Flood',
    'kind.traffic': 'Traffic', 'kind.clock': 'Clock', 'kind.ticker': 'Tickets', 'kind.video': 'Video', found: '{n} cameras',
    'tag.school-gate': 'school gate', 'tag.kitchen': 'kitchen', 'tag.reservoir': 'reservoir', 'tag.road': 'road',
    'tag.waterlogging': 'waterlogging', 'tag.square': 'square',
    edit: 'Configuration', schedule: 'Schedule', new: 'New', fromSearch: 'New set from the search', save: 'Save', delete: 'Delete',
    saved: 'saved', deleted: 'deleted', badJSON: 'not valid JSON',
  },
};

const $ = (id) => document.getElementById(id);
const lang = pickLang();
const t = makeT(lang);
const S = translator(STR, lang);
for (const e of document.querySelectorAll('[data-s]')) e.textContent = S(e.dataset.s);
$('cam-search').placeholder = S('search');
// tagLabel names a camera tag in the page's language; unknown tags as they are.
const tagLabel = (tag) => {
  const v = S('tag.' + tag);
  return v === 'tag.' + tag ? tag : v;
};
const name = (x) => (x ? (lang === 'en' ? x.name_en || x.name || x.id : x.name || x.name_en || x.id) : '');

async function main() {
  const pub = await api('/api/v1/public');
  let info = await api('/api/v1/walls');
  const clock = makeClock(lang, (pub.city && pub.city.timezone) || undefined);
  const params = new URLSearchParams(location.search);
  let wallId = info.walls.some((w) => w.wall.id === params.get('wall')) ? params.get('wall') : (info.walls[0] ? info.walls[0].wall.id : info.default);
  const cameras = info.cameras || [];
  const catalog = new Map(cameras.map((c) => [c.id, c]));
  const hub = new Hub();
  let state = null; // the wall topic's state
  let camState = new Map();
  let selectedSlot = '';
  let previewCam = '';
  document.body.classList.remove('is-loading');
  $('subtitle').textContent = name({ name: pub.city && pub.city.name, name_en: pub.city && pub.city.name_en });

  const options = (sel, items, current, blank) => {
    const opts = [];
    if (blank) opts.push(['', S('none')]);
    for (const it of items) opts.push([it.id, name(it)]);
    sel.replaceChildren(...opts.map(([v, label]) => {
      const o = el('option', '', label);
      o.value = v;
      o.selected = v === current;
      return o;
    }));
  };
  options($('wall-select'), info.walls.map((w) => w.wall), wallId);
  options($('set-select'), info.sets, '');
  options($('tour-select'), info.tours, '');

  const say = (text, bad) => {
    $('msg').textContent = text;
    $('msg').classList.toggle('msg-bad', !!bad);
  };
  const act = async (path, body) => {
    try {
      await api(`/api/v1/walls/${wallId}/${path}`, { method: 'POST', body });
      say(S('ok'));
      loadAudit();
    } catch (err) {
      say(S('failed') + ': ' + err.message, true);
    }
  };
  const hold = () => $('for-select').value;
  $('layout-go').onclick = () => act('layout', { layout: $('layout-select').value, for: hold() });
  $('set-go').onclick = () => act('set', { set: $('set-select').value, for: hold() });
  $('tour-start').onclick = () => act('tour', { action: 'start', tour: $('tour-select').value, for: hold() });
  $('tour-pause').onclick = () => act('tour', { action: 'pause', for: hold() });
  $('tour-resume').onclick = () => act('tour', { action: 'resume', for: hold() });
  $('tour-skip').onclick = () => act('tour', { action: 'skip', for: hold() });
  $('release').onclick = () => act('release');
  $('push-go').onclick = () => {
    if (!previewCam || !$('slot-select').value) return say(S('pickCamera'), true);
    act('push', { slot: $('slot-select').value, camera: previewCam, for: hold() });
  };

  // ---- the miniature ------------------------------------------------------
  const renderMini = () => {
    if (!state) return;
    const w = state.get('wall');
    const layout = state.get('layout');
    const slots = state.get('slots') || {};
    if (!w || !layout) return;
    const mini = $('mini');
    mini.style.aspectRatio = `${w.canvas[0]} / ${w.canvas[1]}`;
    const parts = [];
    for (let c = 1; c < w.cols; c++) {
      const b = el('div', 'mini-bezel mini-bezel-v');
      b.style.left = (100 * c / w.cols) + '%';
      parts.push(b);
    }
    for (let r = 1; r < w.rows; r++) {
      const b = el('div', 'mini-bezel mini-bezel-h');
      b.style.top = (100 * r / w.rows) + '%';
      parts.push(b);
    }
    const [gw, gh] = layout.grid;
    const videoTiles = [];
    for (const tile of layout.tiles) {
      const d = el('div', 'mini-tile mini-' + tile.kind);
      Object.assign(d.style, {
        left: (100 * tile.x / gw) + '%', top: (100 * tile.y / gh) + '%',
        width: (100 * tile.w / gw) + '%', height: (100 * tile.h / gh) + '%',
      });
      d.dataset.tile = tile.id;
      if (tile.kind === 'video') {
        videoTiles.push(tile);
        const slot = slots[tile.id] || {};
        const cam = slot.camera ? catalog.get(slot.camera) || { id: slot.camera } : null;
        const live = slot.camera ? camState.get(slot.camera) : null;
        d.dataset.camera = slot.camera || '';
        d.append(el('span', 'mini-name', cam ? name(cam) : S('emptySlot')));
        if (live && live.state) {
          d.classList.add('cam-' + live.state);
          d.append(el('span', 'mini-state', S('cam.' + live.state)));
        }
        d.classList.toggle('mini-source-alert', slot.source === 'alert');
        d.classList.toggle('mini-source-push', slot.source === 'push');
        d.classList.toggle('mini-selected', tile.id === selectedSlot);
        if (tile.alert) d.classList.add('mini-alert-slot');
        d.onclick = () => {
          selectedSlot = tile.id;
          $('slot-select').value = tile.id;
          renderMini();
        };
      } else {
        d.append(el('span', 'mini-kind', S('kind.' + tile.kind)));
      }
      parts.push(d);
    }
    mini.replaceChildren(...parts);
    if (!videoTiles.some((v) => v.id === selectedSlot)) selectedSlot = videoTiles.length ? videoTiles[0].id : '';
    const slotOpts = videoTiles.map((v) => {
      const o = el('option', '', v.id + (v.alert ? ' ⚠' : ''));
      o.value = v.id;
      o.selected = v.id === selectedSlot;
      return o;
    });
    $('slot-select').replaceChildren(...slotOpts);
    for (const d of mini.querySelectorAll('.mini-tile')) d.classList.toggle('mini-selected', d.dataset.tile === selectedSlot);
  };
  $('slot-select').onchange = () => { selectedSlot = $('slot-select').value; renderMini(); };

  const renderMode = () => {
    if (!state) return;
    const set = state.get('set');
    const tour = state.get('tour');
    const control = state.get('control') || {};
    const layout = state.get('layout');
    const lines = [];
    lines.push(S('layout') + ': ' + name(layout));
    lines.push(S('set') + ': ' + (set ? name(set) : S('none')));
    if (tour) {
      let x = S('tour') + ': ' + name(tour) + ` ${tour.step + 1}/${tour.steps.length}`;
      x += ' · ' + (tour.paused ? S('tour.paused') : tour.next ? S('tour.next', { t: clock.hm(new Date(tour.next)) }) : '');
      lines.push(x);
    }
    let src = control.source || '';
    if (src.startsWith('schedule:')) src = S('src.schedule') + ' · ' + name(control.schedule || { id: src.slice(9) });
    else src = S('src.' + src);
    if (control.override) src += ' · ' + S('until', { t: clock.hm(new Date(control.override.until)) }) + ' · ' + S('by', { who: control.override.by });
    lines.push(src);
    $('mode').replaceChildren(...lines.map((l) => el('div', 'mode-line', l)));
    $('status').textContent = S('version', { n: control.version ?? 0 });
    document.body.dataset.version = String(control.version ?? 0);
    $('mode').classList.toggle('mode-manual', !!control.override);
    const layouts = (info.layouts && info.layouts[wallId]) || [];
    if ($('layout-select').dataset.wall !== wallId) {
      options($('layout-select'), layouts, layout && layout.id);
      $('layout-select').dataset.wall = wallId;
    }
    if (set && !$('set-select').dataset.touched) $('set-select').value = set.id;
    if (tour && !$('tour-select').dataset.touched) $('tour-select').value = tour.id;
  };
  for (const id of ['set-select', 'tour-select']) $(id).addEventListener('change', () => { $(id).dataset.touched = '1'; });

  let wallSub = null;
  const openWall = () => {
    if (wallSub) wallSub.close();
    state = null;
    $('open-wall').href = '/wall/' + wallId + (lang === 'en' ? '?lang=en' : '');
    $('layout-select').dataset.wall = '';
    wallSub = hub.subscribe('wall/' + wallId, (u, topic) => {
      state = topic.state;
      renderMini();
      renderMode();
    }, { kind: 'state' });
    loadAudit();
  };
  $('wall-select').onchange = () => {
    wallId = $('wall-select').value;
    history.replaceState(null, '', '?wall=' + wallId + (lang === 'en' ? '&lang=en' : ''));
    openWall();
    if ($('edit-kind').value === 'layout') fillItems();
  };

  // ---- audit ----------------------------------------------------------------
  let auditTimer = 0;
  const loadAudit = () => {
    clearTimeout(auditTimer);
    auditTimer = setTimeout(async () => {
      try {
        const a = await api(`/api/v1/audit?wall=${wallId}&limit=12`);
        $('audit').replaceChildren(...a.entries.map((e) => {
          const li = el('li', 'audit-row');
          li.append(el('span', 'audit-time', clock.hm(new Date(e.time))), el('span', 'audit-who', e.who + ' · ' + e.role),
            el('span', 'audit-what', e.action + (e.detail ? ' ' + e.detail : '')));
          return li;
        }));
      } catch (err) { /* shown next time */ }
    }, 300);
  };

  // ---- cameras: search by name, tag, area -----------------------------------
  const tags = [...new Set(cameras.flatMap((c) => c.tags || []))].sort();
  let tag = '';
  let area = null; // {lat0, lat1, lng0, lng1}
  let shown = new Set(); // ids of the cameras the search finds
  let camLayer = null; // the camera map's markers, once it has loaded
  $('tags').replaceChildren(...tags.map((x) => {
    const b = el('button', 'tag', tagLabel(x));
    b.type = 'button';
    b.dataset.tag = x;
    b.onclick = () => {
      tag = tag === x ? '' : x;
      for (const o of $('tags').children) o.classList.toggle('active', o.dataset.tag === tag);
      renderCams();
    };
    return b;
  }));
  const matches = (c) => {
    const q = $('cam-search').value.trim().toLowerCase();
    const words = [c.id, c.name, c.name_en, ...(c.tags || []), ...(c.tags || []).map(tagLabel)];
    if (q && !words.some((x) => x && String(x).toLowerCase().includes(q))) return false;
    if (tag && !(c.tags || []).includes(tag)) return false;
    if (area && !(c.lat >= area.lat0 && c.lat <= area.lat1 && c.lng >= area.lng0 && c.lng <= area.lng1)) return false;
    return true;
  };
  const MAX_ROWS = 200; // a city may pool thousands of cameras: narrow the search to see more
  const renderCams = () => {
    const found = cameras.filter(matches);
    $('cam-count').textContent = S('found', { n: found.length });
    $('cam-list').replaceChildren(...found.slice(0, MAX_ROWS).map((c) => {
      const li = el('li', 'cam-row');
      li.dataset.camera = c.id;
      const live = camState.get(c.id);
      const st = live && live.state ? live.state : 'unknown';
      const stEl = el('span', 'cam-st cam-st-' + st, S('cam.' + st));
      // Why it is down, and when it was last checked while nobody watched.
      const why = [live && live.reason, live && live.checked && new Date(live.checked).toLocaleTimeString()].filter(Boolean);
      if (why.length) stEl.title = why.join(' · ');
      li.append(el('span', 'cam-name', name(c)), el('span', 'cam-tags', (c.tags || []).map(tagLabel).join(' · ')), stEl);
      li.classList.toggle('active', c.id === previewCam);
      li.onclick = () => preview(c.id);
      return li;
    }));
    shown = new Set(found.map((c) => c.id));
    if (camLayer) camLayer.refresh();
  };
  $('cam-search').addEventListener('input', renderCams);

  // The camera map: the city map (citymap.js, MapLibre) with the cameras'
  // layer, fitted to the cameras. Staff pan and zoom it, click a marker to
  // preview its camera, and pick an area with Shift and a drag; cameras
  // outside the search are faint, the previewed one white.
  let cm = null;
  let drag = null; // {a: [x, y], b: [x, y]} in the map's CSS pixels while Shift-dragging
  const located = cameras.filter((c) => Number.isFinite(c.lat) && Number.isFinite(c.lng) && !(c.lat === 0 && c.lng === 0));
  let bounds;
  if (located.length >= 2) {
    const lats = located.map((c) => c.lat);
    const lngs = located.map((c) => c.lng);
    bounds = [[Math.min(...lats), Math.min(...lngs)], [Math.max(...lats), Math.max(...lngs)]];
  }
  const areaData = () => {
    let ring = null;
    if (drag && cm) {
      const [la, lo] = cm.unproject(...drag.a);
      const [lb, lob] = cm.unproject(...drag.b);
      ring = [[la, lo], [la, lob], [lb, lob], [lb, lo]];
    } else if (area) {
      ring = [[area.lat0, area.lng0], [area.lat0, area.lng1], [area.lat1, area.lng1], [area.lat1, area.lng0]];
    }
    const features = [];
    if (ring && cm) {
      const line = ring.concat([ring[0]]).map(([lat, lng]) => cm.toLngLat(lat, lng));
      features.push({ type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: line } });
    }
    return { type: 'FeatureCollection', features };
  };
  const showArea = () => {
    const src = cm && cm.map.getSource('area');
    if (src) src.setData(areaData());
  };
  // cameraAt is the camera whose marker is nearest to (x, y), within r.
  const cameraAt = (x, y, r) => {
    let best = '';
    let dist = Infinity;
    for (const f of cm.map.queryRenderedFeatures([[x - r, y - r], [x + r, y + r]], { layers: ['cameras'] })) {
      const p = cm.map.project(f.geometry.coordinates);
      const d = Math.hypot(p.x - x, p.y - y);
      if (d < dist) { dist = d; best = f.properties.id; }
    }
    return best;
  };
  const mountMap = async () => {
    cm = await CityMap.create($('cam-map'), { pub, lang, interactive: true, bounds });
    cm.map.boxZoom.disable(); // Shift and a drag pick an area instead
    await cm.ready;
    camLayer = cameraLayer({ hub, catalog, size: 2, mark: (id) => ({ selected: id === previewCam, dim: !shown.has(id) }) });
    camLayer.add(cm);
    cm.map.addSource('area', { type: 'geojson', data: areaData() });
    cm.addLayers('tools', [{ id: 'area', type: 'line', source: 'area',
      paint: { 'line-color': '#ffb020', 'line-width': 2, 'line-dasharray': [3, 2] } }]);
    const pick = 1.2 * cm.rem; // CSS px around a click that still hits a marker
    cm.map.on('click', (e) => {
      if (e.originalEvent.shiftKey) return;
      const id = cameraAt(e.point.x, e.point.y, pick);
      if (id) preview(id);
    });
    cm.map.on('mousemove', (e) => {
      if (!drag) cm.map.getCanvas().style.cursor = cameraAt(e.point.x, e.point.y, pick) ? 'pointer' : '';
    });
    // Shift and a drag: the pointer's default is prevented, so MapLibre,
    // which listens to mouse events, neither pans nor zooms meanwhile.
    const box = cm.map.getCanvasContainer();
    const local = (e) => {
      const r = box.getBoundingClientRect();
      return [e.clientX - r.left, e.clientY - r.top];
    };
    box.addEventListener('pointerdown', (e) => {
      if (!e.shiftKey || e.button !== 0) return;
      e.preventDefault();
      e.stopPropagation();
      box.setPointerCapture(e.pointerId);
      drag = { a: local(e), b: local(e) };
      showArea();
    }, true);
    box.addEventListener('pointermove', (e) => {
      if (!drag) return;
      drag.b = local(e);
      showArea();
    }, true);
    const end = (e) => {
      if (!drag) return;
      drag.b = local(e);
      const [la, lo] = cm.unproject(...drag.a);
      const [lb, lob] = cm.unproject(...drag.b);
      const big = Math.abs(drag.a[0] - drag.b[0]) > 4 && Math.abs(drag.a[1] - drag.b[1]) > 4;
      area = big ? { lat0: Math.min(la, lb), lat1: Math.max(la, lb), lng0: Math.min(lo, lob), lng1: Math.max(lo, lob) } : null;
      drag = null;
      renderCams();
      showArea();
    };
    box.addEventListener('pointerup', end, true);
    box.addEventListener('pointercancel', end, true);
    window.citywallConsole.map = cm;
  };
  $('area-clear').onclick = () => { area = null; renderCams(); showArea(); };
  // For tests and keyboard users: pick an area by coordinates.
  window.citywallConsole = { setArea: (a) => { area = a; renderCams(); showArea(); }, get state() { return state; }, map: null };
  mountMap().catch((err) => {
    console.error('camera map', err);
    $('cam-map').textContent = String(err.message || err);
  });

  // ---- preview: the video widget in a pane ----------------------------------
  let previewWidget = null;
  let videoMod = null;
  const preview = async (id) => {
    previewCam = id;
    $('preview-name').textContent = name(catalog.get(id) || { id });
    renderCams();
    const body = $('preview').querySelector('.tile-body');
    $('preview').dataset.camera = id;
    if (previewWidget) { previewWidget.update({ camera: id }); return; }
    try {
      videoMod = videoMod || await import('./widgets/video.js');
      previewWidget = videoMod.mount(body, { hub, lang, t, pub, clock, catalog, opts: { camera: id, stream: 'sub' }, camerasURL: '/api/v1/cameras' });
    } catch (err) {
      body.textContent = String(err.message || err);
    }
  };

  // ---- configuration: sets, tours, schedules and layouts as JSON ------------
  // The same bodies as the API's PUT; the server validates the whole spec
  // and its reason names the key and the value when it refuses.
  const editURL = (kind, id) => ({
    set: `/api/v1/camera-sets/${id}`, tour: `/api/v1/tours/${id}`, schedule: `/api/v1/schedules/${id}`,
    layout: `/api/v1/walls/${wallId}/layouts/${id}`,
  })[kind];
  const editItems = (kind) => ({
    set: info.sets, tour: info.tours, schedule: info.schedules, layout: (info.layouts && info.layouts[wallId]) || [],
  })[kind] || [];
  const editSay = (text, bad) => {
    $('edit-msg').textContent = text;
    $('edit-msg').classList.toggle('msg-bad', !!bad);
  };
  const showItem = () => {
    const item = editItems($('edit-kind').value).find((x) => x.id === $('edit-item').value);
    $('edit-json').value = item ? JSON.stringify(item, null, 2) : '';
  };
  const fillItems = (current) => {
    options($('edit-item'), editItems($('edit-kind').value), current);
    showItem();
  };
  const refresh = async () => {
    info = await api('/api/v1/walls');
    options($('set-select'), info.sets, $('set-select').value);
    options($('tour-select'), info.tours, $('tour-select').value);
    options($('layout-select'), (info.layouts && info.layouts[wallId]) || [], $('layout-select').value);
  };
  $('edit-kind').onchange = () => fillItems();
  $('edit-item').onchange = showItem;
  $('edit-new').onclick = () => {
    const kind = $('edit-kind').value;
    const blank = {
      set: { id: 'new-set', name: '', cameras: [] },
      tour: { id: 'new-tour', name: '', dwell: '30m', steps: [] },
      schedule: { id: 'new-schedule', name: '', wall: wallId, days: ['workdays'], start: '17:00', end: '18:00', set: '' },
      layout: { id: 'new-layout', name: '', grid: [4, 2], tiles: [] },
    }[kind];
    $('edit-json').value = JSON.stringify(blank, null, 2);
  };
  $('edit-from-search').onclick = () => {
    $('edit-kind').value = 'set';
    fillItems();
    const ids = cameras.filter(matches).map((c) => c.id);
    $('edit-json').value = JSON.stringify({ id: 'new-set', name: $('cam-search').value || '', cameras: ids }, null, 2);
  };
  $('edit-save').onclick = async () => {
    let body;
    try {
      body = JSON.parse($('edit-json').value);
    } catch (err) {
      return editSay(S('badJSON') + ': ' + err.message, true);
    }
    const kind = $('edit-kind').value;
    try {
      await api(editURL(kind, encodeURIComponent(body.id || '')), { method: 'PUT', body });
      await refresh();
      fillItems(body.id);
      editSay(S('saved') + ' · ' + body.id);
      loadAudit();
    } catch (err) {
      editSay(S('failed') + ': ' + err.message, true);
    }
  };
  $('edit-delete').onclick = async () => {
    const kind = $('edit-kind').value;
    const id = $('edit-item').value;
    if (!id) return;
    try {
      await api(editURL(kind, encodeURIComponent(id)), { method: 'DELETE' });
      await refresh();
      fillItems();
      editSay(S('deleted') + ' · ' + id);
      loadAudit();
    } catch (err) {
      editSay(S('failed') + ': ' + err.message, true);
    }
  };
  fillItems();

  hub.subscribe('cameras', (u, topic) => { camState = topic.state; renderCams(); renderMini(); }, { kind: 'state' });
  hub.addEventListener('status', (e) => {
    const st = e.detail.state;
    $('conn').className = 'conn conn-' + st;
    $('conn-text').textContent = t('conn.' + st);
  });
  openWall();
  renderCams();
  hub.start();
}

main();
