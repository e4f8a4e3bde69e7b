// A member's programme pages: profile and questionnaire, mentors and preferences, check-in, survey.
import { h, field, checkbox, when, shortId, uid, announce } from '../dom.js';
import { get, put, post, ApiError } from '../api.js';
import { page, section, empty, busy, errorBox, success } from '../ui.js';
import { loadNames } from '../people.js';
import { questionnaireCard } from './questionnaire.js';

const list = (text) => String(text || '').split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
const ordinal = ['1st choice', '2nd choice', '3rd choice'];

// -- #/profile ---------------------------------------------------------------------------------------

export async function profilePage(ctx, main) {
  await renderProfile(ctx, main, null);
}

async function renderProfile(ctx, main, message) {
  const mentor = ctx.has('mentor');
  const [profile, card] = await Promise.all([get('/api/sessions/profiles/me'),
    questionnaireCard((msg) => renderProfile(ctx, main, msg))]);
  page(main, 'Your profile', mentor
    ? 'Mentees choosing a mentor see your biography, areas and languages.'
    : 'Admins who match you see your profile; it helps them find the right mentor.');
  if (message) main.append(success(message));
  const box = errorBox();
  const bio = h('textarea', { rows: 5, maxlength: 2000, value: profile.bio || '' });
  const areas = h('textarea', { rows: 3, value: (profile.areas || []).join('\n') });
  const languages = h('input', { type: 'text', value: (profile.languages || []).join(', '), autocomplete: 'off' });
  const capacity = h('input', { type: 'number', min: 1, max: 10, step: 1, value: profile.capacity ?? '' });
  const save = h('button', { type: 'submit' }, 'Save your profile');
  const form = h('form', { novalidate: true, id: 'profile-form' }, box,
    field(mentor ? 'Biography' : 'A few words about you (optional)', bio, mentor ? 'Your experience and what you can help with.' : null),
    field('Areas', areas, 'One per line, or separated by commas (at most 12).'),
    field('Languages', languages, 'Language tags separated by commas, for example en, fr, fr-CA.'),
    mentor ? field('How many mentees you can take at once', capacity, 'From 1 to 10.') : null,
    h('div', { class: 'actions' }, save));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const body = { bio: bio.value.trim(), areas: list(areas.value), languages: list(languages.value) };
    if (mentor) body.capacity = capacity.value === '' ? null : Number(capacity.value);
    busy(save, box, async () => {
      await put('/api/sessions/profiles/me', body);
      await renderProfile(ctx, main, 'Your profile is saved.');
    });
  });
  const updated = profile.updated_at ? h('p', { class: 'muted' }, `Last saved on ${when(profile.updated_at)}.`) : empty('You have not written your profile yet.');
  main.append(section('About you', updated, form), card);
  announce(message || '');
}

// -- #/mentors ---------------------------------------------------------------------------------------

export async function mentorsPage(ctx, main) {
  await renderMentors(ctx, main, null);
}

async function renderMentors(ctx, main, message) {
  const [mentors, prefs] = await Promise.all([get('/api/sessions/profiles/mentors'), get('/api/sessions/matching/preferences/me')]);
  const nameOf = await loadNames([...mentors.map((m) => m.user_id), ...prefs.choices]);
  const named = (id) => nameOf(id) || `Mentor ${shortId(id)}`;
  page(main, 'Mentors', 'The mentors you can choose now. Choose up to three in order, or let the programme choose for you.');
  if (message) main.append(success(message));
  const cards = h('ul', { class: 'plain', id: 'mentor-list' });
  for (const m of mentors) {
    cards.append(h('li', {}, h('article', { class: 'card' }, h('h3', {}, named(m.user_id)),
      m.bio ? h('p', {}, m.bio) : empty('No biography yet.'),
      m.areas.length ? h('p', {}, 'Areas: ', m.areas.join(', ')) : null,
      m.languages.length ? h('p', {}, 'Languages: ', m.languages.join(', ')) : null,
      h('p', {}, h('span', { class: `tag ${m.has_room ? 'ok' : 'warn'}` }, m.has_room ? 'Has room for a mentee' : 'Full at the moment')))));
  }
  main.append(section('Mentors you can choose', mentors.length ? cards : empty('No mentor can be chosen at the moment.')));
  main.append(preferencesCard(ctx, main, mentors, prefs, named));
}

