// The call list: the filters of GET /api/v1/calls, a page of calls, and
// paging by limit and offset.

import {fill, h} from './dom.js';
import {APIError, catalogue, getJSON} from './api.js';
import {between, dateTime, secs, tz, words} from './format.js';
import {callHref, go, query} from './nav.js';

const dispositions = ['ANSWERED', 'NO ANSWER', 'BUSY', 'CANCEL', 'CONGESTION', 'FAILED'];

// The filters, as the API names them.
const filters = [
  {name: 'from', label: 'From', type: 'datetime-local'},
  {name: 'to', label: 'To', type: 'datetime-local'},
  {name: 'party', label: 'Party', type: 'text', placeholder: '1001'},
  {name: 'account', label: 'Account', type: 'text'},
  {name: 'queue', label: 'Queue', type: 'text'},
  {name: 'disposition', label: 'Disposition', type: 'select', options: dispositions},
  {name: 'cause', label: 'Q.850 cause', type: 'number', min: 0, max: 127, list: 'q850-causes'},
  {name: 'sip', label: 'SIP status', type: 'number', min: 100, max: 699, list: 'sip-statuses'},
  {name: 'text', label: 'Text', type: 'search', placeholder: 'id, name, channel…'},
];

const pageSizes = ['25', '50', '100', '200'];

// lastList is the hash of the list shown last, for the way back from a
// call.
export let lastList = '#/calls';

export async function render(main, {params, signal}) {
  const n = parseInt(params.get('limit') || '', 10);
  const limit = n >= 1 && n <= 1000 ? String(n) : '50';
  const offset = Math.max(0, parseInt(params.get('offset') || '0', 10) || 0);
  const sel = {};
  for (const f of filters) sel[f.name] = params.get(f.name) || '';
  let page;
  try {
    page = await getJSON(`/api/v1/calls${query({...sel, tz, limit, offset})}`, signal);
  } catch (err) {
    if (!(err instanceof APIError && err.status === 400)) throw err;
    // A filter the API refuses: say which, and keep the form to fix it.
    fill(main, h('h1', null, 'Calls'), form(sel, limit), h('p', {class: 'error', id: 'error'}, err.message));
    return;
  }
  lastList = location.hash || '#/calls';
  fill(main,
    h('h1', null, 'Calls'),
    form(sel, limit),
    page.calls.length === 0
      ? h('p', {class: 'note', id: 'no-calls'}, 'No call matches these filters.')
      : table(page.calls),
    pager(sel, limit, offset, page.calls.length, page.next_offset),
  );
  fillLists(main);
}

function form(sel, limit) {
  const inputs = filters.map((f) => {
    const id = `f-${f.name}`;
    let input;
    if (f.type === 'select') {
      input = h('select', {id, name: f.name},
        h('option', {value: ''}, 'any'),
        f.options.map((o) => h('option', {value: o, selected: sel[f.name] === o}, o)));
    } else {
      input = h('input', {id, name: f.name, type: f.type, value: sel[f.name], placeholder: f.placeholder,
        min: f.min, max: f.max, list: f.list, step: f.type === 'datetime-local' ? 60 : null});
    }
    return h('div', {class: 'field'}, h('label', {for: id}, f.label), input);
  });
  const sizes = pageSizes.includes(limit) ? pageSizes : [...pageSizes, limit].sort((a, b) => a - b);
  const size = h('select', {id: 'f-limit', name: 'limit'}, sizes.map((n) => h('option', {value: n, selected: n === limit}, n)));
  const el = h('form', {id: 'filters', class: 'filters', onsubmit: (e) => {
    e.preventDefault();
    const data = new FormData(el);
    const q = {};
    for (const [k, v] of data) q[k] = String(v).trim();
    go(`#/calls${query(q)}`);
  }},
  inputs,
  h('div', {class: 'field'}, h('label', {for: 'f-limit'}, 'Per page'), size),
  h('div', {class: 'buttons'},
    h('button', {type: 'submit', id: 'apply'}, 'Apply'),
    h('button', {type: 'button', class: 'secondary', onclick: () => go('#/calls')}, 'Clear')),
  h('datalist', {id: 'q850-causes'}),
  h('datalist', {id: 'sip-statuses'}));
  return el;
}

