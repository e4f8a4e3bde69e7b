// Shared page pieces: error boxes, busy buttons, confirmations, page headings.
import { h, field, clear, announce } from './dom.js';
import { problemMessage } from './api.js';
import { t } from './i18n.js';

export function errorBox() {
  return h('div', { class: 'alert error', role: 'alert', tabindex: '-1' });
}

export function showError(box, err) {
  clear(box);
  box.append(h('p', {}, typeof err === 'string' ? err : problemMessage(err)));
  box.focus();
}

/** Run `fn` with `button` disabled; failures land in `box` as a readable message. */
export async function busy(button, box, fn) {
  if (box) clear(box);
  const label = button ? button.textContent : '';
  if (button) { button.disabled = true; button.setAttribute('aria-busy', 'true'); }
  try {
    return await fn();
  } catch (err) {
    if (box) showError(box, err);
    else announce(problemMessage(err));
    return undefined;
  } finally {
    if (button && button.isConnected) {
      button.disabled = false;
      button.removeAttribute('aria-busy');
      button.textContent = label;
    }
  }
}

/** A modal confirmation (native <dialog>: focus is trapped and Escape cancels). */
export function confirmDialog(title, message, confirmLabel, { danger = false } = {}) {
  return new Promise((resolve) => {
    const yes = h('button', { type: 'button', class: danger ? 'danger' : '' }, confirmLabel);
    const no = h('button', { type: 'button', class: 'secondary' }, t('common.cancel'));
    const heading = h('h2', { id: 'dialog-title' }, title);
    const dialog = h('dialog', { 'aria-labelledby': 'dialog-title', class: 'card' }, heading, h('p', {}, message),
      h('div', { class: 'actions' }, yes, no));
    const done = (value) => { dialog.close(); dialog.remove(); resolve(value); };
    yes.addEventListener('click', () => done(true));
    no.addEventListener('click', () => done(false));
    dialog.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}

export function page(main, title, lead) {
  clear(main);
  const heading = h('h1', { tabindex: '-1' }, title);
  main.append(heading);
  if (lead) main.append(h('p', { class: 'lead' }, lead));
  document.title = `${title} · Tandem`;
  return heading;
}

export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

export function success(message) {
  return h('div', { class: 'alert success', role: 'status' }, h('p', {}, message));
}

export function empty(message) {
  return h('p', { class: 'muted' }, message);
}

/** A form asking for the 6-digit code from the person's authenticator app. The code is checked here first;
 * then `onCode(code)` runs with the button busy, and its failures show in the form's error box.
 * `attrs`: the form's own (class, aria-labelledby); `intro`: what stands above the error box (a heading, a
 * paragraph); `hint`: the field's; `button`: its label and class; `required`: the field's required state. */
export function authenticatorCodeForm({ attrs = {}, intro = [], hint, button, buttonClass, required = false, onCode }) {
  const box = errorBox();
  const code = h('input', { type: 'text', name: 'totp', inputmode: 'numeric', autocomplete: 'one-time-code',
    pattern: '[0-9]{6}', maxlength: '6', required });
  const submit = h('button', { type: 'submit', class: buttonClass }, button);
  const form = h('form', { novalidate: true, ...attrs }, ...intro, box,
    field(t('common.totp.label'), code, hint), h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = code.value.replace(/\s+/g, '');
    if (!/^[0-9]{6}$/.test(value)) { showError(box, t('common.totp.invalid')); code.focus(); return; }
    busy(submit, box, () => onCode(value));
  });
  return form;
}
