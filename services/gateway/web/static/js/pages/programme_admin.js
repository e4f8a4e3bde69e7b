// Admins' programme pages: check-ins with members, the evaluation survey (programme_survey.js), the
// mentoring agreement template. Everything shown is what the sessions service returned.
import { h, field, checkbox, when, wallInput, zonedToUtc, timeZone, tag, clear, announce } from '../dom.js';
import { get, post, put, del } from '../api.js';
import { page, section, busy, errorBox, showError, empty, confirmDialog } from '../ui.js';
import { loadNames } from '../people.js';

export { surveyAdminPage } from './programme_survey.js';

const CHECKINS = '/api/sessions/checkins';
const zoneName = () => timeZone().replace(/_/g, ' ');
const PROGRESS = { yes: 'Yes', partly: 'Partly', no: 'No' };

/** A key from a title: "Ground rules!" -> "ground_rules" (the service's pattern: a letter first, ≤ 32). */
export function keyFrom(text, prefix = 's') {
  let key = String(text || '').toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  if (!/^[a-z]/.test(key)) key = `${prefix}_${key}`.replace(/_+$/, '');
  return key.slice(0, 32).replace(/_+$/, '');
}

// -- check-ins ---------------------------------------------------------------------------------------

export async function checkinsAdminPage(ctx, main) {
  page(main, 'Check-ins', 'Regular short check-ins with mentors and mentees: are they progressing, is anything making them uncomfortable, do they want someone to contact them.');
  const [settings, plans, users] = await Promise.all([get(`${CHECKINS}/settings`), get(`${CHECKINS}/plans`),
    get('/admin/users').catch(() => [])]);
  const byId = new Map(users.map((u) => [u.id, u]));
  const named = await loadNames(plans.map((p) => p.user_id));
  const nameOf = (id) => (byId.get(id) && byId.get(id).display_name) || named(id) || 'A member';
  const reload = () => checkinsAdminPage(ctx, main);

  main.append(h('div', { class: 'alert', id: 'checkins-privacy' }, h('p', {},
    h('strong', {}, 'Answers are seen by programme admins only. '),
    'They are never shown to the member’s partner, to other members or to safeguarding officers.')));
  main.append(settingsSection(settings, reload));
  main.append(plansSection(settings, plans, nameOf, reload));
  if (settings.enabled) main.append(planForm(settings, plans, users, reload));
}

function settingsSection(settings, reload) {
  const box = errorBox();
  const on = checkbox('Check in with members of this programme', { checked: settings.enabled, name: 'enabled' });
  const every = h('input', { type: 'number', min: '1', max: '26', required: true, value: String(settings.default_every_weeks), name: 'every' });
  const grace = h('input', { type: 'number', min: '0', max: '14', required: true, value: String(settings.grace_days), name: 'grace' });
  const save = h('button', { type: 'submit' }, 'Save the setting');
  const form = h('form', { class: 'narrow', novalidate: true, id: 'checkin-settings' }, box, on.el,
    field('Default cadence (weeks)', every, 'Every how many weeks a new plan checks in, unless you choose otherwise (1 to 26).'),
    field('Grace days', grace, 'A check-in counts as overdue this many days after it was due (0 to 14).'),
    h('div', { class: 'actions' }, save));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const weeks = Number(every.value);
    const days = Number(grace.value);
    if (!Number.isInteger(weeks) || weeks < 1 || weeks > 26) { showError(box, 'The default cadence is a whole number of weeks from 1 to 26.'); return; }
    if (!Number.isInteger(days) || days < 0 || days > 14) { showError(box, 'Grace days are a whole number from 0 to 14.'); return; }
    busy(save, box, async () => {
      const out = await put(`${CHECKINS}/settings`, { enabled: on.input.checked, default_every_weeks: weeks, grace_days: days });
      announce(out.enabled ? 'Check-ins are on.' : 'Check-ins are off.');
      await reload();
    });
  });
  return section('Programme setting',
    h('p', {}, 'Check-ins are off unless you turn them on. Some programmes prefer to be hands-off; the safety policy asks for regular check-ins, so that someone notices early when a pairing is not going well.'),
    h('p', {}, 'Currently: ', settings.enabled ? tag('On', 'ok') : tag('Off', 'neutral')),
    form);
}

