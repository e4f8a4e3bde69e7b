// Talks to the gateway (same origin). The browser holds an HttpOnly session cookie; we only ever see the
// CSRF token, which every state-changing request carries in the x-csrf-token header.

let csrfToken = null;

export function setCsrf(token) {
  csrfToken = token;
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title)) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

export async function api(method, path, body, options = {}) {
  const headers = { accept: 'application/json, application/problem+json', ...(options.headers || {}) };
  // Anonymous requests carry nothing of the signed-in account: no cookie, no CSRF token, no referrer, so
  // no layer (the gateway's session, its rate counters, its logs) can tie them to it.
  const anonymous = options.anonymous === true;
  const init = { method, headers, credentials: anonymous ? 'omit' : 'same-origin', cache: 'no-store' };
  if (anonymous) init.referrerPolicy = 'no-referrer';
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (!anonymous && !['GET', 'HEAD'].includes(method) && csrfToken) headers['x-csrf-token'] = csrfToken;
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, { detail: 'network' });
  }
  if (response.status === 204) return null;
  const type = response.headers.get('content-type') || '';
  const data = type.includes('json') ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    const err = new ApiError(response.status, data);
    if (response.status === 401 && !options.allow401 && !anonymous) window.dispatchEvent(new CustomEvent('tandem:signed-out'));
    throw err;
  }
  return data;
}

export const get = (path, options) => api('GET', path, undefined, options);
export const post = (path, body, options) => api('POST', path, body === undefined ? {} : body, options);
export const put = (path, body, options) => api('PUT', path, body, options);
export const del = (path, options) => api('DELETE', path, undefined, options);
/** Anonymous reporting (concerns filed anonymously, follow-up by receipt): sent without credentials. */
export const anonymousGet = (path, options) => api('GET', path, undefined, { ...options, anonymous: true });
export const anonymousPost = (path, body, options) => api('POST', path, body === undefined ? {} : body,
  { ...options, anonymous: true });

// Machine-readable reasons some services add to a problem, in plain words.
const REASONS = {
  'mentor-not-vetted': 'The mentor has not passed every vetting check yet.',
  'agreements-not-accepted': 'Both people must accept the current programme agreements first.',
  'member-suspended': 'One of the two accounts is suspended.',
  'mentor-unknown': 'This person is not (yet) known as a mentor. If you just invited them, wait until they have signed in once.',
  'mentee-unknown': 'This person is not (yet) known as a mentee. If you just invited them, wait until they have signed in once.',
};

/** A calm, readable sentence for any failure (problem+json detail when the service gave one). */
export function problemMessage(err) {
  if (!(err instanceof ApiError)) return 'Something went wrong. Please try again.';
  const { status, body } = err;
  if (status === 0) return 'We could not reach Tandem. Check your connection and try again.';
  if (status === 401) return body.detail && body.detail !== 'Sign in first.' ? body.detail : 'Please sign in again.';
  if (status === 403 && body.type && String(body.type).includes('csrf')) {
    return 'Your page was open too long. Please reload it and try again.';
  }
  if (status === 429) return 'Too many attempts in a short time. Please wait a minute and try again.';
  if (status >= 500) return 'Something went wrong on our side. Your data is safe; please try again in a moment.';
  const parts = [];
  if (body.detail) parts.push(body.detail);
  if (typeof body.reason === 'string' && REASONS[body.reason]) parts.push(REASONS[body.reason]);
  if (Array.isArray(body.errors)) {
    for (const e of body.errors) if (e && e.message) parts.push(`${e.key ? `${e.key}: ` : ''}${e.message}`);
  }
  if (parts.length) return parts.join(' ');
  if (status === 403) return 'You do not have access to this.';
  if (status === 404) return 'We could not find that. It may have been removed.';
  if (status === 409) return 'This changed in the meantime. Please reload and try again.';
  return 'That did not work. Please check what you entered and try again.';
}
