// Sign in, set a password from an invitation link (with authenticator enrolment), accept the agreements.
import { h, field, checkbox, clear } from '../dom.js';
import { get, post, ApiError } from '../api.js';
import { page, errorBox, busy, showError, success } from '../ui.js';

export function signInPage(main, message, onSignedIn) {
  page(main, 'Sign in to Tandem', 'Mentoring sessions, notes and recordings, kept confidential.');
  const box = errorBox();
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const code = h('input', { type: 'text', name: 'totp', inputmode: 'numeric', autocomplete: 'one-time-code',
    pattern: '[0-9]{6}', maxlength: '6' });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'card narrow', novalidate: true },
    message ? success(message) : null, box,
    field('E-mail address', email),
    field('Password', password),
    field('Authenticator code (if you have one)', code,
      'Admins and safeguarding officers: the 6-digit code from your authenticator app.'),
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
        await post('/auth/login', { email: email.value.trim(), password: password.value,
          totp_code: code.value.trim() || null }, { allow401: true });
        onSignedIn();
      } catch (err) {
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

function secretOf(uri) {
  try {
    return new URL(uri).searchParams.get('secret') || '';
  } catch {
    return '';
  }
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
      clear(main);
      page(main, 'Your password is set');
      const next = h('button', { type: 'button', id: 'continue-sign-in' }, 'Continue to sign in');
      next.addEventListener('click', onDone);
      if (result.totp_required && result.totp_uri) {
        const secret = secretOf(result.totp_uri);
        main.append(h('section', { class: 'card narrow' },
          h('h2', {}, 'Set up your authenticator app'),
          h('p', {}, 'Your role needs a second step when you sign in. Add this key to an authenticator app ',
            '(for example the one your organisation recommends). It is shown only once.'),
          h('p', { class: 'label' }, 'Key'),
          h('p', { class: 'receipt', id: 'totp-secret' }, secret),
          h('p', {}, h('a', { href: result.totp_uri, id: 'totp-link' }, 'Open in my authenticator app (on this device)')),
          h('p', {}, 'When you sign in, enter the 6-digit code the app shows.'),
          h('div', { class: 'actions' }, next)));
      } else {
        main.append(h('div', { class: 'card narrow' }, h('p', {}, 'You can now sign in with your e-mail address and new password.'),
          h('div', { class: 'actions' }, next)));
      }
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
