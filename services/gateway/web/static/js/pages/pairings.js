// A pairing, seen by one of its members (or an admin): acceptance, sessions, notes, recordings, disputes.
import { h, field, checkbox, when, whenRange, wallInput, zonedToUtc, timeZone, tag, clear, bytes, length, shortId, announce } from '../dom.js';
import { get, post, put, del, ApiError } from '../api.js';
import { page, section, empty, busy, errorBox, showError, confirmDialog, success } from '../ui.js';
import { otherName, otherRole } from './home.js';
import { loadNames } from '../people.js';
import { termSection } from './agreement.js';
import { t, tn } from '../i18n.js';

// Read when asked (not at load): the words follow the language chosen since.
const KIND_WORDS = {
  nhs_number: () => t('pairings.kind.nhs_number'), ca_health_number: () => t('pairings.kind.ca_health_number'),
  uk_postcode: () => t('pairings.kind.uk_postcode'), date_of_birth: () => t('pairings.kind.date_of_birth'),
  phone: () => t('pairings.kind.phone'), email: () => t('pairings.kind.email'), name: () => t('pairings.kind.name'),
};

export function kindWords(kind) {
  return Object.hasOwn(KIND_WORDS, kind) ? KIND_WORDS[kind]() : String(kind).replace(/_/g, ' ');
}

export async function pairingPage(ctx, main, pairingId) {
  const p = await get(`/api/sessions/pairings/${encodeURIComponent(pairingId)}`);
  const member = p.mentor_id === ctx.me.id || p.mentee_id === ctx.me.id;
  const nameOf = await loadNames([p.mentor_id, p.mentee_id]);
  const named = (id) => nameOf(id) || shortId(id);
  if (member) {
    const other = otherName(ctx, p, nameOf);
    page(main, t('pairings.title.member', { other }), other === otherRole(ctx, p) ? null : t('pairings.lead.member', { other, role: otherRole(ctx, p) }));
  } else {
    page(main, t('pairings.title.admin', { mentor: named(p.mentor_id), mentee: named(p.mentee_id) }),
      t('pairings.lead.admin', { mentor: named(p.mentor_id), mentee: named(p.mentee_id) }));
  }
  const box = errorBox();
  main.append(box, statusCard(ctx, p, member, box));
  if (!member) {
    if (ctx.has('admin') && p.state !== 'proposed' && p.state !== 'declined') {
      const sessions = await get(`/api/sessions/pairings/${encodeURIComponent(pairingId)}/sessions`);
      main.append(adminSessionsCard(sessions, await sessionFacts((f) => adminFacts(p, f))));
    }
    return;
  }
  if (p.state === 'proposed' || p.state === 'declined') return;
  const term = termSection(ctx, p, () => window.dispatchEvent(new HashChangeEvent('hashchange')));
  if (term) main.append(term);
  main.append(section(t('pairings.together.title'), h('ul', { class: 'plain' },
    h('li', {}, h('a', { href: `#/pairings/${encodeURIComponent(p.pairing_id)}/agreement` }, t('pairings.together.agreement'))),
    h('li', {}, h('a', { href: `#/pairings/${encodeURIComponent(p.pairing_id)}/reflection` }, t('pairings.together.reflection'))))));
  const sessions = await get(`/api/sessions/pairings/${encodeURIComponent(pairingId)}/sessions`);
  main.append(sessionsCard(ctx, p, sessions, await sessionFacts((f) => memberFacts(p, f))));
  // Each part loads on its own: one service being slow or not yet aware of a new pairing (facts travel
  // between services as events) must not blank the whole page.
  await Promise.all([
    part(main, [t('pairings.notes.title'), t('pairings.notes.unavailable'), t('pairings.notes.failed')], () => notesCard(ctx, p)),
    part(main, [t('pairings.recordings.title'), t('pairings.recordings.unavailable'), t('pairings.recordings.failed')], () => recordingsCard(p)),
    part(main, [t('pairings.disputes.title'), t('pairings.disputes.unavailable'), t('pairings.disputes.failed')], () => disputesCard(p, sessions)),
  ]);
}

