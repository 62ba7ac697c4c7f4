// The team page (/team): a phone-friendly list of the alerts routed to the
// caller's teams, with sound (WebAudio), a browser notification for each
// new alert, and acknowledge / resolve buttons.
import { Hub } from './hub.js';
import { tr, head, title, order, cameraNames, card as alertCard } from './alertview.js';
import { el, pickLang, api, ApiError } from './kit.js';

const lang = pickLang();
const t = tr(lang);
const $ = (id) => document.getElementById(id);
head(t);
$('lang').href = lang === 'en' ? '?' : '?lang=en';

let audio = null;
let alertsOn = false;
const seen = new Set();
const alerts = new Map(); // id -> alert, over every subscribed topic
let mayHandle = false;

function enableLabel() {
  $('enable').textContent = alertsOn ? t('enabled') : t('enable');
}
enableLabel();
$('enable').addEventListener('click', async () => {
  // Browsers allow sound and notifications only after a user gesture.
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    await audio.resume();
  } catch (e) { audio = null; }
  if ('Notification' in window && Notification.permission === 'default') {
    try { await Notification.requestPermission(); } catch (e) { /* ignored */ }
  }
  alertsOn = true;
  enableLabel();
  beep();
});

function beep() {
  if (!audio || audio.state !== 'running') return;
  const now = audio.currentTime;
  for (let i = 0; i < 3; i++) {
    const o = audio.createOscillator();
    const g = audio.createGain();
    o.type = 'square';
    o.frequency.value = i % 2 ? 660 : 880;
    g.gain.setValueAtTime(0.0001, now + i * 0.35);
    g.gain.exponentialRampToValueAtTime(0.25, now + i * 0.35 + 0.02);
    g.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.35 + 0.3);
    o.connect(g).connect(audio.destination);
    o.start(now + i * 0.35);
    o.stop(now + i * 0.35 + 0.32);
  }
}

function announce(a) {
  if (!alertsOn) return;
  beep();
  if ('Notification' in window && Notification.permission === 'granted') {
    try {
      const n = new Notification(title(a, lang), { body: cameraNames(a, lang).join(' · '), tag: a.id, renotify: true });
      n.onclick = () => { window.focus(); n.close(); };
    } catch (e) { /* some mobile browsers only notify from a service worker */ }
  }
}

// post calls the API. The team page's people come through a team link,
// not the sign-in form: a 401 says so in the page's words.
async function post(path, body) {
  try {
    return await api(path, { method: 'POST', body: body || {}, unauthorized: 'throw' });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) throw new Error(t('session'));
    throw err;
  }
}

function showError(msg) {
  const b = $('banner');
  b.textContent = msg;
  b.hidden = !msg;
}

let resolving = null;
$('resolve-title').textContent = t('resolve.title');
$('resolve-ok').textContent = t('resolve.ok');
$('resolve-cancel').textContent = t('cancel');
$('resolve-cancel').addEventListener('click', () => $('resolve-dialog').close());
$('resolve-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const reason = $('resolve-reason').value.trim();
  if (!reason || !resolving) return;
  try {
    await post(`/api/v1/alerts/${encodeURIComponent(resolving)}/resolve`, { reason });
    showError('');
    $('resolve-dialog').close();
  } catch (err) {
    showError(t('error', { reason: err.message }));
  }
});

function card(a) {
  const c = alertCard(a, lang, t);
  if (!seen.has(a.id)) c.classList.add('is-new');
  const cams = cameraNames(a, lang);
  if (cams.length) c.append(el('div', 'cams', `${t('cameras')}: ${cams.join(' · ')}`));
  if (mayHandle) {
    const actions = el('div', 'card-actions');
    if (a.state === 'firing') {
      const ack = el('button', 'btn btn-ack', t('ack'));
      ack.type = 'button';
      ack.addEventListener('click', async () => {
        ack.disabled = true;
        try {
          await post(`/api/v1/alerts/${encodeURIComponent(a.id)}/ack`, {});
          showError('');
        } catch (err) {
          ack.disabled = false;
          showError(t('error', { reason: err.message }));
        }
      });
      actions.append(ack);
    }
    const res = el('button', 'btn btn-quiet', t('resolve'));
    res.type = 'button';
    res.addEventListener('click', () => {
      resolving = a.id;
      $('resolve-reason').value = '';
      $('resolve-dialog').showModal();
    });
    actions.append(res);
    c.append(actions);
  }
  return c;
}

function render() {
  const list = order([...alerts.values()]);
  const frag = document.createDocumentFragment();
  for (const a of list) frag.append(card(a));
  $('list').replaceChildren(frag);
  for (const a of list) seen.add(a.id);
  $('empty').textContent = list.length ? '' : t('empty');
}

async function start() {
  let info = { teams: [], mine: [], may_handle: false, name: '' };
  try {
    info = await api('/api/v1/alerts/teams', { unauthorized: 'throw' });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) { showError(t('session')); return; }
    /* the hub still works */
  }
  mayHandle = !!info.may_handle;
  const want = new URLSearchParams(location.search).get('team');
  const topics = want ? [`alerts/team/${want}`] : info.mine.length ? info.mine.map((id) => `alerts/team/${id}`) : ['alerts'];
  const names = topics.map((tp) => {
    const id = tp.split('/')[2];
    const team = id && info.teams.find((x) => x.id === id);
    return team ? (lang === 'en' ? team.name_en || team.name : team.name) : t('all');
  });
  $('who').textContent = `${info.name || ''} · ${t('teams', { teams: names.join('、') })}`;

  const hub = new Hub();
  const perTopic = new Map();
  const sync = () => {
    const before = new Set(alerts.keys());
    alerts.clear();
    for (const st of perTopic.values()) for (const [id, a] of st) alerts.set(id, a);
    for (const [id, a] of alerts) {
      if (!before.has(id) && !seen.has(id) && a.state === 'firing' && !a.silenced) announce(a);
    }
    render();
  };
  for (const tp of topics) {
    hub.subscribe(tp, (u, topic) => {
      perTopic.set(tp, topic.state);
      sync();
    }, { kind: 'state' });
  }
  hub.addEventListener('status', (e) => {
    const s = e.detail.state;
    $('conn').className = `conn conn-${s}`;
    $('conn-text').textContent = t('conn.' + s);
  });
  hub.addEventListener('topicerror', (e) => showError(t('error', { reason: e.detail.reason || e.detail.code })));
  hub.start();
  setInterval(render, 30000); // "n min ago"
}

start();
