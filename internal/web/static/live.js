// The calls in progress, from GET /api/v1/live. The stream is read with
// fetch rather than EventSource, which cannot send the Authorization
// header; it is reopened after 2 s when it breaks, until the page is left.

import {fill, h} from './dom.js';
import {APIError, request} from './api.js';
import {clock, dateTime, parse, secs, words} from './format.js';

export async function render(main, {signal}) {
  const status = h('p', {id: 'live-status', class: 'note'}, 'Connecting…');
  const body = h('div', {id: 'live-calls'});
  let last = null; // the last snapshot and when it came
  fill(main, h('h1', null, 'Calls in progress'), status, body);
  const tick = setInterval(() => last && draw(body, last), 1000);
  signal.addEventListener('abort', () => clearInterval(tick));
  try {
    for (;;) {
      let resp;
      try {
        resp = await request('/api/v1/live', signal);
      } catch (err) {
        if (err instanceof APIError && err.status === 404) {
          fill(main, h('h1', null, 'Calls in progress'),
            h('p', {class: 'note', id: 'live-none'}, 'Only calltrail serve follows calls as they happen; this server reads a database (calltrail web).'));
          return;
        }
        if (!(err instanceof TypeError)) throw err; // TypeError: the network; retry
      }
      if (resp) {
        status.textContent = 'Connected; waiting for the first snapshot…';
        for await (const ev of events(resp.body, signal)) {
          if (ev.event === 'snapshot') {
            last = {snap: JSON.parse(ev.data), got: Date.now()};
            status.textContent = `${last.snap.calls.length} in progress · updated ${clock(last.snap.at)}`;
            status.classList.remove('error');
            draw(body, last);
          }
        }
      }
      if (signal.aborted) return;
      status.textContent = 'Disconnected; reconnecting…';
      status.classList.add('error');
      await sleep(2000, signal);
    }
  } catch (err) {
    if (signal.aborted) return;
    throw err;
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, {once: true});
  });
}

// events parses a text/event-stream body into {event, data} events.
async function* events(stream, signal) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  const stop = () => reader.cancel().catch(() => {});
  signal.addEventListener('abort', stop, {once: true});
  let buf = '';
  try {
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch {
        return; // the connection broke
      }
      if (chunk.done) return;
      buf += chunk.value.replaceAll('\r\n', '\n');
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const ev = {event: 'message', data: ''};
        const data = [];
        for (const line of block.split('\n')) {
          const i = line.indexOf(':');
          if (i === 0) continue; // a comment
          const field = i < 0 ? line : line.slice(0, i);
          const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
          if (field === 'event') ev.event = value;
          else if (field === 'data') data.push(value);
        }
        if (data.length) {
          ev.data = data.join('\n');
          yield ev;
        }
      }
    }
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

const dispClass = {RINGING: 'live-ringing', UP: 'live-up', 'ON HOLD': 'live-held'};

// draw shows the calls of the last snapshot, their times counted on by
// the seconds since it came.
function draw(body, {snap, got}) {
  const since = (Date.now() - got) / 1000;
  if (snap.calls.length === 0) {
    fill(body, h('p', {class: 'note', id: 'live-empty'}, 'No call in progress.'));
    return;
  }
  const rows = snap.calls.map((c) => {
    const legs = c.legs || [];
    // The records' times are on Asterisk's clock: count from them.
    const t0 = parse(c.start)?.getTime();
    const ends = legs.map((l) => (parse(l.created)?.getTime() ?? t0) + (l.duration || 0) * 1000).filter(Number.isFinite);
    const elapsed = t0 === undefined ? null : (Math.max(t0, ...ends) - t0) / 1000 + since;
    const queue = (c.queues || []).find((q) => !q.left);
    return h('tr', {'data-call': `${c.server}/${c.call_id}`},
      h('td', {class: 'time'}, dateTime(c.start)),
      h('td', {class: 'num'}, secs(elapsed)),
      h('td', null, c.call_id, h('span', {class: 'sub'}, ` ${c.server}`)),
      h('td', null, h('ul', {class: 'live-legs'}, legs.map((l) => {
        const up = !l.ended;
        return h('li', null,
          h('strong', null, l.party), ` ${words(l.role)} `,
          h('span', {class: `badge ${dispClass[l.disposition] || ''}`}, l.disposition),
          ' ', h('span', {class: 'sub'}, secs(l.duration + (up ? since : 0))));
      }))),
      h('td', null, queue ? `waiting in ${queue.queue}` : ''));
  });
  fill(body, h('table', {id: 'live-table', class: 'data'},
    h('thead', null, h('tr', null, ['Started', 'Elapsed', 'Call', 'Legs', 'Queue'].map((t, i) => h('th', {class: i === 1 ? 'num' : null}, t)))),
    h('tbody', null, rows)));
}
