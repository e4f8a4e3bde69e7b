// Home dashboard (role-aware) and the notices inbox.
import { h, when, whenRange, tag, clear } from '../dom.js';
import { get, post } from '../api.js';
import { page, section, empty, busy, errorBox } from '../ui.js';
import { loadNames } from '../people.js';

const PEOPLE = ['mentee', 'mentor'];

/** What a notice says, in plain words, and where it leads. */
// dispute.changed, as a member of the pair reads it, and as an admin who must act on it.
const DISPUTE_NOTICE = {
  opened: ['A dispute was opened about one of your sessions. Its records are kept (legal hold) until it is closed.', 'A dispute was opened. It may need a second admin.'],
  access_requested: ['An admin asked to review records of a disputed session. A second admin must decide.', 'An admin asked for access under a dispute: another admin must decide.'],
  approved: ['A second admin approved time-limited access to records of a disputed session. You are told of every access.', 'Access under a dispute was approved.'],
  rejected: ['A request to review records of a disputed session was refused.', 'Access under a dispute was refused.'],
  break_glass: ['An admin used emergency access to records of one of your sessions. Another admin reviews it.', 'An admin used emergency (break-glass) access: another admin must review it.'],
  reviewed: ['The emergency access to records of your session was reviewed by another admin.', 'An emergency access was reviewed.'],
  closed: ['A dispute about one of your sessions was closed.', 'A dispute was closed.'],
};

// pairing.term, by what changed.
const TERM_NOTICE = {
  ending_soon: (f) => `Your pairing’s term ends on ${when(f.ends_at)}. You can both agree to extend it.`,
  extension_proposed: (f) => `An extension of your pairing until ${when(f.proposed_until)} was proposed. It takes effect when you both agree.`,
  extended: (f) => `Your pairing was extended: its term now ends on ${when(f.ends_at)}.`,
  extension_declined: () => 'A proposed extension of your pairing was declined or withdrawn.',
};

export function describeNotice(item, ctx) {
  const f = item.facts || {};
  const pairing = f.pairing_id ? `#/pairings/${encodeURIComponent(f.pairing_id)}` : null;
  switch (item.kind) {
    case 'pairing.proposed': return ['You have a proposed mentoring match. Please accept or decline it.', pairing];
    case 'pairing.activated': return ['Your pairing is now active: you can schedule sessions.', pairing];
    case 'pairing.declined': return ['A proposed match was declined.', pairing];
    case 'pairing.ended': return ['A pairing has ended.', pairing];
    case 'pairing.term': return [TERM_NOTICE[f.change] ? TERM_NOTICE[f.change](f) : 'Your pairing’s term changed.', pairing];
    case 'session.scheduled': return [`A session was scheduled for ${when(f.starts_at)}.`, pairing];
    case 'session.cancelled': return ['A session was cancelled.', pairing];
    case 'recording.started': return ['A recording started in your session (both of you consented).', null];
    case 'recording.stopped': return ['A recording of your session stopped.', null];
    case 'record.created': return [f.kind === 'recording' ? 'A new recording is ready to watch.' : 'A note was shared in your pairing.', pairing];
    case 'record.accessed':
      return [`Your recording was accessed under dispute ${String(f.dispute_id || '').slice(0, 8)} by ${f.accessor_role === 'admin' ? 'a programme admin' : `someone with the ${f.accessor_role} role`}${f.break_glass ? ' in an emergency (break-glass access)' : ''}. This access was logged.`, null];
    case 'dispute.changed': {
      const staff = Boolean(ctx) && ctx.has('admin') && !ctx.has('mentee', 'mentor');
      const words = DISPUTE_NOTICE[f.state];
      const text = words ? words[staff ? 1 : 0] : `A dispute about one of your sessions is now “${f.state}”.`;
      return [text, staff && f.dispute_id ? `#/admin/disputes/${encodeURIComponent(f.dispute_id)}` : null];
    }
    case 'report.filed': return [f.urgent ? 'An URGENT concern was reported.' : 'A new concern was reported.', f.report_id ? `#/safeguarding/${encodeURIComponent(f.report_id)}` : null];
    case 'report.urgent': return ['An urgent concern needs attention now.', f.report_id ? `#/safeguarding/${encodeURIComponent(f.report_id)}` : null];
    case 'user.privileged_role_granted':
      return [`${f.granted_by === 'federation' ? 'Your organisation’s sign-in' : 'An admin'} made someone ${f.role === 'safeguarding' ? 'a safeguarding officer' : 'a programme admin'}.`, f.user_id && ctx && ctx.has('admin') ? `#/admin/users/${encodeURIComponent(f.user_id)}` : null];
    case 'report.overdue': return ['A concern is overdue for acknowledgement.', f.report_id ? `#/safeguarding/${encodeURIComponent(f.report_id)}` : null];
    default: return ['You have a new notice.', null];
  }
}

