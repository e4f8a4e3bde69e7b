// Your account (everyone signed in): who you are, your time zone (every time in Tandem is shown in it, and the
// times you type are read in it), and, for those with an authenticator app, its state and new recovery codes.
import { h, field, when, timeZone, setTimeZone, isTimeZone, browserZone, announce } from '../dom.js';
import { get, post, put } from '../api.js';
import { page, section, errorBox, busy, showError, success, authenticatorCodeForm } from '../ui.js';
import { recoveryCodesPage } from './auth.js';
import { t, LANGUAGES, language, setLanguage } from '../i18n.js';

const ROLE_WORDS = { mentee: 'Mentee', mentor: 'Mentor', admin: 'Programme admin', safeguarding: 'Safeguarding officer',
  operator: 'Operator' };

/** Every IANA zone the browser knows, with the current one and UTC even where its list leaves them out. */
function zoneChoices(current) {
  let zones = [];
  try { zones = Intl.supportedValuesOf('timeZone'); } catch { /* an older browser: the few below */ }
  const all = new Set(zones);
  for (const z of ['UTC', current, browserZone()]) if (z && isTimeZone(z)) all.add(z);
  return [...all].sort((a, b) => (a === 'UTC' ? -1 : b === 'UTC' ? 1 : a.localeCompare(b)));
}

function timeZoneCard(ctx) {
  const box = errorBox();
  const status = h('div', { id: 'time-zone-saved' });
  const current = ctx.me.time_zone || timeZone();
  const select = h('select', { id: 'time-zone', name: 'time_zone' },
    zoneChoices(current).map((z) => h('option', { value: z, selected: z === current }, z.replace(/_/g, ' '))));
  select.value = current;
  const now = h('p', { id: 'time-zone-now' });
  const showNow = () => { now.textContent = `In your time zone it is now ${when(new Date())}.`; };
  showNow();
  const submit = h('button', { type: 'submit' }, 'Save time zone');
  const form = h('form', { class: 'narrow', id: 'time-zone-form' }, box, status,
    field('Your time zone', select, 'Every time in Tandem is shown in this zone, and the times you type (when you schedule a session) are read in it.'),
    now, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, box, async () => {
      status.replaceChildren();
      const saved = await put('/me/time-zone', { time_zone: select.value });
      ctx.me.time_zone = saved.time_zone;
      setTimeZone(saved.time_zone);
      showNow();
      status.append(success(`Saved. Times are now shown in ${saved.time_zone.replace(/_/g, ' ')}.`));
    });
  });
  return section('Time zone', form);
}

function languageCard(ctx) {
  const box = errorBox();
  const status = h('div', { id: 'language-saved' });
  const select = h('select', { id: 'language', name: 'language' },
    Object.entries(LANGUAGES).map(([code, name]) => h('option', { value: code, lang: code }, name)));
  select.value = language();
  const submit = h('button', { type: 'submit' }, t('language.save'));
  const form = h('form', { class: 'narrow', id: 'language-form' }, box, status,
    field(t('language.label'), select, t('language.hint')), h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, box, async () => {
      const saved = await put('/me/language', { language: select.value });
      ctx.me.language = saved.language;
      setLanguage(saved.language);
      await ctx.refreshNav();
      window.dispatchEvent(new HashChangeEvent('hashchange'));  // this page again, in the new language
      announce(t('language.saved', { language: LANGUAGES[saved.language] }));
    });
  });
  return section(t('language.title'), form);
}

async function secondFactorCard(ctx, main) {
  const status = await get('/me/second-factor');
  if (!status.required && status.state === 'none') return null;
  const card = section('Authenticator app');
  if (status.state !== 'confirmed') {
    card.append(h('p', {}, status.state === 'none'
      ? 'Your role needs an authenticator app, but none is set up. Ask your programme admin for a new set-password link.'
      : 'Your authenticator app was never confirmed with a code. Ask your programme admin for a new set-password link.'));
    return card;
  }
  const left = status.recovery_codes_left;
  card.append(h('p', { id: 'second-factor-state' }, 'Your authenticator app is set up. ',
    `You have ${left} unused recovery code${left === 1 ? '' : 's'}.`));
  card.append(authenticatorCodeForm({
    attrs: { class: 'narrow' }, button: 'New recovery codes', buttonClass: 'secondary',
    hint: 'New recovery codes replace all of yours: the ones you have now stop working. They are shown once.',
    onCode: async (value) => {
      const result = await post('/me/recovery-codes', { totp_code: value });
      recoveryCodesPage(main, result.codes, () => accountPage(ctx, main), 'Back to your account');
    },
  }));
  return card;
}

export async function accountPage(ctx, main) {
  page(main, 'Your account');
  const me = ctx.me;
  const roles = me.roles.map((r) => ROLE_WORDS[r] || r).join(', ') || 'none yet';
  main.append(section('You',
    h('p', {}, h('strong', {}, me.display_name), ` · ${me.email}`),
    h('p', { class: 'muted' }, `Role${me.roles.length === 1 ? '' : 's'}: ${roles}. To change your name, e-mail address or roles, ask your programme admin.`)),
  timeZoneCard(ctx), languageCard(ctx));
  const factor = await secondFactorCard(ctx, main);
  if (factor) main.append(factor);
}
