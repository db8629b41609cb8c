// members.js - the members of the account the session acts in (/members).
//
// GET /v1/accounts/{id}/members lists them. Admins add people by e-mail
// address and role (POST; a person Cloister did not know yet is created, and
// their generated password is in that answer only, so it is shown once with
// a copy button), change a member's role (PATCH) and remove members after
// confirming (DELETE). The server keeps every account with at least one
// admin and says so (409) when asked otherwise; that message is shown.
import * as api from './api.js';
import { busy, clearFormErrors, confirmDialog, copyButton, dataTable, errorPanel, errorText, field,
         formMessage, h, notify, pageHeading, ROLES, roleBadge, roleLabel, showFormError,
         time } from './ui.js';

export async function render(ctx) {
  const { me } = ctx;
  const account = me.account;
  const base = `/v1/accounts/${encodeURIComponent(account.id)}/members`;
  const canWrite = ctx.can('members.write');
  const resultArea = h('div', { class: 'result-area' });
  const listArea = h('section', { class: 'section', 'aria-labelledby': 'members-list-title' },
    h('h2', { id: 'members-list-title', class: 'sr-only' }, `Members of ${account.name}`));

  ctx.main.append(pageHeading('Members', `The people who may act in ${account.name}, and their roles.`));
  if (canWrite) ctx.main.append(addForm(ctx, base, resultArea, () => refresh()));
  else ctx.main.append(h('p', { class: 'note' }, 'Only the account’s admins can add, change or remove members.'));
  ctx.main.append(resultArea, listArea);

  const holder = h('div');
  const more = h('button', { type: 'button', class: 'button button-secondary' }, 'Load more');
  listArea.append(holder, h('div', { class: 'list-footer' }, more));
  let pages;
  let members;

  const columns = [
    { label: 'E-mail address' },
    { label: 'Role' },
    { label: 'Member since' },
    ...(canWrite ? [{ label: 'Actions', class: 'actions' }] : []),
  ];

  const draw = () => {
    holder.replaceChildren(dataTable({
      caption: `Members of ${account.name}`,
      columns,
      rows: members.map((m) => memberRow(ctx, base, m, canWrite, refresh)),
      empty: 'This account has no members.',
    }));
    more.hidden = pages.done;
  };

  async function refresh() {
    pages = api.pager(base);
    try {
      members = await pages.next();
    } catch (err) {
      holder.replaceChildren(errorPanel(err));
      more.hidden = true;
      return;
    }
    if (ctx.current()) draw();
  }

  more.addEventListener('click', () => busy(more, async () => {
    try {
      members.push(...await pages.next());
      draw();
    } catch (err) {
      notify(`Could not load more members. ${errorText(err)}`, 'error');
    }
  }, 'Loading…'));

  await refresh();
}