export function noticeList(items, ctx) {
  if (!items.length) return empty('No notices. You are all caught up.');
  return h('ul', { class: 'plain notices' }, items.map((item) => {
    const [text, link] = describeNotice(item, ctx);
    const li = h('li', { class: item.read ? 'notice read' : 'notice unread' });
    const mark = item.read ? null : h('button', { type: 'button', class: 'secondary' }, 'Mark as read');
    if (mark) {
      mark.addEventListener('click', () => busy(mark, null, async () => {
        await post(`/me/inbox/${encodeURIComponent(item.id)}/read`);
        mark.replaceWith(tag('Read'));
        li.className = 'notice read';
        if (ctx) ctx.refreshNav();
      }));
    }
    li.append(h('div', { class: 'row' },
      h('div', {}, item.read ? null : h('span', { class: 'visually-hidden' }, 'New: '),
        h('p', { class: 'notice-text' }, link ? h('a', { href: link }, text) : text),
        h('span', { class: 'muted' }, when(item.created_at))),
      mark));
    return li;
  }));
}

export async function noticesPage(ctx, main) {
  page(main, 'Notices', 'Messages from Tandem about your pairings, sessions and records.');
  const inbox = await get('/me/inbox?limit=100');
  main.append(h('div', { class: 'card' }, noticeList(inbox.items, ctx)));
}

function pairingState(p) {
  if (p.state === 'active') return tag('Active', 'ok');
  if (p.state === 'proposed') return tag('Waiting for acceptance', 'warn');
  if (p.state === 'ended') return tag('Ended', 'neutral');
  return tag(p.state === 'declined' ? 'Declined' : p.state, 'neutral');
}

export function otherRole(ctx, p) {
  return p.mentor_id === ctx.me.id ? 'your mentee' : 'your mentor';
}

export function otherId(ctx, p) {
  return p.mentor_id === ctx.me.id ? p.mentee_id : p.mentor_id;
}

/** The other member's name when the gateway gives it (it may lag a new pairing), else their role. */
export function otherName(ctx, p, nameOf) {
  return (nameOf && nameOf(otherId(ctx, p))) || otherRole(ctx, p);
}

