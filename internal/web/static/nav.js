// Moving between pages: every page is a hash route (#/calls?party=1001),
// so the server only ever serves one page and links can be shared.

// go shows the page of hash, again if it is the one shown.
export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

// query writes the non-empty values of obj as a query string, with a ?.
export function query(obj) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(obj)) {
    if (v !== '' && v !== null && v !== undefined) q.set(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// callHref is the page of one call.
export function callHref(server, id) {
  return `#/call/${encodeURIComponent(server)}/${encodeURIComponent(id)}`;
}
