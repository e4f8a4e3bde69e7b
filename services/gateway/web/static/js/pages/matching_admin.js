// Admins' matching pages: waiting mentees with suggestions (and why), the weights, matching rounds
// (run, review, send or discard). The questionnaire editor is in matching_questionnaire.js.
import { h, field, checkbox, when, tag, shortId, clear, announce } from '../dom.js';
import { get, post, put } from '../api.js';
import { page, section, empty, busy, errorBox, showError, success, confirmDialog } from '../ui.js';
import { loadNames } from '../people.js';

export { questionnaireAdminPage } from './matching_questionnaire.js';

const API = '/api/sessions';
const RANKS = ['1st', '2nd', '3rd'];
const ROUND_WORDS = { draft: 'Draft (not sent)', sent: 'Sent', discarded: 'Discarded' };
const num = (x) => (Math.round(Number(x) * 100) / 100).toString();

/** "Max Mentor", or a short id for someone the gateway does not name. */
function namer(nameOf) {
  return (id) => nameOf(id) || `member ${shortId(id)}`;
}

/** A small table of a score's parts: why a pair ranks where it does. */
export function partsTable(parts, caption, prompts = {}) {
  const label = (name) => (name.startsWith('question: ') && prompts[name.slice(10)] ? `question: ${prompts[name.slice(10)]}` : name);
  return h('div', { class: 'table-wrap' }, h('table', { class: 'compact parts' },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, ['Part', 'Weight', 'Value', 'Contribution'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, parts.map((p) => h('tr', {}, h('td', {}, label(p.name)), h('td', {}, num(p.weight)), h('td', {}, num(p.value)),
      h('td', {}, num(p.contribution)))))));
}

export async function matchingPage(ctx, main) {
  page(main, 'Matching', 'Mentees waiting for a mentor, the programme\'s suggestions and why, and matching rounds. A round only proposes pairs: both members still confirm each one.');
  const [waiting, rounds, weights, questionnaire] = await Promise.all([get(`${API}/matching/waiting`),
    get(`${API}/matching/rounds`), get(`${API}/matching/weights`), get(`${API}/questionnaire`)]);
  const nameOf = namer(await loadNames(waiting.flatMap((w) => [w.mentee_id, ...w.choices]).concat(rounds.map((r) => r.created_by))));
  main.append(h('p', {}, 'The questions mentors and mentees answer, and how much each counts: ',
    h('a', { href: '#/admin/questionnaire' }, 'Questionnaire'), '.'));
  main.append(waitingSection(waiting, nameOf, questionnaire));
  main.append(roundsSection(rounds, nameOf, waiting.length));
  main.append(weightsSection(weights, questionnaire));
}

function waitingSection(waiting, nameOf, questionnaire) {
  if (!waiting.length) return section('Waiting mentees', empty('No mentee is waiting for a match.'));
  return section('Waiting mentees', h('p', { class: 'muted' }, 'Mentees who asked to be matched and have no open pairing: the next round\'s mentees.'),
    h('ul', { class: 'plain', id: 'waiting' }, waiting.map((w) => waitingItem(w, nameOf, questionnaire))));
}

