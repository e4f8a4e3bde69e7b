// A pairing's mentoring agreement, a member's private reflection on it, and its term (on the pairing's page).
import { h, field, when, wallInput, zonedToUtc, timeZone, tag, clear, shortId, announce } from '../dom.js';
import { get, post, put, del, ApiError, problemMessage } from '../api.js';
import { page, section, busy, errorBox, showError, confirmDialog, success } from '../ui.js';
import { otherName, otherId } from './home.js';
import { loadNames } from '../people.js';

const base = (id) => `/api/sessions/pairings/${encodeURIComponent(id)}`;
const reloadPage = () => window.dispatchEvent(new HashChangeEvent('hashchange'));
const back = (id) => h('p', {}, h('a', { href: `#/pairings/${encodeURIComponent(id)}` }, 'Back to the pairing'));

/** The pairing (for who is who) and a name for each member: "you", the other's name, else their role. */
async function members(ctx, pairingId) {
  const p = await get(base(pairingId));
  const nameOf = await loadNames([p.mentor_id, p.mentee_id]);
  const other = otherName(ctx, p, nameOf);
  const who = (id) => (id === ctx.me.id ? 'you' : id === otherId(ctx, p) ? other : (nameOf(id) || shortId(id)));
  return { p, other, who };
}

// -- the mentoring agreement ---------------------------------------------------------------------------

export async function agreementPage(ctx, main, pairingId) {
  const { p, other, who } = await members(ctx, pairingId);
  page(main, 'Mentoring agreement', `What you and ${other} agree on for your mentoring. Only the two of you can see `
    + 'this agreement: not the programme’s admins, nor anyone else.');
  let a;
  let versions;
  try {
    a = await get(`${base(pairingId)}/agreement`);
    versions = a.version === null ? [] : await get(`${base(pairingId)}/agreement/versions`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 410) {
      main.append(h('div', { class: 'alert', role: 'status', id: 'agreement-gone' },
        h('p', {}, 'This pairing has ended; its agreement was deleted with it.')), back(pairingId));
      return;
    }
    throw err;
  }
  main.append(stateCard(ctx, p, a, versions, other, who));
  if (p.state === 'active') main.append(await editCard(p, a));
  if (versions.length) main.append(historyCard(versions, who, Object.fromEntries(a.sections.map((s) => [s.key, s.title]))));
  main.append(back(pairingId));
}

function stateCard(ctx, p, a, versions, other, who) {
  const card = section('Where it stands');
  const box = errorBox();
  card.append(box);
  const lines = h('div', { id: 'agreement-state' });
  card.append(lines);
  if (a.in_force_version !== null) {
    const v = versions.find((x) => x.version === a.in_force_version);
    lines.append(h('p', {}, h('strong', {}, `In force: version ${a.in_force_version}`),
      v ? `, written by ${who(v.edited_by)} on ${when(v.created_at)}, accepted by you both.` : ', accepted by you both.'));
  } else {
    lines.append(h('p', {}, 'No version is in force yet: a version is in force once you have both accepted it.'));
  }
  if (a.version === null) {
    lines.append(h('p', { class: 'muted' }, 'Nobody has written the agreement yet. Either of you can write the first version below.'));
    return card;
  }
  const iAmMentor = p.mentor_id === ctx.me.id;
  const mine = iAmMentor ? a.mentor_accepted : a.mentee_accepted;
  const theirs = iAmMentor ? a.mentee_accepted : a.mentor_accepted;
  if (a.version !== a.in_force_version) {
    lines.append(h('p', {}, `Version ${a.version} (written by ${who(a.edited_by)} on ${when(a.edited_at)}) `,
      !mine && !theirs ? `is waiting for your acceptance and ${other}’s.`
        : !mine ? 'is waiting for your acceptance.' : `is waiting for ${other}’s acceptance.`,
      ' ', tag(mine ? `Waiting for ${other}` : 'Waiting for you', 'warn')));
    if (a.in_force_version !== null) {
      lines.append(h('p', { class: 'muted' }, `Until then, version ${a.in_force_version} stays in force.`));
    }
  }
  // The server's own data decides: an accept button only for a latest version the caller has not accepted.
  if (!mine && p.state === 'active') {
    const accept = h('button', { type: 'button', id: 'accept-agreement' }, `Accept version ${a.version}`);
    accept.addEventListener('click', () => busy(accept, box, async () => {
      try {
        const out = await post(`${base(p.pairing_id)}/agreement/accept`, { version: a.version });
        announce(out.in_force_version === a.version ? `Version ${a.version} is now in force.` : `You accepted version ${a.version}.`);
        reloadPage();
      } catch (err) {
        if (err instanceof ApiError && err.status === 409) {
          showError(box, `${problemMessage(err)} ${other} may have saved a new version meanwhile: the page shows the latest now.`);
          window.setTimeout(reloadPage, 2500);
          return;
        }
        throw err;
      }
    }));
    card.append(h('div', { class: 'actions' }, accept));
  }
  return card;
}