function memberRow(ctx, base, member, canWrite, refresh) {
  const you = member.user_id === ctx.me.user.id;
  const emailCell = h('span', { class: 'strong' }, member.email,
    you ? h('span', { class: 'badge badge-you' }, 'you') : null);
  const cells = [emailCell];
  if (!canWrite) {
    cells.push(roleBadge(member.role), time(member.created_at));
  } else {
    const select = h('select', { 'aria-label': `Role of ${member.email}`, name: 'role' },
      ROLES.map((r) => h('option', { value: r.value, selected: r.value === member.role }, r.label)));
    const save = h('button', { type: 'button', class: 'button button-secondary button-small', disabled: true },
      'Change role');
    save.setAttribute('aria-label', `Change role of ${member.email}`);
    select.addEventListener('change', () => {
      save.disabled = select.value === member.role;
    });
    save.addEventListener('click', async () => {
      await changeRole();
      save.disabled = !save.isConnected || select.value === member.role;
    });
    const changeRole = () => busy(save, async () => {
      const role = select.value;
      try {
        await api.patch(`${base}/${encodeURIComponent(member.user_id)}`, { role });
        const text = `${member.email} is now ${roleLabel(role).toLowerCase()}.`;
        if (you) {
          notify(text);
          await ctx.refreshMe();
          await ctx.reload();
          return;
        }
        // The list first, then the message: it describes the list as shown.
        await refresh();
        notify(text);
      } catch (err) {
        notify(`Could not change the role of ${member.email}. ${errorText(err)}`, 'error');
        select.value = member.role;
      }
    }, 'Saving…');
    const remove = h('button', { type: 'button', class: 'button button-danger-quiet button-small',
                                 'aria-label': `Remove ${member.email}` }, 'Remove');
    remove.addEventListener('click', async () => {
      const ok = await confirmDialog({
        title: `Remove ${member.email}?`,
        message: `${member.email} will no longer be able to act in ${ctx.me.account.name}. ` +
                 'Their other accounts are not affected.' + (you ? ' You are removing yourself.' : ''),
        confirmLabel: 'Remove member',
      });
      if (!ok) return;
      await busy(remove, async () => {
        try {
          await api.del(`${base}/${encodeURIComponent(member.user_id)}`);
          notify(`${member.email} was removed from ${ctx.me.account.name}.`);
          if (you) {
            await ctx.refreshMe();
            await ctx.navigate('/accounts');
            return;
          }
          await refresh();
        } catch (err) {
          notify(`Could not remove ${member.email}. ${errorText(err)}`, 'error');
        }
      });
    });
    cells.push(h('span', { class: 'role-edit' }, select, save), time(member.created_at), remove);
  }
  cells.attrs = { dataset: { userId: member.user_id } };
  return cells;
}

function addForm(ctx, base, resultArea, refresh) {
  const email = field({ label: 'E-mail address', name: 'email', kind: 'email', required: true,
                        autocomplete: 'off' });
  const role = field({ label: 'Role', name: 'role', kind: 'select', value: 'operator', required: true,
                       options: ROLES });
  const message = formMessage();
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Add member');
  const form = h('form', { class: 'form form-inline', novalidate: true },
    message, email.wrap, role.wrap, h('div', { class: 'form-actions' }, submit));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    resultArea.replaceChildren();
    const address = email.input.value.trim();
    if (!address) {
      showFormError(form, { fields: { email: 'enter the person’s e-mail address' } });
      return;
    }
    await busy(submit, async () => {
      try {
        const member = await api.post(base, { email: address, role: role.input.value },
                                      { idempotent: true });
        form.reset();
        role.input.value = 'operator';
        if (member.initial_password) {
          resultArea.replaceChildren(passwordPanel(member, () => resultArea.replaceChildren()));
          resultArea.querySelector('h2').focus();
        }
        notify(`${member.email} was added as ${roleLabel(member.role).toLowerCase()}.`);
        await refresh();
      } catch (err) {
        showFormError(form, err);
      }
    }, 'Adding…');
  });

  return h('section', { class: 'section card', 'aria-labelledby': 'add-member-title' },
    h('h2', { id: 'add-member-title' }, 'Add a member'),
    h('p', { class: 'hint' }, 'Someone Cloister does not know yet gets an account with a generated password.'),
    form);
}

/* The new person's generated password: shown this once. */
function passwordPanel(member, dismiss) {
  const output = h('input', { type: 'text', readonly: true, class: 'secret-value', value: member.initial_password,
                              'aria-label': `Initial password of ${member.email}`, spellcheck: 'false',
                              autocomplete: 'off' });
  return h('section', { class: 'panel panel-secret', 'aria-labelledby': 'initial-password-title' },
    h('h2', { id: 'initial-password-title', tabindex: '-1' }, `Initial password for ${member.email}`),
    h('p', {}, `Cloister created an account for ${member.email}. Give them this password over a safe channel; `,
      h('strong', {}, 'it is shown only this once'),
      '. They should change it after signing in.'),
    h('div', { class: 'secret-row' }, output,
      copyButton(member.initial_password, { label: 'Copy password', selectEl: output, what: 'the password' })),
    h('div', { class: 'panel-actions' },
      h('button', { type: 'button', class: 'button button-secondary', onclick: dismiss }, 'Done')));
}