function preferencesCard(ctx, main, mentors, prefs, named) {
  const box = errorBox();
  let state;
  if (prefs.waiting) state = prefs.match_me ? 'You are waiting for a match: the programme will choose a mentor for you.' : 'You are waiting for a match with your choices below.';
  else if (prefs.match_me || prefs.choices.length) state = 'You are not waiting for a match: you already have a mentor or a match proposed. Your choices are kept for later.';
  else state = 'You have not asked to be matched yet.';
  const status = h('p', { id: 'preferences-state' }, state);
  const matchMe = checkbox('Match me: let the programme choose a mentor for me', { id: 'match-me', checked: prefs.match_me });
  const selects = ordinal.map((label, i) => {
    const select = h('select', {}, h('option', { value: '' }, '(none)'),
      mentors.map((m) => h('option', { value: m.user_id, selected: prefs.choices[i] === m.user_id }, named(m.user_id))));
    // A choice no longer listed stays visible so that saving does not drop it silently.
    if (prefs.choices[i] && !mentors.some((m) => m.user_id === prefs.choices[i])) {
      select.append(h('option', { value: prefs.choices[i], selected: true }, `${named(prefs.choices[i])} (no longer listed)`));
    }
    return select;
  });
  const choiceFields = h('fieldset', { class: 'field', disabled: prefs.match_me }, h('legend', {}, 'Your choices, best first'),
    selects.map((s, i) => field(ordinal[i], s)));
  matchMe.input.addEventListener('change', () => { choiceFields.disabled = matchMe.input.checked; });
  const save = h('button', { type: 'submit' }, 'Save your preferences');
  const stop = h('button', { type: 'button', class: 'secondary' }, 'I do not want to be matched now');
  const form = h('form', { novalidate: true, id: 'preferences-form' }, box, status, matchMe.el, choiceFields,
    h('div', { class: 'actions' }, save, (prefs.match_me || prefs.choices.length) ? stop : null));
  const send = (button, body, done) => busy(button, box, async () => {
    await put('/api/sessions/matching/preferences/me', body);
    await renderMentors(ctx, main, done);
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const choices = matchMe.input.checked ? [] : selects.map((s) => s.value).filter(Boolean);
    send(save, { choices, match_me: matchMe.input.checked }, 'Your preferences are saved.');
  });
  stop.addEventListener('click', () => send(stop, { choices: [], match_me: false }, 'You are no longer waiting for a match.'));
  return section('Your preferences', form);
}

// -- #/checkin ---------------------------------------------------------------------------------------

export async function checkinPage(ctx, main) {
  await renderCheckin(ctx, main, null);
}

async function renderCheckin(ctx, main, answered) {
  const [settings, mine] = await Promise.all([get('/api/sessions/checkins/settings'), get('/api/sessions/checkins/me')]);
  page(main, 'Check-in', 'A short, regular question about how your mentoring is going.');
  if (!settings.enabled || !mine.enabled) {
    main.append(section('Check-ins', empty('Your programme does not use check-ins.')));
    return;
  }
  const concern = h('p', { class: 'alert' }, 'Something worrying you? You can ',
    h('a', { href: mine.raise_concern_path, id: 'raise-concern' }, 'raise a concern'), ' at any time, in confidence.');
  main.append(concern);
  if (answered) main.append(success('Thank you, your answer is saved.'));
  if (!mine.has_plan) main.append(section('Your check-in', empty('No check-in is planned for you.')));
  else if (mine.due) main.append(checkinForm(ctx, main));
  else main.append(section('Your check-in', h('p', { id: 'next-checkin' }, `Your next check-in is due on ${when(mine.next_due_at)}.`)));
  const past = await get('/api/sessions/checkins/me/answers');
  const words = { yes: 'Progressing', partly: 'Partly progressing', no: 'Not progressing' };
  main.append(section('Your past answers', past.length ? h('ul', { class: 'plain', id: 'past-checkins' }, past.map((a) => h('li', {},
    `${when(a.answered_at)}: ${words[a.progressing] || a.progressing}`,
    a.uncomfortable ? '; something made you uncomfortable' : '', a.wants_contact ? '; you asked an admin to contact you' : '')))
    : empty('You have not answered a check-in yet.')));
}

