// Shared pieces of the wall's own widgets (map, hot, ticker, clock): their
// strings, the tile head and the state badge every tile shows.

import { el, translator } from '../kit.js';

export const STR = {
  zh: {
    'kind.map': '城市地图', 'kind.kpi': '运行指标', 'kind.hot': '热点诉求', 'kind.alerts': '预警',
    'kind.flood': '防汛水情', 'kind.traffic': '道路交通', 'kind.clock': '时钟值班', 'kind.ticker': '实时工单',
    'kind.video': '视频',
    'placeholder': '组件未加载',
    'wall.unknown': '未知大屏',
    'state.offline': '连接中断', 'state.stale': '数据 {m} 分钟未更新', 'state.waiting': '等待数据…',
    'cam.alert': '预警联动', 'cam.push': '手动推送',
    'clock.set': '当前视频组',
    'clock.manual': '人工接管至 {t}', 'clock.schedule': '按计划', 'clock.duty': '值班',
    'map.cameras': '{n} 路视频',
  },
  en: {
    'kind.map': 'City map', 'kind.kpi': 'KPIs', 'kind.hot': 'Hot topics', 'kind.alerts': 'Alerts',
    'kind.flood': 'Flood watch', 'kind.traffic': 'Traffic', 'kind.clock': 'Clock and duty', 'kind.ticker': 'Live tickets',
    'kind.video': 'Video',
    'placeholder': 'Widget not available',
    'wall.unknown': 'Unknown wall',
    'state.offline': 'Connection lost', 'state.stale': 'No new data for {m} min', 'state.waiting': 'Waiting for data…',
    'cam.alert': 'Alert linkage', 'cam.push': 'Pushed',
    'clock.set': 'Camera set',
    'clock.manual': 'manual until {t}', 'clock.schedule': 'scheduled', 'clock.duty': 'On duty',
    'map.cameras': '{n} cameras',
  },
};

export function strings(lang) {
  return translator(STR, lang);
}

// el is kit.js's, here too for the widgets that import it from here.
export { el };

// frame builds a tile's head (title, meta) and body inside root.
export function frame(root, title) {
  const head = el('div', 'panel-head');
  const h = el('h2', 'panel-title', title);
  const meta = el('span', 'panel-meta');
  const badge = el('span', 'tile-state');
  badge.hidden = true;
  head.append(h, meta, badge);
  const body = el('div', 'panel-body');
  root.replaceChildren(head, body);
  return { head, title: h, meta, badge, body };
}

// StateBadge shows a tile's own state: connection lost, or its data stale.
// touch() marks fresh data; destroy() stops its timer.
export class StateBadge {
  constructor(badge, hub, lang, staleAfter = 5 * 60 * 1000) {
    this.badge = badge;
    this.hub = hub;
    this.s = strings(lang);
    this.staleAfter = staleAfter;
    this.last = 0;
    this.timer = setInterval(() => this.render(), 2000);
    this.render();
  }
  touch() { this.last = Date.now(); this.render(); }
  render() {
    let text = '';
    let cls = 'tile-state';
    if (this.hub.state !== 'open') {
      text = this.s('state.offline');
      cls += ' tile-state-offline';
    } else if (this.last && Date.now() - this.last > this.staleAfter) {
      text = this.s('state.stale', { m: Math.floor((Date.now() - this.last) / 60000) });
      cls += ' tile-state-stale';
    }
    if (this.badge.textContent !== text) this.badge.textContent = text;
    if (this.badge.className !== cls) this.badge.className = cls;
    this.badge.hidden = !text;
  }
  destroy() { clearInterval(this.timer); }
}

// cameraInfo merges a camera's live state (the cameras topic) with what the
// wall's catalogue knows of it.
export function cameraInfo(id, state, catalog) {
  const live = state && state.get ? state.get(id) : null;
  const cat = catalog && catalog.get ? catalog.get(id) : null;
  return { id, ...(cat || {}), ...(live || {}) };
}
