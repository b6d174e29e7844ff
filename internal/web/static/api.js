// Talking to calltrail's JSON API with the bearer token the user gave,
// which is kept in this tab's sessionStorage only.

const key = 'calltrail.token';

export function token() {
  return sessionStorage.getItem(key) || '';
}

export function setToken(t) {
  if (t) sessionStorage.setItem(key, t);
  else sessionStorage.removeItem(key);
}

// Unauthorized is thrown when the API wants a (better) token.
export class Unauthorized extends Error {
  constructor(msg) {
    super(msg || 'this calltrail needs a token');
    this.name = 'Unauthorized';
  }
}

// APIError is any other answer than 2xx, with the API's message.
export class APIError extends Error {
  constructor(status, msg) {
    super(msg);
    this.name = 'APIError';
    this.status = status;
  }
}

export function headers() {
  const t = token();
  return t ? {Authorization: `Bearer ${t}`} : {};
}

// request fetches path and throws on anything but success.
export async function request(path, signal) {
  const resp = await fetch(path, {headers: headers(), signal});
  if (resp.ok) return resp;
  let msg = `${resp.status} ${resp.statusText}`;
  try {
    const body = await resp.json();
    if (body && body.error) msg = body.error;
  } catch {
    // not JSON: keep the status line
  }
  if (resp.status === 401) throw new Unauthorized(msg);
  throw new APIError(resp.status, msg);
}

export async function getJSON(path, signal) {
  return (await request(path, signal)).json();
}

export async function getText(path, signal) {
  return (await request(path, signal)).text();
}

let causes;

// catalogue returns the causes and SIP statuses with their texts,
// fetched once: {q850: Map(code → entry), sip: Map(code → entry)}.
export function catalogue() {
  if (!causes) {
    causes = getJSON('/api/v1/causes').then((c) => ({
      q850: new Map(c.q850.map((e) => [e.code, e])),
      sip: new Map(c.sip.map((e) => [e.code, e])),
    }));
    causes.catch(() => { causes = undefined; });
  }
  return causes;
}

// download fetches path with the token and saves it as name.
export async function download(path, name) {
  const blob = await (await request(path)).blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
