// Strings that more than one page shows, zh-CN and English: the hub's
// connection states (wall, console, team pages) and a tour's progress
// (the wall's clock tile, the console). kit.js's translator looks here
// after a module's own table, so these are worded once; a module that
// words one of them its own way keeps that key in its own table (the team
// pages say "Connected" where the wall says "Live"). Strings of one page
// or widget stay beside its code.

export const SHARED = {
  zh: {
    'conn.connecting': '连接中',
    'conn.open': '已连接',
    'conn.closed': '已断开',
    'conn.stopped': '已停止',
    'tour': '轮巡',
    'tour.next': '{t} 切换',
    'tour.paused': '已暂停',
  },
  en: {
    'conn.connecting': 'Connecting',
    'conn.open': 'Live',
    'conn.closed': 'Disconnected',
    'conn.stopped': 'Stopped',
    'tour': 'Tour',
    'tour.next': 'next at {t}',
    'tour.paused': 'paused',
  },
};