function waitingItem(w, nameOf, questionnaire) {
  const who = nameOf(w.mentee_id);
  const wish = w.choices.length
    ? h('ol', { class: 'choices' }, w.choices.map((c, i) => h('li', {}, `${RANKS[i]} choice: ${nameOf(c)}`)))
    : h('p', {}, tag('Match me'), ' No mentor chosen: the programme chooses.');
  const box = errorBox();
  const panel = h('div', { id: `suggestions-${w.mentee_id}`, hidden: true });
  const answers = h('div', { id: `answers-${w.mentee_id}`, hidden: true });
  // aria-label, not a hidden span: busy() puts back the button's text alone.
  const suggest = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false', 'aria-controls': panel.id,
    'aria-label': `Suggestions for ${who}` }, 'Suggestions');
  suggest.addEventListener('click', () => busy(suggest, box, async () => {
    const open = suggest.getAttribute('aria-expanded') === 'true';
    if (!open && !panel.firstChild) {
      const s = await get(`${API}/matching/suggestions/${encodeURIComponent(w.mentee_id)}`);
      const more = namer(await loadNames([...s.suggestions.map((x) => x.mentor_id), ...s.excluded.map((x) => x.mentor_id), ...s.full]));
      panel.append(suggestionsView(s, more, who, promptsOf(questionnaire)));
    }
    panel.hidden = open;
    suggest.setAttribute('aria-expanded', String(!open));
  }));
  const show = h('button', { type: 'button', class: 'secondary', 'aria-describedby': `answers-hint-${w.mentee_id}`,
    'aria-label': `Show answers of ${who}` }, 'Show answers');
  show.addEventListener('click', () => busy(show, box, async () => {
    const [given, profile] = await Promise.all([get(`${API}/questionnaire/answers/${encodeURIComponent(w.mentee_id)}`),
      get(`${API}/profiles/${encodeURIComponent(w.mentee_id)}`)]);
    clear(answers).append(answersView(given, profile, questionnaire, who));
    answers.hidden = false;
    show.disabled = true;
    show.remove();
    announce(`${who}'s answers are shown. This was recorded in the audit log.`);
  }));
  return h('li', { class: 'waiting-mentee' }, h('h3', {}, who), wish,
    w.updated_at ? h('p', { class: 'muted' }, `Preferences stated ${when(w.updated_at)}`) : null, box,
    h('div', { class: 'actions' }, suggest, show),
    h('p', { class: 'hint', id: `answers-hint-${w.mentee_id}` }, 'Answers may include questions about identity: opening them is recorded in the audit log, so open them only when you need them to match.'),
    panel, answers);
}

function suggestionsView(s, nameOf, who, prompts) {
  const ranked = s.suggestions.length
    ? h('ol', { class: 'suggestions' }, s.suggestions.map((x) => h('li', {},
      h('p', {}, h('strong', {}, nameOf(x.mentor_id)), ` · score ${num(x.total)}`),
      partsTable(x.parts, `Why ${nameOf(x.mentor_id)} scores ${num(x.total)} for ${who}`, prompts))))
    : empty('No mentor can be suggested for now.');
  return h('div', { class: 'suggestions-view' }, h('h4', {}, `Suggested mentors for ${who}, best first`), ranked,
    s.excluded.length ? [h('h4', {}, 'Excluded mentors'),
      h('ul', { class: 'excluded' }, s.excluded.map((x) => h('li', {}, `${nameOf(x.mentor_id)}: ${x.reason}`)))] : null,
    s.full.length ? [h('h4', {}, 'Mentors with no place left'),
      h('ul', { class: 'full' }, s.full.map((id) => h('li', {}, nameOf(id))))] : null);
}

function answerText(q, value) {
  if (Array.isArray(value)) return value.map((v) => answerText(q, v)).join(', ');
  const option = q && q.options.find((o) => o.id === value);
  return option ? option.label : String(value);
}

function answersView(given, profile, questionnaire, who) {
  const byId = Object.fromEntries(questionnaire.questions.map((q) => [q.id, q]));
  const keys = Object.keys(given.answers);
  const about = h('p', {}, `Areas: ${profile.areas.join(', ') || 'none given'} · languages: ${profile.languages.join(', ') || 'none given'}`);
  const note = given.version !== null && given.version !== given.current_version
    ? h('p', { class: 'muted' }, `Answered version ${given.version}; the current version is ${given.current_version}.`) : null;
  return h('div', { class: 'answers-view' }, h('h4', {}, `${who}'s profile and answers`),
    h('p', { class: 'muted' }, 'This read was recorded in the audit log.'), about, note,
    keys.length ? h('dl', {}, keys.map((k) => [h('dt', {}, byId[k] ? byId[k].prompt : k, byId[k] && byId[k].special ? [' ', tag('special category')] : null),
      h('dd', {}, answerText(byId[k], given.answers[k]))]))
      : empty('No answers yet.'),
    given.special_consent ? h('p', { class: 'muted' }, `Consented to questions about identity ${when(given.special_consent_at)}.`) : null);
}

