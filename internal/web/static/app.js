// The page's router: it shows the page the location's hash names, asks
// for a token when the API answers 401, and shows the API's errors.

import {fill, h} from './dom.js';
import {APIError, Unauthorized, setToken, token} from './api.js';
import {tz} from './format.js';
import * as calls from './calls.js';
import * as call from './call.js';
import * as reports from './reports.js';
import * as live from './live.js';

const routes = [
  {re: /^\/calls$/, nav: 'calls', page: calls},
  {re: /^\/call\/([^/]+)\/([^/]+)$/, nav: 'calls', page: call},
  {re: /^\/reports\/([a-z]+)$/, nav: 'reports', page: reports},
  {re: /^\/live$/, nav: 'live', page: live},
];

const main = document.getElementById('main');
let shown; // the AbortController of the page shown

async function show() {
  shown?.abort();
  const ctl = new AbortController();
  shown = ctl;
  let hash = location.hash.replace(/^#/, '');
  if (hash === '' || hash === '/') hash = '/calls';
  const i = hash.indexOf('?');
  const path = i < 0 ? hash : hash.slice(0, i);
  const params = new URLSearchParams(i < 0 ? '' : hash.slice(i + 1));
  const route = routes.find((r) => r.re.test(path));
  for (const a of document.querySelectorAll('nav a')) {
    a.classList.toggle('active', route !== undefined && a.dataset.nav === route.nav);
  }
  session();
  if (!route) {
    fill(main, h('h1', null, 'No such page'), h('p', null, h('a', {href: '#/calls'}, 'Back to the calls')));
    return;
  }
  const match = path.match(route.re).slice(1).map(decodeURIComponent);
  try {
    await route.page.render(main, {match, params, signal: ctl.signal});
  } catch (err) {
    if (ctl.signal.aborted) return;
    failed(err);
  }
}

// failed shows what went wrong, or the token form.
export function failed(err) {
  if (err instanceof Unauthorized) {
    fill(main, tokenForm(err));
    main.querySelector('input').focus();
    return;
  }
  const what = err instanceof APIError ? `${err.status}: ${err.message}` : err.message;
  fill(main, h('h1', null, 'Something went wrong'), h('p', {class: 'error', id: 'error'}, what));
}

function tokenForm(err) {
  const refused = token() !== '';
  const input = h('input', {type: 'password', name: 'token', id: 'token', autocomplete: 'off', required: true, size: 40});
  return h('form', {id: 'token-form', class: 'token-form', onsubmit: (e) => {
    e.preventDefault();
    setToken(input.value.trim());
    show();
  }},
  h('h1', null, 'API token'),
  h('p', null, refused
    ? `The token was refused (${err.message}). Give the read-only or the admin token.`
    : 'This calltrail needs a token: the read-only token (--token-file or CALLTRAIL_TOKEN) or the admin token.'),
  h('p', null, h('label', {for: 'token'}, 'Token '), input, ' ', h('button', {type: 'submit'}, 'Use this token')),
  h('p', {class: 'note'}, 'The token is kept in this browser tab only (sessionStorage) and sent as Authorization: Bearer.'));
}

// session shows the time zone and whether a token is in use.
function session() {
  const el = document.getElementById('session');
  const parts = [h('span', {title: 'times are shown and typed in this time zone'}, `times in ${tz}`)];
  if (token()) {
    parts.push(' · token set ', h('button', {type: 'button', class: 'link', id: 'forget-token', onclick: () => {
      setToken('');
      show();
    }}, 'forget'));
  }
  el.replaceChildren(...parts);
}

window.addEventListener('hashchange', show);
show();
