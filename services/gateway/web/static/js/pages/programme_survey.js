// Admins: the programme's evaluation survey (publish versions of closed questions) and its results, which
// the sessions service returns only as counts over groups large enough to keep respondents anonymous.
import { h, field, when, clear, announce } from '../dom.js';
import { get, put, ApiError } from '../api.js';
import { page, section, busy, errorBox, showError, empty } from '../ui.js';
import { keyFrom } from './programme_admin.js';

const SURVEY = '/api/sessions/evaluation';
const KINDS = [['scale', 'Scale from 1 to 5'], ['single', 'One choice'], ['multiple', 'Several choices']];
const GROUPS = { all: 'Everyone', mentor: 'Mentors', mentee: 'Mentees' };

export async function surveyAdminPage(ctx, main) {
  page(main, 'Evaluation survey', 'A short survey of closed questions members answer about the programme. You see the answers only as counts.');
  let current = null;
  try {
    current = await get(`${SURVEY}/survey`);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
  const reload = () => surveyAdminPage(ctx, main);
  main.append(currentSection(current));
  if (current) main.append(resultsSection(current));
  main.append(editorSection(current, reload));
}

function optionText(o) {
  return keyFrom(o.label, 'o') === o.id ? o.label : `${o.id} = ${o.label}`;
}

function currentSection(current) {
  if (!current) return section('Current survey', empty('No survey has been published yet.'));
  return section('Current survey', h('p', { id: 'survey-version' }, `Version ${current.version}, published ${when(current.published_at)}.`),
    h('ol', {}, current.questions.map((q) => h('li', {}, h('strong', {}, q.prompt), ` (${(KINDS.find(([k]) => k === q.kind) || [q.kind, q.kind])[1]})`,
      q.options ? h('ul', {}, q.options.map((o) => h('li', {}, o.label))) : null))));
}

function resultsSection(current) {
  const box = errorBox();
  const version = h('input', { type: 'number', min: '1', max: String(current.version), value: String(current.version), required: true });
  const byRole = h('select', {}, h('option', { value: 'role' }, 'Overall and by role'), h('option', { value: 'none' }, 'Overall only'));
  const show = h('button', { type: 'submit' }, 'Show the results');
  const out = h('div', { id: 'survey-results' });
  const form = h('form', { class: 'narrow', novalidate: true, id: 'results-form' }, box,
    field('Survey version', version, `1 to ${current.version} (the current one).`), field('Groups', byRole), h('div', { class: 'actions' }, show));
  const load = () => busy(show, box, async () => {
    const n = Number(version.value);
    if (!Number.isInteger(n) || n < 1) { showError(box, 'Enter a version number.'); return; }
    const query = `version=${n}&by=${byRole.value}`;
    const results = await get(`${SURVEY}/results?${query}`);
    clear(out);
    out.append(resultsView(results, results.version === current.version ? current : null),
      h('p', {}, h('a', { href: `${SURVEY}/results.csv?${query}`, download: `evaluation-survey-v${results.version}.csv`, id: 'results-csv' },
        `Download CSV (version ${results.version})`)));
  });
  form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  load();
  return section('Results', h('p', {}, 'Results are counts only. A group with fewer than 5 responses is not shown at all, so nobody can be recognised from their answers.'), form, out);
}

function resultsView(results, survey) {
  const questions = new Map(((survey && survey.questions) || []).map((q) => [q.id, q]));
  const label = (q, option) => {
    const opt = q && q.options && q.options.find((o) => o.id === option);
    return opt ? opt.label : option;
  };
  return h('div', {}, results.groups.map((g) => {
    const name = GROUPS[g.group] || g.group;
    if (g.suppressed) {
      return h('div', { class: 'card result-group', 'data-group': g.group }, h('h3', {}, name),
        h('p', { class: 'muted suppressed' }, `Fewer than ${results.min_group} responses: not shown.`));
    }
    return h('div', { class: 'card result-group', 'data-group': g.group }, h('h3', {}, `${name}: ${g.respondents} responses`),
      (g.questions || []).map((qc) => {
        const q = questions.get(qc.question_id);
        return h('div', { class: 'table-wrap' }, h('table', {},
          h('caption', {}, q ? q.prompt : qc.question_id),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, qc.kind === 'scale' ? 'Value' : 'Answer'), h('th', { scope: 'col' }, 'Count'))),
          h('tbody', {}, qc.counts.map((c) => h('tr', {}, h('th', { scope: 'row' }, label(q, c.option)), h('td', {}, String(c.count)))))));
      }));
  }));
}