function roundsSection(rounds, nameOf, waitingCount) {
  const box = errorBox();
  const run = h('button', { type: 'button', disabled: waitingCount === 0 }, 'Run a matching round');
  run.addEventListener('click', () => busy(run, box, async () => {
    const round = await post(`${API}/matching/rounds`);
    window.location.hash = `#/admin/matching/rounds/${encodeURIComponent(round.round_id)}`;
  }));
  const list = [...rounds].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
  return section('Matching rounds',
    h('p', {}, 'A round matches every waiting mentee at once, within each mentor\'s capacity. It is a draft: you review it, then send the proposals or discard it.'),
    box, h('div', { class: 'actions' }, run),
    waitingCount === 0 ? h('p', { class: 'muted' }, 'No mentee is waiting, so there is nothing to match.') : null,
    list.length ? h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Past rounds (table)' }, h('table', { id: 'rounds' },
      h('thead', {}, h('tr', {}, ['Round', 'State', 'Run', 'By', 'Closed'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, list.map((r) => h('tr', {},
        h('td', {}, h('a', { href: `#/admin/matching/rounds/${encodeURIComponent(r.round_id)}` }, `Round ${shortId(r.round_id)}`)),
        h('td', {}, ROUND_WORDS[r.state] || r.state), h('td', {}, when(r.created_at)), h('td', {}, nameOf(r.created_by)),
        h('td', {}, r.closed_at ? when(r.closed_at) : '')))))) : empty('No rounds yet.'));
}

function weightsSection(weights, questionnaire) {
  const box = errorBox();
  const status = h('div');
  const input = (value) => h('input', { type: 'number', min: '0', max: '10', step: 'any', required: true, value: String(value) });
  const prefs = weights.preference.map(input);
  const language = input(weights.language);
  const areas = input(weights.areas);
  const submit = h('button', { type: 'submit' }, 'Save weights');
  const form = h('form', { class: 'narrow', id: 'weights', novalidate: true }, box, status,
    h('fieldset', {}, h('legend', {}, 'A mentee\'s own choice'), prefs.map((p, i) => field(`${RANKS[i]} choice`, p))),
    field('Shared language', language, 'Counts when mentor and mentee speak a language in common.'),
    field('Shared areas', areas, 'Counts by how much their areas overlap: the areas both named, out of all the areas either named.'),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const values = [...prefs, language, areas].map((x) => (x.value.trim() === '' ? NaN : Number(x.value)));
    if (values.some(outOfRange)) { showError(box, 'Each weight is a number from 0 to 10.'); return; }
    busy(submit, box, async () => {
      await put(`${API}/matching/weights`, { preference: values.slice(0, 3), language: values[3], areas: values[4] });
      clear(status).append(success('Weights saved. The next suggestions and rounds use them.'));
    });
  });
  const questionIds = Object.keys(weights.questions);
  const prompts = promptsOf(questionnaire);
  return section('Weights', h('p', {}, 'Each part of a score is its weight (0 to 10) times how well the pair fits on it (0 to 1).'),
    weights.updated_at ? h('p', { class: 'muted' }, `Last changed ${when(weights.updated_at)}.`) : null, form,
    h('h3', {}, 'Question weights'),
    questionIds.length ? h('ul', { id: 'question-weights' }, questionIds.map((id) => h('li', {}, `${prompts[id] || id}: ${num(weights.questions[id])}`)))
      : empty('No question counts in matching yet.'),
    h('p', {}, 'Question weights are set on the questions: ', h('a', { href: '#/admin/questionnaire' }, 'edit the questionnaire'), '.'));
}

function promptsOf(questionnaire) {
  return Object.fromEntries(questionnaire.questions.map((q) => [q.id, q.prompt]));
}

function outOfRange(v) {
  return !Number.isFinite(v) || v < 0 || v > 10;
}

export async function roundPage(ctx, main, roundId) {
  page(main, 'Matching round', 'Sending a round proposes its pairs: both the mentor and the mentee still confirm each proposal before the pairing starts.');
  const [round, questionnaire] = await Promise.all([get(`${API}/matching/rounds/${encodeURIComponent(roundId)}`),
    get(`${API}/questionnaire`).catch(() => ({ questions: [] }))]);
  const people = [round.created_by, ...round.assignments.flatMap((a) => [a.mentee_id, a.mentor_id]), ...round.unmatched.map((u) => u.mentee_id)];
  const nameOf = namer(await loadNames(people));
  const holder = h('div', { id: 'round' });
  main.append(h('p', {}, h('a', { href: '#/admin/matching' }, 'Back to Matching')), holder);
  renderRound(holder, round, nameOf, promptsOf(questionnaire));
}

