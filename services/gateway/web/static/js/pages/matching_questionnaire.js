// Admins: the matching questionnaire (the current version, and an editor that publishes a new one).
import { h, field, checkbox, when, tag, clear, announce } from '../dom.js';
import { get, put } from '../api.js';
import { page, section, empty, busy, errorBox, showError, success } from '../ui.js';

const API = '/api/sessions/questionnaire';
const KINDS = { single: 'One choice', multiple: 'Several choices', text: 'Free text' };

/** An id from a label: lowercase, words joined by "_", starting with a letter, at most 32 characters. */
export function slug(text) {
  let s = String(text || '').normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
    .replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  if (!/^[a-z]/.test(s)) s = `q_${s}`;
  return s.slice(0, 32).replace(/_+$/, '');
}

function unique(id, taken) {
  let out = id;
  for (let n = 2; taken.has(out); n += 1) out = `${id.slice(0, 29)}_${n}`;
  taken.add(out);
  return out;
}

export async function questionnaireAdminPage(ctx, main) {
  page(main, 'Questionnaire', 'The questions mentors and mentees answer for matching. Publishing a new version asks members to answer it; answers to older versions are kept and still count where their questions fit.');
  const current = await get(API);
  main.append(h('p', {}, h('a', { href: '#/admin/matching' }, 'Back to Matching')));
  const status = h('div', { id: 'questionnaire-status' });
  main.append(status, currentSection(current));
  const draft = current.questions.map((q) => ({ ...q, options: q.options.map((o) => ({ ...o })) }));
  main.append(editorSection(draft));
}

function currentSection(current) {
  if (!current.version) return section('Current version', empty('No questionnaire published yet.'));
  return section(`Current version: ${current.version}`, h('p', { class: 'muted' }, `Published ${when(current.published_at)}.`),
    h('ol', { id: 'current-questions' }, current.questions.map((q) => h('li', {},
      h('p', {}, h('strong', {}, q.prompt), ` · ${KINDS[q.kind]}`, q.kind !== 'text' ? ` · weight ${q.weight}` : '',
        q.special ? [' ', tag('special category')] : ''),
      q.options.length ? h('p', { class: 'muted' }, q.options.map((o) => o.label).join(' · ')) : null))));
}

function blank() {
  return { id: '', kind: 'single', prompt: '', options: [{ id: '', label: '' }, { id: '', label: '' }], special: false, weight: 1 };
}

function editorSection(draft) {
  const box = errorBox();
  const list = h('ul', { class: 'plain', id: 'question-editor' });
  const add = h('button', { type: 'button', class: 'secondary' }, 'Add a question');
  const submit = h('button', { type: 'submit' }, 'Publish new version');
  const render = (focus) => {
    clear(list).append(...draft.map((q, i) => questionEditor(q, i, draft, render)));
    if (focus) list.querySelector(focus)?.focus();
  };
  add.addEventListener('click', () => {
    draft.push(blank());
    render(`#q-${draft.length - 1}-prompt`);
  });
  const form = h('form', { novalidate: true }, box, list, h('div', { class: 'actions' }, add, submit));
  form.addEventListener('input', () => { if (box.firstChild) clear(box); });  // the message was about the old text
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const questions = build(draft);
    if (typeof questions === 'string') { showError(box, questions); return; }
    busy(submit, box, async () => {
      const out = await put(API, { questions });
      const main = form.closest('main') || document.querySelector('main');
      await questionnaireAdminPage(null, main);
      const note = main.querySelector('#questionnaire-status');
      if (note) note.append(success(`Version ${out.version} published. Answers to older versions are kept.`));
      announce(`Version ${out.version} published.`);
    });
  });
  render();
  return section('Publish a new version', h('p', {}, 'Edit the questions below (they start as the current version) and publish. Ids left blank are made from the text.'), form);
}

/** The body the API takes, ids filled in; or a message saying what to fix. */
function build(draft) {
  if (!draft.length) return 'Add at least one question.';
  const taken = new Set(draft.map((q) => q.id.trim()).filter(Boolean));
  const questions = [];
  for (const [i, q] of draft.entries()) {
    const prompt = q.prompt.trim();
    if (!prompt) return `Question ${i + 1}: enter its text.`;
    const id = q.id.trim() || unique(slug(prompt), taken);
    const out = { id, kind: q.kind, prompt, special: q.special, options: [], weight: 0 };
    if (q.kind !== 'text') {
      const optionTaken = new Set(q.options.map((o) => o.id.trim()).filter(Boolean));
      const options = q.options.filter((o) => o.label.trim() || o.id.trim());
      if (options.some((o) => !o.label.trim())) return `Question ${i + 1}: every option needs a label.`;
      out.options = options.map((o) => ({ id: o.id.trim() || unique(slug(o.label), optionTaken), label: o.label.trim() }));
      const weight = Number(q.weight);
      if (!Number.isFinite(weight) || weight < 0 || weight > 10) return `Question ${i + 1}: the weight is a number from 0 to 10.`;
      out.weight = weight;
    }
    questions.push(out);
  }
  return questions;
}