// fillLists offers the known causes and statuses in the number fields.
async function fillLists(main) {
  try {
    const c = await catalogue();
    main.querySelector('#q850-causes')?.replaceChildren(...[...c.q850.values()].map((e) => h('option', {value: e.code}, e.text)));
    main.querySelector('#sip-statuses')?.replaceChildren(...[...c.sip.values()].map((e) => h('option', {value: e.code}, e.text)));
  } catch {
    // the suggestions are a convenience; the list works without them
  }
}

function caller(c) {
  return c.legs.find((l) => l.role === 'caller') || c.legs[0];
}

// A record may come without lists (null in JSON); the pages take them
// as empty.
export function lists(c) {
  for (const k of ['legs', 'connections', 'segments', 'queues', 'billing', 'gaps']) c[k] ||= [];
  return c;
}

// features names what happened in the call besides a plain dial.
function features(c) {
  const out = new Set();
  for (const x of c.connections || []) {
    if (x.kind.endsWith('transfer')) out.add(x.kind === 'blind_transfer' ? 'blind transfer' : 'attended transfer');
    else if (x.kind === 'attended_transfer_abandoned') out.add('transfer abandoned');
    else if (!['dial', 'queue_attempt', 'conference_join'].includes(x.kind)) out.add(words(x.kind));
  }
  if ((c.queues || []).length) out.add('queue');
  if ((c.conferences || []).length) out.add('conference');
  if (!c.complete) out.add('incomplete');
  return [...out];
}

export function disposition(d) {
  return h('span', {class: `badge disp-${String(d || '').toLowerCase().replaceAll(' ', '-')}`}, d || '–');
}

function table(calls) {
  const rows = calls.map(lists).map((c) => {
    const first = caller(c);
    const others = [...new Set(c.legs.filter((l) => l !== first).map((l) => l.party))];
    const href = callHref(c.server, c.call_id);
    return h('tr', {class: 'clickable', 'data-call': `${c.server}/${c.call_id}`, onclick: (e) => {
      if (e.target.closest('a')) return;
      location.hash = href;
    }},
    h('td', {class: 'time'}, dateTime(c.start)),
    h('td', null, first ? first.party : '–', first && first.caller_name ? h('span', {class: 'sub'}, ` ${first.caller_name}`) : null),
    h('td', null, first && first.dialed ? first.dialed : '–'),
    h('td', null, others.join(', ') || '–'),
    h('td', {class: 'num'}, secs(between(c.start, c.end))),
    h('td', {class: 'num'}, first ? secs(first.billsec) : '–'),
    h('td', null, disposition(c.disposition)),
    h('td', null, features(c).map((f) => h('span', {class: `tag tag-${f.replaceAll(' ', '-')}`}, f))),
    h('td', null, h('a', {href}, c.call_id), h('span', {class: 'sub'}, ` ${c.server}`)));
  });
  return h('table', {id: 'calls-table', class: 'data'},
    h('thead', null, h('tr', null,
      ['Start', 'From', 'Dialled', 'Other parties', 'Duration', 'Billsec', 'Disposition', 'Flow', 'Call'].map((t, i) =>
        h('th', {class: i === 4 || i === 5 ? 'num' : null}, t)))),
    h('tbody', null, rows));
}

function pager(sel, limit, offset, n, next) {
  const at = (o) => `#/calls${query({...sel, limit, offset: o || ''})}`;
  const prev = Math.max(0, offset - Number(limit));
  return h('div', {class: 'pager', id: 'pager'},
    offset > 0 ? h('a', {href: at(prev), id: 'prev', class: 'button secondary'}, '← Previous') : null,
    h('span', {id: 'page-info'}, n === 0 ? '' : `calls ${offset + 1}–${offset + n}`),
    next !== null && next !== undefined ? h('a', {href: at(next), id: 'next', class: 'button secondary'}, 'Next →') : null);
}
