// How times, durations and numbers are written on the pages. Times are
// shown in the browser's time zone, which the pages also send to the API
// as tz so that the dates typed in the filters mean the same.

export const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

const pad = (n, w = 2) => String(n).padStart(w, '0');

export function parse(iso) {
  return iso ? new Date(iso) : null;
}

// dateTime writes 2026-11-22 08:45:46.
export function dateTime(iso) {
  const d = parse(iso);
  if (!d) return '–';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clockOf(d)}`;
}

function clockOf(d) {
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// clock writes 08:45:46.
export function clock(iso) {
  const d = parse(iso);
  return d ? clockOf(d) : '–';
}

// clockMs writes 08:45:46.437.
export function clockMs(iso) {
  const d = parse(iso);
  return d ? `${clockOf(d)}.${pad(d.getMilliseconds(), 3)}` : '–';
}

// secs writes a duration in seconds: 9.0 s, 2:05, 1:02:05.
export function secs(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  if (x < 60) return `${x.toFixed(1)} s`;
  const t = Math.round(x);
  const hh = Math.floor(t / 3600), mm = Math.floor(t / 60) % 60, ss = t % 60;
  return hh > 0 ? `${hh}:${pad(mm)}:${pad(ss)}` : `${mm}:${pad(ss)}`;
}

// between is the seconds from one time to another.
export function between(fromISO, toISO) {
  const a = parse(fromISO), b = parse(toISO);
  return a && b ? (b - a) / 1000 : null;
}

// pct writes a percentage, or a dash for none.
export function pct(x) {
  return x === null || x === undefined ? '–' : `${x.toFixed(1)} %`;
}

// inputValue is a Date as a datetime-local input holds it.
export function inputValue(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// words turns an API name into words: blind_transfer → blind transfer.
export function words(name) {
  return String(name || '').replaceAll('_', ' ');
}
