// Sign in (with an authenticator code or a recovery code), set a password from an invitation link, enrol an
// authenticator (QR code, confirming code, recovery codes shown once), accept the agreements.
import { h, field, checkbox, clear } from '../dom.js';
import { get, post, setCsrf, ApiError } from '../api.js';
import { page, errorBox, busy, showError, success, authenticatorCodeForm } from '../ui.js';

export function signInPage(main, message, onSignedIn) {
  page(main, 'Sign in to Tandem', 'Mentoring sessions, notes and recordings, kept confidential.');
  const box = errorBox();
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const code = h('input', { type: 'text', name: 'totp', inputmode: 'numeric', autocomplete: 'one-time-code',
    pattern: '[0-9]{6}', maxlength: '6' });
  const recovery = h('input', { type: 'text', name: 'recovery', autocomplete: 'off', spellcheck: 'false',
    maxlength: '40' });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'card narrow', novalidate: true },
    message ? success(message) : null, box,
    field('E-mail address', email),
    field('Password', password),
    field('Authenticator code (if you have one)', code,
      'Admins and safeguarding officers: the 6-digit code from your authenticator app.'),
    h('details', { class: 'recovery-option' }, h('summary', {}, 'Lost your phone? Use a recovery code'),
      field('Recovery code', recovery, 'One of the codes you saved when you set up your authenticator. Each works once.')),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!email.value || !password.value) {
      showError(box, 'Enter your e-mail address and password.');
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
              () => signInPage(main, 'Your authenticator is set up. Sign in with the next code it shows.', onSignedIn));
          }
          return;
        }
        showError(box, err);
        if (err instanceof ApiError && err.body.type && String(err.body.type).includes('mfa')) code.focus();
      }
    });
  });
  main.append(form, h('p', { class: 'muted narrow' },
    'New to Tandem? Your programme admin sends you a personal link to set your password.'),
  h('section', { class: 'card narrow', 'aria-labelledby': 'no-account-heading' },
    h('h2', { id: 'no-account-heading' }, 'Worried about someone’s safety or conduct?'),
    h('p', {}, 'Anyone can tell the safeguarding team, with or without an account, anonymously.'),
    h('div', { class: 'actions' }, h('a', { class: 'button secondary', href: '/report', id: 'public-report-link' }, 'Report a concern without signing in'),
      h('a', { href: '/report/follow-up' }, 'Follow up with a receipt'))));
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
  page(main, 'Set up your authenticator app',
    'Your role needs a second step when you sign in: a code from an authenticator app on your phone.');
  const qr = qrCode(enrolment.qr_svg, 'QR code of your authenticator key');
  main.append(h('section', { class: 'card narrow', 'aria-labelledby': 'scan-heading' },
    h('h2', { id: 'scan-heading' }, '1. Add Tandem to the app'),
    h('p', {}, 'Open your authenticator app (for example the one your organisation recommends), choose to add an ',
      'account, and scan this QR code.'),
    qr ? h('p', {}, qr) : null,
    h('p', { class: 'label' }, 'Cannot scan it? Type this key instead'),
    h('p', { class: 'receipt', id: 'totp-secret'}, groupsOf4(enrolment.secret)),
    h('p', {}, h('a', { href: enrolment.otpauth_uri, id: 'totp-link' }, 'Open in my authenticator app (on this device)'))));
  main.append(authenticatorCodeForm({
    attrs: { class: 'card narrow', 'aria-labelledby': 'confirm-heading' },
    intro: [h('h2', { id: 'confirm-heading' }, '2. Enter the code it shows')],
    hint: 'Six digits. Until you enter one, the app is not set up and you cannot sign in with it.',
    button: 'Confirm', required: true,
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
  page(main, 'You signed in with a recovery code',
    `That code is spent. You have ${left} recovery code${left === 1 ? '' : 's'} left.`);
  const cont = h('button', { type: 'button', id: 'recovery-continue' }, 'Continue');
  cont.addEventListener('click', onDone);
  const form = authenticatorCodeForm({
    attrs: { class: 'card narrow', 'aria-labelledby': 'renew-heading' },
    intro: [h('h2', { id: 'renew-heading' }, 'Still have your authenticator app?'),
      h('p', {}, 'Get a new set of ten codes; the ones you have now stop working.')],
    button: 'Get new recovery codes', buttonClass: 'secondary',
    onCode: async (value) => {
      const result = await post('/me/recovery-codes', { totp_code: value });
      recoveryCodesPage(main, result.codes, onDone, 'Continue');
    },
  });
  main.append(h('section', { class: 'card narrow', 'aria-labelledby': 'lost-heading' },
    h('h2', { id: 'lost-heading' }, 'Lost your phone?'),
    h('p', {}, 'Ask your programme admin for a new set-password link: it sets up a new authenticator app and new ',
      'recovery codes, and the lost phone stops working for Tandem.'),
    h('div', { class: 'actions' }, cont)), form);
  main.querySelector('h1').focus();
}

export function recoveryCodesPage(main, codes, onDone, nextLabel = 'Continue to sign in') {
  page(main, 'Save your recovery codes',
    'If you lose your phone, each of these codes lets you sign in once instead of a code from your authenticator app.');
  const box = errorBox();
  const { input, el } = checkbox('I have saved these codes somewhere safe, away from my phone.');
  const next = h('button', { type: 'button', id: 'recovery-codes-saved' }, nextLabel);
  next.addEventListener('click', () => {
    if (!input.checked) { showError(box, 'Tick the box once you have saved the codes: they are not shown again.'); input.focus(); return; }
    onDone();
  });
  main.append(h('section', { class: 'card narrow', 'aria-labelledby': 'codes-heading' },
    h('h2', { id: 'codes-heading' }, 'Recovery codes'),
    h('p', {}, 'They are shown only now. Print them or keep them in a password manager; do not keep them on the phone.'),
    h('ol', { class: 'receipt recovery-codes', id: 'recovery-codes' }, codes.map((c) => h('li', {}, c))),
    box, el, h('div', { class: 'actions' }, next)));
  main.querySelector('h1').focus();
}

export function invitationPage(main, onDone) {
  page(main, 'Set your password', 'Choose a password to finish setting up your Tandem account.');
  const token = new URLSearchParams(window.location.hash.slice(1)).get('token');
  if (!token) {
    main.append(h('div', { class: 'alert error', role: 'alert' },
      h('p', {}, 'This link is incomplete. Open the whole link from your invitation, or ask your programme admin for a new one.')));
    return;
  }
  const box = errorBox();
  const pw = h('input', { type: 'password', autocomplete: 'new-password', required: true, minlength: '12' });
  const pw2 = h('input', { type: 'password', autocomplete: 'new-password', required: true });
  const submit = h('button', { type: 'submit' }, 'Set password');
  const form = h('form', { class: 'card narrow', novalidate: true }, box,
    field('New password', pw, 'At least 12 characters. A short sentence you can remember works well.'),
    field('Type the password again', pw2),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (pw.value.length < 12) { showError(box, 'Your password needs at least 12 characters.'); return; }
    if (pw.value !== pw2.value) { showError(box, 'The two passwords are not the same.'); return; }
    busy(submit, box, async () => {
      const result = await post('/auth/invitations/accept', { token, password: pw.value }, { allow401: true });
      // The token is spent: drop it from the address bar and history.
      window.history.replaceState(null, '', '/invitation');
      if (result.totp_required && result.totp_enrolment) {
        enrolPage(main, { email: result.email, password: pw.value, enrolment: result.totp_enrolment }, onDone);
        return;
      }
      clear(main);
      page(main, 'Your password is set');
      const next = h('button', { type: 'button', id: 'continue-sign-in' }, 'Continue to sign in');
      next.addEventListener('click', onDone);
      main.append(h('div', { class: 'card narrow' }, h('p', {}, 'You can now sign in with your e-mail address and new password.'),
        h('div', { class: 'actions' }, next)));
      main.querySelector('h1').focus();
    });
  });
  main.append(form);
}

export async function agreementsPage(ctx, main, onDone) {
  const agreements = await get('/agreements');
  page(main, 'Programme agreements',
    'Before you take part, please read and accept the current programme agreements.');
  const pending = agreements.filter((a) => !a.accepted_at);
  const box = errorBox();
  main.append(box);
  for (const a of pending) {
    const { input, el } = checkbox(`I have read and accept “${a.title}” (version ${a.version}).`);
    const accept = h('button', { type: 'button' }, 'Accept');
    const done = h('p', { role: 'status' });
    accept.addEventListener('click', () => {
      if (!input.checked) { showError(box, `Tick the box to confirm you accept “${a.title}”.`); input.focus(); return; }
      busy(accept, box, async () => {
        await post(`/me/agreements/${encodeURIComponent(a.id)}/accept`);
        done.textContent = 'Accepted. Thank you.';
        accept.remove();
        input.disabled = true;
        const me = await get('/me');
        if (me.agreements_current) onDone();
      });
    });
    main.append(h('section', { class: 'card' }, h('h2', {}, a.title),
      h('pre', { class: 'agreement', tabindex: '0', 'aria-label': `Text of ${a.title}` }, a.body),
      el, h('div', { class: 'actions' }, accept), done));
  }
  if (!pending.length) {
    const cont = h('button', { type: 'button' }, 'Continue');
    cont.addEventListener('click', onDone);
    main.append(h('p', {}, 'Everything is accepted.'), cont);
  }
}
