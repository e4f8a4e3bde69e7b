// Programme admins: agreements, pairings, disputes, audit, retention (people and roles: people_admin.js).
import { h, field, checkbox, when, compactWhen, dayStart, timeZone, tag, shortId, clear, bytes } from '../dom.js';
import { get, post } from '../api.js';
import { page, section, empty, busy, errorBox, showError, success, confirmDialog } from '../ui.js';
import { loadNames } from '../people.js';

const reload = () => window.dispatchEvent(new HashChangeEvent('hashchange'));

export { usersPage, userPage } from './people_admin.js';

export async function agreementsAdminPage(ctx, main) {
  page(main, 'Programme agreements', 'Publishing a new version asks everyone to accept it again.');
  const current = await get('/agreements');
  main.append(section('Current versions', current.length ? h('ul', { class: 'plain' }, current.map((a) => h('li', {},
    h('strong', {}, a.title), ` · ${a.kind.replace(/_/g, ' ')} · version ${a.version} · published ${when(a.published_at)}`)))
    : empty('No agreements published yet.')));
  const box = errorBox();
  const kind = h('select', {}, h('option', { value: 'code_of_practice' }, 'Code of practice'), h('option', { value: 'confidentiality' }, 'Confidentiality agreement'));
  const title = h('input', { type: 'text', required: true });
  const body = h('textarea', { required: true });
  const submit = h('button', { type: 'submit' }, 'Publish');
  const form = h('form', {}, box, field('Kind', kind), field('Title', title), field('Text', body), h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!title.value.trim() || !body.value.trim()) { showError(box, 'Enter a title and the text.'); return; }
    busy(submit, box, async () => { await post('/admin/agreements', { kind: kind.value, title: title.value.trim(), body: body.value }); reload(); });
  });
  main.append(section('Publish a new version', form));
}

export async function pairingsAdminPage(ctx, main) {
  page(main, 'Pairings', 'Propose a mentor and a mentee. Both must accept before the pairing starts.');
  const [pairings, users] = await Promise.all([get('/api/sessions/pairings/'), get('/admin/users')]);
  const byId = Object.fromEntries(users.map((u) => [u.id, u]));
  const nameOf = (id) => (byId[id] ? byId[id].display_name : shortId(id));
  const box = errorBox();
  const mentors = users.filter((u) => u.roles.includes('mentor') && u.status !== 'suspended');
  const mentees = users.filter((u) => u.roles.includes('mentee') && u.status !== 'suspended');
  const mentor = h('select', { id: 'propose-mentor' }, mentors.map((u) => h('option', { value: u.id }, `${u.display_name}${u.vetted ? '' : ' (not vetted)'}`)));
  const mentee = h('select', { id: 'propose-mentee' }, mentees.map((u) => h('option', { value: u.id }, u.display_name)));
  const submit = h('button', { type: 'submit' }, 'Propose the match');
  const form = h('form', { class: 'narrow' }, box, field('Mentor', mentor), field('Mentee', mentee), h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!mentor.value || !mentee.value) { showError(box, 'Choose a mentor and a mentee.'); return; }
    busy(submit, box, async () => { await post('/api/sessions/pairings/', { mentor_id: mentor.value, mentee_id: mentee.value }); reload(); });
  });
  main.append(section('Propose a match', form));
  main.append(section('All pairings', pairings.length ? h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'All pairings (table)' }, h('table', { id: 'pairings' },
    h('thead', {}, h('tr', {}, ['Mentor', 'Mentee', 'State', 'Proposed', ''].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, pairings.map((p) => h('tr', {}, h('td', {}, nameOf(p.mentor_id), p.mentor_accepted ? ' ✓' : ''),
      h('td', {}, nameOf(p.mentee_id), p.mentee_accepted ? ' ✓' : ''), h('td', {}, PAIRING_WORDS[p.state] || p.state), h('td', {}, when(p.created_at)),
      h('td', {}, h('a', { href: `#/pairings/${encodeURIComponent(p.pairing_id)}` }, 'Open',
        h('span', { class: 'visually-hidden' }, ` the pairing of ${nameOf(p.mentor_id)} and ${nameOf(p.mentee_id)}`))))))))
    : empty('No pairings yet.')));
}

