// The toolkit every page and widget shares: el builds an element, api
// calls the server's JSON API with the one rule for a 401, pickLang and
// translator look strings up in a zh-CN/English table. Each module keeps
// its own table beside its code, strings several pages show are in
// strings.js; the lookup is this one.

import { SHARED } from './strings.js';

// el builds an element with a class and text content only: text comes
// from tickets, cameras and the API and is never parsed as HTML.
export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

// pickLang reads ?lang= (anything but "en…" means Chinese) and marks the
// page's language on <html> (en or zh-CN), which fonts follow.
export function pickLang(search = location.search) {
  const v = new URLSearchParams(search).get('lang');
  const lang = v && v.toLowerCase().startsWith('en') ? 'en' : 'zh';
  document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
  return lang;
}

// translator returns t(key, vars) over tables ({zh: {...}, en: {...}})
// and then the shared ones of strings.js: the string for key in lang,
// falling back to Chinese, then to the key itself, so a typo shows on
// screen rather than as a blank; {name} placeholders are filled from vars
// (empty when vars has no value).
export function translator(tables, lang) {
  const zh = tables.zh || {};
  const table = tables[lang] || zh;
  const shared = SHARED[lang] || SHARED.zh;
  const t = (key, vars) => {
    let s = String(table[key] ?? shared[key] ?? zh[key] ?? SHARED.zh[key] ?? key);
    if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] != null ? String(vars[k]) : ''));
    return s;
  };
  t.lang = lang === 'en' ? 'en' : 'zh';
  t.has = (key) => key in table || key in zh || key in SHARED.zh;
  return t;
}

// ApiError is a refused call: the HTTP status and the typed error's
// {code, reason} (docs/protocol.md).
export class ApiError extends Error {
  constructor(status, code, reason) {
    super(reason || code || 'HTTP ' + status);
    this.status = status;
    this.code = code || '';
  }
}

// signIn sends the browser to the sign-in form, which brings it back here.
export function signIn() {
  location.href = '/login?next=' + encodeURIComponent(location.pathname + location.search);
}

// api calls the JSON API: method (GET), body (sent as JSON), signal; it
// resolves to the answer's JSON (null when empty) and rejects with an
// ApiError when the server refuses, or the fetch's own error when it is
// not reached.
//
// The one rule for a 401: the session has ended, so api sends the browser
// to sign in and never settles (the page is going away; nothing should
// show an error meanwhile). Callers whose people do not sign in with the
// form pass {unauthorized: 'throw'} and get the ApiError to handle: the
// team pages, opened from a team link, and loaders on the wall that retry
// while the wall itself checks its session.
export async function api(path, { method = 'GET', body, signal, unauthorized = 'sign-in' } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, credentials: 'same-origin', headers, signal,
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  if (res.status === 401 && unauthorized !== 'throw') {
    signIn();
    return new Promise(() => {});
  }
  if (!res.ok) {
    const data = await res.json().catch(() => null);
    throw new ApiError(res.status, data && data.code, (data && data.reason) || res.statusText);
  }
  // An answer that is not JSON (a proxy's page) is an error, not null.
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}
