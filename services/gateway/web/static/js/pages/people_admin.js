// Programme admins: people, invitations, ordinary roles, the explicit grant of admin and safeguarding,
// mentor vetting, set-password links, suspension. (Split from admin.js, which re-exports these pages.)
import { h, field, checkbox, when, tag, clear, announce } from '../dom.js';
import { get, post, put } from '../api.js';
import { page, section, busy, errorBox, showError, confirmDialog } from '../ui.js';

const reload = () => window.dispatchEvent(new HashChangeEvent('hashchange'));
// Ordinary roles are ticked in the invitation and role forms, never preselected. Admin and safeguarding
// are granted as their own step on the person's page (the gateway refuses them anywhere else).
const ROLES = [['mentee', 'Mentee'], ['mentor', 'Mentor'], ['operator', 'Operator']];
const PRIVILEGED = [['admin', 'Programme admin', 'can manage every account, pairing and dispute, and read the audit ledger'],
  ['safeguarding', 'Safeguarding officer', 'can read every concern report, including who raised an identified concern']];
const roleName = (value) => ([...ROLES, ...PRIVILEGED].find(([v]) => v === value) || [value, value])[1];
const VETTING = [['professional_verification', 'Professional registration checked'], ['references', 'References'],
  ['interview', 'Interview'], ['background_check', 'Background check']];

function roleBoxes(selected = []) {
  const boxes = ROLES.map(([value, text]) => ({ value, ...checkbox(text, { value, checked: selected.includes(value), name: 'role' }) }));
  return { boxes, el: h('fieldset', {}, h('legend', {}, 'Roles'), boxes.map((b) => b.el)), values: () => boxes.filter((b) => b.input.checked).map((b) => b.value) };
}

function invitationCard(inv, next) {
  const link = h('p', { class: 'receipt', id: 'invitation-link' }, inv.invitation_url);
  const copy = h('button', { type: 'button', class: 'secondary' }, 'Copy the link');
  const status = h('span', { role: 'status' });
  copy.addEventListener('click', async () => {
    try { await navigator.clipboard.writeText(inv.invitation_url); status.textContent = 'Copied.'; } catch { status.textContent = 'Select the link and copy it.'; }
  });
  return h('div', { class: 'alert success', role: 'status' }, h('p', {}, h('strong', {}, 'Invitation created. This link is shown only once.')),
    h('p', {}, `Send it to the person through a trusted channel. It works once, until ${when(inv.expires_at * 1000)}.`), link,
    h('div', { class: 'actions' }, copy, status), next || null);
}

