// Sign in (with an authenticator code or a recovery code), set a password from an invitation link, enrol an
// authenticator (QR code, confirming code, recovery codes shown once), accept the agreements.
import { h, field, checkbox, clear } from '../dom.js';
import { get, post, setCsrf, ApiError } from '../api.js';
import { page, errorBox, busy, showError, success, authenticatorCodeForm } from '../ui.js';
import { t, tn } from '../i18n.js';

export function signInPage(main, message, onSignedIn) {
  page(main, t('auth.sign_in.title'), t('auth.sign_in.lead'));
  const box = errorBox();
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const code = h('input', { type: 'text', name: 'totp', inputmode: 'numeric', autocomplete: 'one-time-code',
    pattern: '[0-9]{6}', maxlength: '6' });
  const recovery = h('input', { type: 'text', name: 'recovery', autocomplete: 'off', spellcheck: 'false',
    maxlength: '40' });
  const submit = h('button', { type: 'submit' }, t('auth.sign_in.submit'));
  const form = h('form', { class: 'card narrow', novalidate: true },
    message ? success(message) : null, box,
    field(t('auth.sign_in.email'), email),
    field(t('auth.sign_in.password'), password),
    field(t('auth.sign_in.code'), code,
      t('auth.sign_in.code_hint')),
    h('details', { class: 'recovery-option' }, h('summary', {}, t('auth.sign_in.recovery_summary')),
      field(t('auth.sign_in.recovery'), recovery, t('auth.sign_in.recovery_hint'))),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!email.value || !password.value) {
      showError(box, t('auth.sign_in.missing'));
      return;
    }
    busy(submit, null, async () => {
      clear(box);
      try {
        const session = await post('/auth/login', { email: email.value.trim(), password: password.value,
          totp_code: code.value.trim() || null, recovery_code: recovery.value.trim() || null }, { allow401: true });
        if (recovery.value.trim()) {
          setCsrf(session.csrf_token);
          await recoveryCodeUsedPage(main, onSignedIn);
          return;
        }
        onSignedIn();
      } catch (err) {
        if (err instanceof ApiError && String(err.body.type || '').endsWith('mfa-enrolment-pending')) {
          // The password was right but the authenticator was never confirmed: finish that first.
          const enrolment = await post('/auth/second-factor/enrolment',
            { email: email.value.trim(), password: password.value }, { allow401: true }).catch((e) => showError(box, e));
          if (enrolment) {
            enrolPage(main, { email: email.value.trim(), password: password.value, enrolment },
              () => signInPage(main, t('auth.sign_in.enrolled'), onSignedIn));
          }
          return;
        }
        showError(box, err);
        if (err instanceof ApiError && err.body.type && String(err.body.type).includes('mfa')) code.focus();
      }
    });
  });
  main.append(form, h('p', { class: 'muted narrow' },
    t('auth.sign_in.new')),
  h('section', { class: 'card narrow', 'aria-labelledby': 'no-account-heading' },
    h('h2', { id: 'no-account-heading' }, t('auth.sign_in.worried')),
    h('p', {}, t('auth.sign_in.worried_text')),
    h('div', { class: 'actions' }, h('a', { class: 'button secondary', href: '/report', id: 'public-report-link' }, t('auth.sign_in.report')),
      h('a', { href: '/report/follow-up' }, t('auth.sign_in.follow_up')))));
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const SVG_ATTRS = { svg: ['viewBox'], path: ['d', 'fill', 'stroke', 'transform'] };
const SVG_VALUES = { fill: /^#[0-9a-f]{3,6}$/i, stroke: /^#[0-9a-f]{3,6}$/i, d: /^[0-9MmHhVvZzLl .,-]+$/,
  transform: /^scale\([0-9.]+\)$/, viewBox: /^[0-9 .]+$/ };

/** The gateway's QR code SVG, rebuilt element by element: only <svg> and <path> with geometry and plain
 * colours are copied (no script, no link, no text, no foreign attribute), never parsed into the page as HTML. */
