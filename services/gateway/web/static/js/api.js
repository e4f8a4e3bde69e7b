// Talks to the gateway (same origin). The browser holds an HttpOnly session cookie; we only ever see the
// CSRF token, which every state-changing request carries in the x-csrf-token header.

import { t } from './i18n.js';

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
// Getters: the words are read in the person's language when a problem is shown.
const REASONS = {
  get 'mentor-not-vetted'() { return t('common.reason.mentor_not_vetted'); },
  get 'agreements-not-accepted'() { return t('common.reason.agreements_not_accepted'); },
  get 'member-suspended'() { return t('common.reason.member_suspended'); },
  get 'mentor-unknown'() { return t('common.reason.mentor_unknown'); },
  get 'mentee-unknown'() { return t('common.reason.mentee_unknown'); },
};

/** A calm, readable sentence for any failure (problem+json detail when the service gave one). */
export function problemMessage(err) {
  if (!(err instanceof ApiError)) return t('common.problem.unknown');
  const { status, body } = err;
  if (status === 0) return t('common.problem.network');
  if (status === 401) return body.detail && body.detail !== 'Sign in first.' ? body.detail : t('common.problem.sign_in_again');
  if (status === 403 && body.type && String(body.type).includes('csrf')) {
    return t('common.problem.csrf');
  }
  if (status === 429) return t('common.problem.too_many');
  if (status >= 500) return t('common.problem.server');
  const parts = [];
  if (body.detail) parts.push(body.detail);
  if (typeof body.reason === 'string' && Object.hasOwn(REASONS, body.reason)) parts.push(REASONS[body.reason]);
  if (Array.isArray(body.errors)) {
    for (const e of body.errors) if (e && e.message) parts.push(`${e.key ? `${e.key}: ` : ''}${e.message}`);
  }
  if (parts.length) return parts.join(' ');
  if (status === 403) return t('common.problem.forbidden');
  if (status === 404) return t('common.problem.not_found');
  if (status === 409) return t('common.problem.conflict');
  return t('common.problem.invalid');
}
