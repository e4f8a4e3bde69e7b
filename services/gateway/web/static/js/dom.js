// Small DOM helpers: every piece of user data goes in as text, never as HTML.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'value' && (tag === 'input' || tag === 'textarea' || tag === 'select')) el.value = value;
    else if (key === 'checked' || key === 'disabled' || key === 'selected' || key === 'muted' || key === 'autoplay') el[key] = Boolean(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

let nextId = 0;
export function uid(prefix = 'f') {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** A labelled form control; `hint` is announced with it (aria-describedby). */
export function field(labelText, control, hint) {
  const id = control.id || uid('field');
  control.id = id;
  const parts = [h('label', { for: id }, labelText)];
  if (hint) {
    const hintId = `${id}-hint`;
    parts.push(h('span', { class: 'hint', id: hintId }, hint));
    control.setAttribute('aria-describedby', hintId);
  }
  parts.push(control);
  return h('div', { class: 'field' }, parts);
}

export function checkbox(labelText, attrs = {}) {
  const input = h('input', { type: 'checkbox', ...attrs });
  return { input, el: h('label', { class: 'check' }, input, h('span', {}, labelText)) };
}

// -- times -------------------------------------------------------------------------------------------
// Every time on every page is shown in the person's time zone (their account's; the browser's before
// sign-in), with the zone's name, never silently in the browser's own; times typed into a form are read
// in it too (zonedToUtc). main.js sets the zone once /me has answered.

const DAY_MS = 86400000;
let zone = browserZone();
const formats = new Map();

/** The browser's own IANA zone (what the first sign-in stores), or UTC if it says none. */
export function browserZone() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch { return 'UTC'; }
}

export function isTimeZone(name) {
  try { return Boolean(name) && Boolean(new Intl.DateTimeFormat('en', { timeZone: name })); } catch { return false; }
}

/** Show and read every time in `name` from now on (an unknown name: the browser's zone). */
let locale;  // the person's language for dates and times (i18n.js sets it); undefined: the browser's

export function setLocale(lang) {
  locale = lang;
}

export function setTimeZone(name) {
  zone = isTimeZone(name) ? name : browserZone();
}

export function timeZone() {
  return zone;
}

function format(options, name = zone, forced = undefined) {
  const lang = forced || locale;
  const key = `${name}|${lang || ''}|${JSON.stringify(options)}`;
  if (!formats.has(key)) formats.set(key, new Intl.DateTimeFormat(lang, { ...options, timeZone: name }));
  return formats.get(key);
}

const WHEN = { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short' };

function toDate(value) {
  if (value === null || value === undefined || value === '') return null;
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** A moment (ISO text, epoch milliseconds or a Date) in the person's zone: "Dec 7, 2026, 10:00 AM GMT". */
export function when(value) {
  if (value === null || value === undefined || value === '') return '';
  const d = toDate(value);
  return d ? format(WHEN).format(d) : String(value);
}

/** From–to in the person's zone, the shared parts once: "Dec 7, 2026, 10:00 – 11:00 AM GMT". */
export function whenRange(from, to) {
  const a = toDate(from);
  const b = toDate(to);
  if (!a || !b || b < a) return `${when(from)} – ${when(to)}`;
  return format(WHEN).formatRange(a, b);
}

/** A short time for dense lists ("Dec 5, 14:03:27"; the year only when it is not this one), in the person's
 * zone (say which in the column heading: `timeZone()`), in a <time> element carrying the exact moment
 * (machine-readable) and the full time with its zone as a tooltip. */
export function compactWhen(iso) {
  const d = toDate(iso);
  if (!d) return String(iso || '');
  const opts = { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' };
  if (wallParts(d).year !== wallParts(new Date()).year) opts.year = 'numeric';
  return h('time', { datetime: d.toISOString(), title: when(d) }, format(opts).format(d));
}

/** The wall clock in `name` at moment `d`: { year, month, day, hour, minute, second } (numbers). */
export function wallParts(d, name = zone) {
  const parts = {};
  const fmt = format({ year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric',
    second: 'numeric', hourCycle: 'h23' }, name, 'en-US');
  for (const { type, value } of fmt.formatToParts(d)) if (type !== 'literal') parts[type] = Number(value);
  parts.hour %= 24;
  return parts;
}

/** How far the wall clock in `name` is ahead of UTC at epoch milliseconds `ms` (DST included). */
function offsetAt(ms, name) {
  const whole = Math.floor(ms / 1000) * 1000;
  const p = wallParts(new Date(whole), name);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - whole;
}

/** The moment a wall time ("2026-12-07T10:00", as a datetime-local input gives it) names in zone `name` (the
 * person's by default): a Date, or null for text that is no wall time. Computed with Intl, offsets from
 * the zone's rules at that date, so summer time counts. Where the clocks change the rule is that of
 * JavaScript's Temporal ('compatible'), and the pages say so:
 * - a wall time the clocks skip (in a gap: London 01:30 on the last Sunday of March) does not exist: it is
 *   moved on by the length of the gap (01:30 → 02:30 BST, the same moment as 01:30 GMT);
 * - a wall time the clocks pass twice (in an overlap: London 01:30 on the last Sunday of October) is the
 *   first of the two (01:30 BST, not the hour later 01:30 GMT). */
export function zonedToUtc(wall, name = zone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(String(wall || '').trim());
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1).map((v) => Number(v || 0));
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return null;
  const asUtc = Date.UTC(year, month - 1, day, hour, minute, second);
  // The zone's offset a day before and a day after: every candidate moment lies between them.
  const offsets = [offsetAt(asUtc - DAY_MS, name), offsetAt(asUtc + DAY_MS, name)];
  const fits = offsets.map((o) => asUtc - o).filter((t) => offsetAt(t, name) === asUtc - t);
  if (fits.length) return new Date(Math.min(...fits));  // one moment, or the first of two (overlap)
  return new Date(asUtc - offsets[0]);  // a gap: the offset from before the change moves it on
}

const pad = (n, width = 2) => String(n).padStart(width, '0');

/** Moment `d` as wall-time text in the person's zone, for a datetime-local input ("2026-12-07T10:00"). */
export function wallInput(d, name = zone) {
  const p = wallParts(d, name);
  return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}`;
}

/** The moment a calendar day ("2026-12-07", from a date input) begins in the person's zone, `plus` days on. */
export function dayStart(date, plus = 0) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(date || ''));
  if (!m) return null;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + plus));
  return zonedToUtc(`${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T00:00`);
}

export function tag(text, kind = 'neutral') {
  return h('span', { class: `tag ${kind}` }, text);
}

export function shortId(id) {
  return id ? String(id).slice(0, 8) : '';
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// A recording's length: "45 s", "12 min 5 s", "1 h 02 min" (null: the file did not say).
export function length(seconds) {
  if (seconds == null) return null;
  const s = Math.floor(seconds);  // as a player counts
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

export function announce(message) {
  const live = document.getElementById('announcer');
  if (!live) return;
  live.textContent = '';
  window.setTimeout(() => { live.textContent = message; }, 50);
}
