// accounts.js - the accounts the signed-in person can see (/accounts).
//
// GET /v1/accounts lists them with the person's role in each (an instance
// administrator sees every account, with no role where they are not a
// member). "Act in this account" switches the session (POST
// /v1/session/account). Instance administrators also get the form that
// creates an account (POST /v1/accounts); the new account's first admin is
// its creator, and a session that acts in no account yet switches to it.
import * as api from './api.js';
import { busy, clearFormErrors, dataTable, errorPanel, errorText, field, formMessage, h, notify,
         pageHeading, roleBadge, showFormError, time } from './ui.js';

const COLUMNS = [
  { label: 'Name' },
  { label: 'Your role' },
  { label: 'Created' },
  { label: 'Actions', class: 'actions' },
];

export async function render(ctx) {
  const { me } = ctx;
  const listArea = h('section', { class: 'section', 'aria-labelledby': 'accounts-list-title' },
    h('h2', { id: 'accounts-list-title', class: 'sr-only' }, 'Your accounts'));
  ctx.main.append(pageHeading('Accounts',
    me.user.instance_admin
      ? 'Every account of this Cloister. You are an instance administrator: you may create accounts.'
      : 'The accounts you are a member of, and your role in each.'));
  if (ctx.can('accounts.create')) ctx.main.append(createForm(ctx));
  ctx.main.append(listArea);
  await renderList(ctx, listArea);
}

async function renderList(ctx, area) {
  const pages = api.pager('/v1/accounts');
  const rows = [];
  let items;
  try {
    items = await pages.next();
  } catch (err) {
    area.append(errorPanel(err));
    return;
  }
  if (!ctx.current()) return;
  const holder = h('div');
  area.append(holder);
  const more = h('button', { type: 'button', class: 'button button-secondary' }, 'Load more');

  const draw = () => {
    holder.replaceChildren(dataTable({
      caption: 'Accounts',
      columns: COLUMNS,
      rows,
      empty: ctx.can('accounts.create')
        ? 'There are no accounts yet. Create the first one above.'
        : 'You are not a member of any account yet. Ask an administrator to add you.',
    }));
    more.hidden = pages.done;
  };
  const add = (list) => {
    for (const a of list) rows.push(accountRow(ctx, a));
  };
  add(items);
  more.addEventListener('click', () => busy(more, async () => {
    try {
      add(await pages.next());
      draw();
    } catch (err) {
      notify(`Could not load more accounts. ${errorText(err)}`, 'error');
    }
  }, 'Loading…'));
  draw();
  area.append(h('div', { class: 'list-footer' }, more));
}

function accountRow(ctx, account) {
  const current = ctx.me.account && ctx.me.account.id === account.id;
  let action = null;
  if (current) {
    action = h('span', { class: 'badge badge-current' }, 'Current account');
  } else if (account.role) {
    action = h('button', {
      type: 'button', class: 'button button-secondary button-small',
      'aria-label': `Act in this account: ${account.name}`,
      onclick: async (event) => {
        await busy(event.currentTarget, async () => {
          try {
            const res = await ctx.switchAccount(account.id);
            notify(`Now acting in ${res.account.name} as ${res.role}.`);
            await ctx.reload();
          } catch (err) {
            notify(`Could not switch accounts. ${errorText(err)}`, 'error');
          }
        });
      },
    }, 'Act in this account');
  }
  const cells = [
    h('span', { class: 'strong' }, account.name),
    roleBadge(account.role),
    time(account.created_at),
    action,
  ];
  cells.attrs = { dataset: { accountId: account.id } };
  return cells;
}

function createForm(ctx) {
  const name = field({ label: 'Name', name: 'name', required: true, autocomplete: 'off',
                       hint: 'Up to 100 characters; unique, whatever the case.',
                       attrs: { maxlength: 100 } });
  const message = formMessage();
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Create account');
  const form = h('form', { class: 'form form-inline', novalidate: true, 'aria-labelledby': 'new-account-title' },
    message, name.wrap, h('div', { class: 'form-actions' }, submit));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const value = name.input.value.trim();
    if (!value) {
      showFormError(form, { fields: { name: 'enter a name for the account' } });
      return;
    }
    await busy(submit, async () => {
      try {
        const account = await api.post('/v1/accounts', { name: value }, { idempotent: true });
        let text = `Account ${account.name} created; you are its admin.`;
        if (!ctx.me.account) {
          await ctx.switchAccount(account.id);
          text += ` You now act in ${account.name}.`;
        } else {
          await ctx.refreshMe();
        }
        await ctx.reload();
        notify(text);
      } catch (err) {
        showFormError(form, err);
      }
    }, 'Creating…');
  });

  return h('section', { class: 'section card', 'aria-labelledby': 'new-account-title' },
    h('h2', { id: 'new-account-title' }, 'New account'), form);
}
