// Report a concern (identified or anonymous), the one-time receipt, follow-up by receipt, my reports.
import { h, field, checkbox, when, tag, clear, bytes } from '../dom.js';
import { get, post, anonymousGet, anonymousPost } from '../api.js';
import { page, section, empty, busy, errorBox, showError, success } from '../ui.js';
import { t } from '../i18n.js';

// Getters: the words are read in the person's language each time they are shown.
const CATEGORY_WORDS = {
  get boundary() { return t('concerns.category.boundary'); },
  get harassment_discrimination() { return t('concerns.category.harassment_discrimination'); },
  get safety() { return t('concerns.category.safety'); },
  get confidentiality_breach() { return t('concerns.category.confidentiality_breach'); },
  get other() { return t('concerns.category.other'); },
};
export const CATEGORIES = Object.keys(CATEGORY_WORDS);
export const categoryWords = (c) => (Object.hasOwn(CATEGORY_WORDS, c) ? CATEGORY_WORDS[c] : c);
export const STATE_WORDS = {
  get received() { return t('concerns.state.received'); },
  get acknowledged() { return t('concerns.state.acknowledged'); },
  get investigating() { return t('concerns.state.investigating'); },
  get resolved() { return t('concerns.state.resolved'); },
  get closed() { return t('concerns.state.closed'); },
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
  page(main, t('concerns.report.title'), t('concerns.report.lead'));
  if (publicForm) {
    main.append(h('div', { class: 'alert', role: 'note' },
      h('p', {}, h('strong', {}, t('concerns.public.no_account')), ' ', t('concerns.public.anonymous')),
      h('p', {}, t('concerns.public.have_account'), ' ', h('a', { href: '/#/concern' }, t('concerns.public.sign_in_link')), ' ',
        t('concerns.public.sign_in_after'))));
  }
  const box = errorBox();
  const category = h('select', { required: true }, h('option', { value: '' }, t('concerns.form.choose')),
    CATEGORIES.map((value) => h('option', { value }, categoryWords(value))));
  const text = h('textarea', { required: true, maxlength: '20000' });
  const urgent = checkbox(t('concerns.form.urgent'), { id: 'concern-urgent' });
  const anonymous = publicForm ? null
    : checkbox(t('concerns.form.anonymous'), { id: 'concern-anonymous' });
  const files = h('input', { type: 'file', multiple: true, id: 'concern-files' });
  const chosen = h('ul', { class: 'file-list', id: 'concern-file-list', 'aria-live': 'polite' });
  files.addEventListener('change', () => {
    clear(chosen);
    for (const f of files.files) chosen.append(h('li', {}, `${f.name} (${bytes(f.size)})`));
  });
  const submit = h('button', { type: 'submit' }, t('concerns.form.send'));
  const form = h('form', { class: 'card', novalidate: true }, box,
    field(t('concerns.form.category'), category),
    field(t('concerns.form.text'), text, t('concerns.form.text_hint')),
    field(t('concerns.form.files'), files, t('concerns.form.files_hint', { max: MAX_FILES, size: bytes(MAX_FILE_BYTES) })),
    chosen,
    h('fieldset', {}, h('legend', {}, t('concerns.form.options')), urgent.el, anonymous ? anonymous.el : null),
    h('p', { class: 'muted' }, t('concerns.form.emergency')),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!category.value) { showError(box, t('concerns.form.error.category')); category.focus(); return; }
    if (!text.value.trim()) { showError(box, t('concerns.form.error.text')); text.focus(); return; }
    const picked = [...files.files];
    if (picked.length > MAX_FILES) { showError(box, t('concerns.form.error.too_many_files', { max: MAX_FILES })); files.focus(); return; }
    const big = picked.find((f) => f.size > MAX_FILE_BYTES);
    if (big) { showError(box, t('concerns.form.error.too_big', { name: big.name, size: bytes(MAX_FILE_BYTES) })); files.focus(); return; }
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
        page(main, t('concerns.sent.title'));
        main.append(success(t('concerns.sent.ack_by', { when: when(filed.ack_due_at) })),
          h('p', {}, h('a', { href: `#/concerns/${encodeURIComponent(filed.id)}` }, t('concerns.sent.see'))));
      }
      main.querySelector('h1').focus();
    });
  });
  main.append(form);
}