function qrCode(markup, label) {
  const doc = new DOMParser().parseFromString(markup, 'image/svg+xml');
  const copy = (node) => {
    if (node.namespaceURI !== SVG_NS || !(node.localName in SVG_ATTRS)) return null;
    const el = document.createElementNS(SVG_NS, node.localName);
    for (const name of SVG_ATTRS[node.localName]) {
      const value = node.getAttribute(name);
      if (value !== null && SVG_VALUES[name].test(value)) el.setAttribute(name, value);
    }
    for (const child of node.children) {
      const c = copy(child);
      if (c) el.append(c);
    }
    return el;
  };
  const svg = copy(doc.documentElement);
  if (!svg || !svg.querySelector('path')) return null;
  for (const [name, value] of [['role', 'img'], ['aria-label', label], ['width', '208'], ['height', '208'],
    ['id', 'totp-qr']]) svg.setAttribute(name, value);
  return svg;
}

function groupsOf4(text) {
  return (text.match(/.{1,4}/g) || []).join(' ');
}

/** Authenticator enrolment: QR code and key, a code to confirm, then the recovery codes, shown once.
 * `who` holds the e-mail address and password just used (they confirm the key) and the pending key. */
export function enrolPage(main, who, onDone) {
  const { enrolment } = who;
  page(main, t('auth.enrol.title'), t('auth.enrol.lead'));
  const qr = qrCode(enrolment.qr_svg, t('auth.enrol.qr_label'));
  main.append(h('section', { class: 'card narrow', 'aria-labelledby': 'scan-heading' },
    h('h2', { id: 'scan-heading' }, t('auth.enrol.step1')),
    h('p', {}, t('auth.enrol.scan')),
    qr ? h('p', {}, qr) : null,
    h('p', { class: 'label' }, t('auth.enrol.type_key')),
    h('p', { class: 'receipt', id: 'totp-secret'}, groupsOf4(enrolment.secret)),
    h('p', {}, h('a', { href: enrolment.otpauth_uri, id: 'totp-link' }, t('auth.enrol.open_link')))));
  main.append(authenticatorCodeForm({
    attrs: { class: 'card narrow', 'aria-labelledby': 'confirm-heading' },
    intro: [h('h2', { id: 'confirm-heading' }, t('auth.enrol.step2'))],
    hint: t('auth.enrol.code_hint'),
    button: t('auth.enrol.confirm'), required: true,
    onCode: async (value) => {
      const result = await post('/auth/second-factor/confirmation',
        { email: who.email, password: who.password, totp_code: value }, { allow401: true });
      recoveryCodesPage(main, result.codes, onDone);
    },
  }));
  main.querySelector('h1').focus();
}

/** After a sign-in with a recovery code: how many are left, what to do about a lost phone, and new codes
 * for someone who still has their authenticator app. */
async function recoveryCodeUsedPage(main, onDone) {
  const status = await get('/me/second-factor');
  const left = status.recovery_codes_left;
  page(main, t('auth.recovery_used.title'), tn('auth.recovery_used.lead', left));
  const cont = h('button', { type: 'button', id: 'recovery-continue' }, t('auth.continue'));
  cont.addEventListener('click', onDone);
  const form = authenticatorCodeForm({
    attrs: { class: 'card narrow', 'aria-labelledby': 'renew-heading' },
    intro: [h('h2', { id: 'renew-heading' }, t('auth.recovery_used.renew')),
      h('p', {}, t('auth.recovery_used.renew_text'))],
    button: t('auth.recovery_used.renew_button'), buttonClass: 'secondary',
    onCode: async (value) => {
      const result = await post('/me/recovery-codes', { totp_code: value });
      recoveryCodesPage(main, result.codes, onDone, t('auth.continue'));
    },
  });
  main.append(h('section', { class: 'card narrow', 'aria-labelledby': 'lost-heading' },
    h('h2', { id: 'lost-heading' }, t('auth.recovery_used.lost')),
    h('p', {}, t('auth.recovery_used.lost_text')),
    h('div', { class: 'actions' }, cont)), form);
  main.querySelector('h1').focus();
}

