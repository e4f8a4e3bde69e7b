// A pairing, seen by one of its members (or an admin): acceptance, sessions, notes, recordings, disputes.
import { h, field, checkbox, when, whenRange, wallInput, zonedToUtc, timeZone, tag, clear, bytes, length, shortId, announce } from '../dom.js';
import { get, post, put, del, ApiError } from '../api.js';
import { page, section, empty, busy, errorBox, showError, confirmDialog, success } from '../ui.js';
import { otherName, otherRole } from './home.js';
import { loadNames } from '../people.js';
import { termSection } from './agreement.js';

const KIND_WORDS = {
  nhs_number: 'an NHS number', ca_health_number: 'a Canadian health card number', uk_postcode: 'a full postcode',
  date_of_birth: 'a date of birth', phone: 'a phone number', email: 'an e-mail address', name: 'a person’s name',
};

export function kindWords(kind) {
  return KIND_WORDS[kind] || String(kind).replace(/_/g, ' ');
}

export async function pairingPage(ctx, main, pairingId) {
  const p = await get(`/api/sessions/pairings/${encodeURIComponent(pairingId)}`);
  const member = p.mentor_id === ctx.me.id || p.mentee_id === ctx.me.id;
  const nameOf = await loadNames([p.mentor_id, p.mentee_id]);
  const named = (id) => nameOf(id) || shortId(id);
  if (member) {
    const other = otherName(ctx, p, nameOf);
    page(main, `Pairing with ${other}`, other === otherRole(ctx, p) ? null : `${other} is ${otherRole(ctx, p)}.`);
  } else {
    page(main, `Pairing of ${named(p.mentor_id)} and ${named(p.mentee_id)}`, `Mentor ${named(p.mentor_id)}, mentee ${named(p.mentee_id)}.`);
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
  main.append(section('Working together', h('ul', { class: 'plain' },
    h('li', {}, h('a', { href: `#/pairings/${encodeURIComponent(p.pairing_id)}/agreement` }, 'Your mentoring agreement')),
    h('li', {}, h('a', { href: `#/pairings/${encodeURIComponent(p.pairing_id)}/reflection` }, 'Your private reflection')))));
  const sessions = await get(`/api/sessions/pairings/${encodeURIComponent(pairingId)}/sessions`);
  main.append(sessionsCard(ctx, p, sessions, await sessionFacts((f) => memberFacts(p, f))));
  // Each part loads on its own: one service being slow or not yet aware of a new pairing (facts travel
  // between services as events) must not blank the whole page.
  await Promise.all([
    part(main, 'Notes', () => notesCard(ctx, p)),
    part(main, 'Recordings', () => recordingsCard(p)),
    part(main, 'Disputes', () => disputesCard(p, sessions)),
  ]);
}

async function part(main, title, build) {
  const slot = h('div', { class: 'part' });
  main.append(slot);
  try {
    slot.replaceChildren(await build());
  } catch (err) {
    const retry = h('button', { type: 'button', class: 'secondary' }, 'Try again');
    retry.addEventListener('click', () => { slot.remove(); window.dispatchEvent(new HashChangeEvent('hashchange')); });
    slot.replaceChildren(section(title, h('p', { class: 'muted' },
      err instanceof ApiError && err.status === 404 ? `${title} are not available yet for this pairing. Please try again in a moment.`
        : `${title} could not be loaded just now.`), retry));
  }
}

function statusCard(ctx, p, member, box) {
  const card = section('Status');
  const mine = p.mentor_id === ctx.me.id ? p.mentor_accepted : p.mentee_accepted;
  const theirs = p.mentor_id === ctx.me.id ? p.mentee_accepted : p.mentor_accepted;
  const stateWords = {
    proposed: member ? (mine ? 'You have accepted. Waiting for the other person.' : 'You have been proposed as a pair. Do you want to go ahead?')
      : `Proposed. Mentor ${p.mentor_accepted ? 'accepted' : 'has not answered'}, mentee ${p.mentee_accepted ? 'accepted' : 'has not answered'}.`,
    active: `Active since ${when(p.activated_at)}.`,
    declined: 'This match was declined. No reason is needed or recorded.',
    ended: `This pairing ended on ${when(p.closed_at)}.`,
  };
  card.append(h('p', { id: 'pairing-state' }, stateWords[p.state] || p.state));
  const actions = h('div', { class: 'actions' });
  const reload = () => window.dispatchEvent(new HashChangeEvent('hashchange'));
  if (member && p.state === 'proposed' && !mine) {
    const accept = h('button', { type: 'button', id: 'accept-pairing' }, 'Accept the match');
    const decline = h('button', { type: 'button', class: 'secondary', id: 'decline-pairing' }, 'Decline');
    accept.addEventListener('click', () => busy(accept, box, async () => {
      const out = await post(`/api/sessions/pairings/${encodeURIComponent(p.pairing_id)}/accept`);
      announce(out.state === 'active' ? 'The pairing is now active.' : 'Accepted. Waiting for the other person.');
      reload();
    }));
    decline.addEventListener('click', async () => {
      if (!await confirmDialog('Decline this match?', 'You do not need to give a reason. Your admin can propose another match.', 'Decline the match')) return;
      busy(decline, box, async () => { await post(`/api/sessions/pairings/${encodeURIComponent(p.pairing_id)}/decline`); reload(); });
    });
    actions.append(accept, decline);
  }
  if (member && p.state === 'proposed' && mine && !theirs) actions.append(tag('Waiting for the other person', 'warn'));
  if (member && p.state === 'active') {
    const end = h('button', { type: 'button', class: 'danger', id: 'end-pairing' }, 'End this pairing');
    end.addEventListener('click', async () => {
      if (!await confirmDialog('End this pairing?', 'Either of you may end a pairing at any time, without giving a reason. Any call in progress ends at once. Your notes and recordings stay until their retention period ends.', 'End the pairing', { danger: true })) return;
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
  return [facts.recorded.has(s.session_id) ? [' ', tag('Recorded', 'ok')] : null,
    facts.held.has(s.session_id) ? [' ', tag('On legal hold (dispute)', 'warn')] : null];
}

function sessionsCard(ctx, p, sessions, facts) {
  const cancelBox = errorBox();
  const card = section('Sessions', cancelBox);
  const now = new Date();
  const list = sessions.filter((s) => s.state !== 'cancelled').sort((a, b) => new Date(a.starts_at) - new Date(b.starts_at));
  card.append(list.length ? h('ul', { class: 'plain', id: 'session-list' }, list.map((s) => {
    const open = new Date(s.room_opens_at) <= now && new Date(s.ends_at) > now;
    const past = new Date(s.ends_at) <= now;
    const actions = h('div', { class: 'actions' },
      open && p.state === 'active' ? h('a', { class: 'button', href: `#/call/${encodeURIComponent(s.session_id)}` }, 'Join the call')
        : tag(past ? 'Finished' : `Room opens ${when(s.room_opens_at)}`), factTags(s, facts));
    if (s.state === 'scheduled' && !past && p.state === 'active') {
      const cancel = h('button', { type: 'button', class: 'secondary', 'data-session': s.session_id },
        'Cancel', h('span', { class: 'visually-hidden' }, ` the session of ${when(s.starts_at)}`));
      cancel.addEventListener('click', async () => {
        if (!await confirmDialog('Cancel this session?', `The session of ${when(s.starts_at)} is cancelled for both of you. The other person is told.`, 'Cancel the session', { danger: true })) return;
        busy(cancel, cancelBox, async () => {
          await post(`/api/sessions/sessions/${encodeURIComponent(s.session_id)}/cancel`);
          announce('The session was cancelled.');
          window.dispatchEvent(new HashChangeEvent('hashchange'));
        });
      });
      actions.append(cancel);
    }
    return h('li', {}, h('div', { class: 'row' },
      h('div', {}, h('strong', {}, whenRange(s.starts_at, s.ends_at)), s.agenda ? h('p', { class: 'muted' }, `Agenda: ${s.agenda}`) : null),
      actions));
  })) : empty('No sessions yet.'));
  const cancelled = sessions.filter((s) => s.state === 'cancelled').length;
  if (cancelled) card.append(h('p', { class: 'muted' }, `${cancelled} cancelled session${cancelled === 1 ? '' : 's'} not shown.`));
  if (p.state !== 'active') return card;
  // The wall time typed is read in the person's time zone (their account's), not the browser's.
  const start = h('input', { type: 'datetime-local', required: true, value: wallInput(new Date(Date.now() + 5 * 60000)) });
  const minutes = h('input', { type: 'number', min: '15', max: '240', step: '15', value: '60' });
  const agenda = h('textarea', { maxlength: '4000' });
  const box = errorBox();
  const submit = h('button', { type: 'submit' }, 'Schedule');
  const form = h('form', { class: 'narrow' }, h('h3', {}, 'Schedule a session'), box,
    field('Starts', start, `In your time zone, ${timeZone().replace(/_/g, ' ')} (change it under Your account). `
      + 'When the clocks change, a time they skip is moved on by the change and a time they pass twice is the first.'),
    field('Length in minutes', minutes),
    field('Agenda (optional, only the two of you can see it)', agenda),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const begins = zonedToUtc(start.value);
    if (!begins) { showError(box, 'Choose when the session starts.'); return; }
    const ends = new Date(begins.getTime() + Number(minutes.value || 60) * 60000);
    busy(submit, box, async () => {
      await post(`/api/sessions/pairings/${encodeURIComponent(p.pairing_id)}/sessions`,
        { starts_at: begins.toISOString(), ends_at: ends.toISOString(), agenda: agenda.value.trim() || null });
      announce(`Session scheduled for ${whenRange(begins, ends)}.`);
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    });
  });
  card.append(form);
  return card;
}

/** A session's state in a word: cancelled; taken place (recorded); or by the clock, finished, room
 * open or upcoming. Never "scheduled" for a call that has already happened. */
function sessionWord(s, facts) {
  if (s.state === 'cancelled') return 'Cancelled';
  const now = new Date();
  if (new Date(s.ends_at) <= now) return 'Finished';
  if (facts.recorded.has(s.session_id)) return 'Took place';
  return new Date(s.room_opens_at) <= now ? 'Room open' : 'Upcoming';
}

/** Admins: the pairing's sessions (no agenda) and opening a dispute about one of them. */
function adminSessionsCard(sessions, facts) {
  const card = section('Sessions');
  card.append(sessions.length ? h('ul', { class: 'plain', id: 'session-list' }, sessions.map((s) => h('li', {}, h('div', { class: 'row' },
    h('span', {}, h('strong', {}, whenRange(s.starts_at, s.ends_at))), h('span', {}, tag(sessionWord(s, facts)), factTags(s, facts))))))
    : empty('No sessions yet.'));
  if (!sessions.length) return card;
  const box = errorBox();
  const which = h('select', { id: 'dispute-session' }, sessions.map((s) => h('option', { value: s.session_id }, `${when(s.starts_at)} (${sessionWord(s, facts)})`)));
  const reason = h('textarea', { required: true, maxlength: '4000' });
  const submit = h('button', { type: 'submit', class: 'secondary' }, 'Open a dispute as admin');
  const form = h('form', { class: 'narrow' }, h('h3', {}, 'Open a dispute'), box,
    h('p', { class: 'muted' }, 'The session’s records are placed on legal hold at once. Reading any of them still needs a second admin’s approval (or an emergency break-glass access that another admin reviews). The pair is told.'),
    field('Session', which), field('Why is a dispute needed?', reason, 'Kept sealed in the audit ledger; only admins can read it.'),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (reason.value.trim().length < 3) { showError(box, 'Say briefly why a dispute is needed.'); reason.focus(); return; }
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
  const visibility = h('select', {}, h('option', { value: 'private' }, 'Only me (private)'),
    h('option', { value: 'pair' }, 'Shared with my pair'));
  visibility.value = note ? note.visibility : 'private';
  const warning = h('div', { class: 'alert warning', role: 'alert', tabindex: '-1', hidden: true });
  const confirm = checkbox('I confirm no patient can be identified from this note.', { id: `confirm-${note ? note.id : 'new'}` });
  const confirmWrap = h('div', { hidden: true }, confirm.el);
  const submit = h('button', { type: 'submit' }, note ? 'Save changes' : 'Save note');
  const form = h('form', { class: 'note-editor' }, box,
    field(note ? 'Note' : 'New note', text, 'Never write anything that could identify a patient (names, NHS or record numbers, dates of birth, addresses).'),
    field('Who can read it', visibility), warning, confirmWrap, h('div', { class: 'actions' }, submit));
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
    if (!text.value.trim()) { showError(box, 'Write something first.'); return; }
    const warned = warnedText !== null && text.value === warnedText;
    if (warned && !confirm.input.checked) {
      showError(box, 'Edit the note to remove the details, or tick the box to confirm no patient can be identified.');
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
          warning.append(h('p', {}, h('strong', {}, 'This note may identify a patient.')),
            h('p', {}, 'It looks like it contains: ', kinds.map(kindWords).join(', '), '.'),
            h('p', {}, 'Please edit the note to remove these details, then save it again. If this is a false alarm and no patient can be identified, tick the box below and save.'));
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
  const card = section('Notes');
  card.append(h('p', { class: 'muted' }, 'Private notes are for you only. Shared notes are visible to both of you. Notes are encrypted and expire after the retention period.'));
  const reload = () => window.dispatchEvent(new HashChangeEvent('hashchange'));
  const summaries = await get(`/api/records/notes/?pairing_id=${encodeURIComponent(p.pairing_id)}`);
  const list = h('ul', { class: 'plain', id: 'note-list' });
  for (const s of summaries) {
    const note = await get(`/api/records/notes/${encodeURIComponent(s.id)}`);
    const mine = note.author_id === ctx.me.id;
    const li = h('li', { class: 'note' });
    const body = h('p', { class: 'note-body' }, note.text);
    const meta = h('p', { class: 'muted' }, mine ? 'You' : (nameOf(note.author_id) || (p.mentor_id === note.author_id ? 'Your mentor' : 'Your mentee')),
      ` · ${when(note.updated_at)} · `, note.visibility === 'pair' ? tag('Shared') : tag('Private'),
      note.legal_hold ? [' ', tag('On hold (dispute)', 'warn')] : null);
    li.append(meta, body);
    if (mine && p.state === 'active') {
      const edit = h('button', { type: 'button', class: 'secondary' }, 'Edit');
      const remove = h('button', { type: 'button', class: 'secondary' }, 'Delete');
      const box = errorBox();
      edit.addEventListener('click', () => {
        const editor = noteEditor(ctx, p, note, reload);
        li.replaceChildren(meta, editor);
        editor.querySelector('textarea').focus();
      });
      remove.addEventListener('click', async () => {
        if (!await confirmDialog('Delete this note?', 'The note is destroyed at once and cannot be recovered.', 'Delete the note', { danger: true })) return;
        busy(remove, box, async () => { await del(`/api/records/notes/${encodeURIComponent(note.id)}`); reload(); });
      });
      li.append(box, h('div', { class: 'actions' }, edit, remove));
    }
    list.append(li);
  }
  card.append(summaries.length ? list : empty('No notes yet.'));
  if (p.state === 'active') card.append(h('h3', {}, 'Write a note'), noteEditor(ctx, p, null, reload));
  return card;
}

async function recordingsCard(p) {
  const card = section('Recordings');
  const recs = await get(`/api/records/recordings/?pairing_id=${encodeURIComponent(p.pairing_id)}`);
  card.append(recs.length ? h('ul', { class: 'plain', id: 'recording-list' }, recs.map((r) => h('li', {}, h('div', { class: 'row' },
    h('div', {}, h('a', { href: `#/recordings/${encodeURIComponent(r.id)}` }, `Recording of ${when(r.captured_at || r.created_at)}`),
      h('span', { class: 'muted' }, ` · ${[length(r.duration_s), bytes(r.size)].filter(Boolean).join(' · ')}`), r.legal_hold ? [' ', tag('On hold (dispute)', 'warn')] : null),
    r.retain_until ? h('span', { class: 'muted' }, `Kept until ${when(r.retain_until)}`) : null))))
    : empty('No recordings. A session is recorded only when both of you agree during the call.'));
  return card;
}

const MEMBER_DISPUTE_WORDS = { open: 'Open', pending: 'Access requested', approved: 'Access approved', rejected: 'Access refused',
  break_glass: 'Emergency access', closed: 'Closed' };

async function disputesCard(p, sessions) {
  const card = section('Disputes');
  const mine = (await get('/api/records/disputes/mine')).filter((d) => d.pairing_id === p.pairing_id);
  card.append(h('p', { class: 'muted' }, 'If you disagree about what happened in a session, you can open a dispute. The session’s records are then kept (not deleted) and an admin can review them only with a second admin’s approval. You are told about every access.'));
  if (mine.length) {
    card.append(h('ul', { class: 'plain' }, mine.map((d) => h('li', {},
      h('p', {}, `Dispute ${shortId(d.id)} about the session of ${when((sessions.find((s) => s.session_id === d.session_id) || {}).starts_at)}: `, tag(MEMBER_DISPUTE_WORDS[d.state] || d.state),
        d.outcome ? ` · outcome: ${d.outcome.replace(/_/g, ' ')}` : null),
      (d.accesses || []).length ? h('ul', {}, d.accesses.map((a) => h('li', {}, `Recording accessed ${when(a.at)} by ${a.accessor_role === 'admin' ? 'a programme admin' : a.accessor_role}${a.break_glass ? ' (emergency access)' : ''}.`))) : null))));
  }
  const past = sessions.filter((s) => s.state !== 'cancelled');
  if (!past.length) return card;
  const box = errorBox();
  const which = h('select', {}, past.map((s) => h('option', { value: s.session_id }, when(s.starts_at))));
  const reason = h('textarea', { required: true, maxlength: '2000' });
  const submit = h('button', { type: 'submit', class: 'secondary' }, 'Open a dispute');
  const form = h('form', { class: 'narrow' }, h('h3', {}, 'Open a dispute'), box, field('Session', which),
    field('What is the disagreement?', reason, 'Only admins reviewing the dispute can read this.'), h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!reason.value.trim()) { showError(box, 'Say briefly what the disagreement is.'); return; }
    busy(submit, box, async () => {
      await post('/api/records/disputes/', { session_id: which.value, reason: reason.value.trim() });
      form.replaceWith(success('Your dispute is open. The records of that session are now kept until it is closed.'));
    });
  });
  card.append(form);
  return card;
}

export async function recordingPage(ctx, main, recordId) {
  const r = await get(`/api/records/recordings/${encodeURIComponent(recordId)}`);
  page(main, `Recording of ${when(r.captured_at || r.created_at)}`);
  const video = h('video', { class: 'playback', controls: true, preload: 'metadata', id: 'playback',
    src: `/api/records/recordings/${encodeURIComponent(r.id)}/content` });
  video.append(h('p', {}, 'Your browser cannot play this recording here.'));
  main.append(h('div', { class: 'card' }, video,
    h('p', { class: 'muted' }, `${[length(r.duration_s), bytes(r.size)].filter(Boolean).join(' · ')} · kept until ${when(r.retain_until)}`, r.legal_hold ? [' · ', tag('On hold (dispute)', 'warn')] : null),
    h('p', {}, h('a', { href: `#/pairings/${encodeURIComponent(r.pairing_id)}` }, 'Back to the pairing'))));
  const evidence = Array.isArray(r.consent_evidence) ? r.consent_evidence : [];
  if (evidence.length) {
    main.append(section('Consent record', h('p', { class: 'muted' }, 'Both of you agreed before recording started. Every step is kept with the recording.'),
      h('ul', {}, evidence.map((e) => h('li', {}, `${when(e.at)}: ${e.kind}${e.actor === ctx.me.id ? ' (you)' : ''}`)))));
  }
  return () => { video.pause(); video.removeAttribute('src'); video.load(); };
}
