// A member's matching questionnaire (part of the profile page): ordinary questions, then the optional
// questions about identity under their own heading, with the explicit consent the server requires.
import { h, field, checkbox, when, uid } from '../dom.js';
import { get, put, del } from '../api.js';
import { section, empty, busy, errorBox, confirmDialog } from '../ui.js';

const SPECIAL_WORDS = 'These questions are about your identity (for example ethnicity, gender or faith). Answering them is optional. '
  + 'Your answers are used only to match you, are seen only by the programme’s admins who match, and are kept only with your consent: '
  + 'you can withdraw it at any time and they are deleted at once.';

/** The questionnaire card: `reload` redraws the page after a change. */
export async function questionnaireCard(reload) {
  const [q, mine] = await Promise.all([get('/api/sessions/questionnaire/'), get('/api/sessions/questionnaire/answers/me')]);
  const card = section('Matching questionnaire');
  if (!q.version || !q.questions.length) {
    card.append(empty('Your programme has not published its questionnaire yet.'));
    return card;
  }
  const box = errorBox();
  card.append(box);
  const given = mine.answers || {};
  if (mine.version !== null && mine.version !== mine.current_version) {
    card.append(h('div', { class: 'alert', id: 'questionnaire-old' }, h('p', {},
      'Your answers are to an earlier version of this questionnaire. What still fits is filled in below; please check it and save your answers again.')));
  } else if (mine.updated_at) {
    card.append(h('p', { class: 'muted' }, `You last saved your answers on ${when(mine.updated_at)}.`));
  }
  const ordinary = q.questions.filter((x) => !x.special);
  const special = q.questions.filter((x) => x.special);
  const readers = [];
  const form = h('form', { novalidate: true, id: 'questionnaire-form' });
  for (const question of ordinary) form.append(questionField(question, given[question.id], readers));
  let consent = null;
  if (special.length) {
    const group = h('div', { class: 'special', id: 'special-questions' },
      h('h3', {}, 'Optional questions about your identity'), h('p', {}, SPECIAL_WORDS));
    for (const question of special) group.append(questionField(question, given[question.id], readers));
    consent = checkbox('I agree that my answers to these questions about my identity are kept and used only to match me, and seen only by the programme’s admins who match.',
      { id: 'special-consent', checked: mine.special_consent });
    group.append(consent.el);
    form.append(group);
  }
  const save = h('button', { type: 'submit' }, 'Save your answers');
  form.append(h('div', { class: 'actions' }, save));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const answers = {};
    for (const read of readers) {
      const [id, value] = read();
      if (value !== null) answers[id] = value;
    }
    busy(save, box, async () => {
      await put('/api/sessions/questionnaire/answers/me', { version: q.version, answers, special_consent: Boolean(consent && consent.input.checked) });
      reload('Your answers are saved.');
    });
  });
  card.append(form);
  if (mine.special_consent) {
    const withdraw = h('button', { type: 'button', class: 'danger', id: 'withdraw-special' }, 'Withdraw consent and delete these answers');
    withdraw.addEventListener('click', async () => {
      if (!await confirmDialog('Withdraw your consent?', 'Your answers to the questions about your identity are deleted at once and no longer used to match you. Your other answers stay.', 'Withdraw and delete', { danger: true })) return;
      busy(withdraw, box, async () => {
        await del('/api/sessions/questionnaire/answers/me/special');
        reload('Your consent is withdrawn and your answers about your identity are deleted.');
      });
    });
    card.append(h('p', { class: 'muted' }, `You gave your consent on ${when(mine.special_consent_at)}.`), h('div', { class: 'actions' }, withdraw));
  }
  return card;
}

/** One question as a labelled control; pushes a reader returning [id, value or null (unanswered)]. */
function questionField(question, previous, readers) {
  const options = question.options || [];
  const ids = new Set(options.map((o) => o.id));
  if (question.kind === 'text') {
    const area = h('textarea', { rows: 3, maxlength: 2000, value: typeof previous === 'string' ? previous : '' });
    readers.push(() => [question.id, area.value.trim() ? area.value.trim() : null]);
    return field(question.prompt, area);
  }
  const multiple = question.kind === 'multiple';
  const name = uid('q');
  const chosen = new Set((multiple ? (Array.isArray(previous) ? previous : []) : [previous]).filter((v) => ids.has(v)));
  const inputs = options.map((o) => h('input', { type: multiple ? 'checkbox' : 'radio', name, value: o.id, checked: chosen.has(o.id) }));
  const set = h('fieldset', { class: 'field' }, h('legend', {}, question.prompt, multiple ? ' (choose any)' : ''),
    options.map((o, i) => h('label', { class: 'check' }, inputs[i], h('span', {}, o.label))));
  readers.push(() => {
    const picked = inputs.filter((i) => i.checked).map((i) => i.value);
    if (multiple) return [question.id, picked.length ? picked : null];
    return [question.id, picked.length ? picked[0] : null];
  });
  return set;
}
