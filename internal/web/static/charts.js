// Bar charts drawn as SVG: horizontal stacked bars, one row per item, and
// vertical stacked bars along intervals.

import {s, textWidth} from './dom.js';

// legend draws the series' names with their colours.
function legend(series, width) {
  const g = s('g', {class: 'chart-legend'});
  let x = 0;
  for (const se of series) {
    g.append(s('rect', {x, y: 0, width: 12, height: 12, class: `series ${se.cls}`}),
      s('text', {x: x + 17, y: 10, class: 'legend-label'}, se.name));
    x += 17 + textWidth(se.name, 12) + 18;
    if (x > width - 120) break;
  }
  return g;
}

// hbars draws one row per item, its series stacked; rows: [{label,
// values: {key: n}, href?, title?}], series: [{key, name, cls}].
export function hbars(rows, series, {id, labelW = 220, width = 900} = {}) {
  const rowH = 26;
  const top = series.length > 1 ? 26 : 4;
  const height = top + rows.length * rowH + 4;
  const plotW = width - labelW - 190; // room for the value after the bar
  const total = (r) => series.reduce((sum, se) => sum + (r.values[se.key] || 0), 0);
  const max = Math.max(1, ...rows.map(total));
  const svg = s('svg', {id, class: 'chart', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img'});
  if (series.length > 1) svg.append(legend(series, width));
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const label = s('text', {x: labelW - 8, y: y + 17, 'text-anchor': 'end', class: 'row-label'}, r.label);
    svg.append(r.href ? s('a', {href: r.href}, label) : label);
    let x = labelW;
    for (const se of series) {
      const v = r.values[se.key] || 0;
      if (v <= 0) continue;
      const w = (v / max) * plotW;
      svg.append(s('rect', {x, y: y + 4, width: Math.max(w, 1), height: rowH - 8, class: `series ${se.cls}`},
        s('title', null, `${r.label}: ${se.name} ${v}`)));
      x += w;
    }
    svg.append(s('text', {x: x + 6, y: y + 17, class: 'value'}, r.title || String(total(r))));
  });
  return svg;
}

// scale rounds the top of an axis up to a whole number of steps of 1, 2
// or 5 times a power of ten, about four of them: [top, step].
function scale(max) {
  const raw = max / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * p).find((st) => st >= raw));
  return [Math.ceil(max / step) * step, step];
}

// vbars draws one column per interval, its series stacked; columns:
// [{label, values}].
export function vbars(columns, series, {id, width = 900, height = 240} = {}) {
  const top = 26, bottom = 46, left = 36;
  const plotH = height - top - bottom;
  const plotW = width - left - 8;
  const total = (c) => series.reduce((sum, se) => sum + (c.values[se.key] || 0), 0);
  const [max, step] = scale(Math.max(1, ...columns.map(total)));
  const colW = plotW / Math.max(columns.length, 1);
  const svg = s('svg', {id, class: 'chart', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img'});
  svg.append(legend(series, width));
  for (let v = 0; v <= max; v += step) {
    const y = top + plotH * (1 - v / max);
    svg.append(s('line', {x1: left, x2: width - 8, y1: y, y2: y, class: 'grid'}),
      s('text', {x: left - 6, y: y + 4, 'text-anchor': 'end', class: 'axis-label'}, String(v)));
  }
  const every = Math.ceil(columns.length / Math.max(1, Math.floor(plotW / 70)));
  columns.forEach((c, i) => {
    const w = Math.min(colW * 0.7, 48);
    const x = left + i * colW + (colW - w) / 2;
    let y = top + plotH;
    for (const se of series) {
      const v = c.values[se.key] || 0;
      if (v <= 0) continue;
      const bh = (v / max) * plotH;
      y -= bh;
      svg.append(s('rect', {x, y, width: w, height: bh, class: `series ${se.cls}`}, s('title', null, `${c.label}: ${se.name} ${v}`)));
    }
    if (i % every === 0) {
      svg.append(s('text', {x: x + w / 2, y: top + plotH + 16, 'text-anchor': 'middle', class: 'axis-label'}, c.label));
    }
  });
  return svg;
}
