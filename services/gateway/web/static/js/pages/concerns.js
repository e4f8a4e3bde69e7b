// Report a concern (identified or anonymous), the one-time receipt, follow-up by receipt, my reports.
import { h, field, checkbox, when, tag, clear, bytes } from '../dom.js';
import { get, post, anonymousGet, anonymousPost } from '../api.js';
import { page, section, empty, busy, errorBox, showError, success } from '../ui.js';

export const CATEGORIES = [
  ['boundary', 'Professional boundaries'],
  ['harassment_discrimination', 'Harassment or discrimination'],
  ['safety', 'Someone’s safety'],
  ['confidentiality_breach', 'A breach of confidentiality'],
  ['other', 'Something else'],
];
export const categoryWords = (c) => (CATEGORIES.find(([k]) => k === c) || [c, c])[1];
export const STATE_WORDS = {
  received: 'Received', acknowledged: 'Acknowledged', investigating: 'Being looked into', resolved: 'Resolved', closed: 'Closed',
};

// Defaults of REPORTS_MAX_ATTACHMENTS / REPORTS_MAX_ATTACHMENT_BYTES: checked here for a quick answer;
// the reports service enforces its own configured limits either way (its message is shown).
const MAX_FILES = 5;
const MAX_FILE_BYTES = 5 * 1024 * 1024;

/** A file as the reports API takes it: {filename, media_type, content (base64)}. */
async function attachmentOf(file) {
  const data = new Uint8Array(await file.arrayBuffer());
  let binary = '';
  for (let i = 0; i < data.length; i += 0x8000) binary += String.fromCharCode(...data.subarray(i, i + 0x8000));
  const type = /^[\w.+-]+\/[\w.+-]+$/.test(file.type) ? file.type : 'application/octet-stream';
  let name = file.name || 'attachment';
  if (name.length > 200) { const dot = name.lastIndexOf('.'); const ext = dot > 0 ? name.slice(dot).slice(0, 20) : ''; name = name.slice(0, 200 - ext.length) + ext; }
  return { filename: name, media_type: type, content: window.btoa(binary) };
}

/** Report a concern. Signed in: identified or anonymous. `publicForm`: no account, always anonymous. */
export function concernPage(ctx, main, { publicForm = false } = {}) {
  page(main, 'Report a concern',
    'Tell the safeguarding team about anything that worries you. Only safeguarding officers can read reports — not programme admins, and never the person you report.');
  if (publicForm) {
    main.append(h('div', { class: 'alert', role: 'note' },
      h('p', {}, h('strong', {}, 'You do not need an account.'), ' This report is anonymous: nothing about you is stored with it, not even your address. You get a receipt to read replies and write back.'),
      h('p', {}, 'Have an account? ', h('a', { href: '/#/concern' }, 'Sign in to report'), ' to follow up in your account instead.')));
  }
  const box = errorBox();
  const category = h('select', { required: true }, h('option', { value: '' }, 'Choose one'),
    CATEGORIES.map(([value, text]) => h('option', { value }, text)));
  const text = h('textarea', { required: true, maxlength: '20000' });
  const urgent = checkbox('This is urgent: someone may be at risk now.', { id: 'concern-urgent' });
  const anonymous = publicForm ? null
    : checkbox('Report anonymously. Your name is not stored with the report; you follow up with a receipt instead.', { id: 'concern-anonymous' });
  const files = h('input', { type: 'file', multiple: true, id: 'concern-files' });
  const chosen = h('ul', { class: 'file-list', id: 'concern-file-list', 'aria-live': 'polite' });
  files.addEventListener('change', () => {
    clear(chosen);
    for (const f of files.files) chosen.append(h('li', {}, `${f.name} (${bytes(f.size)})`));
  });
  const submit = h('button', { type: 'submit' }, 'Send the report');
  const form = h('form', { class: 'card', novalidate: true }, box,
    field('What is it about?', category),
    field('What happened?', text, 'Say what happened, when, and who was involved, as far as you are comfortable. Please do not include patient details.'),
    field('Attachments (optional)', files, `Up to ${MAX_FILES} files, ${bytes(MAX_FILE_BYTES)} each: for example a screenshot or a document. Only safeguarding officers can open them. Remove patient details first.`),
    chosen,
    h('fieldset', {}, h('legend', {}, 'Options'), urgent.el, anonymous ? anonymous.el : null),
    h('p', { class: 'muted' }, 'If someone is in immediate danger, call the emergency services first.'),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!category.value) { showError(box, 'Choose what the concern is about.'); category.focus(); return; }
    if (!text.value.trim()) { showError(box, 'Describe what happened.'); text.focus(); return; }
    const picked = [...files.files];
    if (picked.length > MAX_FILES) { showError(box, `Attach at most ${MAX_FILES} files.`); files.focus(); return; }
    const big = picked.find((f) => f.size > MAX_FILE_BYTES);
    if (big) { showError(box, `“${big.name}” is larger than ${bytes(MAX_FILE_BYTES)}. Attach a smaller file.`); files.focus(); return; }
    busy(submit, box, async () => {
      const attachments = await Promise.all(picked.map(attachmentOf));
      // Anonymous means unlinkable: such a report goes without the session cookie or CSRF token (the
      // gateway and reports then see a member of the public), even from a signed-in page.
      const isAnonymous = publicForm || anonymous.input.checked;
      const send = isAnonymous ? anonymousPost : post;
      const filed = await send('/api/reports/concerns', { category: category.value, text: text.value,
        anonymous: isAnonymous, urgent: urgent.input.checked, attachments });
      clear(main);
      if (filed.receipt) showReceipt(main, filed, publicForm);
      else {
        page(main, 'Thank you — your report was sent');
        main.append(success(`The safeguarding team will acknowledge it by ${when(filed.ack_due_at)}.`),
          h('p', {}, h('a', { href: `#/concerns/${encodeURIComponent(filed.id)}` }, 'See your report and replies')));
      }
      main.querySelector('h1').focus();
    });
  });
  main.append(form);
}

