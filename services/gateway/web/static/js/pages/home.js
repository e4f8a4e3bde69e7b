// Home dashboard (role-aware) and the notices inbox.
import { h, when, whenRange, tag, clear } from '../dom.js';
import { get, post } from '../api.js';
import { page, section, empty, busy, errorBox } from '../ui.js';
import { loadNames } from '../people.js';
import { t, tn } from '../i18n.js';

const PEOPLE = ['mentee', 'mentor'];

/** What a notice says, in plain words, and where it leads. */
// dispute.changed, as a member of the pair reads it, and as an admin who must act on it.
// Functions: the words are read in the person's language when the notice is shown.
const DISPUTE_NOTICE = {
  opened: () => [t('home.dispute.opened.member'), t('home.dispute.opened.staff')],
  access_requested: () => [t('home.dispute.access_requested.member'), t('home.dispute.access_requested.staff')],
  approved: () => [t('home.dispute.approved.member'), t('home.dispute.approved.staff')],
  rejected: () => [t('home.dispute.rejected.member'), t('home.dispute.rejected.staff')],
  break_glass: () => [t('home.dispute.break_glass.member'), t('home.dispute.break_glass.staff')],
  reviewed: () => [t('home.dispute.reviewed.member'), t('home.dispute.reviewed.staff')],
  closed: () => [t('home.dispute.closed.member'), t('home.dispute.closed.staff')],
};

// pairing.term, by what changed.
const TERM_NOTICE = {
  ending_soon: (f) => t('home.term.ending_soon', { when: when(f.ends_at) }),
  extension_proposed: (f) => t('home.term.extension_proposed', { when: when(f.proposed_until) }),
  extended: (f) => t('home.term.extended', { when: when(f.ends_at) }),
  extension_declined: () => t('home.term.extension_declined'),
};

export function describeNotice(item, ctx) {
  const f = item.facts || {};
  const pairing = f.pairing_id ? `#/pairings/${encodeURIComponent(f.pairing_id)}` : null;
  switch (item.kind) {
    case 'pairing.proposed': return [t('home.notice.pairing_proposed'), pairing];
    case 'pairing.activated': return [t('home.notice.pairing_activated'), pairing];
    case 'pairing.declined': return [t('home.notice.pairing_declined'), pairing];
    case 'pairing.ended': return [t('home.notice.pairing_ended'), pairing];
    case 'pairing.term': return [Object.hasOwn(TERM_NOTICE, f.change) ? TERM_NOTICE[f.change](f) : t('home.term.changed'), pairing];
    case 'session.scheduled': return [t('home.notice.session_scheduled', { when: when(f.starts_at) }), pairing];
    case 'session.cancelled': return [t('home.notice.session_cancelled'), pairing];
    case 'recording.started': return [t('home.notice.recording_started'), null];
    case 'recording.stopped': return [t('home.notice.recording_stopped'), null];
    case 'record.created': return [f.kind === 'recording' ? t('home.notice.recording_ready') : t('home.notice.note_shared'), pairing];
    case 'record.accessed':
    {
      const params = { dispute: String(f.dispute_id || '').slice(0, 8), role: f.accessor_role };
      const role = f.accessor_role;
      let text;
      if (role === 'admin') {
        text = f.break_glass ? t('home.notice.record_accessed.admin_emergency', params) : t('home.notice.record_accessed.admin', params);
      } else if (role === 'safeguarding') {
        text = f.break_glass ? t('home.notice.record_accessed.safeguarding_emergency', params)
          : t('home.notice.record_accessed.safeguarding', params);
      } else {
        text = f.break_glass ? t('home.notice.record_accessed.role_emergency', params) : t('home.notice.record_accessed.role', params);
      }
      return [text, null];
    }
    case 'dispute.changed': {
      const staff = Boolean(ctx) && ctx.has('admin') && !ctx.has('mentee', 'mentor');
      const words = Object.hasOwn(DISPUTE_NOTICE, f.state) ? DISPUTE_NOTICE[f.state]() : null;
      const text = words ? words[staff ? 1 : 0] : t('home.dispute.other', { state: f.state });
      return [text, staff && f.dispute_id ? `#/admin/disputes/${encodeURIComponent(f.dispute_id)}` : null];
    }
    case 'report.filed': return [f.urgent ? t('home.notice.report_filed_urgent') : t('home.notice.report_filed'), f.report_id ? `#/safeguarding/${encodeURIComponent(f.report_id)}` : null];
    case 'report.urgent': return [t('home.notice.report_urgent'), f.report_id ? `#/safeguarding/${encodeURIComponent(f.report_id)}` : null];
    case 'user.privileged_role_granted':
      return [f.granted_by === 'federation'
        ? (f.role === 'safeguarding' ? t('home.notice.role_granted.federation_safeguarding') : t('home.notice.role_granted.federation_admin'))
        : (f.role === 'safeguarding' ? t('home.notice.role_granted.admin_safeguarding') : t('home.notice.role_granted.admin_admin')), f.user_id && ctx && ctx.has('admin') ? `#/admin/users/${encodeURIComponent(f.user_id)}` : null];
    case 'report.overdue': return [t('home.notice.report_overdue'), f.report_id ? `#/safeguarding/${encodeURIComponent(f.report_id)}` : null];
    default: return [t('home.notice.other'), null];
  }
}

