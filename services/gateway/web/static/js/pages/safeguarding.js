// Safeguarding officers: the reports inbox (urgency, overdue) and one case.
import { h, field, when, tag, shortId, bytes } from '../dom.js';
import { get, post, put } from '../api.js';
import { page, section, empty, busy, errorBox, showError } from '../ui.js';
import { categoryWords, STATE_WORDS } from './concerns.js';
import { loadNames } from '../people.js';

const NEXT = {
  received: ['acknowledged', 'closed'],
  acknowledged: ['investigating', 'resolved', 'closed'],
  investigating: ['resolved', 'closed'],
  resolved: ['investigating', 'closed'],
  closed: [],
};

/** The acknowledgement line: due while the case waits for it; once acknowledged (or closed without),
 * when that happened instead of a deadline nobody has to meet any more. */
export function ackWords(c) {
  if (c.acknowledged_at) return `Acknowledged ${when(c.acknowledged_at)}`;
  if (c.state !== 'received') return c.closed_at ? `Closed ${when(c.closed_at)} without acknowledgement` : 'No acknowledgement recorded';
  return `Acknowledge by ${when(c.ack_due_at)}`;
}

export async function casesPage(ctx, main) {
  page(main, 'Reports inbox', 'Urgent and overdue cases come first. Reading a case is recorded in the audit ledger.');
  const cases = await get('/api/reports/cases/');
  const rank = (c) => (['resolved', 'closed'].includes(c.state) ? 4 : 0) + (c.urgent ? 0 : 2) + (c.overdue ? 0 : 1);
  cases.sort((a, b) => rank(a) - rank(b) || new Date(a.created_at) - new Date(b.created_at));
  if (!cases.length) { main.append(h('div', { class: 'card' }, empty('No reports.'))); return; }
  main.append(h('div', { class: 'table-wrap card', tabindex: '0', role: 'region', 'aria-label': 'Cases (table)' }, h('table', { id: 'cases' },
    h('caption', { class: 'visually-hidden' }, 'Cases'),
    h('thead', {}, h('tr', {}, ['Case', 'Concern', 'Status', 'Received', 'Acknowledgement', 'Reporter'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, cases.map((c) => h('tr', {},
      h('td', {}, h('a', { href: `#/safeguarding/${encodeURIComponent(c.id)}` }, `Case ${shortId(c.id)}`),
        c.urgent ? [' ', tag('Urgent', 'danger')] : null, c.overdue ? [' ', tag('Overdue', 'warn')] : null),
      h('td', {}, categoryWords(c.category)),
      h('td', {}, STATE_WORDS[c.state] || c.state, c.legal_hold ? [' ', tag('Legal hold', 'neutral')] : null),
      h('td', {}, when(c.created_at)),
      h('td', {}, ackWords(c)),
      h('td', {}, c.anonymous ? 'Anonymous' : 'Identified')))))));
}

export async function casePage(ctx, main, reportId) {
  const path = `/api/reports/cases/${encodeURIComponent(reportId)}`;
  const d = await get(path);
  const c = d.case;
  const reload = () => window.dispatchEvent(new HashChangeEvent('hashchange'));
  const nameOf = await loadNames([c.assignee_id, d.reporter.reporter_id, d.person_id,
    ...d.notes.map((n) => n.author_id), ...d.reveal_requests.map((r) => r.requested_by)].filter(Boolean));
  const who = (id) => (id === ctx.me.id ? 'you' : nameOf(id) || shortId(id));
  page(main, `Case ${shortId(c.id)}: ${categoryWords(c.category)}`);
  const box = errorBox();
  main.append(box);
  main.append(h('div', { class: 'card' },
    h('p', {}, 'Status: ', tag(STATE_WORDS[c.state] || c.state, 'ok'), c.urgent ? [' ', tag('Urgent', 'danger')] : null,
      c.overdue ? [' ', tag('Overdue', 'warn')] : null),
    h('p', { class: 'muted', id: 'case-dates' }, `Received ${when(c.created_at)} · ${ackWords(c).replace(/^./, (ch) => ch.toLowerCase())}`,
      c.assignee_id ? ` · assigned to ${who(c.assignee_id)}` : ' · not assigned'),
    c.legal_hold ? h('p', {}, tag('Legal hold', 'warn'), ' Kept past its retention date until the hold is released.') : null,
    h('h2', {}, 'Report'), h('p', { class: 'report-text' }, d.text),
    d.session_id ? h('p', { class: 'muted' }, `About session ${shortId(d.session_id)}`) : null,
    d.person_id ? h('p', { class: 'muted' }, `About ${nameOf(d.person_id) || `user ${shortId(d.person_id)}`}`) : null),
  section('Attachments', d.attachments.length ? [h('ul', { class: 'plain', id: 'attachments' }, d.attachments.map((a) => h('li', {}, h('div', { class: 'row' },
    h('span', {}, a.filename, h('span', { class: 'muted' }, ` · ${a.media_type} · ${bytes(a.size)}`)),
    h('a', { class: 'button secondary', href: `${path}/attachments/${encodeURIComponent(a.id)}`, download: a.filename },
      'Download', h('span', { class: 'visually-hidden' }, ` ${a.filename}`)))))),
  h('p', { class: 'muted' }, 'Files are downloaded, never opened in the page. Each download is recorded in the audit ledger. Open them with care: they come from the reporter.')]
    : empty('No attachments.')));

  // Status and assignment.
  const actions = h('div', { class: 'actions' });
  for (const to of NEXT[c.state] || []) {
    const b = h('button', { type: 'button', class: to === 'closed' ? 'secondary' : '', 'data-to': to }, `Mark as ${STATE_WORDS[to].toLowerCase()}`);
    b.addEventListener('click', () => busy(b, box, async () => { await post(`${path}/transitions`, { to }); reload(); }));
    actions.append(b);
  }
  if (c.assignee_id !== ctx.me.id) {
    const mine = h('button', { type: 'button', class: 'secondary' }, 'Assign to me');
    mine.addEventListener('click', () => busy(mine, box, async () => { await put(`${path}/assignee`, { assignee_id: ctx.me.id }); reload(); }));
    actions.append(mine);
  }
  main.append(section('Next step', actions));

  // Messages with the reporter.
  const msgText = h('textarea', { required: true });
  const send = h('button', { type: 'submit' }, 'Send to the reporter');
  const msgForm = h('form', {}, field('Message to the reporter', msgText, 'The reporter reads this in their account, or with their receipt if anonymous.'), h('div', { class: 'actions' }, send));
  msgForm.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!msgText.value.trim()) { showError(box, 'Write a message first.'); return; }
    busy(send, box, async () => { await post(`${path}/messages`, { text: msgText.value }); reload(); });
  });
  main.append(section('Messages with the reporter', d.messages.length ? h('div', { id: 'messages' }, d.messages.map((m) => h('div', { class: `message from-${m.sender}` },
    h('p', { class: 'meta' }, m.sender === 'reporter' ? 'Reporter' : 'Safeguarding', ` · ${when(m.created_at)}`), h('p', {}, m.text))))
    : empty('No messages yet.'), msgForm));

  // Internal notes.
  const noteText = h('textarea', { required: true });
  const addNote = h('button', { type: 'submit', class: 'secondary' }, 'Add note');
  const noteForm = h('form', {}, field('Internal note', noteText, 'Never shown to the reporter.'), h('div', { class: 'actions' }, addNote));
  noteForm.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!noteText.value.trim()) { showError(box, 'Write the note first.'); return; }
    busy(addNote, box, async () => { await post(`${path}/notes`, { text: noteText.value }); reload(); });
  });
  main.append(section('Internal notes', d.notes.length ? h('ul', { class: 'plain' }, d.notes.map((n) => h('li', {},
    h('p', { class: 'muted' }, `${n.author_id === ctx.me.id ? 'You' : who(n.author_id)} · ${when(n.created_at)}`), h('p', {}, n.text))))
    : empty('No notes yet.'), noteForm));

  // Reporter identity: hidden until a second officer approves a reveal.
  const reporterCard = section('Reporter');
  if (d.reporter.anonymous) reporterCard.append(h('p', {}, 'This report is anonymous. Nothing identifying the reporter was stored.'));
  else if (d.reporter.revealed) reporterCard.append(h('p', {}, `Identity revealed: ${nameOf(d.reporter.reporter_id) || 'user'} (user ${d.reporter.reporter_id}).`));
  else {
    reporterCard.append(h('p', {}, 'The reporter’s identity is hidden. Revealing it needs a reason and a second safeguarding officer’s approval; both are recorded.'));
    for (const r of d.reveal_requests) {
      const line = h('p', {}, `Request by ${who(r.requested_by)} on ${when(r.created_at)}: `, tag(r.state));
      if (r.state === 'pending' && r.requested_by !== ctx.me.id) {
        const reason = h('input', { type: 'text', required: true });
        const ok = h('button', { type: 'button' }, 'Approve the reveal');
        ok.addEventListener('click', () => {
          if (!reason.value.trim()) { showError(box, 'Give a reason for approving.'); reason.focus(); return; }
          busy(ok, box, async () => { await post(`${path}/reveal-requests/${encodeURIComponent(r.id)}/approve`, { reason: reason.value.trim() }); reload(); });
        });
        reporterCard.append(line, field('Reason for approving', reason), h('div', { class: 'actions' }, ok));
      } else reporterCard.append(line);
    }
    if (!d.reveal_requests.some((r) => r.state === 'pending')) {
      const reason = h('input', { type: 'text', required: true });
      const ask = h('button', { type: 'button', class: 'secondary' }, 'Ask to reveal the identity');
      ask.addEventListener('click', () => {
        if (!reason.value.trim()) { showError(box, 'Give a reason for the request.'); reason.focus(); return; }
        busy(ask, box, async () => { await post(`${path}/reveal-requests`, { reason: reason.value.trim() }); reload(); });
      });
      reporterCard.append(field('Why do you need to know who reported this?', reason), h('div', { class: 'actions' }, ask));
    }
  }
  main.append(reporterCard);

  // Legal hold: keeps the case past its retention date (e.g. for proceedings); reason recorded.
  const holdReason = h('input', { type: 'text', required: true, maxlength: '2000' });
  const holdButton = h('button', { type: 'button', class: 'secondary', id: 'legal-hold-toggle' }, c.legal_hold ? 'Release the legal hold' : 'Place a legal hold');
  holdButton.addEventListener('click', () => {
    if (holdReason.value.trim().length < 3) { showError(box, 'Give a reason for the legal hold change.'); holdReason.focus(); return; }
    busy(holdButton, box, async () => { await put(`${path}/legal-hold`, { hold: !c.legal_hold, reason: holdReason.value.trim() }); reload(); });
  });
  main.append(section('Legal hold', h('p', {}, c.legal_hold
    ? 'This case is on legal hold: it is not deleted when its retention period ends.'
    : 'Place a legal hold to keep this case past its retention period (for example for proceedings). The reason is recorded in the audit ledger.'),
  field(c.legal_hold ? 'Why release the hold?' : 'Why place a hold?', holdReason), h('div', { class: 'actions' }, holdButton)));
}
