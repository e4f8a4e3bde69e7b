// Report a concern (identified or anonymous), the one-time receipt, follow-up by receipt, my reports.
import { h, field, checkbox, when, tag, clear } from '../dom.js';
import { get, post } from '../api.js';
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

export function concernPage(ctx, main) {
  page(main, 'Report a concern',
    'Tell the safeguarding team about anything that worries you. Only safeguarding officers can read reports — not programme admins, and never the person you report.');
  const box = errorBox();
  const category = h('select', { required: true }, h('option', { value: '' }, 'Choose one'),
    CATEGORIES.map(([value, text]) => h('option', { value }, text)));
  const text = h('textarea', { required: true, maxlength: '20000' });
  const urgent = checkbox('This is urgent: someone may be at risk now.', { id: 'concern-urgent' });
  const anonymous = checkbox('Report anonymously. Your name is not stored with the report; you follow up with a receipt instead.', { id: 'concern-anonymous' });
  const submit = h('button', { type: 'submit' }, 'Send the report');
  const form = h('form', { class: 'card', novalidate: true }, box,
    field('What is it about?', category),
    field('What happened?', text, 'Say what happened, when, and who was involved, as far as you are comfortable. Please do not include patient details.'),
    h('fieldset', {}, h('legend', {}, 'Options'), urgent.el, anonymous.el),
    h('p', { class: 'muted' }, 'If someone is in immediate danger, call the emergency services first.'),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!category.value) { showError(box, 'Choose what the concern is about.'); category.focus(); return; }
    if (!text.value.trim()) { showError(box, 'Describe what happened.'); text.focus(); return; }
    busy(submit, box, async () => {
      const filed = await post('/api/reports/concerns', { category: category.value, text: text.value,
        anonymous: anonymous.input.checked, urgent: urgent.input.checked });
      clear(main);
      if (filed.receipt) showReceipt(main, filed);
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

function showReceipt(main, filed) {
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
      h('a', { href: '#/concern/follow-up' }, 'Follow up with your receipt'))));
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
    h('h2', {}, 'What you reported'), h('p', { class: 'report-text' }, report.text)), messagesView(report));
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

export function receiptPage(ctx, main) {
  page(main, 'Follow up an anonymous report', 'Enter the receipt you were given when you sent the report.');
  const box = errorBox();
  const input = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', id: 'receipt-input' });
  const submit = h('button', { type: 'submit' }, 'Show my report');
  const out = h('div', { id: 'receipt-report' });
  const form = h('form', { class: 'card narrow' }, box, field('Receipt', input), h('div', { class: 'actions' }, submit));
  // The receipt stays in this page's memory only: never in the address, storage or history.
  const load = async () => {
    const receipt = input.value.trim();
    const report = await get('/api/reports/receipt', { headers: { 'tandem-receipt': receipt } });
    clear(out);
    out.append(reportView(report), replyForm(async (text) => {
      await post('/api/reports/receipt/messages', { text }, { headers: { 'tandem-receipt': receipt } });
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
        showError(box, err.status === 404 ? 'We could not find a report for this receipt. Check it and try again.' : err);
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
