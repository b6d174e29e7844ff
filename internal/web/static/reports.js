// The queue and cause reports (GET /api/v1/reports/{name}) as charts and
// tables, over a period the user picks.

import {fill, h} from './dom.js';
import {APIError, getJSON} from './api.js';
import {pct, secs, tz} from './format.js';
import {go, query} from './nav.js';
import {hbars, vbars} from './charts.js';

const pages = {
  queues: {title: 'Queues', fields: ['from', 'to', 'queue', 'interval', 'sl'], draw: queues},
  causes: {title: 'Hangup causes', fields: ['from', 'to', 'server', 'lang'], draw: causes},
};

const fields = {
  from: {label: 'From', type: 'datetime-local'},
  to: {label: 'To', type: 'datetime-local'},
  queue: {label: 'Queue', type: 'text'},
  server: {label: 'Server', type: 'text'},
  interval: {label: 'Per', type: 'select', options: [['', 'whole period'], ['hour', 'hour'], ['day', 'day']]},
  sl: {label: 'Service level target', type: 'text', placeholder: '20s'},
  lang: {label: 'Explanations in', type: 'select', options: [['en', 'English'], ['ru', 'Русский']]},
};

export async function render(main, {match, params, signal}) {
  const name = match[0];
  const page = pages[name];
  if (!page) {
    fill(main, h('h1', null, 'No such report'), h('p', null, h('a', {href: '#/reports/queues'}, 'Queues')));
    return;
  }
  const sel = {};
  for (const f of page.fields) sel[f] = params.get(f) || '';
  let report, refused;
  try {
    report = await getJSON(`/api/v1/reports/${name}${query({...sel, tz})}`, signal);
  } catch (err) {
    if (!(err instanceof APIError && err.status === 400)) throw err;
    refused = err.message; // a setting the API refuses: keep the form to fix it
  }
  fill(main,
    h('h1', null, 'Reports'),
    h('div', {class: 'tabs'}, Object.entries(pages).map(([n, p]) =>
      h('a', {href: `#/reports/${n}${query(period(sel))}`, class: n === name ? 'active' : null, id: `tab-${n}`}, p.title))),
    form(name, page, sel),
    refused
      ? h('p', {class: 'error', id: 'error'}, refused)
      : h('div', {id: `report-${name}`}, page.draw(report, sel)));
}

// period keeps the selection that both reports share.
function period(sel) {
  return {from: sel.from, to: sel.to};
}

function form(name, page, sel) {
  const el = h('form', {id: 'report-filters', class: 'filters', onsubmit: (e) => {
    e.preventDefault();
    const q = {};
    for (const [k, v] of new FormData(el)) q[k] = String(v).trim();
    go(`#/reports/${name}${query(q)}`);
  }},
  page.fields.map((n) => {
    const f = fields[n];
    const id = `r-${n}`;
    const input = f.type === 'select'
      ? h('select', {id, name: n}, f.options.map(([v, t]) => h('option', {value: v, selected: sel[n] === v}, t)))
      : h('input', {id, name: n, type: f.type, value: sel[n], placeholder: f.placeholder, step: f.type === 'datetime-local' ? 60 : null});
    return h('div', {class: 'field'}, h('label', {for: id}, f.label), input);
  }),
  h('div', {class: 'buttons'}, h('button', {type: 'submit'}, 'Show')));
  return el;
}

// callsHref lists the calls behind a figure.
function callsHref(sel, extra) {
  return `#/calls${query({from: sel.from, to: sel.to, ...extra})}`;
}

const outcomes = [
  {key: 'inTarget', name: 'answered in target', cls: 's-good'},
  {key: 'late', name: 'answered late', cls: 's-late'},
  {key: 'abandoned', name: 'abandoned', cls: 's-bad'},
  {key: 'timeout', name: 'timed out', cls: 's-warn'},
  {key: 'exitEmpty', name: 'left, no agent', cls: 's-grey'},
  {key: 'transferred', name: 'transferred', cls: 's-blue'},
];

function outcomeValues(q) {
  return {
    inTarget: q.answered_in_target, late: q.answered - q.answered_in_target, abandoned: q.abandoned,
    timeout: q.timeout, exitEmpty: q.exit_empty, transferred: q.transferred,
  };
}

function queues(r, sel) {
  if (!r.queues || r.queues.length === 0) return h('p', {class: 'note', id: 'no-data'}, 'No queue calls in this period.');
  const out = [
    h('h2', null, `Callers per queue `, h('span', {class: 'sub'}, `(target ${secs(r.target)})`)),
    h('div', {class: 'scroll'}, hbars(r.queues.map((q) => ({
      label: q.queue, values: outcomeValues(q), href: callsHref(sel, {queue: q.queue}),
      title: `${q.offered} offered · SL ${pct(q.service_level)}`,
    })), outcomes, {id: 'queue-chart'})),
  ];
  if (r.intervals && r.intervals.length) {
    const byLabel = new Map();
    for (const q of r.intervals) {
      const v = byLabel.get(q.interval) || {};
      for (const [k, n] of Object.entries(outcomeValues(q))) v[k] = (v[k] || 0) + n;
      byLabel.set(q.interval, v);
    }
    out.push(h('h2', null, `Callers per ${sel.interval || 'interval'}`),
      h('div', {class: 'scroll'}, vbars([...byLabel].map(([label, values]) => ({label, values})), outcomes, {id: 'interval-chart'})));
  }
  const cols = [
    ['Queue', (q) => h('a', {href: callsHref(sel, {queue: q.queue})}, q.queue)],
    ['Offered', (q) => q.offered], ['Answered', (q) => q.answered], ['In target', (q) => q.answered_in_target],
    ['Abandoned', (q) => q.abandoned], ['Timed out', (q) => q.timeout], ['Left, no agent', (q) => q.exit_empty],
    ['Transferred', (q) => q.transferred],
    ['Service level', (q) => pct(q.service_level)], ['SL with abandons', (q) => pct(q.service_level_abandon)],
    ['Avg wait', (q) => secs(q.avg_wait)], ['Max wait', (q) => secs(q.max_wait)], ['ASA', (q) => secs(q.asa)],
    ['Avg abandon wait', (q) => secs(q.avg_abandon_wait)], ['Avg talk', (q) => secs(q.avg_talk)],
  ];
  out.push(h('h2', null, 'Figures'), h('div', {class: 'scroll'}, table('queue-table', cols, r.queues)));
  if (r.intervals && r.intervals.length) {
    out.push(h('h2', null, `Per ${sel.interval || 'interval'}`),
      h('div', {class: 'scroll'}, table('interval-table', [['Interval', (q) => q.interval], ...cols], r.intervals)));
  }
  out.push(h('p', {class: 'note'}, 'Service level = answered in target / answered; with abandons = answered in target / (answered + abandoned after the target). docs/reports.md defines every figure.'));
  return out;
}

