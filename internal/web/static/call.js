// One call: its facts, the flow diagram the API draws, the timeline of
// its legs, and every leg's times, causes and audio quality; then its
// connections, queue stays and billing records.

import {fill, h} from './dom.js';
import {catalogue, download, getJSON, getText} from './api.js';
import {between, clockMs, dateTime, secs, words} from './format.js';
import {disposition, lastList, lists} from './calls.js';
import * as timeline from './timeline.js';

export async function render(main, {match, signal}) {
  const [server, id] = match;
  const base = `/api/v1/calls/${encodeURIComponent(server)}/${encodeURIComponent(id)}`;
  const [c, svg, tl, causes] = await Promise.all([
    getJSON(base, signal).then(lists),
    getText(`${base}/diagram?format=svg&timeline=false`, signal),
    getJSON(`${base}/timeline`, signal),
    catalogue().catch(() => null),
  ]);
  const parties = new Map(c.legs.map((l) => [l.id, l.party]));
  const party = (leg) => parties.get(leg) || leg || '–';
  fill(main,
    h('p', {class: 'back'}, h('a', {href: lastList}, '← Calls')),
    h('h1', null, `Call ${c.call_id} `, h('span', {class: 'sub'}, `on ${c.server}`)),
    facts(c),
    c.complete ? null : h('p', {class: 'warning', id: 'incomplete'},
      'Events of this call may be missing; some times are estimates. ',
      (c.gaps || []).map((g) => `${dateTime(g.from)} – ${dateTime(g.to)}: ${g.reason}. `)),
    h('section', {id: 'diagram-section'},
      h('div', {class: 'section-head'}, h('h2', null, 'Flow'), downloads(base, c)),
      diagram(svg)),
    h('section', {id: 'timeline-section'},
      h('h2', null, 'Timeline'),
      h('div', {id: 'timeline', class: 'scroll'}, timeline.draw(tl)),
      timeline.legend(tl)),
    h('section', {id: 'legs-section'},
      h('h2', null, 'Legs'),
      h('div', {class: 'scroll'}, legs(c, causes))),
    connections(c, party),
    linked(c, party),
    queues(c, party),
    billing(c, party),
  );
}

function facts(c) {
  const item = (label, value) => h('div', null, h('dt', null, label), h('dd', null, value));
  return h('dl', {class: 'facts', id: 'facts'},
    item('Start', dateTime(c.start)),
    item('End', dateTime(c.end)),
    item('Duration', secs(between(c.start, c.end))),
    item('Disposition', disposition(c.disposition)),
    item('Legs', String(c.legs.length)),
    item('Connections', String((c.connections || []).length)));
}

// diagram puts the API's SVG in the page as a node tree: parsed as XML,
// so that nothing in it runs.
function diagram(text) {
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const root = doc.documentElement;
  const box = h('div', {id: 'diagram', class: 'diagram scroll'});
  if (root.nodeName !== 'svg' || doc.querySelector('parsererror')) {
    box.append(h('p', {class: 'error'}, 'The diagram could not be read.'));
    return box;
  }
  box.append(document.importNode(root, true));
  return box;
}

function downloads(base, c) {
  const name = `call-${c.server}-${c.call_id}`;
  const link = (label, path, file) => h('button', {type: 'button', class: 'link', onclick: () => download(path, file)}, label);
  return h('span', {class: 'downloads'}, 'download: ',
    link('SVG', `${base}/diagram?format=svg`, `${name}.svg`), ' · ',
    link('DOT', `${base}/diagram?format=dot`, `${name}.dot`), ' · ',
    link('Mermaid', `${base}/diagram?format=mermaid`, `${name}.mmd`), ' · ',
    link('JSON', base, `${name}.json`));
}

function causeCell(l, causes) {
  const q = causes?.q850.get(l.cause);
  const text = l.cause_text || q?.text || '';
  return h('td', {title: q ? `${q.name}: ${q.explanation.meaning}` : null}, h('span', {class: 'code'}, String(l.cause)), ` ${text}`);
}