/** `words`: the part's title, then what to say when it is not there yet (404) or failed to load. */
async function part(main, [title, unavailable, failed], build) {
  const slot = h('div', { class: 'part' });
  main.append(slot);
  try {
    slot.replaceChildren(await build());
  } catch (err) {
    const retry = h('button', { type: 'button', class: 'secondary' }, t('pairings.retry'));
    retry.addEventListener('click', () => { slot.remove(); window.dispatchEvent(new HashChangeEvent('hashchange')); });
    slot.replaceChildren(section(title, h('p', { class: 'muted' },
      err instanceof ApiError && err.status === 404 ? unavailable : failed), retry));
  }
}

function statusCard(ctx, p, member, box) {
  const card = section(t('pairings.status.title'));
  const mine = p.mentor_id === ctx.me.id ? p.mentor_accepted : p.mentee_accepted;
  const theirs = p.mentor_id === ctx.me.id ? p.mentee_accepted : p.mentor_accepted;
  const stateWords = {
    proposed: member ? (mine ? t('pairings.status.accepted_waiting') : t('pairings.status.proposed_to_you'))
      : t('pairings.status.proposed_admin', {
        mentor: p.mentor_accepted ? t('pairings.status.answer_accepted') : t('pairings.status.answer_none'),
        mentee: p.mentee_accepted ? t('pairings.status.answer_accepted') : t('pairings.status.answer_none') }),
    active: t('pairings.status.active', { when: when(p.activated_at) }),
    declined: t('pairings.status.declined'),
    ended: t('pairings.status.ended', { when: when(p.closed_at) }),
  };
  card.append(h('p', { id: 'pairing-state' }, stateWords[p.state] || p.state));
  const actions = h('div', { class: 'actions' });
  const reload = () => window.dispatchEvent(new HashChangeEvent('hashchange'));
  if (member && p.state === 'proposed' && !mine) {
    const accept = h('button', { type: 'button', id: 'accept-pairing' }, t('pairings.accept.button'));
    const decline = h('button', { type: 'button', class: 'secondary', id: 'decline-pairing' }, t('pairings.decline.button'));
    accept.addEventListener('click', () => busy(accept, box, async () => {
      const out = await post(`/api/sessions/pairings/${encodeURIComponent(p.pairing_id)}/accept`);
      announce(out.state === 'active' ? t('pairings.accept.active') : t('pairings.accept.waiting'));
      reload();
    }));
    decline.addEventListener('click', async () => {
      if (!await confirmDialog(t('pairings.decline.confirm_title'), t('pairings.decline.confirm_text'), t('pairings.decline.confirm_button'))) return;
      busy(decline, box, async () => { await post(`/api/sessions/pairings/${encodeURIComponent(p.pairing_id)}/decline`); reload(); });
    });
    actions.append(accept, decline);
  }
  if (member && p.state === 'proposed' && mine && !theirs) actions.append(tag(t('pairings.status.waiting_tag'), 'warn'));
  if (member && p.state === 'active') {
    const end = h('button', { type: 'button', class: 'danger', id: 'end-pairing' }, t('pairings.end.button'));
    end.addEventListener('click', async () => {
      if (!await confirmDialog(t('pairings.end.confirm_title'), t('pairings.end.confirm_text'), t('pairings.end.confirm_button'), { danger: true })) return;
      busy(end, box, async () => { await post(`/api/sessions/pairings/${encodeURIComponent(p.pairing_id)}/end`); reload(); });
    });
    actions.append(end);
  }
  card.append(actions);
  return card;
}

// What the sessions service cannot say (its sessions are only scheduled or cancelled): whether a
// session's call was recorded, and whether its records are on legal hold (an open dispute). Records
// knows; each page asks it what its reader may see, and shows nothing extra when it cannot answer.
async function sessionFacts(load) {
  const facts = { recorded: new Set(), held: new Set() };
  try { await load(facts); } catch { /* records unavailable: the sessions' own states still show */ }
  return facts;
}

async function memberFacts(p, facts) {
  const [recs, disputes] = await Promise.all([get(`/api/records/recordings/?pairing_id=${encodeURIComponent(p.pairing_id)}`),
    get('/api/records/disputes/mine')]);
  for (const r of recs) if (r.session_id) { facts.recorded.add(r.session_id); if (r.legal_hold) facts.held.add(r.session_id); }
  for (const d of disputes) if (d.pairing_id === p.pairing_id && d.state !== 'closed') facts.held.add(d.session_id);
}