function editorSection(current, reload) {
  const box = errorBox();
  const rows = current ? current.questions.map((q) => ({ id: q.id, kind: q.kind, prompt: q.prompt,
    options: (q.options || []).map(optionText).join('\n') })) : [{ id: '', kind: 'scale', prompt: '', options: '' }];
  const list = h('ol', { class: 'plain', id: 'survey-questions' });
  const render = () => {
    clear(list);
    rows.forEach((q, i) => {
      const n = i + 1;
      const prompt = h('input', { type: 'text', required: true, maxlength: '500', value: q.prompt, 'data-part': 'prompt' });
      const id = h('input', { type: 'text', maxlength: '32', value: q.id, 'data-part': 'id' });
      const kind = h('select', { 'data-part': 'kind' }, KINDS.map(([v, t]) => h('option', { value: v }, t)));
      kind.value = q.kind;
      const options = h('textarea', { rows: '4', 'data-part': 'options' }, q.options);
      const optionsField = field('Choices, one a line', options, 'From 2 to 12. Write "id = label" to keep an existing choice’s id.');
      optionsField.hidden = q.kind === 'scale';
      prompt.addEventListener('input', () => { q.prompt = prompt.value; });
      id.addEventListener('input', () => { q.id = id.value; });
      kind.addEventListener('change', () => { q.kind = kind.value; optionsField.hidden = q.kind === 'scale'; });
      options.addEventListener('input', () => { q.options = options.value; });
      const remove = h('button', { type: 'button', class: 'danger', disabled: rows.length === 1,
        onclick: () => { rows.splice(i, 1); render(); announce(`Question ${n} removed.`); } }, `Remove question ${n}`);
      list.append(h('li', { class: 'card' }, h('h3', {}, `Question ${n}`), field('Question', prompt), field('Kind of answer', kind),
        optionsField, field('Question id', id, 'Lower case letters, digits and _. Left empty, it is made from the question.'),
        h('div', { class: 'actions' }, remove)));
    });
  };
  render();
  const add = h('button', { type: 'button', class: 'secondary' }, 'Add a question');
  add.addEventListener('click', () => {
    rows.push({ id: '', kind: 'scale', prompt: '', options: '' });
    render();
    list.querySelectorAll('li.card')[rows.length - 1].querySelector('input').focus();
  });
  const publish = h('button', { type: 'submit' }, 'Publish this version');
  const form = h('form', { novalidate: true, id: 'survey-form' }, box, list, h('div', { class: 'actions' }, add, publish));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const questions = [];
    for (const [i, q] of rows.entries()) {
      if (!q.prompt.trim()) { showError(box, `Question ${i + 1} needs its text.`); return; }
      const out = { id: q.id.trim() || keyFrom(q.prompt, 'q'), kind: q.kind, prompt: q.prompt.trim() };
      if (q.kind !== 'scale') {
        out.options = q.options.split('\n').map((line) => line.trim()).filter(Boolean).map((line) => {
          const m = /^([a-z][a-z0-9_]{0,31})\s*=\s*(.+)$/.exec(line);
          return m ? { id: m[1], label: m[2].trim() } : { id: keyFrom(line, 'o'), label: line };
        });
        if (out.options.length < 2 || out.options.length > 12) { showError(box, `Question ${i + 1} needs 2 to 12 choices.`); return; }
        if (new Set(out.options.map((o) => o.id)).size !== out.options.length) { showError(box, `Two choices of question ${i + 1} have the same id.`); return; }
      }
      questions.push(out);
    }
    if (new Set(questions.map((q) => q.id)).size !== questions.length) { showError(box, 'Two questions have the same id: change one.'); return; }
    busy(publish, box, async () => {
      const done = await put(`${SURVEY}/survey`, { questions });
      await reload();
      announce(`Version ${done.version} of the survey is published.`);
    });
  });
  return section('Publish a new version', h('p', {}, 'Members answer the current version. Earlier versions and their results are kept. Questions are closed on purpose: free text could identify people.'), form);
}