function plansSection(settings, plans, nameOf, reload) {
  if (!plans.length) return section('Planned check-ins', empty('No member has planned check-ins yet.'));
  const box = errorBox();
  const rows = [];
  for (const p of plans) {
    const detail = h('td', { colspan: '6' });
    const detailRow = h('tr', { class: 'plan-detail', hidden: true }, detail);
    const answers = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false' }, 'Answers');
    const change = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false' }, 'Change cadence');
    const stop = h('button', { type: 'button', class: 'danger' }, 'Stop');
    const open = (which, fill) => busy(which, box, async () => {
      const wasOpen = which.getAttribute('aria-expanded') === 'true';
      for (const b of [answers, change]) b.setAttribute('aria-expanded', 'false');
      clear(detail);
      detailRow.hidden = wasOpen;
      if (wasOpen) return;
      which.setAttribute('aria-expanded', 'true');
      await fill(detail);
    });
    answers.addEventListener('click', () => open(answers, (cell) => answersOf(p, nameOf(p.user_id), cell, reload)));
    change.addEventListener('click', () => open(change, (cell) => changeForm(p, nameOf(p.user_id), cell, reload)));
    stop.addEventListener('click', async () => {
      const ok = await confirmDialog('Stop check-ins?', `${nameOf(p.user_id)} will not be asked to check in any more. Their past answers stay.`, 'Stop check-ins', { danger: true });
      if (ok) busy(stop, box, async () => { await del(`${CHECKINS}/plans/${encodeURIComponent(p.user_id)}`); announce('Check-ins stopped.'); await reload(); });
    });
    const state = [];
    if (p.overdue) state.push(tag(`Overdue by ${p.overdue_days} ${p.overdue_days === 1 ? 'day' : 'days'}`, 'warn'));
    else if (p.due) state.push(tag('Due', 'neutral'));
    if (p.attention) state.push(' ', tag('Needs attention', 'danger'));
    rows.push(h('tr', { 'data-user': p.user_id },
      h('th', { scope: 'row' }, nameOf(p.user_id)),
      h('td', {}, `Every ${p.every_weeks} ${p.every_weeks === 1 ? 'week' : 'weeks'}`),
      h('td', {}, when(p.next_due_at)),
      h('td', {}, p.last_answered_at ? when(p.last_answered_at) : 'Not yet'),
      h('td', {}, state.length ? state : '—'),
      h('td', {}, h('div', { class: 'actions' }, answers, change, stop))), detailRow);
  }
  const table = h('table', { id: 'checkin-plans' }, h('caption', { class: 'visually-hidden' }, 'Planned check-ins'),
    h('thead', {}, h('tr', {}, ['Member', 'Cadence', 'Next due', 'Last answered', 'State', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows));
  return section('Planned check-ins', settings.enabled ? null : h('p', { class: 'muted' }, 'Check-ins are off: members are not asked now and nothing counts as overdue.'),
    box, h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Planned check-ins (table)' }, table));
}

async function answersOf(plan, name, cell, reload) {
  const list = await get(`${CHECKINS}/answers/${encodeURIComponent(plan.user_id)}`);
  const box = errorBox();
  cell.append(h('h3', {}, `${name}’s answers`), box);
  if (!list.length) { cell.append(empty('No answers yet.')); return; }
  const items = list.map((a) => {
    const ack = a.needs_attention && !a.acknowledged_at ? h('button', { type: 'button' }, 'Acknowledge') : null;
    if (ack) ack.addEventListener('click', () => busy(ack, box, async () => {
      await post(`${CHECKINS}/answers/${encodeURIComponent(a.checkin_id)}/acknowledge`);
      announce('Acknowledged.');
      await reload();
    }));
    return h('li', {}, h('div', { class: 'card checkin-answer' },
      h('p', {}, h('strong', {}, `Answered ${when(a.answered_at)}`), ' ',
        a.needs_attention ? (a.acknowledged_at ? tag(`Acknowledged ${when(a.acknowledged_at)}`, 'ok') : tag('Needs attention', 'danger')) : null),
      h('dl', {},
        h('dt', {}, 'Progressing'), h('dd', {}, PROGRESS[a.progressing] || a.progressing),
        h('dt', {}, 'Something makes them uncomfortable'), h('dd', {}, a.uncomfortable ? 'Yes' : 'No'),
        h('dt', {}, 'Wants to be contacted'), h('dd', {}, a.wants_contact ? 'Yes' : 'No'),
        h('dt', {}, 'Comment'), h('dd', {}, a.comment || '—')),
      ack ? h('div', { class: 'actions' }, ack) : null));
  });
  cell.append(h('ul', { class: 'plain' }, items));
}

function changeForm(plan, name, cell, reload) {
  const box = errorBox();
  const every = h('input', { type: 'number', min: '1', max: '26', required: true, value: String(plan.every_weeks) });
  const next = h('input', { type: 'datetime-local', value: '' });
  const save = h('button', { type: 'submit' }, 'Save the cadence');
  const form = h('form', { class: 'narrow', novalidate: true }, h('h3', {}, `Change ${name}’s cadence`), box,
    field('Every how many weeks', every),
    field('Next check-in due (optional)', next, `Leave empty to keep ${when(plan.next_due_at)}. In your time zone, ${zoneName()}.`),
    h('div', { class: 'actions' }, save));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const weeks = Number(every.value);
    if (!Number.isInteger(weeks) || weeks < 1 || weeks > 26) { showError(box, 'Choose a whole number of weeks from 1 to 26.'); return; }
    const body = { every_weeks: weeks };
    if (next.value) {
      const at = zonedToUtc(next.value);
      if (!at) { showError(box, 'Enter the date and time of the next check-in.'); return; }
      body.next_due_at = at.toISOString();
    }
    busy(save, box, async () => { await put(`${CHECKINS}/plans/${encodeURIComponent(plan.user_id)}`, body); announce('Cadence changed.'); await reload(); });
  });
  cell.append(form);
}

function planForm(settings, plans, users, reload) {
  const planned = new Set(plans.map((p) => p.user_id));
  const members = users.filter((u) => !planned.has(u.id) && u.status !== 'suspended'
    && (u.roles.includes('mentor') || u.roles.includes('mentee')));
  if (!members.length) return section('Plan check-ins for a member', empty('Every mentor and mentee already has planned check-ins.'));
  const box = errorBox();
  const who = h('select', { required: true, name: 'member' }, h('option', { value: '' }, 'Choose a member'),
    members.map((u) => h('option', { value: u.id }, `${u.display_name} (${u.roles.filter((r) => r === 'mentor' || r === 'mentee').join(', ')})`)));
  const every = h('input', { type: 'number', min: '1', max: '26', required: true, value: String(settings.default_every_weeks) });
  const first = h('input', { type: 'datetime-local', required: true, value: wallInput(new Date()) });
  const save = h('button', { type: 'submit' }, 'Plan check-ins');
  const form = h('form', { class: 'narrow', novalidate: true, id: 'plan-form' }, box,
    field('Member', who, 'Mentors and mentees without planned check-ins.'),
    field('Every how many weeks', every),
    field('First check-in due', first, `In your time zone, ${zoneName()}. At most a year ahead.`),
    h('div', { class: 'actions' }, save));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const weeks = Number(every.value);
    const at = zonedToUtc(first.value);
    if (!who.value) { showError(box, 'Choose the member.'); who.focus(); return; }
    if (!Number.isInteger(weeks) || weeks < 1 || weeks > 26) { showError(box, 'Choose a whole number of weeks from 1 to 26.'); return; }
    if (!at) { showError(box, 'Enter when the first check-in is due.'); return; }
    busy(save, box, async () => {
      await post(`${CHECKINS}/plans`, { user_id: who.value, every_weeks: weeks, first_due_at: at.toISOString() });
      announce('Check-ins planned.');
      await reload();
    });
  });
  return section('Plan check-ins for a member', form);
}