async function editCard(p, a) {
  // A new version is written under the programme's current template; the latest version's texts carry over.
  let sections = a.sections;
  if (a.version !== null && a.current_template_version !== a.template_version) {
    const template = await get('/api/sessions/agreement-template');
    const texts = Object.fromEntries(a.sections.map((s) => [s.key, s.text]));
    sections = template.sections.map((s) => ({ ...s, text: texts[s.key] || '' }));
  }
  const box = errorBox();
  const inputs = sections.map((s) => ({ key: s.key,
    input: h('textarea', { maxlength: '5000', rows: '4', name: s.key, 'data-section': s.key, value: s.text }) }));
  const submit = h('button', { type: 'submit', id: 'save-agreement' }, 'Save a new version');
  const form = h('form', { id: 'agreement-form' }, box,
    sections.map((s, i) => field(s.title, inputs[i].input, s.guidance || null)),
    h('p', { class: 'muted' }, 'Saving makes a new version. You both accept it again before it is in force; earlier versions stay listed below.'),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, box, async () => {
      const body = { sections: Object.fromEntries(inputs.map(({ key, input }) => [key, input.value])), base_version: a.version };
      try {
        const out = await put(`${base(p.pairing_id)}/agreement`, body);
        announce(`Version ${out.version} saved. It needs you both to accept it.`);
        reloadPage();
      } catch (err) {
        if (err instanceof ApiError && err.status === 409) {
          showError(box, 'The other member saved a new version meanwhile. The page now shows it; your text was not saved, so copy it before reloading if you need it.');
          const again = h('button', { type: 'button', class: 'secondary' }, 'Show the latest version');
          again.addEventListener('click', reloadPage);
          box.append(again);
          return;
        }
        throw err;
      }
    });
  });
  return section(a.version === null ? 'Write the agreement' : `Change it (latest: version ${a.version})`, form);
}

function historyCard(versions, who, titles) {
  const card = section('Version history');
  const list = h('ul', { class: 'plain', id: 'agreement-versions' });
  for (const v of [...versions].reverse()) {
    const accepted = v.accepted_by.length ? v.accepted_by.map(who).join(' and ') : 'nobody yet';
    list.append(h('li', {}, h('details', {},
      h('summary', {}, `Version ${v.version}: by ${who(v.edited_by)}, ${when(v.created_at)}; accepted by ${accepted}`,
        v.in_force ? [' ', tag('In force', 'ok')] : null),
      written(v.sections, titles))));
  }
  card.append(list);
  return card;
}

/** A version's written sections in the template's order (sections it has that the template no longer has last). */
function written(sections, titles) {
  const keys = [...Object.keys(titles), ...Object.keys(sections).filter((k) => !(k in titles))]
    .filter((k) => sections[k] && sections[k].trim());
  if (!keys.length) return h('p', { class: 'muted' }, 'Every section was left empty.');
  return h('dl', {}, keys.map((key) => [h('dt', {}, h('strong', {}, titles[key] || key.replace(/_/g, ' '))),
    h('dd', {}, h('pre', { class: 'agreement' }, sections[key]))]));
}

// -- the private reflection ----------------------------------------------------------------------------

export async function reflectionPage(ctx, main, pairingId) {
  const { p } = await members(ctx, pairingId);
  const partner = p.mentor_id === ctx.me.id ? 'mentee' : 'mentor';
  page(main, 'Your private reflection', `Only you can read this. Your ${partner} and the programme’s admins cannot.`);
  const r = await get(`${base(pairingId)}/reflection`);
  const box = errorBox();
  const text = h('textarea', { maxlength: '10000', rows: '10', id: 'reflection-text', value: r.text || '' });
  const submit = h('button', { type: 'submit', id: 'save-reflection' }, 'Save');
  const remove = h('button', { type: 'button', class: 'danger', id: 'delete-reflection' }, 'Delete');
  const status = h('div', { id: 'reflection-status' });
  const form = h('form', { class: 'card' }, box, status,
    field('Your reflection', text, 'What went well, what you learnt, what you would do differently. Up to 10,000 characters.'),
    h('p', { class: 'muted', id: 'reflection-saved' }, r.updated_at ? `Last saved ${when(r.updated_at)}.` : 'Not written yet.'),
    h('div', { class: 'actions' }, submit, r.text ? remove : null));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!text.value.trim()) { showError(box, 'Write something first (or delete your reflection).'); text.focus(); return; }
    busy(submit, box, async () => {
      const out = await put(`${base(pairingId)}/reflection`, { text: text.value });
      clear(status).append(success(`Saved ${when(out.updated_at)}.`));
      clear(form.querySelector('#reflection-saved')).append(`Last saved ${when(out.updated_at)}.`);
      if (!remove.isConnected) form.querySelector('.actions').append(remove);
    });
  });
  remove.addEventListener('click', async () => {
    if (!await confirmDialog('Delete your reflection?', 'It is destroyed at once and cannot be recovered.', 'Delete it', { danger: true })) return;
    busy(remove, box, async () => {
      await del(`${base(pairingId)}/reflection`);
      text.value = '';
      clear(status).append(success('Your reflection was deleted.'));
      clear(form.querySelector('#reflection-saved')).append('Not written yet.');
      remove.remove();
    });
  });
  main.append(form, back(pairingId));
}