function radios(legend, choices) {
  const name = uid('r');
  const inputs = choices.map(([value]) => h('input', { type: 'radio', name, value, required: true }));
  const set = h('fieldset', { class: 'field' }, h('legend', {}, legend),
    choices.map(([, label], i) => h('label', { class: 'check' }, inputs[i], h('span', {}, label))));
  return { set, value: () => (inputs.find((i) => i.checked) || {}).value };
}

function checkinForm(ctx, main) {
  const box = errorBox();
  const progressing = radios('Is your mentorship progressing?', [['yes', 'Yes'], ['partly', 'Partly'], ['no', 'No']]);
  const uncomfortable = radios('Is anything making you uncomfortable?', [['yes', 'Yes'], ['no', 'No']]);
  const contact = checkbox('I would like an admin to contact me', { id: 'wants-contact' });
  const comment = h('textarea', { rows: 3, maxlength: 2000 });
  const send = h('button', { type: 'submit' }, 'Send your answer');
  const form = h('form', { novalidate: true, id: 'checkin-form' },
    h('p', {}, 'Your answers are seen by programme admins only, never by your mentor or mentee.'), box,
    progressing.set, uncomfortable.set, contact.el, field('Anything you would like to add (optional)', comment),
    h('div', { class: 'actions' }, send));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!progressing.value() || !uncomfortable.value()) {
      busy(null, box, async () => { throw new ApiError(422, { detail: 'Please answer the first two questions.' }); });
      return;
    }
    busy(send, box, async () => {
      const out = await post('/api/sessions/checkins/me', { progressing: progressing.value(), uncomfortable: uncomfortable.value() === 'yes',
        wants_contact: contact.input.checked, comment: comment.value.trim() || null });
      await renderCheckin(ctx, main, out);
    });
  });
  return section('Your check-in is due', form);
}

// -- #/survey ----------------------------------------------------------------------------------------

export async function surveyPage(ctx, main) {
  let survey;
  try {
    survey = await get('/api/sessions/evaluation/survey');
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
  page(main, 'Programme survey', 'Tell the programme how it is going for you.');
  if (!survey) {
    main.append(section('Survey', empty('Your programme has not published a survey.')));
    return;
  }
  // The server says whether this person may answer and whether they already did: act on it.
  if (survey.answered) {
    main.append(section('Survey', h('p', { id: 'survey-done' }, 'You have already answered this survey. Thank you.')));
    return;
  }
  if (survey.eligible === false) {
    main.append(section('Survey', h('p', { id: 'survey-not-yet' }, 'The survey is for mentors and mentees who have been in an active pairing. You can answer it once you have.')));
    return;
  }
  const box = errorBox();
  const readers = [];
  const form = h('form', { novalidate: true, id: 'survey-form' },
    h('p', {}, 'Your answers are stored apart from your name. Admins see them only added up, in groups of five people or more.'), box);
  for (const q of survey.questions) {
    const name = uid('s');
    const multiple = q.kind === 'multiple';
    const options = q.kind === 'scale' ? [1, 2, 3, 4, 5].map((n) => ({ id: n, label: String(n) })) : (q.options || []);
    const inputs = options.map((o) => h('input', { type: multiple ? 'checkbox' : 'radio', name, value: String(o.id) }));
    form.append(h('fieldset', { class: 'field' }, h('legend', {}, q.prompt,
      q.kind === 'scale' ? ' (1: not at all, 5: very much)' : multiple ? ' (choose any)' : ''),
    options.map((o, i) => h('label', { class: 'check' }, inputs[i], h('span', {}, o.label)))));
    readers.push(() => {
      const picked = inputs.filter((i) => i.checked).map((i) => i.value);
      if (!picked.length) return null;
      if (q.kind === 'scale') return [q.id, Number(picked[0])];
      return [q.id, multiple ? picked : picked[0]];
    });
  }
  const send = h('button', { type: 'submit' }, 'Send your answers');
  form.append(h('div', { class: 'actions' }, send));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const answers = Object.fromEntries(readers.map((r) => r()).filter(Boolean));
    busy(send, box, async () => {
      try {
        await post('/api/sessions/evaluation/responses', { version: survey.version, answers });
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 409 && String(err.body.type || '').endsWith('/already-answered'))) throw err;
        form.replaceWith(success('You have already answered this survey. Thank you.'));
        return;
      }
      form.replaceWith(success('Thank you: your answers are saved.'));
      announce('Thank you: your answers are saved.');
    });
  });
  main.append(section('Survey', form));
}
