import { say, speaksApi, plainInvalid } from './messages.js';

// REST client for /api/v1 (the contract is GET /api/v1/openapi.json). The bearer token lives in
// sessionStorage; a deployment behind an authenticating proxy needs none (trusted header).
const KEY = 'gpuaas.token';

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `The server answered ${status}.`);
    this.status = status;
    this.code = e.code || 'http_' + status;
    this.field = e.field;
    this.body = body;
    this.nextAvailable = e.next_available || (body && body.next_available) || null;
  }
}

let onUnauthenticated = () => {};
export function setUnauthenticatedHandler(fn) {
  onUnauthenticated = fn;
}

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

export async function api(method, path, body, { quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  const t = token.get();
  if (t) headers.Authorization = 'Bearer ' + t;
  // Every state-changing request is JSON, body or not: the server refuses others (CSRF).
  if (body !== undefined || (method !== 'GET' && method !== 'HEAD')) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch('/api/v1' + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, { error: { code: 'network', message: say('network') } });
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if (res.status === 401 && !quiet401) onUnauthenticated(err);
    if (res.status === 403 && !(data && data.error)) err.message = say('forbidden');
    throw err;
  }
  return data;
}

export const get = (p, opt) => api('GET', p, undefined, opt);
export const post = (p, b, opt) => api('POST', p, b === undefined ? {} : b, opt);
export const patch = (p, b) => api('PATCH', p, b);

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? '?' + s : '';
}

// Lists come back as {"items": [...]}; tolerate a bare array or a named list.
export function items(resp, ...names) {
  if (Array.isArray(resp)) return resp;
  if (!resp) return [];
  for (const n of ['items', ...names]) if (Array.isArray(resp[n])) return resp[n];
  return [];
}

// GPU resources of the pool (kind gpu or mig), in pool order.
export function gpuResources(pool) {
  return ((pool && pool.resources) || []).filter((r) => r.kind === 'gpu' || r.kind === 'mig');
}

// "Whole GPU" / "MIG 1g.24gb"
export function gpuLabel(r) {
  if (!r) return '';
  if (r.kind === 'mig') return 'MIG ' + r.name.replace(/^.*\/mig-/, '');
  return r.name === 'nvidia.com/gpu' ? 'Whole GPU' : r.name.replace(/^nvidia\.com\//, '');
}

// User-facing sentence for an API error: plain words and the fix, never an API field name
// (messages.js). `rules` (pool.session and a formatted "now") fills in the limits.
export function explain(err, rules) {
  if (!(err instanceof ApiError)) {
    const m = String(err && err.message ? err.message : err);
    return speaksApi(m) ? say('server') : m;
  }
  switch (err.status) {
    case 0: return say('network');
    case 400: return plainInvalid(err.field, err.message, rules);
    case 401: return say('signedOut');
    case 403: return say('forbidden');
    case 404: return say('notFound');
    case 409:
      if (err.code === 'capacity_conflict') return say('windowTaken');
      if (err.code === 'already_exists') return say('taken');
      if (err.code === 'invalid_state') return say('changed');
      return say('conflict');
    case 429: return say('tooMany');
    default: return say('server');
  }
}