function questionEditor(q, i, draft, render) {
  const n = i + 1;
  const bind = (input, key, read = (el) => el.value) => {
    input.addEventListener('input', () => { q[key] = read(input); });
    input.addEventListener('change', () => { q[key] = read(input); });
    return input;
  };
  const prompt = bind(h('textarea', { id: `q-${i}-prompt`, rows: '2', maxlength: '500', value: q.prompt }), 'prompt');
  const id = bind(h('input', { type: 'text', id: `q-${i}-id`, maxlength: '32', value: q.id, pattern: '[a-z][a-z0-9_]*' }), 'id');
  const kind = h('select', { id: `q-${i}-kind` }, Object.entries(KINDS).map(([v, label]) => h('option', { value: v, selected: q.kind === v }, label)));
  kind.addEventListener('change', () => { q.kind = kind.value; render(`#q-${i}-kind`); });
  const special = checkbox('Special category (identity)', { checked: q.special, 'aria-describedby': `q-${i}-special-hint` });
  bind(special.input, 'special', (el) => el.checked);
  const move = (to, label) => {
    const b = h('button', { type: 'button', class: 'secondary', disabled: to < 0 || to >= draft.length }, label,
      h('span', { class: 'visually-hidden' }, ` question ${n}`));
    b.addEventListener('click', () => {
      [draft[i], draft[to]] = [draft[to], draft[i]];
      render(`#q-${to}-prompt`);
      announce(`Question moved to position ${to + 1}.`);
    });
    return b;
  };
  const remove = h('button', { type: 'button', class: 'danger' }, 'Remove', h('span', { class: 'visually-hidden' }, ` question ${n}`));
  remove.addEventListener('click', () => {
    draft.splice(i, 1);
    render(draft.length ? `#q-${Math.min(i, draft.length - 1)}-prompt` : null);
    announce(`Question ${n} removed.`);
  });
  const parts = [field('Question text', prompt), field('Kind', kind),
    field('Question id (optional)', id, 'Lowercase letters, digits and _. Left blank: made from the text.'),
    special.el, h('p', { class: 'hint', id: `q-${i}-special-hint` }, 'About ethnicity, gender, faith or similar (UK GDPR special-category data): optional for members, kept only with their explicit consent and sealed apart.')];
  if (q.kind !== 'text') {
    const weight = bind(h('input', { type: 'number', id: `q-${i}-weight`, min: '0', max: '10', step: 'any', value: String(q.weight) }), 'weight');
    parts.push(field('Weight in matching (0 to 10)', weight, '0: not used for matching. A shared answer adds up to this much to a pair\'s score.'));
    parts.push(optionsEditor(q, i, render));
  }
  return h('li', {}, h('fieldset', { class: 'question' }, h('legend', {}, `Question ${n}`), parts,
    h('div', { class: 'actions' }, move(i - 1, 'Move up'), move(i + 1, 'Move down'), remove)));
}

function optionsEditor(q, i, render) {
  const rows = q.options.map((o, j) => {
    const label = h('input', { type: 'text', id: `q-${i}-o-${j}-label`, maxlength: '200', value: o.label });
    const oid = h('input', { type: 'text', id: `q-${i}-o-${j}-id`, maxlength: '32', value: o.id });
    label.addEventListener('input', () => { o.label = label.value; });
    oid.addEventListener('input', () => { o.id = oid.value; });
    const drop = h('button', { type: 'button', class: 'secondary' }, 'Remove option', h('span', { class: 'visually-hidden' }, ` ${j + 1} of question ${i + 1}`));
    drop.addEventListener('click', () => { q.options.splice(j, 1); render(`#q-${i}-add-option`); });
    return h('li', { class: 'row' }, field(`Option ${j + 1}`, label), field(`Option ${j + 1} id (optional)`, oid), drop);
  });
  const add = h('button', { type: 'button', class: 'secondary', id: `q-${i}-add-option` }, 'Add an option',
    h('span', { class: 'visually-hidden' }, ` to question ${i + 1}`));
  add.addEventListener('click', () => { q.options.push({ id: '', label: '' }); render(`#q-${i}-o-${q.options.length - 1}-label`); });
  return h('fieldset', {}, h('legend', {}, 'Options'), h('ul', { class: 'plain' }, rows), add);
}