/** Admins see records only through a dispute: its list of the session's records (metadata, not ledgered). */
async function adminFacts(p, facts) {
  const disputes = (await get('/api/records/disputes/?limit=500')).filter((d) => d.pairing_id === p.pairing_id);
  await Promise.all(disputes.map(async (d) => {
    if (d.state !== 'closed') facts.held.add(d.session_id);
    const records = await get(`/api/records/disputes/${encodeURIComponent(d.id)}/records`);
    if (records.some((r) => r.kind === 'recording')) facts.recorded.add(d.session_id);
    if (records.some((r) => r.legal_hold)) facts.held.add(d.session_id);
  }));
}

function factTags(s, facts) {
  return [facts.recorded.has(s.session_id) ? [' ', tag(t('pairings.session.recorded'), 'ok')] : null,
    facts.held.has(s.session_id) ? [' ', tag(t('pairings.session.legal_hold'), 'warn')] : null];
}

function sessionsCard(ctx, p, sessions, facts) {
  const cancelBox = errorBox();
  const card = section(t('pairings.sessions.title'), cancelBox);
  const now = new Date();
  const list = sessions.filter((s) => s.state !== 'cancelled').sort((a, b) => new Date(a.starts_at) - new Date(b.starts_at));
  card.append(list.length ? h('ul', { class: 'plain', id: 'session-list' }, list.map((s) => {
    const open = new Date(s.room_opens_at) <= now && new Date(s.ends_at) > now;
    const past = new Date(s.ends_at) <= now;
    const actions = h('div', { class: 'actions' },
      open && p.state === 'active' ? h('a', { class: 'button', href: `#/call/${encodeURIComponent(s.session_id)}` }, t('pairings.session.join'))
        : tag(past ? t('pairings.session.finished') : t('pairings.session.room_opens', { when: when(s.room_opens_at) })), factTags(s, facts));
    if (s.state === 'scheduled' && !past && p.state === 'active') {
      const cancel = h('button', { type: 'button', class: 'secondary', 'data-session': s.session_id },
        t('pairings.session.cancel'), h('span', { class: 'visually-hidden' }, t('pairings.session.cancel_which', { when: when(s.starts_at) })));
      cancel.addEventListener('click', async () => {
        if (!await confirmDialog(t('pairings.session.cancel_title'), t('pairings.session.cancel_text', { when: when(s.starts_at) }), t('pairings.session.cancel_button'), { danger: true })) return;
        busy(cancel, cancelBox, async () => {
          await post(`/api/sessions/sessions/${encodeURIComponent(s.session_id)}/cancel`);
          announce(t('pairings.session.cancelled'));
          window.dispatchEvent(new HashChangeEvent('hashchange'));
        });
      });
      actions.append(cancel);
    }
    return h('li', {}, h('div', { class: 'row' },
      h('div', {}, h('strong', {}, whenRange(s.starts_at, s.ends_at)), s.agenda ? h('p', { class: 'muted' }, t('pairings.session.agenda', { agenda: s.agenda })) : null),
      actions));
  })) : empty(t('pairings.sessions.none')));
  const cancelled = sessions.filter((s) => s.state === 'cancelled').length;
  if (cancelled) card.append(h('p', { class: 'muted' }, tn('pairings.sessions.cancelled_hidden', cancelled)));
  if (p.state !== 'active') return card;
  // The wall time typed is read in the person's time zone (their account's), not the browser's.
  const start = h('input', { type: 'datetime-local', required: true, value: wallInput(new Date(Date.now() + 5 * 60000)) });
  const minutes = h('input', { type: 'number', min: '15', max: '240', step: '15', value: '60' });
  const agenda = h('textarea', { maxlength: '4000' });
  const box = errorBox();
  const submit = h('button', { type: 'submit' }, t('pairings.schedule.button'));
  const form = h('form', { class: 'narrow' }, h('h3', {}, t('pairings.schedule.title')), box,
    field(t('pairings.schedule.starts'), start, t('pairings.schedule.starts_hint', { zone: timeZone().replace(/_/g, ' ') })),
    field(t('pairings.schedule.minutes'), minutes),
    field(t('pairings.schedule.agenda'), agenda),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const begins = zonedToUtc(start.value);
    if (!begins) { showError(box, t('pairings.schedule.no_start')); return; }
    const ends = new Date(begins.getTime() + Number(minutes.value || 60) * 60000);
    busy(submit, box, async () => {
      await post(`/api/sessions/pairings/${encodeURIComponent(p.pairing_id)}/sessions`,
        { starts_at: begins.toISOString(), ends_at: ends.toISOString(), agenda: agenda.value.trim() || null });
      announce(t('pairings.schedule.done', { when: whenRange(begins, ends) }));
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    });
  });
  card.append(form);
  return card;
}