function showReceipt(main, filed, publicForm) {
  page(main, t('concerns.receipt.title'));
  const receipt = h('p', { class: 'receipt', id: 'receipt' }, filed.receipt);
  const copy = h('button', { type: 'button', id: 'copy-receipt' }, t('concerns.receipt.copy'));
  const copied = h('span', { role: 'status' });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(filed.receipt);
      copied.textContent = t('concerns.receipt.copied');
    } catch {
      const range = document.createRange();
      range.selectNodeContents(receipt);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      copied.textContent = t('concerns.receipt.copy_yourself');
    }
  });
  main.append(h('div', { class: 'alert warning', role: 'alert' },
    h('p', {}, h('strong', {}, t('concerns.receipt.store'))),
    h('p', {}, t('concerns.receipt.only_way'))),
  h('div', { class: 'card' }, h('p', { class: 'label' }, t('concerns.receipt.label')), receipt,
    h('div', { class: 'actions' }, copy, copied),
    h('p', {}, t('concerns.receipt.ack_by', { when: when(filed.ack_due_at) }), ' ',
      h('a', { href: publicForm ? '/report/follow-up' : '#/concern/follow-up' }, t('concerns.receipt.follow_up')))));
}

function messagesView(report) {
  return section(t('concerns.messages.title'), report.messages.length ? h('div', { id: 'messages' }, report.messages.map((m) => h('div', { class: `message from-${m.sender}` },
    h('p', { class: 'meta' }, m.sender === 'safeguarding' ? t('concerns.messages.from_safeguarding') : t('concerns.messages.from_you'), ` · ${when(m.created_at)}`),
    h('p', {}, m.text)))) : empty(t('concerns.messages.none')));
}

function reportView(report) {
  return h('div', {}, h('div', { class: 'card' },
    h('p', {}, t('concerns.view.status'), ' ', tag(STATE_WORDS[report.state] || report.state, report.state === 'received' ? 'warn' : 'ok'),
      report.urgent ? [' ', tag(t('concerns.view.urgent'), 'danger')] : null),
    h('p', { class: 'muted' }, t('concerns.view.sent', { category: categoryWords(report.category), when: when(report.created_at) })),
    h('h2', {}, t('concerns.view.what')), h('p', { class: 'report-text' }, report.text),
    report.attachments && report.attachments.length ? [h('h3', {}, t('concerns.view.attachments')), h('ul', {}, report.attachments.map((a) => h('li', {}, `${a.filename} (${bytes(a.size)})`))),
      h('p', { class: 'muted' }, t('concerns.view.attachments_who'))] : null), messagesView(report));
}

function replyForm(send) {
  const box = errorBox();
  const text = h('textarea', { required: true, maxlength: '20000' });
  const submit = h('button', { type: 'submit' }, t('concerns.reply.send'));
  const form = h('form', { class: 'card' }, h('h2', {}, t('concerns.reply.title')), box, field(t('concerns.reply.label'), text), h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!text.value.trim()) { showError(box, t('concerns.reply.empty')); return; }
    busy(submit, box, async () => { await send(text.value); });
  });
  return form;
}

export function receiptPage(ctx, main, { publicForm = false } = {}) {
  page(main, t('concerns.follow_up.title'), t('concerns.follow_up.lead'));
  if (publicForm) main.append(h('p', {}, t('concerns.follow_up.no_account'), ' ', h('a', { href: '/report' }, t('concerns.follow_up.new_report')), ' · ', h('a', { href: '/' }, t('concerns.follow_up.sign_in'))));
  const box = errorBox();
  const input = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', id: 'receipt-input' });
  const submit = h('button', { type: 'submit' }, t('concerns.follow_up.show'));
  const out = h('div', { id: 'receipt-report' });
  const form = h('form', { class: 'card narrow' }, box, field(t('concerns.follow_up.receipt'), input), h('div', { class: 'actions' }, submit));
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
    if (!input.value.trim()) { showError(box, t('concerns.follow_up.empty')); return; }
    busy(submit, null, async () => {
      clear(box);
      try {
        await load();
      } catch (err) {
        clear(out);
        showError(box, err.status === 404 ? t('concerns.follow_up.not_found')
          : err);
      }
    });
  });
  main.append(form, out);
}

export async function myReportsPage(ctx, main) {
  page(main, t('concerns.mine.title'), t('concerns.mine.lead'));
  const mine = await get('/api/reports/mine');
  main.append(h('div', { class: 'card' }, mine.length ? h('ul', { class: 'plain' }, mine.map((r) => h('li', {},
    h('a', { href: `#/concerns/${encodeURIComponent(r.id)}` }, `${categoryWords(r.category)} · ${when(r.created_at)}`), ' ',
    tag(STATE_WORDS[r.state] || r.state)))) : empty(t('concerns.mine.none')),
  h('p', {}, h('a', { href: '#/concern/follow-up' }, t('concerns.mine.follow_up')))));
}

export async function myReportPage(ctx, main, reportId) {
  const report = await get(`/api/reports/mine/${encodeURIComponent(reportId)}`);
  page(main, t('concerns.one.title'));
  main.append(reportView(report), replyForm(async (text) => {
    await post(`/api/reports/mine/${encodeURIComponent(reportId)}/messages`, { text });
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  }));
}