function sipCell(l, causes) {
  if (l.sip_code === null || l.sip_code === undefined) return h('td', null, '–');
  const e = causes?.sip.get(l.sip_code);
  return h('td', {title: e ? e.explanation.meaning : null}, h('span', {class: 'code'}, String(l.sip_code)), e ? ` ${e.text}` : '');
}

function mosCell(q, dir, title) {
  if (!dir) return h('td', {class: 'num', title}, '–');
  const grade = dir.mos < 3.1 ? 'mos-bad' : dir.mos < 3.6 ? 'mos-poor' : 'mos-good';
  return h('td', {class: `num ${grade}`, title}, dir.mos.toFixed(1));
}

// qualityTitle says all RTCP told about a leg's audio.
function qualityTitle(q) {
  const detail = (name, d) => d
    ? `${name}: MOS ${d.mos.toFixed(2)}, loss ${d.loss_pct.toFixed(2)} % (${d.lost} of ${d.packets}), jitter ${d.jitter_ms.toFixed(1)} ms`
    : `${name}: not reported`;
  return [q.codec ? `codec ${q.codec}` : '', q.rtt_ms !== undefined ? `RTT ${q.rtt_ms} ms` : '',
    detail('sent by the party', q.from_party), detail('received by the party', q.to_party)].filter(Boolean).join('\n');
}

// legColumns are the columns of the legs table; those marked optional
// show only when a leg has something to put in them.
const legColumns = [
  {title: 'Party', cell: (l) => h('td', null, h('strong', null, l.party), l.caller_name ? h('div', {class: 'sub'}, l.caller_name) : null)},
  {title: 'Role', cell: (l) => h('td', null, words(l.role))},
  {title: 'Channel', cell: (l) => h('td', {class: 'mono'}, l.channel)},
  {title: 'Created', cell: (l) => h('td', {class: 'time', title: l.created}, clockMs(l.created))},
  {title: 'Answered', cell: (l) => h('td', {class: 'time', title: l.answered}, clockMs(l.answered))},
  {title: 'Ended', cell: (l) => h('td', {class: 'time', title: l.ended}, clockMs(l.ended))},
  {title: 'Ring', num: true, cell: (l) => h('td', {class: 'num'}, secs(l.ring))},
  {title: 'Talk', num: true, cell: (l) => h('td', {class: 'num'}, secs(l.talk))},
  {title: 'Billsec', num: true, cell: (l) => h('td', {class: 'num'}, secs(l.billsec))},
  {title: 'Disposition', cell: (l) => h('td', null, disposition(l.disposition))},
  {title: 'Q.850 cause', cell: causeCell},
  {title: 'SIP', cell: sipCell},
  {title: 'Released', hint: 'who hung up: the caller, the callee, or Asterisk (system)', cell: (l) => h('td', null, l.released_by || '–')},
  {title: 'Account', optional: (l) => l.account, cell: (l) => h('td', null, l.account || '–')},
  {title: 'MOS sent', num: true, optional: (l) => l.quality, hint: 'the audio the party sent, as Asterisk received it',
    cell: (l) => mosCell(l.quality, l.quality?.from_party, l.quality ? qualityTitle(l.quality) : null)},
  {title: 'MOS rcvd', num: true, optional: (l) => l.quality, hint: 'the audio the party received, by its own RTCP reports',
    cell: (l) => mosCell(l.quality, l.quality?.to_party, l.quality ? qualityTitle(l.quality) : null)},
];

function legs(c, causes) {
  const cols = legColumns.filter((col) => !col.optional || c.legs.some(col.optional));
  return h('table', {id: 'legs-table', class: 'data nowrap'},
    h('thead', null, h('tr', null, cols.map((col) => h('th', {class: col.num ? 'num' : null, title: col.hint}, col.title)))),
    h('tbody', null, c.legs.map((l) => h('tr', {'data-leg': l.id}, cols.map((col) => col.cell(l, causes))))));
}