export function noticeList(items, ctx) {
  if (!items.length) return empty(t('home.notices.none'));
  return h('ul', { class: 'plain notices' }, items.map((item) => {
    const [text, link] = describeNotice(item, ctx);
    const li = h('li', { class: item.read ? 'notice read' : 'notice unread' });
    const mark = item.read ? null : h('button', { type: 'button', class: 'secondary' }, t('home.notices.mark_read'));
    if (mark) {
      mark.addEventListener('click', () => busy(mark, null, async () => {
        await post(`/me/inbox/${encodeURIComponent(item.id)}/read`);
        mark.replaceWith(tag(t('home.notices.read')));
        li.className = 'notice read';
        if (ctx) ctx.refreshNav();
      }));
    }
    li.append(h('div', { class: 'row' },
      h('div', {}, item.read ? null : h('span', { class: 'visually-hidden' }, `${t('home.notices.new')} `),
        h('p', { class: 'notice-text' }, link ? h('a', { href: link }, text) : text),
        h('span', { class: 'muted' }, when(item.created_at))),
      mark));
    return li;
  }));
}

export async function noticesPage(ctx, main) {
  page(main, t('home.notices.title'), t('home.notices.lead'));
  const inbox = await get('/me/inbox?limit=100');
  main.append(h('div', { class: 'card' }, noticeList(inbox.items, ctx)));
}

function pairingState(p) {
  if (p.state === 'active') return tag(t('home.pairing.active'), 'ok');
  if (p.state === 'proposed') return tag(t('home.pairing.proposed'), 'warn');
  if (p.state === 'ended') return tag(t('home.pairing.ended'), 'neutral');
  return tag(p.state === 'declined' ? t('home.pairing.declined') : p.state, 'neutral');
}

export function otherRole(ctx, p) {
  return p.mentor_id === ctx.me.id ? t('home.pairing.your_mentee') : t('home.pairing.your_mentor');
}

export function otherId(ctx, p) {
  return p.mentor_id === ctx.me.id ? p.mentee_id : p.mentor_id;
}

/** The other member's name when the gateway gives it (it may lag a new pairing), else their role. */
export function otherName(ctx, p, nameOf) {
  return (nameOf && nameOf(otherId(ctx, p))) || otherRole(ctx, p);
}

/** A member's programme: profile and questionnaire, mentors to choose (mentees), a check-in when one is
 * due (the server says), the survey and the resources. */
async function programmeCard(ctx) {
  const items = [h('li', {}, h('a', { href: '#/profile' }, t('home.programme.profile')))];
  if (ctx.has('mentee')) items.push(h('li', {}, h('a', { href: '#/mentors' }, t('home.programme.mentors'))));
  let due = null;
  try {
    const checkin = await get('/api/sessions/checkins/me');
    if (checkin.enabled && checkin.has_plan) {
      items.push(h('li', {}, h('a', { href: '#/checkin' }, t('home.programme.checkin'))));
      if (checkin.due) due = h('div', { class: 'alert warning', role: 'status' }, h('p', {}, h('a', { href: '#/checkin' }, t('home.programme.checkin_due'))));
    }
  } catch { /* the other links still lead on */ }
  items.push(h('li', {}, h('a', { href: '#/survey' }, t('home.programme.survey'))),
    h('li', {}, h('a', { href: '#/resources' }, t('home.programme.resources'))));
  return section(t('home.programme.title'), due, h('ul', { id: 'programme-links' }, items));
}

