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
    throw new ApiError(0, { error: { code: 'network', message: 'The server cannot be reached. Check your connection and try again.' } });
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
    if (res.status === 403 && !(data && data.error)) err.message = 'You do not have permission to do that.';
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

// User-facing sentence for an API error, with 401/403/409 spelled out.
export function explain(err) {
  if (!(err instanceof ApiError)) return String(err && err.message ? err.message : err);
  switch (err.status) {
    case 401: return 'You are not signed in (or your session expired). Please sign in again.';
    case 403: return 'You do not have permission for this. Ask an administrator if you need it.';
    case 404: return 'Not found: it may have been removed, or it belongs to someone else.';
    case 409: return err.message || 'That conflicts with the current state.';
    case 429: return 'Too many attempts. Wait a few minutes and try again.';
    default: return err.message;
  }
}
