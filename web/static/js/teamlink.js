// The page a link in an alert message opens (/team-link?a=ALERT&t=TOKEN):
// that one alert, its cameras, and Acknowledge / Resolve without a
// session. The link allows each action once and nothing else.
import { tr, head, cameraNames, card as alertCard } from './alertview.js';
import { el, pickLang, api, ApiError } from './kit.js';

const lang = pickLang();
const t = tr(lang);
const $ = (id) => document.getElementById(id);
const q = new URLSearchParams(location.search);
const id = q.get('a') || '';
const token = q.get('t') || '';
const base = `/api/v1/link/alerts/${encodeURIComponent(id)}`;

head(t);
$('who').textContent = t('link.who');
q.set('lang', lang === 'en' ? 'zh' : 'en');
$('lang').href = '?' + q.toString();
$('name-label').textContent = t('link.name');
$('reason-label').textContent = t('link.reason');
$('ack').textContent = t('ack');
$('resolve').textContent = t('resolve');

function showError(msg) {
  $('banner').textContent = msg;
  $('banner').hidden = !msg;
}

// call calls the link API. A link works without a session: a refusal
// (401 included) is said in the page's words for the link's codes.
async function call(method, path, body) {
  try {
    return await api(path, { method, body, unauthorized: 'throw' });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    const k = 'link.' + err.code;
    throw new Error(err.code && t.has(k) ? t(k) : err.message);
  }
}

function card(a) {
  const c = alertCard(a, lang, t);
  const cams = cameraNames(a, lang);
  if (cams.length) {
    const list = el('ul', 'cams');
    list.append(el('li', 'cams-title', t('cameras')));
    for (const name of cams) list.append(el('li', 'cam', name));
    c.append(list);
  }
  return c;
}

function render(a) {
  $('list').replaceChildren(card(a));
  $('act').hidden = a.state === 'resolved';
  $('ack').hidden = a.state !== 'firing';
  $('resolve').hidden = a.state === 'resolved';
}

async function load() {
  if (!id || !token) {
    showError(t('link.link_invalid'));
    return;
  }
  try {
    render(await call('GET', `${base}?token=${encodeURIComponent(token)}`));
    showError('');
  } catch (err) {
    $('act').hidden = true;
    showError(err.message);
  }
}

async function act(action, button) {
  const body = { token, name: $('name').value.trim() };
  if (action === 'resolve') {
    body.reason = $('reason').value.trim();
    if (!body.reason) {
      showError(t('link.reason.required'));
      $('reason').focus();
      return;
    }
  }
  button.disabled = true;
  try {
    const a = await call('POST', `${base}/${action}`, body);
    render(a);
    $('done').textContent = t('link.done.' + action);
    $('done').hidden = false;
    showError('');
  } catch (err) {
    showError(t('error', { reason: err.message }));
  } finally {
    button.disabled = false;
  }
}

$('ack').addEventListener('click', () => act('ack', $('ack')));
$('resolve').addEventListener('click', () => act('resolve', $('resolve')));
load();