export async function homePage(ctx, main) {
  const name = ctx.me.display_name || 'there';
  page(main, `Hello, ${name}`, 'Here is what needs your attention.');
  const grid = h('div', { class: 'grid' });
  main.append(grid);
  const box = errorBox();
  main.prepend(box);

  const inbox = await get('/me/inbox?limit=5');
  grid.append(section(`Notices${inbox.unread ? ` (${inbox.unread} new)` : ''}`, noticeList(inbox.items, ctx),
    h('p', {}, h('a', { href: '#/notices' }, 'All notices'))));

  if (ctx.has(...PEOPLE)) {
    const pairings = await get('/api/sessions/pairings/');
    const live = pairings.filter((p) => p.state === 'active' || p.state === 'proposed');
    const nameOf = await loadNames(live.map((p) => otherId(ctx, p)));
    grid.append(section('Your pairings', live.length ? h('ul', { class: 'plain', id: 'pairing-list' }, live.map((p) => {
      const mine = p.mentor_id === ctx.me.id ? p.mentor_accepted : p.mentee_accepted;
      return h('li', {}, h('div', { class: 'row' },
        h('div', {}, h('a', { href: `#/pairings/${encodeURIComponent(p.pairing_id)}` },
          `Pairing with ${otherName(ctx, p, nameOf)}`), ' ', pairingState(p)),
        p.state === 'proposed' && !mine ? tag('Your answer is needed', 'warn') : null));
    })) : empty('You have no active pairing yet. Your programme admin will propose a match.')));

    const upcoming = [];
    for (const p of pairings.filter((x) => x.state === 'active')) {
      const sessions = await get(`/api/sessions/pairings/${encodeURIComponent(p.pairing_id)}/sessions`);
      for (const s of sessions) if (s.state !== 'cancelled' && new Date(s.ends_at) > new Date()) upcoming.push([p, s]);
    }
    upcoming.sort((a, b) => new Date(a[1].starts_at) - new Date(b[1].starts_at));
    grid.append(section('Upcoming sessions', upcoming.length ? h('ul', { class: 'plain' }, upcoming.map(([p, s]) => {
      const open = new Date(s.room_opens_at) <= new Date();
      return h('li', {}, h('div', { class: 'row' },
        h('div', {}, h('strong', {}, whenRange(s.starts_at, s.ends_at)), ` with ${otherName(ctx, p, nameOf)}`),
        open ? h('a', { class: 'button', href: `#/call/${encodeURIComponent(s.session_id)}` }, 'Join the call')
          : h('span', { class: 'muted' }, `Room opens ${when(s.room_opens_at)}`)));
    })) : empty('No sessions scheduled. Open a pairing to schedule one.')));

    grid.append(section('Raise a concern',
      h('p', {}, 'If something worries you — about behaviour, safety or confidentiality — tell the safeguarding team. You can stay anonymous.'),
      h('div', { class: 'actions' }, h('a', { class: 'button', href: '#/concern' }, 'Report a concern'),
        h('a', { href: '#/concern/follow-up' }, 'Follow up with a receipt'), h('a', { href: '#/concerns' }, 'My reports'))));
  }

  if (ctx.has('admin')) {
    let review = null;
    try {
      const unreviewed = await get('/api/records/disputes/?unreviewed=true&limit=50');
      if (unreviewed.length) {
        review = h('div', { class: 'alert warning', role: 'status' }, h('p', {},
          h('a', { href: '#/admin/disputes' }, `${unreviewed.length} emergency (break-glass) access${unreviewed.length === 1 ? '' : 'es'} awaiting review by another admin`)));
      }
    } catch { /* the list below still leads there */ }
    grid.append(section('Programme administration', review, h('ul', {},
      h('li', {}, h('a', { href: '#/admin/users' }, 'People, invitations, roles and vetting')),
      h('li', {}, h('a', { href: '#/admin/pairings' }, 'Pairings')),
      h('li', {}, h('a', { href: '#/admin/agreements' }, 'Programme agreements')),
      h('li', {}, h('a', { href: '#/admin/disputes' }, 'Disputes and recording access')),
      h('li', {}, h('a', { href: '#/admin/audit' }, 'Audit ledger')),
      h('li', {}, h('a', { href: '#/admin/retention' }, 'Retention settings')))));
  }

  if (ctx.has('safeguarding')) {
    const cases = await get('/api/reports/cases/');
    const open = cases.filter((c) => !['resolved', 'closed'].includes(c.state));
    const urgent = open.filter((c) => c.urgent).length;
    const overdue = open.filter((c) => c.overdue).length;
    grid.append(section('Safeguarding', h('p', {}, `${open.length} open case${open.length === 1 ? '' : 's'}`,
      urgent ? [' · ', tag(`${urgent} urgent`, 'danger')] : null, overdue ? [' · ', tag(`${overdue} overdue`, 'warn')] : null),
      h('a', { class: 'button', href: '#/safeguarding' }, 'Open the reports inbox')));
  }
  clear(box);
}
