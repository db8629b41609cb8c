// api.js - the portal's only way to talk to cloisterd's REST API.
//
// Requests go to the same origin with the session cookie
// (credentials: 'same-origin'); bodies are JSON. Every request that is not a
// GET or HEAD repeats the session's CSRF token in X-CSRF-Token: the token
// comes from POST /v1/session and GET /v1/me, and the shell hands it to
// setCsrfToken(). An error answer (RFC 9457 problem+json) becomes an
// ApiError carrying the problem's title, detail and, for a 422, a map from
// each invalid field to its message, so that a form can show each message
// next to its field. A 401 means the session is gone: the handler set with
// onUnauthorized() (the shell's: go to the sign-in page) is called, unless
// the caller asked to see 401s itself (signing in does).

let csrfToken = null;
let unauthorizedHandler = null;

export function setCsrfToken(token) {
  csrfToken = token || null;
}

export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

export class ApiError extends Error {
  constructor(status, problem = {}, headers = null) {
    const title = problem.title || `HTTP ${status}`;
    const detail = problem.detail || '';
    super(detail ? `${title}: ${detail}` : title);
    this.name = 'ApiError';
    this.status = status;
    this.type = problem.type || '';
    this.title = title;
    this.detail = detail;
    this.requestId = problem.request_id || (headers && headers.get('X-Request-Id')) || '';
    this.problem = problem;
    // For a 422: {field: message} (a field's several faults joined with
    // "; "); for a 400 naming a query parameter, that one.
    this.fields = {};
    for (const e of problem.errors || []) {
      if (!e || !e.field) continue;
      const message = e.message || 'is not valid';
      this.fields[e.field] = e.field in this.fields ? `${this.fields[e.field]}; ${message}` : message;
    }
    if (problem.where && problem.where.parameter)
      this.fields[problem.where.parameter] = detail || 'is not valid';
    const retry = headers && headers.get('Retry-After');
    this.retryAfter = retry && /^\d+$/.test(retry) ? Number(retry) : null;
  }
}

function withQuery(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const qs = params.toString();
  if (!qs) return path;
  return path + (path.includes('?') ? '&' : '?') + qs;
}

/* A key for Idempotency-Key that works outside secure contexts too. */
export function newIdempotencyKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * request(method, path, {body, query, headers, idempotent, handle401, signal, full})
 * answers the parsed JSON body (null for 204), or throws an ApiError. With
 * `full`, it answers {body, status, etag, location} instead: a resource's
 * ETag is what a later PATCH or DELETE sends back in If-Match.
 */
export async function request(method, path, options = {}) {
  const { body, query, headers = {}, idempotent = false, handle401 = true, signal,
          full = false } = options;
  const h = { Accept: 'application/json', ...headers };
  const init = { method, headers: h, credentials: 'same-origin', cache: 'no-store', signal };
  if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) h['X-CSRF-Token'] = csrfToken;
  if (idempotent) h['Idempotency-Key'] = newIdempotencyKey();

  let res;
  try {
    res = await fetch(withQuery(path, query), init);
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, {
      title: 'No answer',
      detail: 'the Cloister daemon could not be reached; check your connection and try again',
    });
  }

  let doc = null;
  const type = res.headers.get('Content-Type') || '';
  if (res.status !== 204 && method !== 'HEAD' && type.includes('json')) {
    try {
      doc = await res.json();
    } catch {
      doc = null;
    }
  }
  if (res.ok) {
    if (!full) return doc;
    return { body: doc, status: res.status, etag: res.headers.get('ETag'),
             location: res.headers.get('Location') };
  }

  const err = new ApiError(res.status, doc || {}, res.headers);
  if (res.status === 401 && handle401 && unauthorizedHandler) unauthorizedHandler(err);
  throw err;
}

export const get = (path, options) => request('GET', path, options);
export const post = (path, body, options = {}) => request('POST', path, { ...options, body });
export const patch = (path, body, options = {}) => request('PATCH', path, { ...options, body });
export const del = (path, options) => request('DELETE', path, options);

/* A resource and its ETag: {body, etag}. */
export async function getVersioned(path, options = {}) {
  const res = await request('GET', path, { ...options, full: true });
  return { body: res.body, etag: res.etag };
}

/* The If-Match header for an ETag (none when the server sent none). */
export function ifMatch(etag) {
  return etag ? { 'If-Match': etag } : {};
}

/**
 * The cursor that continues a list ordered by sequence number (a job's
 * events) after `seq`. The server's cursors are opaque, but it gives none
 * on the last page, and a live view must go on from the last event it has:
 * this is how the server writes one for such lists (base64url of the
 * number, unpadded).
 */
export function seqCursor(seq) {
  return btoa(String(seq)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

/**
 * Names for the actors the API reports (user:<id>, api_key:<id>): the
 * account's members by e-mail address and, when `keys` (the role may read
 * them), its API keys by name. A Map; unknown actors are left out.
 */
export async function actorNames(me, { keys = false } = {}) {
  const names = new Map([[`user:${me.user.id}`, me.user.email]]);
  if (!me.account) return names;
  const members = `/v1/accounts/${encodeURIComponent(me.account.id)}/members`;
  await Promise.all([
    getAll(members, { max: 2000 })
      .then((ms) => ms.forEach((m) => names.set(`user:${m.user_id}`, m.email)))
      .catch(() => {}),
    keys ? getAll('/v1/api-keys', { max: 2000 })
      .then((ks) => ks.forEach((k) => names.set(`api_key:${k.id}`, `key ${k.name}`)))
      .catch(() => {}) : null,
  ]);
  return names;
}

/* One page of a list: {items, nextCursor}. */
export async function getPage(path, { query = {}, cursor = null, limit = null, signal } = {}) {
  const doc = await get(path, { query: { ...query, cursor, limit }, signal });
  return { items: (doc && doc.items) || [], nextCursor: (doc && doc.next_cursor) || null };
}

/* Every item of a list, following next_cursor (for short lists only). */
export async function getAll(path, { query = {}, signal, max = 5000 } = {}) {
  const items = [];
  let cursor = null;
  do {
    const page = await getPage(path, { query, cursor, limit: 500, signal });
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && items.length < max);
  return items;
}

/**
 * A list read page by page: pager.next() answers the next page's items and
 * pager.done says whether there is more. The portal's "Load more" buttons
 * are built on it.
 */
export function pager(path, { query = {}, limit = null } = {}) {
  let cursor = null;
  let started = false;
  return {
    get done() {
      return started && cursor === null;
    },
    async next(signal) {
      if (started && cursor === null) return [];
      const page = await getPage(path, { query, cursor, limit, signal });
      started = true;
      cursor = page.nextCursor;
      return page.items;
    },
  };
}