function showReceipt(main, filed, publicForm) {
  page(main, 'Your report was sent anonymously');
  const receipt = h('p', { class: 'receipt', id: 'receipt' }, filed.receipt);
  const copy = h('button', { type: 'button', id: 'copy-receipt' }, 'Copy the receipt');
  const copied = h('span', { role: 'status' });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(filed.receipt);
      copied.textContent = 'Copied.';
    } catch {
      const range = document.createRange();
      range.selectNodeContents(receipt);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      copied.textContent = 'Select the text and copy it yourself (Ctrl+C or ⌘C).';
    }
  });
  main.append(h('div', { class: 'alert warning', role: 'alert' },
    h('p', {}, h('strong', {}, 'Store this receipt now. It is shown only once.')),
    h('p', {}, 'It is the only way to read replies and follow up on an anonymous report. Nobody — not even the safeguarding team — can show it to you again or recover it.')),
  h('div', { class: 'card' }, h('p', { class: 'label' }, 'Your receipt'), receipt,
    h('div', { class: 'actions' }, copy, copied),
    h('p', {}, `The safeguarding team will acknowledge your report by ${when(filed.ack_due_at)}. `,
      h('a', { href: publicForm ? '/report/follow-up' : '#/concern/follow-up' }, 'Follow up with your receipt'))));
}

function messagesView(report) {
  return section('Messages', report.messages.length ? h('div', { id: 'messages' }, report.messages.map((m) => h('div', { class: `message from-${m.sender}` },
    h('p', { class: 'meta' }, m.sender === 'safeguarding' ? 'Safeguarding team' : 'You', ` · ${when(m.created_at)}`),
    h('p', {}, m.text)))) : empty('No messages yet.'));
}

function reportView(report) {
  return h('div', {}, h('div', { class: 'card' },
    h('p', {}, 'Status: ', tag(STATE_WORDS[report.state] || report.state, report.state === 'received' ? 'warn' : 'ok'),
      report.urgent ? [' ', tag('Urgent', 'danger')] : null),
    h('p', { class: 'muted' }, `${categoryWords(report.category)} · sent ${when(report.created_at)}`),
    h('h2', {}, 'What you reported'), h('p', { class: 'report-text' }, report.text),
    report.attachments && report.attachments.length ? [h('h3', {}, 'Your attachments'), h('ul', {}, report.attachments.map((a) => h('li', {}, `${a.filename} (${bytes(a.size)})`))),
      h('p', { class: 'muted' }, 'Only safeguarding officers can open them.')] : null), messagesView(report));
}

function replyForm(send) {
  const box = errorBox();
  const text = h('textarea', { required: true, maxlength: '20000' });
  const submit = h('button', { type: 'submit' }, 'Send message');
  const form = h('form', { class: 'card' }, h('h2', {}, 'Write to the safeguarding team'), box, field('Message', text), h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!text.value.trim()) { showError(box, 'Write a message first.'); return; }
    busy(submit, box, async () => { await send(text.value); });
  });
  return form;
}

export function receiptPage(ctx, main, { publicForm = false } = {}) {
  page(main, 'Follow up an anonymous report', 'Enter the receipt you were given when you sent the report.');
  if (publicForm) main.append(h('p', {}, 'No account is needed. ', h('a', { href: '/report' }, 'Report a new concern'), ' · ', h('a', { href: '/' }, 'Sign in')));
  const box = errorBox();
  const input = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', id: 'receipt-input' });
  const submit = h('button', { type: 'submit' }, 'Show my report');
  const out = h('div', { id: 'receipt-report' });
  const form = h('form', { class: 'card narrow' }, box, field('Receipt', input), h('div', { class: 'actions' }, submit));
  // The receipt stays in this page's memory only: never in the address, storage or history.
  const load = async () => {
    const receipt = input.value.trim();
    const report = await anonymousGet('/api/reports/receipt', { headers: { 'tandem-receipt': receipt } });
    clear(out);
    out.append(reportView(report), replyForm(async (text) => {
      await anonymousPost('/api/reports/receipt/messages', { text }, { headers: { 'tandem-receipt': receipt } });
      await load();
    }));
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!input.value.trim()) { showError(box, 'Enter your receipt.'); return; }
    busy(submit, null, async () => {
      clear(box);
      try {
        await load();
      } catch (err) {
        clear(out);
        showError(box, err.status === 404 ? 'We could not find a report for this receipt. Check it and try again.'
          : err);
      }
    });
  });
  main.append(form, out);
}

export async function myReportsPage(ctx, main) {
  page(main, 'My reports', 'Reports you sent with your name. Anonymous reports are followed up with their receipt.');
  const mine = await get('/api/reports/mine');
  main.append(h('div', { class: 'card' }, mine.length ? h('ul', { class: 'plain' }, mine.map((r) => h('li', {},
    h('a', { href: `#/concerns/${encodeURIComponent(r.id)}` }, `${categoryWords(r.category)} · ${when(r.created_at)}`), ' ',
    tag(STATE_WORDS[r.state] || r.state)))) : empty('You have not sent any report with your name.'),
  h('p', {}, h('a', { href: '#/concern/follow-up' }, 'Follow up an anonymous report'))));
}

export async function myReportPage(ctx, main, reportId) {
  const report = await get(`/api/reports/mine/${encodeURIComponent(reportId)}`);
  page(main, 'Your report');
  main.append(reportView(report), replyForm(async (text) => {
    await post(`/api/reports/mine/${encodeURIComponent(reportId)}/messages`, { text });
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  }));
}
