// A call's timeline (GET /api/v1/calls/{server}/{id}/timeline) drawn as
// SVG: one lane per leg, its bars along a common time axis.

import {s, textWidth} from './dom.js';
import {clock, clockMs, parse, secs} from './format.js';

export const barNames = {
  ring: 'ringing',
  queue: 'queue wait',
  talk: 'talk',
  park: 'parked',
  hold: 'answered, no talk (hold)',
};

const width = 1000;
const left = 200;
const right = 16;
const laneH = 32;
const axisH = 28;

// tickStep picks a spacing of at most about ten ticks.
function tickStep(span) {
  for (const st of [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600]) {
    if (span / st <= 10) return st;
  }
  return 7200;
}

export function draw(tl) {
  const t0 = parse(tl.start).getTime();
  const span = Math.max((parse(tl.end).getTime() - t0) / 1000, 1);
  const plotW = width - left - right;
  const x = (iso) => left + ((parse(iso).getTime() - t0) / 1000 / span) * plotW;
  const height = axisH + tl.lanes.length * laneH + 8;
  const svg = s('svg', {viewBox: `0 0 ${width} ${height}`, width, height, class: 'timeline', role: 'img',
    'aria-label': `timeline of call ${tl.call_id}`});
  const step = tickStep(span);
  for (let t = 0; t <= span + 1e-9; t += step) {
    const tx = left + (t / span) * plotW;
    svg.append(
      s('line', {x1: tx, y1: axisH - 6, x2: tx, y2: height, class: 'tick'}),
      s('text', {x: tx, y: axisH - 10, 'text-anchor': 'middle', class: 'tick-label'}, `+${t}s`));
  }
  svg.append(s('text', {x: 4, y: axisH - 10, class: 'tick-label'}, `from ${clock(tl.start)}`));
  tl.lanes.forEach((lane, i) => {
    const y = axisH + i * laneH;
    const g = s('g', {class: 'lane', 'data-leg': lane.leg});
    if (i % 2 === 0) g.append(s('rect', {x: 0, y, width, height: laneH, class: 'lane-bg'}));
    g.append(
      s('text', {x: 4, y: y + 14, class: 'lane-label'}, `${lane.party} ${lane.role.replaceAll('_', ' ')}`),
      s('text', {x: 4, y: y + 27, class: 'lane-sub'}, lane.channel));
    for (const b of lane.bars) {
      const x0 = x(b.from);
      const w = Math.max(x(b.to) - x0, 1.5);
      const bar = s('rect', {x: x0, y: y + 7, width: w, height: 18, rx: 2, class: `bar bar-${b.kind}`},
        s('title', null, `${b.label}: ${clockMs(b.from)} – ${clockMs(b.to)} (${secs(b.seconds)})`));
      g.append(bar);
      if (textWidth(b.label, 11) + 8 < w) {
        g.append(s('text', {x: x0 + w / 2, y: y + 20, 'text-anchor': 'middle', class: `bar-label bar-label-${b.kind}`}, b.label));
      }
    }
    svg.append(g);
  });
  return svg;
}

// legend lists the kinds of bars the timeline has.
export function legend(tl) {
  const kinds = new Set(tl.lanes.flatMap((l) => l.bars.filter((b) => b.seconds > 0).map((b) => b.kind)));
  const items = Object.keys(barNames).filter((k) => kinds.has(k));
  let x = 0;
  const svg = s('svg', {class: 'legend', height: 20, width: 800, viewBox: '0 0 800 20'});
  for (const k of items) {
    svg.append(s('rect', {x, y: 4, width: 24, height: 12, class: `bar bar-${k}`}),
      s('text', {x: x + 30, y: 14, class: 'legend-label'}, barNames[k]));
    x += 30 + textWidth(barNames[k], 12) + 22;
  }
  return svg;
}