function renderRound(holder, round, nameOf, prompts, message) {
  clear(holder);
  const draft = round.state === 'draft';
  const box = errorBox();
  const ticks = new Map();
  holder.append(message ? success(message) : '', h('p', { id: 'round-state' }, tag(ROUND_WORDS[round.state] || round.state, draft ? 'warn' : 'neutral'),
    ` Run ${when(round.created_at)} by ${nameOf(round.created_by)}`, round.closed_at ? ` · ${round.state} ${when(round.closed_at)}` : '',
    ` · total score ${num(round.total)}`));
  const pairs = round.assignments.map((a) => {
    const pair = `${nameOf(a.mentee_id)} → ${nameOf(a.mentor_id)}`;
    let outcome = null;
    if (draft) {
      const box2 = checkbox('Propose this pair', { checked: true, 'aria-describedby': `pair-${a.mentee_id}` });
      ticks.set(a.mentee_id, box2.input);
      outcome = box2.el;
    } else if (a.pairing_id) {
      outcome = h('p', {}, tag('Proposed', 'ok'), ' ', h('a', { href: `#/pairings/${encodeURIComponent(a.pairing_id)}` }, 'Open the pairing',
        h('span', { class: 'visually-hidden' }, ` of ${pair}`)));
    } else if (a.not_sent) {
      outcome = h('p', {}, tag('Not sent'), ` ${a.not_sent}`);
    }
    return h('li', { class: 'pair' }, h('h3', { id: `pair-${a.mentee_id}` }, pair), h('p', {}, `Score ${num(a.total)}`),
      h('details', {}, h('summary', {}, 'Why this pair'), partsTable(a.parts, `Why ${pair} scores ${num(a.total)}`, prompts)), outcome);
  });
  holder.append(section('Proposed pairs', pairs.length ? h('ul', { class: 'plain', id: 'pairs' }, pairs) : empty('This round matched nobody.')));
  if (round.unmatched.length) {
    holder.append(section('Not matched', h('p', { class: 'muted' }, 'These mentees stay waiting for the next round.'),
      h('ul', { id: 'unmatched' }, round.unmatched.map((u) => h('li', {}, `${nameOf(u.mentee_id)}: ${u.reason}`)))));
  }
  if (!draft) return;
  const send = h('button', { type: 'button' }, 'Send proposals');
  const discard = h('button', { type: 'button', class: 'danger' }, 'Discard round');
  send.addEventListener('click', async () => {
    const skip = [...ticks].filter(([, input]) => !input.checked).map(([id]) => id);
    const count = ticks.size - skip.length;
    const ok = await confirmDialog('Send proposals?', `${count} pair${count === 1 ? '' : 's'} will be proposed; each member is asked to confirm. ${skip.length ? `${skip.length} left out stay waiting.` : ''}`, 'Send proposals');
    if (!ok) return;
    await busy(send, box, async () => {
      const out = await post(`${API}/matching/rounds/${encodeURIComponent(round.round_id)}/send`, { skip });
      renderRound(holder, out, nameOf, prompts, 'Proposals sent. Both members of each pair are asked to confirm.');
      holder.querySelector('.alert')?.focus?.();
      announce('Proposals sent.');
    });
  });
  discard.addEventListener('click', async () => {
    const ok = await confirmDialog('Discard this round?', 'Nothing is proposed; the mentees stay waiting for the next round.', 'Discard round', { danger: true });
    if (!ok) return;
    await busy(discard, box, async () => {
      const out = await post(`${API}/matching/rounds/${encodeURIComponent(round.round_id)}/discard`);
      renderRound(holder, out, nameOf, prompts, 'Round discarded.');
      announce('Round discarded.');
    });
  });
  holder.append(section('Send or discard', h('p', {}, 'Untick a pair to leave it out: its mentee stays waiting. A pair that is no longer possible when you send is reported, not proposed.'),
    box, h('div', { class: 'actions' }, send, discard)));
}
