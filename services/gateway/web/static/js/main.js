// Entry point: finds the browser session, gates on the programme agreements, routes `#/...` to pages.
import { h, clear, browserZone, setTimeZone } from './dom.js';
import { get, post, put, setCsrf, ApiError } from './api.js';
import { signInPage, invitationPage, agreementsPage } from './pages/auth.js';
import { homePage, noticesPage } from './pages/home.js';
import { pairingPage, recordingPage } from './pages/pairings.js';
import { concernPage, receiptPage, myReportsPage, myReportPage } from './pages/concerns.js';
import * as admin from './pages/admin.js';
import { casesPage, casePage } from './pages/safeguarding.js';
import { callPage } from './pages/call.js';
import { accountPage } from './pages/account.js';
import { profilePage, mentorsPage, checkinPage, surveyPage } from './pages/programme.js';
import { agreementPage, reflectionPage } from './pages/agreement.js';
import * as matching from './pages/matching_admin.js';
import * as programme from './pages/programme_admin.js';
import { resourcesPage } from './pages/resources.js';
import { forgetNames } from './people.js';
import { t, setLanguage, browserLanguage } from './i18n.js';

const PEOPLE = ['mentee', 'mentor'];

// [pattern, page, roles allowed (empty: anyone signed in)]
const ROUTES = [
  [/^\/$/, homePage, []],
  [/^\/notices$/, noticesPage, []],
  [/^\/account$/, accountPage, []],
  [/^\/resources$/, resourcesPage, [...PEOPLE, 'admin', 'safeguarding']],
  [/^\/pairings\/([\w.:-]+)$/, pairingPage, [...PEOPLE, 'admin']],
  [/^\/pairings\/([\w.:-]+)\/agreement$/, agreementPage, PEOPLE],
  [/^\/pairings\/([\w.:-]+)\/reflection$/, reflectionPage, PEOPLE],
  [/^\/profile$/, profilePage, PEOPLE],
  [/^\/mentors$/, mentorsPage, ['mentee']],
  [/^\/checkin$/, checkinPage, PEOPLE],
  [/^\/survey$/, surveyPage, PEOPLE],
  [/^\/recordings\/([\w.:-]+)$/, recordingPage, PEOPLE],
  [/^\/call\/([\w.:-]+)$/, callPage, PEOPLE],
  [/^\/concern$/, concernPage, []],
  [/^\/concern\/follow-up$/, receiptPage, []],
  [/^\/concerns$/, myReportsPage, []],
  [/^\/concerns\/([\w.:-]+)$/, myReportPage, []],
  [/^\/admin\/users$/, admin.usersPage, ['admin']],
  [/^\/admin\/users\/([\w-]+)$/, admin.userPage, ['admin']],
  [/^\/admin\/agreements$/, admin.agreementsAdminPage, ['admin']],
  [/^\/admin\/pairings$/, admin.pairingsAdminPage, ['admin']],
  [/^\/admin\/disputes$/, admin.disputesPage, ['admin']],
  [/^\/admin\/disputes\/([\w.:-]+)$/, admin.disputePage, ['admin']],
  [/^\/admin\/audit$/, admin.auditPage, ['admin']],
  [/^\/admin\/matching$/, matching.matchingPage, ['admin']],
  [/^\/admin\/matching\/rounds\/([\w.:-]+)$/, matching.roundPage, ['admin']],
  [/^\/admin\/questionnaire$/, matching.questionnaireAdminPage, ['admin']],
  [/^\/admin\/checkins$/, programme.checkinsAdminPage, ['admin']],
  [/^\/admin\/survey$/, programme.surveyAdminPage, ['admin']],
  [/^\/admin\/agreement-template$/, programme.agreementTemplatePage, ['admin']],
  [/^\/admin\/retention$/, admin.retentionPage, ['admin']],
  [/^\/safeguarding$/, casesPage, ['safeguarding']],
  [/^\/safeguarding\/([\w.:-]+)$/, casePage, ['safeguarding']],
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
let ctx = null;
let cleanup = null;

function has(...roles) {
  return Boolean(ctx) && roles.some((r) => ctx.roles.includes(r));
}

function currentPath() {
  const hash = window.location.hash;
  return hash.startsWith('#/') ? hash.slice(1).split('?')[0] : '/';
}

function navLink(href, text) {
  const here = `#${currentPath()}` === href.replace(/^\//, '');
  return h('li', {}, h('a', { href, 'aria-current': here ? 'page' : false }, text));
}

async function renderNav() {
  clear(nav);
  if (!ctx) return;
  const items = [navLink('/#/', t('nav.home'))];
  const notices = navLink('/#/notices', t('nav.notices'));
  items.push(notices);
  if (has(...PEOPLE)) items.push(navLink('/#/profile', t('nav.profile')));
  if (has('mentee')) items.push(navLink('/#/mentors', t('nav.mentors')));
  if (has(...PEOPLE, 'admin', 'safeguarding')) items.push(navLink('/#/resources', t('nav.resources')));
  if (has(...PEOPLE)) items.push(navLink('/#/concern', t('nav.concern')));
  if (has('admin')) {
    items.push(navLink('/#/admin/users', t('nav.people')), navLink('/#/admin/pairings', t('nav.pairings')),
      navLink('/#/admin/matching', t('nav.matching')), navLink('/#/admin/disputes', t('nav.disputes')));
  }
  if (has('safeguarding')) items.push(navLink('/#/safeguarding', t('nav.safeguarding')));
  items.push(navLink('/#/account', t('nav.account')));
  const out = h('button', { type: 'button', class: 'link-button', id: 'sign-out' }, t('nav.sign_out'));
  out.addEventListener('click', signOut);
  items.push(h('li', {}, out));
  nav.append(h('ul', {}, items));
  try {
    const inbox = await get('/me/inbox?unread_only=true&limit=1');
    if (inbox.unread > 0) {
      notices.querySelector('a').append(' ', h('span', { class: 'badge' }, String(inbox.unread),
        h('span', { class: 'visually-hidden' }, ` ${t('nav.unread')}`)));
    }
  } catch { /* the badge is a nicety */ }
}

async function signOut() {
  try { await post('/auth/logout'); } catch { /* the cookie goes either way */ }
  ctx = null;
  setCsrf(null);
  window.location.hash = '#/';
  await boot(t('boot.signed_out'));
}

async function route() {
  if (cleanup) { try { cleanup(); } catch { /* page already gone */ } cleanup = null; }
  if (!ctx) return;
  const path = currentPath();
  for (const [pattern, pageFn, roles] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    if (roles.length && !has(...roles)) break;
    await renderNav();
    try {
      const result = await pageFn(ctx, main, ...match.slice(1));
      if (typeof result === 'function') cleanup = result;
    } catch (err) {
      clear(main);
      main.append(h('h1', { tabindex: '-1' }, t('error.title')),
        h('div', { class: 'alert error', role: 'alert' }, h('p', {}, err instanceof ApiError
          ? (await import('./api.js')).problemMessage(err) : t('error.page'))));
    }
    focusHeading();
    return;
  }
  await renderNav();
  clear(main);
  main.append(h('h1', { tabindex: '-1' }, t('not_found.title')),
    h('p', {}, t('not_found.text'), ' ', h('a', { href: '/#/' }, t('not_found.home'))));
  focusHeading();
}

// Pages for people without an account (the gateway serves them without a session; reports gets the
// caller as 'anonymous').
const PUBLIC_REPORT = '/report';
const PUBLIC_FOLLOW_UP = '/report/follow-up';

function publicNav() {
  clear(nav);
  nav.append(h('ul', {}, h('li', {}, h('a', { href: PUBLIC_REPORT, 'aria-current': window.location.pathname === PUBLIC_REPORT ? 'page' : false }, t('nav.concern'))),
    h('li', {}, h('a', { href: PUBLIC_FOLLOW_UP, 'aria-current': window.location.pathname === PUBLIC_FOLLOW_UP ? 'page' : false }, t('nav.follow_up'))),
    h('li', {}, h('a', { href: '/' }, t('nav.sign_in')))));
}

/** Times are shown in the person's time zone. At the first sign-in there is none yet: the browser's is
 * stored (once: from then on the account has one, changed only on the account page). */
async function settleTimeZone(me) {
  if (!me.time_zone) {
    try {
      me.time_zone = (await put('/me/time-zone', { time_zone: browserZone() })).time_zone;
    } catch { /* a zone the gateway does not know: shown in the browser's, asked again at the next sign-in */ }
  }
  setTimeZone(me.time_zone);
}

let firstView = true;

/** After a change of view, focus its heading (screen readers announce it); never on the first load,
 * so the skip link stays the first stop of the Tab key. */
function focusHeading() {
  if (firstView) { firstView = false; return; }
  const heading = main.querySelector('h1');
  if (heading) heading.focus();
}

async function boot(message) {
  let session = null;
  try {
    session = await get('/auth/session', { allow401: true });
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
  }
  forgetNames();  // names another account could see must not outlive it in this tab
  setTimeZone(browserZone());  // nor its time zone: signed out, times are in the browser's
  setLanguage(browserLanguage());  // nor its language: signed out, the browser's
  const path = window.location.pathname.replace(/\/+$/, '');
  if (!session) {
    ctx = null;
    await renderNav();
    if (path === PUBLIC_REPORT) {
      publicNav();
      concernPage(null, main, { publicForm: true });
    } else if (path === PUBLIC_FOLLOW_UP) {
      publicNav();
      receiptPage(null, main, { publicForm: true });
    } else if (window.location.pathname === '/invitation') {
      invitationPage(main, () => { window.history.replaceState(null, '', '/#/'); boot(); });
    } else {
      signInPage(main, message, () => boot());
    }
    focusHeading();
    return;
  }
  setCsrf(session.csrf_token);
  // Signed in, the public report pages are the in-app ones (identified or anonymous, the choice is theirs).
  const inApp = { [PUBLIC_REPORT]: '#/concern', [PUBLIC_FOLLOW_UP]: '#/concern/follow-up' }[path];
  if (window.location.pathname !== '/') window.history.replaceState(null, '', `/${inApp || window.location.hash || '#/'}`);
  const me = await get('/me');
  await settleTimeZone(me);
  setLanguage(me.language || browserLanguage());
  ctx = { session, me, roles: session.roles, has, refreshNav: renderNav, navigate: (hash) => { window.location.hash = hash; } };
  if (!me.agreements_current) {
    await renderNav();
    await agreementsPage(ctx, main, () => boot());
    focusHeading();
    return;
  }
  await route();
}

window.addEventListener('hashchange', () => { if (window.location.hash.startsWith('#/') || window.location.hash === '') route(); });
window.addEventListener('tandem:signed-out', () => {
  if (ctx) { ctx = null; boot(t('boot.session_ended')); }
});
document.getElementById('skip-link').addEventListener('click', (e) => { e.preventDefault(); main.focus(); });
boot().catch(() => {
  clear(main);
  main.append(h('h1', {}, t('boot.unavailable')), h('p', {}, t('boot.try_later')));
});