export function recoveryCodesPage(main, codes, onDone, nextLabel = t('auth.continue_sign_in')) {
  page(main, t('auth.codes.title'), t('auth.codes.lead'));
  const box = errorBox();
  const { input, el } = checkbox(t('auth.codes.saved'));
  const next = h('button', { type: 'button', id: 'recovery-codes-saved' }, nextLabel);
  next.addEventListener('click', () => {
    if (!input.checked) { showError(box, t('auth.codes.tick')); input.focus(); return; }
    onDone();
  });
  main.append(h('section', { class: 'card narrow', 'aria-labelledby': 'codes-heading' },
    h('h2', { id: 'codes-heading' }, t('auth.codes.heading')),
    h('p', {}, t('auth.codes.only_now')),
    h('ol', { class: 'receipt recovery-codes', id: 'recovery-codes' }, codes.map((c) => h('li', {}, c))),
    box, el, h('div', { class: 'actions' }, next)));
  main.querySelector('h1').focus();
}

export function invitationPage(main, onDone) {
  page(main, t('auth.invitation.title'), t('auth.invitation.lead'));
  const token = new URLSearchParams(window.location.hash.slice(1)).get('token');
  if (!token) {
    main.append(h('div', { class: 'alert error', role: 'alert' },
      h('p', {}, t('auth.invitation.incomplete'))));
    return;
  }
  const box = errorBox();
  const pw = h('input', { type: 'password', autocomplete: 'new-password', required: true, minlength: '12' });
  const pw2 = h('input', { type: 'password', autocomplete: 'new-password', required: true });
  const submit = h('button', { type: 'submit' }, t('auth.invitation.submit'));
  const form = h('form', { class: 'card narrow', novalidate: true }, box,
    field(t('auth.invitation.password'), pw, t('auth.invitation.password_hint')),
    field(t('auth.invitation.again'), pw2),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (pw.value.length < 12) { showError(box, t('auth.invitation.too_short')); return; }
    if (pw.value !== pw2.value) { showError(box, t('auth.invitation.different')); return; }
    busy(submit, box, async () => {
      const result = await post('/auth/invitations/accept', { token, password: pw.value }, { allow401: true });
      // The token is spent: drop it from the address bar and history.
      window.history.replaceState(null, '', '/invitation');
      if (result.totp_required && result.totp_enrolment) {
        enrolPage(main, { email: result.email, password: pw.value, enrolment: result.totp_enrolment }, onDone);
        return;
      }
      clear(main);
      page(main, t('auth.invitation.done'));
      const next = h('button', { type: 'button', id: 'continue-sign-in' }, t('auth.continue_sign_in'));
      next.addEventListener('click', onDone);
      main.append(h('div', { class: 'card narrow' }, h('p', {}, t('auth.invitation.done_text')),
        h('div', { class: 'actions' }, next)));
      main.querySelector('h1').focus();
    });
  });
  main.append(form);
}

export async function agreementsPage(ctx, main, onDone) {
  const agreements = await get('/agreements');
  page(main, t('auth.agreements.title'), t('auth.agreements.lead'));
  const pending = agreements.filter((a) => !a.accepted_at);
  const box = errorBox();
  main.append(box);
  for (const a of pending) {
    const { input, el } = checkbox(t('auth.agreements.accept_box', { title: a.title, version: a.version }));
    const accept = h('button', { type: 'button' }, t('auth.agreements.accept'));
    const done = h('p', { role: 'status' });
    accept.addEventListener('click', () => {
      if (!input.checked) { showError(box, t('auth.agreements.tick', { title: a.title })); input.focus(); return; }
      busy(accept, box, async () => {
        await post(`/me/agreements/${encodeURIComponent(a.id)}/accept`);
        done.textContent = t('auth.agreements.accepted');
        accept.remove();
        input.disabled = true;
        const me = await get('/me');
        if (me.agreements_current) onDone();
      });
    });
    main.append(h('section', { class: 'card' }, h('h2', {}, a.title),
      h('pre', { class: 'agreement', tabindex: '0', 'aria-label': t('auth.agreements.text_of', { title: a.title }) }, a.body),
      el, h('div', { class: 'actions' }, accept), done));
  }
  if (!pending.length) {
    const cont = h('button', { type: 'button' }, t('auth.continue'));
    cont.addEventListener('click', onDone);
    main.append(h('p', {}, t('auth.agreements.all_accepted')), cont);
  }
}
