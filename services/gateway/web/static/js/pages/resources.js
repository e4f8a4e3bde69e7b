// The programme's resources (everyone signed in): guides, templates and policies admins publish; admins
// publish, change and withdraw them here too.
import { h, field, tag } from '../dom.js';
import { get, post, put, del } from '../api.js';
import { page, section, empty, errorBox, busy, confirmDialog } from '../ui.js';

const KINDS = [['guide', 'Guides'], ['template', 'Templates'], ['policy', 'Policies']];
const KIND_ONE = { guide: 'Guide', template: 'Template', policy: 'Policy' };
const LANGUAGES = { en: 'English', fr: 'Français' };
const API = '/api/sessions/resources';

/** Plain text as paragraphs (never HTML: what an admin typed is shown as typed). */
function paragraphs(text) {
  return text.split(/\n\s*\n/).filter((p) => p.trim()).map((p) => h('p', {}, p.trim()));
}

function host(url) {
  try { return new URL(url).host; } catch { return url; }
}

function resourceItem(ctx, r, reload) {
  const item = h('li', { class: 'resource', id: `resource-${r.resource_id}` },
    h('h3', { lang: r.language }, r.title, ' ', tag(LANGUAGES[r.language] || r.language)));
  if (r.summary) item.append(h('p', { class: 'muted', lang: r.language }, r.summary));
  if (r.body) item.append(h('div', { lang: r.language }, ...paragraphs(r.body)));
  if (r.url) {
    item.append(h('p', {}, h('a', { href: r.url, rel: 'noopener noreferrer', target: '_blank' },
      `Open “${r.title}”`), h('span', { class: 'muted' }, ` (on ${host(r.url)}, opens in a new tab)`)));
  }
  if (ctx.has('admin')) {
    const box = errorBox();
    const edit = h('button', { type: 'button', class: 'secondary' }, 'Change');
    const remove = h('button', { type: 'button', class: 'secondary danger' }, 'Withdraw');
    const slot = h('div', {});
    edit.addEventListener('click', () => { slot.replaceChildren(resourceForm(r, reload)); });
    remove.addEventListener('click', async () => {
      if (!await confirmDialog('Withdraw this resource?', `“${r.title}” will no longer be shown to members.`, 'Withdraw', { danger: true })) return;
      busy(remove, box, async () => { await del(`${API}/${encodeURIComponent(r.resource_id)}`); reload(); });
    });
    item.append(box, h('div', { class: 'actions' }, edit, remove), slot);
  }
  return item;
}

function resourceForm(existing, reload) {
  const box = errorBox();
  const kind = h('select', { name: 'kind' }, KINDS.map(([value]) => h('option', { value }, KIND_ONE[value])));
  const language = h('select', { name: 'language' }, Object.entries(LANGUAGES).map(([value, label]) => h('option', { value }, label)));
  const title = h('input', { type: 'text', name: 'title', maxlength: '200', required: true });
  const summary = h('input', { type: 'text', name: 'summary', maxlength: '2000' });
  const body = h('textarea', { name: 'body', rows: '6', maxlength: '20000' });
  const url = h('input', { type: 'url', name: 'url', maxlength: '2000', placeholder: 'https://' });
  const position = h('input', { type: 'number', name: 'position', min: '0', max: '1000', value: '0' });
  if (existing) {
    kind.value = existing.kind; language.value = existing.language; title.value = existing.title;
    summary.value = existing.summary; body.value = existing.body; url.value = existing.url || '';
    position.value = String(existing.position);
  }
  const submit = h('button', { type: 'submit' }, existing ? 'Save changes' : 'Publish');
  const form = h('form', { class: 'narrow resource-form', novalidate: true }, box,
    field('Kind', kind), field('Language', language), field('Title', title),
    field('Summary', summary, 'One line shown under the title.'),
    field('Text', body, 'Plain text; a blank line starts a new paragraph.'),
    field('Link to a document', url, 'Optional. https:// only: a guide or template kept elsewhere.'),
    field('Order', position, 'Lower numbers come first.'), h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = { kind: kind.value, language: language.value, title: title.value, summary: summary.value,
      body: body.value, url: url.value.trim() || null, position: Number(position.value || 0) };
    busy(submit, box, async () => {
      if (existing) await put(`${API}/${encodeURIComponent(existing.resource_id)}`, data);
      else await post(API, data);
      reload();
    });
  });
  return form;
}

export async function resourcesPage(ctx, main) {
  const reload = () => window.dispatchEvent(new HashChangeEvent('hashchange'));
  page(main, 'Programme resources', 'The programme’s guides, templates and policies.');
  const all = await get(API);
  if (!all.length) main.append(empty('Your programme has not published any resources yet.'));
  for (const [kind, label] of KINDS) {
    const mine = all.filter((r) => r.kind === kind);
    if (mine.length) main.append(section(label, h('ul', { class: 'plain resources' }, mine.map((r) => resourceItem(ctx, r, reload)))));
  }
  if (ctx.has('admin')) main.append(section('Publish a resource', resourceForm(null, reload)));
}