// -- the agreement template --------------------------------------------------------------------------

export async function agreementTemplatePage(ctx, main) {
  page(main, 'Agreement template', 'The sections every pair fills in when they write their mentoring agreement.');
  const current = await get('/api/sessions/agreement-template');
  main.append(h('p', {}, 'Publishing a new version changes the sections pairs see when they next write a version of their agreement. Agreements already written keep the template version they were written under.'));
  const info = current.version === 0 ? 'The built-in default (no template published yet).'
    : `Version ${current.version}, published ${when(current.published_at)}.`;
  main.append(section('Current template', h('p', { id: 'template-version' }, info),
    h('ol', {}, current.sections.map((s) => h('li', {}, h('strong', {}, s.title), s.guidance ? h('p', { class: 'muted' }, s.guidance) : null)))));
  main.append(templateEditor(current, () => agreementTemplatePage(ctx, main)));
}

function templateEditor(current, reload) {
  const box = errorBox();
  const rows = current.sections.map((s) => ({ ...s }));
  const list = h('ol', { class: 'plain', id: 'template-sections' });
  const render = () => {
    clear(list);
    rows.forEach((s, i) => {
      const n = i + 1;
      const title = h('input', { type: 'text', required: true, maxlength: '200', value: s.title, 'data-part': 'title' });
      const key = h('input', { type: 'text', maxlength: '32', value: s.key, 'data-part': 'key' });
      const guidance = h('textarea', { rows: '2', maxlength: '2000', 'data-part': 'guidance' }, s.guidance);
      title.addEventListener('input', () => { s.title = title.value; });
      key.addEventListener('input', () => { s.key = key.value; });
      guidance.addEventListener('input', () => { s.guidance = guidance.value; });
      const move = (to) => { rows.splice(to, 0, rows.splice(i, 1)[0]); render(); list.querySelectorAll('li')[to].querySelector('input').focus(); };
      const up = h('button', { type: 'button', class: 'secondary', disabled: i === 0, onclick: () => move(i - 1) }, `Move section ${n} up`);
      const down = h('button', { type: 'button', class: 'secondary', disabled: i === rows.length - 1, onclick: () => move(i + 1) }, `Move section ${n} down`);
      const remove = h('button', { type: 'button', class: 'danger', disabled: rows.length === 1,
        onclick: () => { rows.splice(i, 1); render(); announce(`Section ${n} removed.`); } }, `Remove section ${n}`);
      list.append(h('li', { class: 'card' }, h('h3', {}, `Section ${n}`), field('Title', title),
        field('Key', key, 'A short name for the section (lower case letters, digits, _). Left empty, it is made from the title.'),
        field('Guidance for the pair', guidance), h('div', { class: 'actions' }, up, down, remove)));
    });
  };
  render();
  const add = h('button', { type: 'button', class: 'secondary' }, 'Add a section');
  add.addEventListener('click', () => {
    rows.push({ key: '', title: '', guidance: '' });
    render();
    list.querySelectorAll('li')[rows.length - 1].querySelector('input').focus();
  });
  const publish = h('button', { type: 'submit' }, 'Publish this template');
  const out = h('div');
  const form = h('form', { novalidate: true, id: 'template-form' }, box, list, h('div', { class: 'actions' }, add, publish), out);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const sections = rows.map((s) => ({ key: s.key.trim() || keyFrom(s.title), title: s.title.trim(), guidance: s.guidance.trim() }));
    if (sections.some((s) => !s.title)) { showError(box, 'Every section needs a title.'); return; }
    const keys = sections.map((s) => s.key);
    if (new Set(keys).size !== keys.length) { showError(box, 'Two sections have the same key: change one.'); return; }
    busy(publish, box, async () => {
      const done = await put('/api/sessions/agreement-template', { sections });
      await reload();
      announce(`Version ${done.version} of the template is published.`);
    });
  });
  return section('Publish a new version', h('p', { class: 'muted' }, 'At most 20 sections, in the order pairs see them.'), form);
}