function connections(c, party) {
  if (!(c.connections || []).length) return null;
  return h('section', {id: 'connections-section'},
    h('h2', null, 'Connections'),
    h('table', {class: 'data', id: 'connections-table'},
      h('thead', null, h('tr', null, ['#', 'Kind', 'By', 'From', 'To', 'At', 'Status', 'Ring'].map((t) => h('th', null, t)))),
      h('tbody', null, c.connections.map((x, i) => h('tr', null,
        h('td', {class: 'num'}, String(i + 1)),
        h('td', null, words(x.kind)),
        h('td', null, x.by ? party(x.by) : ''),
        h('td', null, party(x.from)),
        h('td', null, party(x.to), x.target ? h('span', {class: 'sub'}, ` ${x.target}`) : null),
        h('td', {class: 'time'}, clockMs(x.at)),
        h('td', null, x.status || (x.answered === undefined ? '' : x.answered ? 'answered' : 'not answered')),
        h('td', {class: 'num'}, x.ring === undefined ? '' : secs(x.ring)))))));
}

// linked lists the calls on other servers (or this one) that this call
// continued or was continued by over a SIP trunk.
function linked(c, party) {
  if (!(c.linked || []).length) return null;
  return h('section', {id: 'linked-section'},
    h('h2', null, 'Linked calls'),
    h('table', {class: 'data', id: 'linked-table'},
      h('thead', null, h('tr', null, ['Call', 'Server', 'Their leg', 'Our leg', 'SIP Call-ID'].map((t) => h('th', null, t)))),
      h('tbody', null, c.linked.map((x) => h('tr', null,
        h('td', null, h('a', {href: `#/call/${encodeURIComponent(x.server)}/${encodeURIComponent(x.call_id)}`}, x.call_id)),
        h('td', null, x.server),
        h('td', null, x.leg),
        h('td', null, party(x.via)),
        h('td', {class: 'mono'}, x.sip_call_id))))));
}

function queues(c, party) {
  if (!(c.queues || []).length) return null;
  return h('section', {id: 'queues-section'},
    h('h2', null, 'Queue stays'),
    h('table', {class: 'data'},
      h('thead', null, h('tr', null, ['Queue', 'Caller', 'Joined', 'Left', 'Wait', 'Outcome', 'Agent', 'Attempts'].map((t) => h('th', null, t)))),
      h('tbody', null, c.queues.map((q) => h('tr', null,
        h('td', null, q.queue), h('td', null, party(q.caller)),
        h('td', {class: 'time'}, clockMs(q.joined)), h('td', {class: 'time'}, clockMs(q.left)),
        h('td', {class: 'num'}, secs(q.wait)), h('td', null, words(q.outcome)),
        h('td', null, q.agent ? party(q.agent) : '–'), h('td', {class: 'num'}, String(q.attempts)))))));
}

function billing(c, party) {
  if (!(c.billing || []).length) return null;
  return h('section', {id: 'billing-section'},
    h('h2', null, 'Billing'),
    h('table', {class: 'data'},
      h('thead', null, h('tr', null, ['Leg', 'Account', 'Billsec', 'Billed', 'Destination', 'Cost', 'Rate'].map((t) => h('th', null, t)))),
      h('tbody', null, c.billing.map((b) => h('tr', null,
        h('td', null, b.party || party(b.leg)), h('td', null, b.account || '–'),
        h('td', {class: 'num'}, secs(b.billsec)), h('td', {class: 'num'}, `${b.billed_seconds} s`),
        h('td', null, b.destination || '–'),
        h('td', {class: 'num'}, b.cost ? `${b.cost} ${b.currency || ''}` : '–'),
        h('td', null, b.error ? h('span', {class: 'error'}, b.error) : [b.plan, b.row, b.increment].filter(Boolean).join(' · ')))))));
}