/** A session's state in a word: cancelled; taken place (recorded); or by the clock, finished, room
 * open or upcoming. Never "scheduled" for a call that has already happened. */
function sessionWord(s, facts) {
  if (s.state === 'cancelled') return t('pairings.session.cancelled_word');
  const now = new Date();
  if (new Date(s.ends_at) <= now) return t('pairings.session.finished');
  if (facts.recorded.has(s.session_id)) return t('pairings.session.took_place');
  return new Date(s.room_opens_at) <= now ? t('pairings.session.room_open') : t('pairings.session.upcoming');
}

/** Admins: the pairing's sessions (no agenda) and opening a dispute about one of them. */
function adminSessionsCard(sessions, facts) {
  const card = section(t('pairings.sessions.title'));
  card.append(sessions.length ? h('ul', { class: 'plain', id: 'session-list' }, sessions.map((s) => h('li', {}, h('div', { class: 'row' },
    h('span', {}, h('strong', {}, whenRange(s.starts_at, s.ends_at))), h('span', {}, tag(sessionWord(s, facts)), factTags(s, facts))))))
    : empty(t('pairings.sessions.none')));
  if (!sessions.length) return card;
  const box = errorBox();
  const which = h('select', { id: 'dispute-session' }, sessions.map((s) => h('option', { value: s.session_id }, `${when(s.starts_at)} (${sessionWord(s, facts)})`)));
  const reason = h('textarea', { required: true, maxlength: '4000' });
  const submit = h('button', { type: 'submit', class: 'secondary' }, t('pairings.admin_dispute.button'));
  const form = h('form', { class: 'narrow' }, h('h3', {}, t('pairings.dispute.open_title')), box,
    h('p', { class: 'muted' }, t('pairings.admin_dispute.text')),
    field(t('pairings.dispute.session'), which), field(t('pairings.admin_dispute.reason'), reason, t('pairings.admin_dispute.reason_hint')),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (reason.value.trim().length < 3) { showError(box, t('pairings.admin_dispute.no_reason')); reason.focus(); return; }
    busy(submit, box, async () => {
      const d = await post('/api/records/disputes/', { session_id: which.value, reason: reason.value.trim() });
      window.location.hash = `#/admin/disputes/${encodeURIComponent(d.id)}`;
    });
  });
  card.append(form);
  return card;
}

/** Save a note; when the service warns about patient identifiers, ask for explicit confirmation. */
function noteEditor(ctx, p, note, onSaved) {
  const box = errorBox();
  const text = h('textarea', { required: true, class: 'note-text' }, note ? note.text : '');
  const visibility = h('select', {}, h('option', { value: 'private' }, t('pairings.note.private_option')),
    h('option', { value: 'pair' }, t('pairings.note.pair_option')));
  visibility.value = note ? note.visibility : 'private';
  const warning = h('div', { class: 'alert warning', role: 'alert', tabindex: '-1', hidden: true });
  const confirm = checkbox(t('pairings.note.confirm'), { id: `confirm-${note ? note.id : 'new'}` });
  const confirmWrap = h('div', { hidden: true }, confirm.el);
  const submit = h('button', { type: 'submit' }, note ? t('pairings.note.save_changes') : t('pairings.note.save'));
  const form = h('form', { class: 'note-editor' }, box,
    field(note ? t('pairings.note.label') : t('pairings.note.new_label'), text, t('pairings.note.hint')),
    field(t('pairings.note.visibility'), visibility), warning, confirmWrap, h('div', { class: 'actions' }, submit));
  // The text the service warned about (null: no warning standing). The tick confirms that text only:
  // editing it withdraws the warning, and the next save lets the service decide again.
  let warnedText = null;
  text.addEventListener('input', () => {
    if (warnedText === null || text.value === warnedText) return;
    warnedText = null;
    confirm.input.checked = false;
    warning.hidden = true;
    confirmWrap.hidden = true;
    clear(box);
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!text.value.trim()) { showError(box, t('pairings.note.empty')); return; }
    const warned = warnedText !== null && text.value === warnedText;
    if (warned && !confirm.input.checked) {
      showError(box, t('pairings.note.confirm_needed'));
      return;
    }
    busy(submit, box, async () => {
      const body = { text: text.value, visibility: visibility.value, confirm_identifiers: warned && confirm.input.checked };
      try {
        if (note) await put(`/api/records/notes/${encodeURIComponent(note.id)}`, { ...body, expected_version: note.version });
        else await post('/api/records/notes/', { pairing_id: p.pairing_id, ...body });
      } catch (err) {
        if (err instanceof ApiError && err.status === 422 && Array.isArray(err.body.findings)) {
          warnedText = body.text;
          confirm.input.checked = false;
          const kinds = [...new Set(err.body.findings.map((f) => f.kind))];
          clear(warning);
          warning.append(h('p', {}, h('strong', {}, t('pairings.note.may_identify'))),
            h('p', {}, t('pairings.note.contains', { kinds: kinds.map(kindWords).join(', ') })),
            h('p', {}, t('pairings.note.warning_advice')));
          warning.hidden = false;
          confirmWrap.hidden = false;
          warning.focus();
          return;
        }
        throw err;
      }
      onSaved();
    });
  });
  return form;
}