const PAIRING_WORDS = { proposed: 'Waiting for acceptance', active: 'Active', declined: 'Declined', ended: 'Ended' };
const DISPUTE_WORDS = { open: 'Open', pending: 'Access requested', approved: 'Access approved', rejected: 'Access rejected', break_glass: 'Emergency access', closed: 'Closed' };

export async function disputesPage(ctx, main) {
  page(main, 'Disputes', 'Recordings and notes are reachable only through a dispute: a second admin approves access for a limited time, and every access is logged and told to the pair.');
  const [disputes, pairings] = await Promise.all([get('/api/records/disputes/'), get('/api/sessions/pairings/').catch(() => [])]);
  const pairOf = Object.fromEntries(pairings.map((p) => [p.pairing_id, p]));
  const nameOf = await loadNames(pairings.flatMap((p) => [p.mentor_id, p.mentee_id]).concat(disputes.map((d) => d.opened_by)));
  const who = (id) => nameOf(id) || shortId(id);
  const about = (d) => (pairOf[d.pairing_id] ? ` about ${who(pairOf[d.pairing_id].mentor_id)} and ${who(pairOf[d.pairing_id].mentee_id)}` : '');
  const unreviewed = disputes.filter((d) => d.break_glass_unreviewed).length;
  if (unreviewed) {
    main.append(h('div', { class: 'alert warning', role: 'status' }, h('p', {}, h('strong', {}, `${unreviewed} emergency (break-glass) access${unreviewed === 1 ? '' : 'es'} need${unreviewed === 1 ? 's' : ''} review by another admin.`))));
  }
  disputes.sort((a, b) => Number(b.break_glass_unreviewed) - Number(a.break_glass_unreviewed));
  main.append(h('p', {}, 'To open a dispute as an admin, open the pairing from ', h('a', { href: '#/admin/pairings' }, 'Pairings'), ' and choose the session.'));
  main.append(h('div', { class: 'card' }, disputes.length ? h('ul', { class: 'plain', id: 'disputes' }, disputes.map((d) => h('li', {}, h('div', { class: 'row' },
    h('a', { href: `#/admin/disputes/${encodeURIComponent(d.id)}` }, `Dispute ${shortId(d.id)}${about(d)} · opened ${when(d.opened_at)} by ${d.opened_by_role === 'admin' ? who(d.opened_by) : `the ${d.opened_by_role}`}`),
    h('span', {}, tag(DISPUTE_WORDS[d.state] || d.state, d.state === 'closed' ? 'neutral' : 'warn'), d.break_glass_unreviewed ? [' ', tag('Needs review', 'danger')] : null)))))
    : empty('No disputes.')));
}

const ACTION_WORDS = { open: 'opened', request_access: 'access requested', approve: 'access approved', reject: 'access refused',
  close: 'closed', break_glass: 'emergency access used', review: 'emergency access reviewed' };