const releasers = [
  {key: 'by_caller', name: 'released by the caller', cls: 's-blue'},
  {key: 'by_callee', name: 'by the callee', cls: 's-good'},
  {key: 'by_system', name: 'by Asterisk', cls: 's-grey'},
];

function causes(r, sel) {
  if (!r.causes || r.causes.length === 0) return h('p', {class: 'note', id: 'no-data'}, 'No calls in this period.');
  const out = [
    h('h2', null, `Legs by Q.850 cause `, h('span', {class: 'sub'}, `(${r.legs} legs)`)),
    h('div', {class: 'scroll'}, hbars(r.causes.map((c) => ({
      label: `${c.cause} ${c.text}`,
      values: {by_caller: c.by_caller, by_callee: c.by_callee, by_system: c.by_system},
      href: callsHref(sel, {cause: c.cause}),
      title: `${c.legs} · ${pct(c.share)}`,
    })), releasers, {id: 'cause-chart', labelW: 300})),
  ];
  if (r.sip && r.sip.length) {
    out.push(h('h2', null, 'Legs by SIP status'),
      h('div', {class: 'scroll'}, hbars(r.sip.map((x) => ({
        label: `${x.code} ${x.reason}`, values: {legs: x.legs}, href: callsHref(sel, {sip: x.code}),
      })), [{key: 'legs', name: 'legs', cls: 's-bad'}], {id: 'sip-chart', labelW: 300})));
  }
  const explain = (e) => e && e.meaning
    ? h('details', null, h('summary', null, 'what it means'), h('p', null, e.meaning), h('p', null, h('strong', null, 'Check: '), e.check))
    : '';
  out.push(h('h2', null, 'Causes'), h('div', {class: 'scroll'}, table('cause-table', [
    ['Cause', (c) => h('a', {href: callsHref(sel, {cause: c.cause})}, String(c.cause))],
    ['Name', (c) => c.name], ['Text', (c) => c.text], ['Legs', (c) => c.legs], ['Share', (c) => pct(c.share)],
    ['By caller', (c) => c.by_caller], ['By callee', (c) => c.by_callee], ['By Asterisk', (c) => c.by_system],
    ['SIP seen', (c) => (c.sip_seen || []).join(', ') || '–'],
    ['Asterisk → SIP', (c) => c.asterisk_sip ?? '–'], ['RFC 3398 → SIP', (c) => c.rfc3398_sip ?? '–'],
    ['Explanation', (c) => explain(c.explanation)],
  ], r.causes)));
  if (r.sip && r.sip.length) {
    out.push(h('h2', null, 'SIP statuses'), h('div', {class: 'scroll'}, table('sip-table', [
      ['Status', (x) => h('a', {href: callsHref(sel, {sip: x.code})}, String(x.code))], ['Reason', (x) => x.reason],
      ['Legs', (x) => x.legs], ['Causes seen', (x) => (x.causes_seen || []).join(', ') || '–'],
      ['Asterisk → cause', (x) => x.asterisk_cause], ['RFC 3398 → cause', (x) => x.rfc3398_cause ?? '–'],
      ['Explanation', (x) => explain(x.explanation)],
    ], r.sip)));
  }
  if (r.routes && r.routes.length) {
    out.push(h('h2', null, 'By trunk and destination'), h('div', {class: 'scroll'}, table('route-table', [
      ['Trunk', (x) => x.trunk], ['Destination', (x) => x.destination || '–'], ['Cause', (x) => x.cause],
      ['SIP', (x) => x.sip ?? '–'], ['Legs', (x) => x.legs],
    ], r.routes)));
  }
  return out;
}

// figure matches a number written with its unit: 5.0 s, 100.0 %.
const figure = /^-?[0-9.]+ (s|%)$/;

// table draws rows in columns of [title, value of a row]; a column that
// holds figures is aligned right, its dashes with it.
function table(id, cols, rows) {
  const cells = rows.map((row) => cols.map(([, f]) => f(row)));
  const numeric = cols.map((_, j) => cells.some((r) => typeof r[j] === 'number' || figure.test(r[j])));
  return h('table', {id, class: 'data nowrap'},
    h('thead', null, h('tr', null, cols.map(([t], j) => h('th', {class: numeric[j] ? 'num' : null}, t)))),
    h('tbody', null, cells.map((r) => h('tr', null, r.map((v, j) =>
      h('td', {class: numeric[j] ? 'num' : null}, v instanceof Node ? v : String(v)))))));
}