async function notesCard(ctx, p) {
  const nameOf = await loadNames([p.mentor_id, p.mentee_id]);
  const card = section(t('pairings.notes.title'));
  card.append(h('p', { class: 'muted' }, t('pairings.notes.intro')));
  const reload = () => window.dispatchEvent(new HashChangeEvent('hashchange'));
  const summaries = await get(`/api/records/notes/?pairing_id=${encodeURIComponent(p.pairing_id)}`);
  const list = h('ul', { class: 'plain', id: 'note-list' });
  for (const s of summaries) {
    const note = await get(`/api/records/notes/${encodeURIComponent(s.id)}`);
    const mine = note.author_id === ctx.me.id;
    const li = h('li', { class: 'note' });
    const body = h('p', { class: 'note-body' }, note.text);
    const meta = h('p', { class: 'muted' }, mine ? t('pairings.note.you') : (nameOf(note.author_id) || (p.mentor_id === note.author_id ? t('pairings.note.your_mentor') : t('pairings.note.your_mentee'))),
      ` · ${when(note.updated_at)} · `, note.visibility === 'pair' ? tag(t('pairings.note.shared')) : tag(t('pairings.note.private')),
      note.legal_hold ? [' ', tag(t('pairings.on_hold'), 'warn')] : null);
    li.append(meta, body);
    if (mine && p.state === 'active') {
      const edit = h('button', { type: 'button', class: 'secondary' }, t('pairings.note.edit'));
      const remove = h('button', { type: 'button', class: 'secondary' }, t('pairings.note.delete'));
      const box = errorBox();
      edit.addEventListener('click', () => {
        const editor = noteEditor(ctx, p, note, reload);
        li.replaceChildren(meta, editor);
        editor.querySelector('textarea').focus();
      });
      remove.addEventListener('click', async () => {
        if (!await confirmDialog(t('pairings.note.delete_title'), t('pairings.note.delete_text'), t('pairings.note.delete_button'), { danger: true })) return;
        busy(remove, box, async () => { await del(`/api/records/notes/${encodeURIComponent(note.id)}`); reload(); });
      });
      li.append(box, h('div', { class: 'actions' }, edit, remove));
    }
    list.append(li);
  }
  card.append(summaries.length ? list : empty(t('pairings.notes.none')));
  if (p.state === 'active') card.append(h('h3', {}, t('pairings.notes.write')), noteEditor(ctx, p, null, reload));
  return card;
}

async function recordingsCard(p) {
  const card = section(t('pairings.recordings.title'));
  const recs = await get(`/api/records/recordings/?pairing_id=${encodeURIComponent(p.pairing_id)}`);
  card.append(recs.length ? h('ul', { class: 'plain', id: 'recording-list' }, recs.map((r) => h('li', {}, h('div', { class: 'row' },
    h('div', {}, h('a', { href: `#/recordings/${encodeURIComponent(r.id)}` }, t('pairings.recording.of', { when: when(r.captured_at || r.created_at) })),
      h('span', { class: 'muted' }, ` · ${[length(r.duration_s), bytes(r.size)].filter(Boolean).join(' · ')}`), r.legal_hold ? [' ', tag(t('pairings.on_hold'), 'warn')] : null),
    r.retain_until ? h('span', { class: 'muted' }, t('pairings.recording.kept_until', { when: when(r.retain_until) })) : null))))
    : empty(t('pairings.recordings.none')));
  return card;
}