export async function disputePage(ctx, main, disputeId) {
  const base = `/api/records/disputes/${encodeURIComponent(disputeId)}`;
  const [d, records, users] = await Promise.all([get(base), get(`${base}/records`), get('/admin/users?role=admin')]);
  const pairing = await get(`/api/sessions/pairings/${encodeURIComponent(d.pairing_id)}`).catch(() => null);
  const known = await loadNames([d.opened_by, ...(pairing ? [pairing.mentor_id, pairing.mentee_id] : [])]);
  const nameOf = (id) => { const u = users.find((x) => x.id === id); return u ? u.display_name : (known(id) || shortId(id)); };
  page(main, `Dispute ${shortId(d.id)}`, `${DISPUTE_WORDS[d.state] || d.state} · opened ${when(d.opened_at)} by ${d.opened_by === ctx.me.id ? 'you' : `${nameOf(d.opened_by)} (${d.opened_by_role})`}`);
  if (pairing) {
    main.append(h('p', {}, `About a session of ${nameOf(pairing.mentor_id)} (mentor) and ${nameOf(pairing.mentee_id)} (mentee). `,
      h('a', { href: `#/pairings/${encodeURIComponent(pairing.pairing_id)}` }, 'Open the pairing')));
  }
  const box = errorBox();
  main.append(box);

  main.append(section('History', h('ol', {}, d.transitions.map((t) => h('li', {}, `${when(t.at)}: ${ACTION_WORDS[t.action] || t.action.replace(/_/g, ' ')}${t.detail ? ` (${t.detail.replace(/_/g, ' ')})` : ''} by ${t.actor_id === ctx.me.id ? 'you' : users.some((u) => u.id === t.actor_id) ? nameOf(t.actor_id) : `a ${t.actor_role}`}`,
    t.reason ? h('span', { class: 'muted' }, ` — “${t.reason}”`) : null)))));

  if (d.pending_request) {
    const pr = d.pending_request;
    const card = section('Access request', h('p', {}, `${nameOf(pr.requested_by)} asked on ${when(pr.requested_at)} for ${pr.admin_ids.map(nameOf).join(', ')} to read ${pr.record_ids.length} record(s) for ${pr.window_hours} hours.`));
    if (pr.requested_by === ctx.me.id || d.opened_by === ctx.me.id || pr.admin_ids.includes(ctx.me.id)) {
      card.append(h('p', { class: 'muted' }, 'Another admin must decide: not whoever opened the dispute, asked for access or would receive it (four-eyes rule).'));
    } else {
      const reason = h('textarea', { required: true });
      const approve = h('button', { type: 'button' }, 'Approve access');
      const reject = h('button', { type: 'button', class: 'secondary' }, 'Reject');
      for (const [b, action] of [[approve, 'approve'], [reject, 'reject']]) {
        b.addEventListener('click', () => {
          if (reason.value.trim().length < 3) { showError(box, 'Give a reason for your decision.'); reason.focus(); return; }
          busy(b, box, async () => { await post(`${base}/${action}`, { reason: reason.value.trim() }); reload(); });
        });
      }
      card.append(field('Reason for your decision', reason), h('div', { class: 'actions' }, approve, reject));
    }
    main.append(card);
  }

  // Records of the session, and playback inside the granted window only.
  const player = h('div');
  main.append(section('Records of the session', records.length ? h('ul', { class: 'plain', id: 'dispute-records' }, records.map((r) => {
    const open = r.readable_until && new Date(r.readable_until) > new Date();
    const li = h('li', {}, h('div', { class: 'row' }, h('span', {}, `${r.kind} ${shortId(r.id)}${r.size ? ` · ${bytes(r.size)}` : ''}`,
      r.legal_hold ? [' ', tag('Legal hold', 'warn')] : null),
      open ? h('span', { class: 'muted' }, `You may read it until ${when(r.readable_until)}`) : tag('No access', 'neutral')));
    if (open && r.kind === 'recording') {
      const play = h('button', { type: 'button' }, 'Play (this is logged and the pair is told)');
      play.addEventListener('click', () => {
        clear(player);
        player.append(h('video', { class: 'playback', controls: true, autoplay: true, src: `${base}/records/${encodeURIComponent(r.id)}/content` }));
      });
      li.append(h('div', { class: 'actions' }, play));
    }
    return li;
  })) : empty('No records for this session.'),
  h('p', { class: 'muted' }, 'Legal hold: while this dispute (or another about the same session) is open, its records are kept past their retention date and cannot be erased. Closing the last open dispute lifts the hold.'),
  player));

  if (d.state === 'break_glass') {
    const glass = [...d.transitions].reverse().find((t) => t.action === 'break_glass');
    const glassBy = glass ? glass.actor_id : null;
    const card = section('Emergency access: review needed', h('p', {}, glassBy === ctx.me.id
      ? 'You used emergency (break-glass) access. Another admin must review it before the dispute can go on or close.'
      : `${glassBy ? nameOf(glassBy) : 'An admin'} used emergency (break-glass) access${glass ? ` on ${when(glass.at)}` : ''}. Review whether it was justified: “unjustified” ends the emergency access at once.`));
    if (glassBy !== ctx.me.id) {
      const verdict = h('select', { id: 'review-verdict' }, h('option', { value: 'justified' }, 'Justified'), h('option', { value: 'unjustified' }, 'Unjustified: end the access now'));
      const reason = h('textarea', { required: true, maxlength: '4000' });
      const submit = h('button', { type: 'submit' }, 'Record the review');
      const form = h('form', { class: 'narrow' }, field('Verdict', verdict), field('Reason for the verdict', reason), h('div', { class: 'actions' }, submit));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        if (reason.value.trim().length < 3) { showError(box, 'Give a reason for the verdict.'); reason.focus(); return; }
        busy(submit, box, async () => { await post(`${base}/review`, { verdict: verdict.value, reason: reason.value.trim() }); reload(); });
      });
      card.append(form);
    }
    main.append(card);
  }

  if (['open', 'pending', 'rejected', 'approved'].includes(d.state) && records.length) {
    const which = records.map((r) => ({ id: r.id, ...checkbox(`${r.kind} ${shortId(r.id)}`, { checked: true }) }));
    const reason = h('textarea', { required: true, maxlength: '4000' });
    const submit = h('button', { type: 'submit', class: 'danger' }, 'Use emergency access');
    const form = h('form', {}, h('fieldset', {}, h('legend', {}, 'Records you need now'), which.map((x) => x.el)),
      field('What is the emergency?', reason, 'Only for someone’s safety. Sealed in the audit ledger.'), h('div', { class: 'actions' }, submit));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const recordIds = which.filter((x) => x.input.checked).map((x) => x.id);
      if (!recordIds.length || reason.value.trim().length < 3) { showError(box, 'Choose the records and say what the emergency is.'); return; }
      if (!await confirmDialog('Use emergency access?', 'You alone can read the chosen records at once, for a few hours. The pair and every other admin are told, and another admin must review this afterwards.', 'Use emergency access', { danger: true })) return;
      busy(submit, box, async () => { await post(`${base}/break-glass`, { record_ids: recordIds, reason: reason.value.trim() }); reload(); });
    });
    main.append(h('details', { class: 'card' }, h('summary', {}, 'Emergency access (break-glass)'),
      h('p', { class: 'muted' }, 'For a safety emergency only, when waiting for a second admin could cause harm.'), form));
  }

  if (['open', 'rejected', 'approved'].includes(d.state) && records.length) {
    const admins = users.filter((u) => u.status === 'active');
    const who = admins.map((u) => ({ id: u.id, ...checkbox(u.id === ctx.me.id ? `${u.display_name} (you)` : u.display_name, { checked: u.id === ctx.me.id }) }));
    const which = records.map((r) => ({ id: r.id, ...checkbox(`${r.kind} ${shortId(r.id)}`, { checked: true }) }));
    const hours = h('input', { type: 'number', min: '1', max: '168', value: '24' });
    const reason = h('textarea', { required: true });
    const submit = h('button', { type: 'submit' }, 'Request access');
    const form = h('form', {}, h('fieldset', {}, h('legend', {}, 'Who may read'), who.map((x) => x.el)),
      h('fieldset', {}, h('legend', {}, 'Which records'), which.map((x) => x.el)),
      field('For how many hours', hours, 'At most 7 days (168 hours).'), field('Why is access necessary?', reason), h('div', { class: 'actions' }, submit));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const adminIds = who.filter((x) => x.input.checked).map((x) => x.id);
      const recordIds = which.filter((x) => x.input.checked).map((x) => x.id);
      if (!adminIds.length || !recordIds.length || reason.value.trim().length < 3) { showError(box, 'Choose who may read which records, and give a reason.'); return; }
      busy(submit, box, async () => {
        await post(`${base}/request-access`, { admin_ids: adminIds, record_ids: recordIds, reason: reason.value.trim(), window_hours: Number(hours.value) });
        reload();
      });
    });
    main.append(section('Ask for access', h('p', { class: 'muted' }, 'Another admin must approve the request.'), form));
  }

  if (d.state !== 'closed' && d.state !== 'break_glass') {
    const outcome = h('select', {}, [['upheld', 'Upheld'], ['not_upheld', 'Not upheld'], ['resolved', 'Resolved'], ['withdrawn', 'Withdrawn']].map(([v, t]) => h('option', { value: v }, t)));
    const reason = h('textarea', { required: true });
    const submit = h('button', { type: 'submit', class: 'secondary' }, 'Close the dispute');
    const form = h('form', { class: 'narrow' }, field('Outcome', outcome), field('Reason', reason), h('div', { class: 'actions' }, submit));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (reason.value.trim().length < 3) { showError(box, 'Give a reason for closing.'); return; }
      busy(submit, box, async () => { await post(`${base}/close`, { outcome: outcome.value, reason: reason.value.trim() }); reload(); });
    });
    main.append(section('Close', h('p', { class: 'muted' }, 'Closing lifts the hold; records past their retention date are then deleted.'), form));
  }
  if (d.accesses.length) {
    main.append(section('Access log', h('ul', {}, d.accesses.map((a) => h('li', {}, `${when(a.at)}: ${nameOf(a.admin_id)} read ${shortId(a.record_id)} bytes ${a.range_start}–${a.range_end}${a.break_glass ? ' (emergency)' : ''}`)))));
  }
}