export async function homePage(ctx, main) {
  page(main, ctx.me.display_name ? t('home.hello', { name: ctx.me.display_name }) : t('home.hello_anonymous'), t('home.lead'));
  const grid = h('div', { class: 'grid' });
  main.append(grid);
  const box = errorBox();
  main.prepend(box);

  const inbox = await get('/me/inbox?limit=5');
  grid.append(section(inbox.unread ? tn('home.notices.heading_new', inbox.unread) : t('home.notices.title'), noticeList(inbox.items, ctx),
    h('p', {}, h('a', { href: '#/notices' }, t('home.notices.all')))));

  if (ctx.has(...PEOPLE)) {
    const pairings = await get('/api/sessions/pairings/');
    const live = pairings.filter((p) => p.state === 'active' || p.state === 'proposed');
    const nameOf = await loadNames(live.map((p) => otherId(ctx, p)));
    grid.append(section(t('home.pairings.title'), live.length ? h('ul', { class: 'plain', id: 'pairing-list' }, live.map((p) => {
      const mine = p.mentor_id === ctx.me.id ? p.mentor_accepted : p.mentee_accepted;
      return h('li', {}, h('div', { class: 'row' },
        h('div', {}, h('a', { href: `#/pairings/${encodeURIComponent(p.pairing_id)}` },
          t('home.pairings.with', { other: otherName(ctx, p, nameOf) })), ' ', pairingState(p)),
        p.state === 'proposed' && !mine ? tag(t('home.pairings.answer_needed'), 'warn') : null));
    })) : empty(t('home.pairings.none'))));

    const upcoming = [];
    for (const p of pairings.filter((x) => x.state === 'active')) {
      const sessions = await get(`/api/sessions/pairings/${encodeURIComponent(p.pairing_id)}/sessions`);
      for (const s of sessions) if (s.state !== 'cancelled' && new Date(s.ends_at) > new Date()) upcoming.push([p, s]);
    }
    upcoming.sort((a, b) => new Date(a[1].starts_at) - new Date(b[1].starts_at));
    grid.append(section(t('home.sessions.title'), upcoming.length ? h('ul', { class: 'plain' }, upcoming.map(([p, s]) => {
      const open = new Date(s.room_opens_at) <= new Date();
      return h('li', {}, h('div', { class: 'row' },
        h('div', {}, h('strong', {}, whenRange(s.starts_at, s.ends_at)), ` ${t('home.sessions.with', { other: otherName(ctx, p, nameOf) })}`),
        open ? h('a', { class: 'button', href: `#/call/${encodeURIComponent(s.session_id)}` }, t('home.sessions.join'))
          : h('span', { class: 'muted' }, t('home.sessions.room_opens', { when: when(s.room_opens_at) }))));
    })) : empty(t('home.sessions.none'))));

    grid.append(await programmeCard(ctx));

    grid.append(section(t('home.concern.title'),
      h('p', {}, t('home.concern.text')),
      h('div', { class: 'actions' }, h('a', { class: 'button', href: '#/concern' }, t('home.concern.report')),
        h('a', { href: '#/concern/follow-up' }, t('home.concern.follow_up')), h('a', { href: '#/concerns' }, t('home.concern.mine')))));
  }

  if (ctx.has('admin')) {
    let review = null;
    try {
      const unreviewed = await get('/api/records/disputes/?unreviewed=true&limit=50');
      if (unreviewed.length) {
        review = h('div', { class: 'alert warning', role: 'status' }, h('p', {},
          h('a', { href: '#/admin/disputes' }, tn('home.admin.unreviewed', unreviewed.length))));
      }
    } catch { /* the list below still leads there */ }
    grid.append(section(t('home.admin.title'), review, h('ul', {},
      h('li', {}, h('a', { href: '#/admin/users' }, t('home.admin.users'))),
      h('li', {}, h('a', { href: '#/admin/pairings' }, t('home.admin.pairings'))),
      h('li', {}, h('a', { href: '#/admin/agreements' }, t('home.admin.agreements'))),
      h('li', {}, h('a', { href: '#/admin/disputes' }, t('home.admin.disputes'))),
      h('li', {}, h('a', { href: '#/admin/audit' }, t('home.admin.audit'))),
      h('li', {}, h('a', { href: '#/admin/retention' }, t('home.admin.retention'))),
      h('li', {}, h('a', { href: '#/admin/matching' }, t('home.admin.matching'))),
      h('li', {}, h('a', { href: '#/admin/questionnaire' }, t('home.admin.questionnaire'))),
      h('li', {}, h('a', { href: '#/admin/agreement-template' }, t('home.admin.agreement_template'))),
      h('li', {}, h('a', { href: '#/admin/checkins' }, t('home.admin.checkins'))),
      h('li', {}, h('a', { href: '#/admin/survey' }, t('home.admin.survey'))),
      h('li', {}, h('a', { href: '#/resources' }, t('home.admin.resources'))))));
  }

  if (ctx.has('safeguarding')) {
    const cases = await get('/api/reports/cases/');
    const open = cases.filter((c) => !['resolved', 'closed'].includes(c.state));
    const urgent = open.filter((c) => c.urgent).length;
    const overdue = open.filter((c) => c.overdue).length;
    grid.append(section(t('home.safeguarding.title'), h('p', {}, tn('home.safeguarding.open', open.length),
      urgent ? [' · ', tag(tn('home.safeguarding.urgent', urgent), 'danger')] : null, overdue ? [' · ', tag(tn('home.safeguarding.overdue', overdue), 'warn')] : null),
      h('a', { class: 'button', href: '#/safeguarding' }, t('home.safeguarding.inbox'))));
  }
  clear(box);
}