const MEMBER_DISPUTE_WORDS = { open: () => t('pairings.dispute.state.open'), pending: () => t('pairings.dispute.state.pending'),
  approved: () => t('pairings.dispute.state.approved'), rejected: () => t('pairings.dispute.state.rejected'),
  break_glass: () => t('pairings.dispute.state.break_glass'), closed: () => t('pairings.dispute.state.closed') };

async function disputesCard(p, sessions) {
  const card = section(t('pairings.disputes.title'));
  const mine = (await get('/api/records/disputes/mine')).filter((d) => d.pairing_id === p.pairing_id);
  card.append(h('p', { class: 'muted' }, t('pairings.disputes.intro')));
  if (mine.length) {
    card.append(h('ul', { class: 'plain' }, mine.map((d) => h('li', {},
      h('p', {}, t('pairings.dispute.about', { id: shortId(d.id), when: when((sessions.find((s) => s.session_id === d.session_id) || {}).starts_at) }),
        tag(Object.hasOwn(MEMBER_DISPUTE_WORDS, d.state) ? MEMBER_DISPUTE_WORDS[d.state]() : d.state),
        d.outcome ? t('pairings.dispute.outcome', { outcome: d.outcome.replace(/_/g, ' ') }) : null),
      (d.accesses || []).length ? h('ul', {}, d.accesses.map((a) => {
        const said = { when: when(a.at), who: a.accessor_role === 'admin' ? t('pairings.dispute.admin') : a.accessor_role };
        return h('li', {}, a.break_glass ? t('pairings.dispute.accessed_emergency', said) : t('pairings.dispute.accessed', said));
      })) : null))));
  }
  const past = sessions.filter((s) => s.state !== 'cancelled');
  if (!past.length) return card;
  const box = errorBox();
  const which = h('select', {}, past.map((s) => h('option', { value: s.session_id }, when(s.starts_at))));
  const reason = h('textarea', { required: true, maxlength: '2000' });
  const submit = h('button', { type: 'submit', class: 'secondary' }, t('pairings.dispute.open_title'));
  const form = h('form', { class: 'narrow' }, h('h3', {}, t('pairings.dispute.open_title')), box, field(t('pairings.dispute.session'), which),
    field(t('pairings.dispute.reason'), reason, t('pairings.dispute.reason_hint')), h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!reason.value.trim()) { showError(box, t('pairings.dispute.no_reason')); return; }
    busy(submit, box, async () => {
      await post('/api/records/disputes/', { session_id: which.value, reason: reason.value.trim() });
      form.replaceWith(success(t('pairings.dispute.opened')));
    });
  });
  card.append(form);
  return card;
}

export async function recordingPage(ctx, main, recordId) {
  const r = await get(`/api/records/recordings/${encodeURIComponent(recordId)}`);
  page(main, t('pairings.recording.of', { when: when(r.captured_at || r.created_at) }));
  const video = h('video', { class: 'playback', controls: true, preload: 'metadata', id: 'playback',
    src: `/api/records/recordings/${encodeURIComponent(r.id)}/content` });
  video.append(h('p', {}, t('pairings.recording.cannot_play')));
  main.append(h('div', { class: 'card' }, video,
    h('p', { class: 'muted' }, t('pairings.recording.facts', { facts: [length(r.duration_s), bytes(r.size)].filter(Boolean).join(' · '), when: when(r.retain_until) }),
      r.legal_hold ? [' · ', tag(t('pairings.on_hold'), 'warn')] : null),
    h('p', {}, h('a', { href: `#/pairings/${encodeURIComponent(r.pairing_id)}` }, t('pairings.recording.back')))));
  const evidence = Array.isArray(r.consent_evidence) ? r.consent_evidence : [];
  if (evidence.length) {
    main.append(section(t('pairings.consent.title'), h('p', { class: 'muted' }, t('pairings.consent.text')),
      h('ul', {}, evidence.map((e) => h('li', {}, e.actor === ctx.me.id ? t('pairings.consent.step_you', { when: when(e.at), kind: e.kind })
        : t('pairings.consent.step', { when: when(e.at), kind: e.kind }))))));
  }
  return () => { video.pause(); video.removeAttribute('src'); video.load(); };
}