export async function usersPage(ctx, main) {
  page(main, 'People', 'Invite people, set their roles and record mentor vetting.');
  const box = errorBox();
  const email = h('input', { type: 'email', required: true, autocomplete: 'off' });
  const name = h('input', { type: 'text', required: true, autocomplete: 'off' });
  const roles = roleBoxes([]);
  roles.el.setAttribute('aria-describedby', 'privileged-hint');
  const submit = h('button', { type: 'submit' }, 'Create the invitation');
  const out = h('div');
  const form = h('form', { class: 'narrow', novalidate: true, id: 'invite-form' }, box, field('E-mail address', email), field('Name', name), roles.el,
    h('p', { class: 'hint', id: 'privileged-hint' }, 'Inviting a programme admin or a safeguarding officer? Invite them with no role ticked, then grant the role on their page before you send the link.'),
    h('div', { class: 'actions' }, submit));
  // Every invitation starts from a blank form: nothing left over from the previous person.
  const reset = () => {
    form.reset();
    email.value = ''; name.value = '';
    for (const b of roles.boxes) b.input.checked = false;
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!email.value.trim() || !name.value.trim()) { showError(box, 'Enter the e-mail address and the name.'); return; }
    const chosen = roles.values();
    busy(submit, box, async () => {
      const inv = await post('/admin/users', { email: email.value.trim(), display_name: name.value.trim(), roles: chosen });
      const who = name.value.trim();
      reset();
      clear(out);
      out.append(invitationCard(inv, chosen.length ? h('p', {}, `${who}: ${chosen.map(roleName).join(', ')}.`)
        : h('p', {}, `${who} has no role yet. `, h('a', { href: `#/admin/users/${encodeURIComponent(inv.user_id)}`, id: 'grant-next' }, `Open ${who}’s page to grant a role`), ' before you send the link.')));
      await renderList();
      email.focus();
      announce('Invitation created. The form is empty for the next person.');
    });
  });
  const listWrap = h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Everyone (table)' });
  const renderList = async () => {
    const users = await get('/admin/users');
    clear(listWrap);
    listWrap.append(h('table', { id: 'users' }, h('caption', { class: 'visually-hidden' }, 'People'),
      h('thead', {}, h('tr', {}, ['Name', 'E-mail', 'Roles', 'Status', 'Agreements', 'Vetting'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, users.map((u) => h('tr', {},
        h('td', {}, h('a', { href: `#/admin/users/${u.id}` }, u.display_name)), h('td', {}, u.email), h('td', {}, u.roles.join(', ')),
        h('td', {}, u.status === 'active' ? tag('Active', 'ok') : tag(u.status === 'invited' ? 'Invited' : u.status, u.status === 'suspended' ? 'danger' : 'warn')),
        h('td', {}, u.agreements_current ? 'Accepted' : 'Not yet'),
        h('td', {}, u.roles.includes('mentor') ? (u.vetted ? tag('Vetted', 'ok') : tag('Not vetted', 'warn')) : '—'))))));
  };
  main.append(section('Invite someone', form, out), section('Everyone', listWrap));
  await renderList();
}

export async function userPage(ctx, main, userId) {
  const u = await get(`/admin/users/${encodeURIComponent(userId)}`);
  page(main, u.display_name, `${u.email} · ${u.status}`);
  const box = errorBox();
  main.append(box);
  const roles = roleBoxes(u.roles);
  const held = PRIVILEGED.map(([v]) => v).filter((v) => u.roles.includes(v));
  const saveRoles = h('button', { type: 'button' }, 'Save roles');
  saveRoles.addEventListener('click', () => busy(saveRoles, box, async () => {
    // Admin and safeguarding are kept as they are: they change only in the section below.
    await put(`/admin/users/${encodeURIComponent(userId)}/roles`, { roles: [...roles.values(), ...held] });
    reload();
  }));
  main.append(section('Roles', roles.el, h('div', { class: 'actions' }, saveRoles)));
  main.append(privilegedSection(ctx, u, box));

  if (u.roles.includes('mentor')) {
    const list = h('ul', { class: 'plain', id: 'vetting' });
    for (const [item, text] of VETTING) {
      const current = (u.vetting || []).find((v) => v.item === item) || { status: 'pending' };
      const select = h('select', { 'data-item': item }, ['pending', 'passed', 'failed'].map((s) => h('option', { value: s }, s[0].toUpperCase() + s.slice(1))));
      select.value = current.status;
      select.addEventListener('change', () => busy(null, box, async () => {
        await put(`/admin/users/${encodeURIComponent(userId)}/vetting/${item}`, { status: select.value });
        reload();
      }));
      list.append(h('li', {}, h('div', { class: 'row' }, h('div', {}, field(text, select)),
        current.recorded_at ? h('span', { class: 'muted' }, `Recorded ${when(current.recorded_at)}`) : null)));
    }
    main.append(section('Mentor vetting', h('p', {}, 'Only vetted mentors can be matched. ', u.vetted ? tag('Vetted', 'ok') : tag('Not vetted yet', 'warn')), list));
  }

  const account = section('Account');
  const reissue = h('button', { type: 'button', class: 'secondary' }, 'New set-password link');
  const out = h('div');
  reissue.addEventListener('click', () => busy(reissue, box, async () => {
    const inv = await post(`/admin/users/${encodeURIComponent(userId)}/invitation`);
    clear(out);
    out.append(invitationCard(inv));
  }));
  const toggle = h('button', { type: 'button', class: u.status === 'suspended' ? '' : 'danger' }, u.status === 'suspended' ? 'Reactivate' : 'Suspend');
  toggle.addEventListener('click', async () => {
    if (u.status !== 'suspended' && !await confirmDialog('Suspend this account?', 'They are signed out everywhere at once and any call in progress ends.', 'Suspend', { danger: true })) return;
    busy(toggle, box, async () => { await post(`/admin/users/${encodeURIComponent(userId)}/${u.status === 'suspended' ? 'reactivate' : 'suspend'}`); reload(); });
  });
  account.append(h('p', {}, `Second factor: ${u.mfa_enrolled ? 'set up' : 'not set up'} · agreements: ${u.agreements_current ? 'accepted' : 'not accepted'}`),
    h('div', { class: 'actions' }, reissue, toggle), out);
  main.append(account);
}

/** Admin and safeguarding: shown, removed (confirmation) and granted only here, one role at a time, with
 * a confirmation and the granting admin's authenticator code. The gateway enforces the same. */
function privilegedSection(ctx, u, box) {
  const base = `/admin/users/${encodeURIComponent(u.id)}`;
  const card = section('Admin and safeguarding roles', h('p', { class: 'muted' }, 'These roles are granted one at a time, with your authenticator code. Every other admin is told.'));
  const held = PRIVILEGED.filter(([v]) => u.roles.includes(v));
  if (held.length) {
    card.append(h('ul', { class: 'plain', id: 'privileged-roles' }, held.map(([value, text]) => {
      const remove = h('button', { type: 'button', class: 'secondary' }, `Remove ${text}`);
      remove.addEventListener('click', async () => {
        if (!await confirmDialog(`Remove ${text}?`, `${u.display_name} loses this role at once.`, 'Remove', { danger: true })) return;
        busy(remove, box, async () => { await put(`${base}/roles`, { roles: u.roles.filter((r) => r !== value) }); reload(); });
      });
      return h('li', {}, h('div', { class: 'row' }, h('span', {}, tag(text, 'warn')), remove));
    })));
    if (u.status === 'active' && !u.mfa_enrolled) {
      card.append(h('div', { class: 'alert warning', role: 'status' }, h('p', {}, `${u.display_name} has no authenticator yet: send them a new set-password link (below) to set one up before they can sign in.`)));
    }
  }
  const grantable = PRIVILEGED.filter(([v]) => !u.roles.includes(v));
  if (u.id === ctx.me.id) {
    card.append(h('p', {}, 'You cannot grant yourself a role: ask another admin.'));
  } else if (u.status === 'suspended' || u.status === 'erased') {
    card.append(h('p', {}, `This account is ${u.status}: it cannot be given a role.`));
  } else if (grantable.length) {
    const role = h('select', { id: 'grant-role', required: true }, h('option', { value: '' }, 'Choose a role'),
      grantable.map(([value, text]) => h('option', { value }, text)));
    const code = h('input', { type: 'text', id: 'grant-code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '6', pattern: '[0-9]{6}', required: true });
    const submit = h('button', { type: 'submit', class: 'danger' }, 'Grant the role');
    const form = h('form', { class: 'narrow', novalidate: true, id: 'grant-form' }, field('Role to grant', role),
      field('Your authenticator code', code, 'The current 6-digit code from your authenticator app.'), h('div', { class: 'actions' }, submit));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const chosen = PRIVILEGED.find(([v]) => v === role.value);
      if (!chosen) { showError(box, 'Choose the role to grant.'); role.focus(); return; }
      if (!/^[0-9]{6}$/.test(code.value.trim())) { showError(box, 'Enter the 6-digit code from your authenticator app.'); code.focus(); return; }
      const [value, text, what] = chosen;
      const others = value === 'safeguarding' ? 'Every other admin and every other safeguarding officer is told.' : 'Every other admin is told.';
      if (!await confirmDialog(`Make ${u.display_name} a ${text.toLowerCase()}?`, `A ${text.toLowerCase()} ${what}. ${others} Their current sign-ins end; they need their own authenticator code to sign in.`, `Grant ${text}`, { danger: true })) return;
      busy(submit, box, async () => {
        await post(`${base}/privileged-roles`, { role: value, confirm: true, totp_code: code.value.trim() });
        reload();
      });
    });
    card.append(form);
  }
  return card;
}
