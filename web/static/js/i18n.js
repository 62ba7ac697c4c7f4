// String tables and formatting for the wall pages. zh-CN is the default;
// `?lang=en` switches to English. Every widget takes a `t` built here, so
// adding a page never means adding strings elsewhere.

import { translator } from './kit.js';

// pickLang is kit.js's; pages that import it from here keep working.
export { pickLang } from './kit.js';

const zh = {
  'title': '{city}市12345热线 · 城市运行监测',
  'title.short': '12345热线 · 城市运行监测',
  'banner.reconnecting': '与服务器的连接已中断，正在重新连接…',
  'banner.retry': '第 {n} 次重试，{s} 秒后',
  'banner.stopped': '连接被服务器终止：{reason}。请联系值班管理员。',
  'banner.loading': '正在连接服务器…',
  'stale': '数据已 {m} 分钟未更新',
  'window': '时段',
  'window.15m': '近15分钟',
  'window.1h': '近1小时',
  'window.24h': '近24小时',
  'window.short.15m': '15分钟',
  'window.short.1h': '1小时',
  'window.short.24h': '24小时',
  'res': '网格',
  'res.7': '全市',
  'res.8': '片区',
  'res.9': '街区',
  'category': '类别',
  'category.all': '全部类别',
  'map.title': '诉求热力分布',
  'map.legend': '工单数 / 网格',
  'map.cells': '{n} 个网格',
  'map.loading': '正在加载网格…',
  'hot.title': '热点诉求',
  'hot.empty': '该时段暂无工单',
  'hot.new': '新增',
  'hot.vs': '较上一时段',
  'ticker.title': '实时工单',
  'ticker.empty': '等待新工单…',
  'urgent': '紧急',
  'today.tickets': '今日受理',
  'today.urgent': '紧急',
  'unit.tickets': '件',
  'unit.km': '公里',
  'unit.m': '米',
  'minutes': '分钟',
};

const en = {
  'title': '{city} 12345 Hotline · City Operations',
  'title.short': '12345 Hotline · City Operations',
  'banner.reconnecting': 'Connection to the server lost, reconnecting…',
  'banner.retry': 'attempt {n}, next in {s} s',
  'banner.stopped': 'The server ended the connection: {reason}. Call the duty administrator.',
  'banner.loading': 'Connecting to the server…',
  'stale': 'No new data for {m} min',
  'window': 'Window',
  'window.15m': 'Last 15 min',
  'window.1h': 'Last hour',
  'window.24h': 'Last 24 h',
  'window.short.15m': '15 min',
  'window.short.1h': '1 h',
  'window.short.24h': '24 h',
  'res': 'Grid',
  'res.7': 'City',
  'res.8': 'Area',
  'res.9': 'Street',
  'category': 'Category',
  'category.all': 'All categories',
  'map.title': 'Request heat map',
  'map.legend': 'Tickets per cell',
  'map.cells': '{n} cells',
  'map.loading': 'Loading cells…',
  'hot.title': 'Hot topics',
  'hot.empty': 'No tickets in this window',
  'hot.new': 'new',
  'hot.vs': 'vs previous window',
  'ticker.title': 'Live tickets',
  'ticker.empty': 'Waiting for tickets…',
  'urgent': 'URGENT',
  'today.tickets': 'Today',
  'today.urgent': 'urgent',
  'unit.tickets': '',
  'unit.km': 'km',
  'unit.m': 'm',
  'minutes': 'min',
};

export const STRINGS = { zh, en };

// Demo-city district names; a district missing here is shown as the ticket
// carries it.
const DISTRICTS_EN = {
  '秀英区': 'Xiuying', '龙华区': 'Longhua', '琼山区': 'Qiongshan', '美兰区': 'Meilan',
};

// makeT returns t(key, vars) over the wall's table (kit.js's lookup),
// with the locale, number formatting and English district names.
export function makeT(lang) {
  const t = translator(STRINGS, lang);
  t.locale = lang === 'en' ? 'en-GB' : 'zh-CN';
  const nf = new Intl.NumberFormat(t.locale);
  t.num = (n) => nf.format(n);
  t.district = (d) => (lang === 'en' && DISTRICTS_EN[d]) || d || '';
  return t;
}

// Categories: the server's list gives the English name of each level-1
// category; hot-topic values carry it too. Categories is a small lookup the
// widgets share.
export class Categories {
  constructor(list = []) {
    this.en = new Map();
    for (const c of list) if (c && c.name) this.en.set(c.name, c.en || '');
  }
  // learn records an English name seen on the stream (hot/* values), so
  // non-demo cities without a category list still get English labels.
  learn(name, en) {
    if (en && !this.en.has(name) && this.en.size < 1024) this.en.set(name, en);
  }
  // label returns {primary, secondary} for the language: the main line and
  // the smaller one under it (empty when both would be the same).
  label(name, lang) {
    const en = this.en.get(name) || '';
    if (lang === 'en') return { primary: en || name, secondary: en ? name : '' };
    return { primary: name, secondary: en && en !== name ? en : '' };
  }
}

// The command centre's clock, whatever zone the wall PC is set to.
export const TIME_ZONE = 'Asia/Shanghai';

// makeClock formats times in the city's zone (public.city.timezone), China
// Standard Time when none is given or the browser does not know it.
export function makeClock(lang, timeZone = TIME_ZONE) {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone });
  } catch (err) {
    timeZone = TIME_ZONE;
  }
  const locale = lang === 'en' ? 'en-GB' : 'zh-CN';
  const time = new Intl.DateTimeFormat('en-GB', {
    timeZone, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  });
  const date = new Intl.DateTimeFormat(locale, {
    timeZone, year: 'numeric', month: lang === 'en' ? 'short' : 'long', day: 'numeric', weekday: 'short',
  });
  const hm = new Intl.DateTimeFormat('en-GB', {
    timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  });
  // China has one zone; its usual names read better than "GMT+8".
  let zone = '';
  if (timeZone === TIME_ZONE || timeZone === 'Asia/Chongqing' || timeZone === 'PRC') {
    zone = lang === 'en' ? 'CST' : '北京时间';
  } else {
    const part = new Intl.DateTimeFormat(lang === 'en' ? 'en-US' : 'zh-CN', { timeZone, timeZoneName: 'short' })
      .formatToParts(new Date()).find((p) => p.type === 'timeZoneName');
    zone = part ? part.value : '';
  }
  return {
    zone,
    time: (d) => time.format(d),
    date: (d) => date.format(d),
    hm: (d) => hm.format(d),
  };
}