// -- the term ------------------------------------------------------------------------------------------

/** The term of an active pairing on its page: when it ends, and an extension both must accept. */
export function termSection(ctx, pairing, reload) {
  if (pairing.state !== 'active' || !pairing.term_ends_at) return null;
  const card = section('Term');
  card.id = 'term';
  const box = errorBox();
  card.append(box, h('p', { id: 'term-ends' }, `This pairing’s term ends on ${when(pairing.term_ends_at)}.`));
  const body = h('div', {});
  card.append(body);
  loadNames([pairing.mentor_id, pairing.mentee_id]).then((nameOf) => termBody(ctx, pairing, reload, box, body, nameOf));
  return card;
}

function termBody(ctx, p, reload, box, body, nameOf) {
  const other = otherName(ctx, p, nameOf);
  const path = base(p.pairing_id);
  const act = (button, url, message) => button.addEventListener('click', () => busy(button, box, async () => {
    await post(url);
    announce(message);
    reload();
  }));
  if (p.extension_until) {
    const mine = p.extension_proposed_by === ctx.me.id;
    body.append(h('p', { id: 'term-extension' }, mine ? 'You proposed' : `${other} proposed`,
      ` to extend the term until ${when(p.extension_until)}. It takes effect when ${mine ? `${other} accepts` : 'you accept'}.`));
    const actions = h('div', { class: 'actions' });
    if (mine) {
      const withdraw = h('button', { type: 'button', class: 'secondary', id: 'withdraw-extension' }, 'Withdraw');
      act(withdraw, `${path}/extension/decline`, 'You withdrew the proposed extension.');
      actions.append(tag(`Waiting for ${other}`, 'warn'), withdraw);
    } else {
      const accept = h('button', { type: 'button', id: 'accept-extension' }, 'Accept the extension');
      const decline = h('button', { type: 'button', class: 'secondary', id: 'decline-extension' }, 'Decline');
      act(accept, `${path}/extension/accept`, 'The term was extended.');
      act(decline, `${path}/extension/decline`, 'You declined the extension.');
      actions.append(accept, decline);
    }
    body.append(actions);
    return;
  }
  // The new end: a day, at the same time of day as the current end, both read in the person's time zone.
  const ends = new Date(p.term_ends_at);
  const [endDay, endTime] = wallInput(ends).split('T');
  const dayAfter = wallInput(new Date(ends.getTime() + 86400000)).split('T')[0];
  const date = h('input', { type: 'date', required: true, min: dayAfter, id: 'extension-date' });
  const submit = h('button', { type: 'submit', class: 'secondary' }, 'Propose this end');
  const form = h('form', { class: 'narrow' }, h('h3', {}, 'Propose a later end'),
    field('New end date', date, `At ${endTime}, as now, in your time zone (${timeZone().replace(/_/g, ' ')}). At most 12 months after the current end (${endDay}); it takes effect when ${other} accepts.`),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const day = /^\d{4}-\d{2}-\d{2}$/.test(date.value) ? zonedToUtc(`${date.value}T${endTime}`) : null;
    const until = day && new Date(day.getTime() + (ends.getTime() % 60000));  // the end's seconds too
    if (!until) { showError(box, 'Choose the new end date.'); date.focus(); return; }
    if (until <= ends) { showError(box, 'Choose a date after the current end.'); date.focus(); return; }
    busy(submit, box, async () => {
      await post(`${path}/extension`, { until: until.toISOString() });
      announce(`You proposed to extend the term until ${when(until)}.`);
      reload();
    });
  });
  body.append(form);
}