// The ledger's own searches: every search (this page's included) is an entry, so they are hidden
// unless asked for, or they would bury everything else at the top.
const LEDGER_SEARCH = 'audit.search';
const PAGE_SIZES = [10, 25, 50, 100];

export async function auditPage(ctx, main) {
  page(main, 'Audit ledger', 'Search who did what and when. Content is never stored here. You see the entries your role is an audience of, each field as the audit catalogue allows. Every search is itself recorded.');
  const box = errorBox();
  const actor = h('input', { type: 'text', autocomplete: 'off' });
  const target = h('input', { type: 'text', autocomplete: 'off' });
  const action = h('input', { type: 'text', autocomplete: 'off', list: 'audit-actions' });
  const since = h('input', { type: 'date' });
  const until = h('input', { type: 'date' });
  const size = h('select', {}, PAGE_SIZES.map((n) => h('option', { value: String(n), selected: n === 50 }, String(n))));
  size.value = '50';
  const searches = checkbox('Show searches of the ledger (audit.search)', { id: 'audit-show-searches' });
  const submit = h('button', { type: 'submit' }, 'Search');
  const status = h('p', { class: 'muted', id: 'audit-status', role: 'status' });
  const table = h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Search results' });
  const newest = h('button', { type: 'button', class: 'secondary', id: 'audit-newest', disabled: true }, 'Newest');
  const newer = h('button', { type: 'button', class: 'secondary', id: 'audit-newer', disabled: true }, 'Newer');
  const older = h('button', { type: 'button', class: 'secondary', id: 'audit-older', disabled: true }, 'Older');
  const pager = h('nav', { class: 'actions pager', 'aria-label': 'Pages of results' }, newest, newer, older);
  const actions = h('datalist', { id: 'audit-actions' }, ['auth.login', 'user.create', 'user.roles_change', 'pairing.propose',
    'dispute.open', 'dispute.approve', 'dispute.record.read', LEDGER_SEARCH].map((a) => h('option', { value: a })));
  const form = h('form', { class: 'grid audit-filters' }, field('Actor (user id or e-mail)', actor), field('Target', target),
    field('Action (for example auth.login)', action), field('From (date)', since, 'Days in your time zone.'), field('To (date, included)', until),
    field('Entries per page', size), h('div', { class: 'field' }, searches.el), h('div', { class: 'actions' }, submit));
  // Pages are reached by `before_seq`: the first page has none; `starts` holds the way back.
  let starts = [null];
  let next = null;

  const query = (before) => {
    const q = new URLSearchParams();
    if (actor.value.trim()) q.set('actor', actor.value.trim());
    if (target.value.trim()) q.set('target', target.value.trim());
    if (action.value.trim()) q.set('action', action.value.trim());
    // Days are the person's: from the start of the first to the start of the day after the last, in their zone.
    if (since.value) q.set('since', dayStart(since.value).toISOString());
    if (until.value) q.set('until', dayStart(until.value, 1).toISOString());
    if (!searches.input.checked && action.value.trim() !== LEDGER_SEARCH) q.append('exclude_action', LEDGER_SEARCH);
    if (before) q.set('before_seq', String(before));
    q.set('limit', size.value);
    return q;
  };

  const show = async () => {
    const result = await get(`/api/records/audit/entries?${query(starts[starts.length - 1])}`);
    next = result.next_before_seq;
    // Names are looked up only for actors the server shows in clear: never for pseudonyms or withheld ones.
    const nameOf = await loadNames(result.entries.filter((e) => e.actor_view === 'clear' && /^[0-9a-f]{32}$/.test(e.actor || '')).map((e) => e.actor));
    const shown = { withheld: '(not shown to your role)', protected: '(protected)' };
    // Ids shortened to their first 8 characters to keep rows on one line; the whole value is the tooltip.
    const short = (value) => {
      const text = String(value || '').replace(/[0-9a-f]{32,}/g, (id) => `${id.slice(0, 8)}…`);
      return text === (value || '') ? text : h('span', { title: value }, text);
    };
    const valueText = (value, view) => (view in shown ? shown[view] : view === 'pseudonym' ? `pseudonym ${value}` : short(value));
    const actorText = (e) => {
      if (e.actor_view !== 'clear') return valueText(e.actor, e.actor_view);
      const name = e.actor && nameOf(e.actor);
      return name ? `${name} (${e.actor.slice(0, 8)}…)` : short(e.actor);
    };
    const reasonText = (e) => ({ clear: e.reason || '', withheld: '(sealed)', unreadable: '(unreadable)' })[e.reason_view] || '';
    const actionText = (e) => (e.problem ? `${e.action} (not in the audit catalogue: hidden from every reader)` : e.action);
    clear(table);
    table.append(result.entries.length ? h('table', { id: 'audit', class: 'compact' },
      h('caption', { class: 'visually-hidden' }, 'Audit ledger entries, newest first'),
      h('thead', {}, h('tr', {}, [`When (${timeZone().replace(/_/g, ' ')})`, 'Actor', 'Action', 'Target', 'Outcome', 'Reason'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, result.entries.map((e) => h('tr', {}, h('td', { class: 'nowrap' }, compactWhen(e.occurred_at)), h('td', {}, actorText(e)),
        h('td', {}, h('code', {}, actionText(e))), h('td', {}, valueText(e.target, e.target_view)), h('td', {}, e.outcome || ''), h('td', {}, reasonText(e))))))
      : empty('Nothing matches.'));
    const first = (starts.length - 1) * Number(size.value) + 1;
    status.textContent = result.entries.length
      ? `Page ${starts.length}: entries ${first}–${first + result.entries.length - 1}, newest first.${searches.input.checked ? '' : ' Searches of the ledger are hidden.'}`
      : `Page ${starts.length}: no entries.`;
  };
  // After busy() has given its button back: only then may the pager's own buttons be switched off.
  const pagerState = () => {
    newest.disabled = starts.length === 1;
    newer.disabled = starts.length === 1;
    older.disabled = next === null;
  };

  const go = async (button, move) => { await busy(button, box, async () => { move(); await show(); }); pagerState(); };
  form.addEventListener('submit', (e) => { e.preventDefault(); go(submit, () => { starts = [null]; }); });
  for (const control of [searches.input, size]) control.addEventListener('change', () => go(null, () => { starts = [null]; }));
  older.addEventListener('click', () => go(older, () => { if (next !== null) starts.push(next); }));
  newer.addEventListener('click', () => go(newer, () => { if (starts.length > 1) starts.pop(); }));
  newest.addEventListener('click', () => go(newest, () => { starts = [null]; }));
  main.append(h('div', { class: 'card' }, box, form, actions), status, table, pager);
  await busy(null, box, show);
  pagerState();
}

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

export async function retentionPage(ctx, main) {
  page(main, 'Retention', 'How long Tandem keeps things. These are set by your operators (read-only here).');
  let policy = null;
  try {
    policy = await get('/api/records/retention/policy');
  } catch { /* an older records service: show the defaults */ }
  const live = Boolean(policy);
  const p = policy || { recording_retention_days: 90, note_retention_days: 365, sweep_interval_s: 300, lifecycle_backstop_days: 0,
    dispute_window_hours: 24, dispute_max_window_hours: 168, dispute_break_glass_hours: 4 };
  const rows = [
    ['Recordings', `${plural(p.recording_retention_days, 'day')} from capture`, 'RECORDS_RECORDING_RETENTION_DAYS'],
    ['Notes', `while the pairing is active, then ${plural(p.note_retention_days, 'day')}`, 'RECORDS_NOTE_RETENTION_DAYS'],
    ['Expiry sweep', p.sweep_interval_s > 0 ? `every ${plural(Math.round(p.sweep_interval_s / 60), 'minute')}` : 'off (run by the operators’ schedule)', 'RECORDS_SWEEP_INTERVAL_S'],
    ['Storage backstop', p.lifecycle_backstop_days > 0 ? `objects older than ${plural(p.lifecycle_backstop_days, 'day')} are removed by the storage itself` : 'none', 'RECORDS_LIFECYCLE_BACKSTOP_DAYS'],
    ['Dispute access window', `${plural(p.dispute_window_hours, 'hour')} by default, at most ${plural(p.dispute_max_window_hours, 'hour')}`, 'RECORDS_DISPUTE_WINDOW_HOURS, _MAX_WINDOW_HOURS'],
    ['Emergency (break-glass) access', plural(p.dispute_break_glass_hours, 'hour'), 'RECORDS_DISPUTE_BREAK_GLASS_HOURS'],
  ];
  main.append(section('Notes and recordings', live ? tag('Live values', 'ok') : tag('Defaults: live values unavailable', 'warn'),
    h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Retention settings (table)' }, h('table', { id: 'retention' },
      h('caption', { class: 'visually-hidden' }, 'Retention settings'),
      h('thead', {}, h('tr', {}, ['What', 'Kept / applies', 'Setting'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows.map(([what, kept, setting]) => h('tr', {}, h('th', { scope: 'row' }, what), h('td', {}, kept), h('td', {}, h('code', {}, setting)))))))),
  section('Concern reports', h('p', {}, 'Closed concern reports: 2 years by default (REPORTS_RETENTION_DAYS). Only safeguarding officers see reports, so their live value is not shown here.')),
  section('Holds and erasure', h('ul', {},
    h('li', {}, 'Anything under a legal hold (an open dispute, or a case a safeguarding officer holds) is kept until the hold is lifted.'),
    h('li', {}, 'Expired items are destroyed by deleting their keys (crypto-shredding); a signed erasure receipt is kept.'))));
}
