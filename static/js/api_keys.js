// api_keys.js - the API keys of the account the session acts in (/api-keys).
//
// GET /v1/api-keys lists them, revoked and expired ones included (admins and
// auditors may read them). Admins create keys (POST, with a name, a role and
// an optional expiry): the answer holds the key's secret, which Cloister
// does not keep, so the portal shows it once, in a panel with a copy
// button, until the person dismisses it. Revoking (POST .../revoke) asks
// first: it cannot be undone.
import * as api from './api.js';
import { busy, clearFormErrors, confirmDialog, copyButton, dataTable, errorText, field, formMessage,
         h, localToIso, notify, pageHeading, ROLES, roleBadge, showFormError, time } from './ui.js';

function status(key, now = Date.now()) {
  if (key.revoked_at) return { label: 'Revoked', cls: 'badge-revoked' };
  if (key.expires_at && Date.parse(key.expires_at) <= now) return { label: 'Expired', cls: 'badge-expired' };
  return { label: 'Active', cls: 'badge-active' };
}

export async function render(ctx) {
  const canWrite = ctx.can('api_keys.write');
  const secretArea = h('div', { class: 'result-area' });
  const listArea = h('section', { class: 'section', 'aria-labelledby': 'keys-list-title' },
    h('h2', { id: 'keys-list-title', class: 'sr-only' }, 'API keys'));
  ctx.main.append(pageHeading('API keys',
    `Keys let programs call the Cloister API as ${ctx.me.account.name}, with the role you give them.`));

  // Read the list first: a role that may not see keys gets the server's 403.
  const pages = api.pager('/v1/api-keys');
  const keys = await pages.next();
  if (!ctx.current()) return;

  if (canWrite) ctx.main.append(createForm(secretArea, () => refresh()));
  else ctx.main.append(h('p', { class: 'note' }, 'Only the account’s admins can create or revoke API keys.'));
  ctx.main.append(secretArea, listArea);

  const holder = h('div');
  const more = h('button', { type: 'button', class: 'button button-secondary' }, 'Load more');
  listArea.append(holder, h('div', { class: 'list-footer' }, more));
  let list = keys;
  let current = pages;

  const columns = [
    { label: 'Name' },
    { label: 'Prefix' },
    { label: 'Role' },
    { label: 'Created' },
    { label: 'Expires' },
    { label: 'Last used' },
    { label: 'Status' },
    ...(canWrite ? [{ label: 'Actions', class: 'actions' }] : []),
  ];

  const draw = () => {
    holder.replaceChildren(dataTable({
      caption: 'API keys',
      columns,
      rows: list.map((k) => keyRow(k, canWrite, refresh)),
      empty: 'This account has no API keys.',
    }));
    more.hidden = current.done;
  };

  async function refresh() {
    const fresh = api.pager('/v1/api-keys');
    try {
      list = await fresh.next();
      current = fresh;
      draw();
    } catch (err) {
      notify(`Could not reload the API keys. ${errorText(err)}`, 'error');
    }
  }

  more.addEventListener('click', () => busy(more, async () => {
    try {
      list.push(...await current.next());
      draw();
    } catch (err) {
      notify(`Could not load more API keys. ${errorText(err)}`, 'error');
    }
  }, 'Loading…'));

  draw();
}

function keyRow(key, canWrite, refresh) {
  const st = status(key);
  const cells = [
    h('span', { class: 'strong' }, key.name),
    h('code', { class: 'prefix' }, key.prefix),
    roleBadge(key.role),
    time(key.created_at),
    key.expires_at ? time(key.expires_at) : h('span', { class: 'muted' }, 'Never'),
    key.last_used_at ? time(key.last_used_at) : h('span', { class: 'muted' }, 'Never'),
    h('span', { class: 'key-status' },
      h('span', { class: `badge ${st.cls}` }, st.label),
      key.revoked_at ? h('span', { class: 'muted small' }, time(key.revoked_at)) : null),
  ];
  if (canWrite) {
    cells.push(key.revoked_at ? null : h('button', {
      type: 'button', class: 'button button-danger-quiet button-small',
      'aria-label': `Revoke ${key.name} (${key.prefix})`,
      onclick: async (event) => {
        const button = event.currentTarget;
        const ok = await confirmDialog({
          title: `Revoke ${key.name}?`,
          message: `Programs using the key ${key.prefix}… will be refused from now on. ` +
                   'Revoking cannot be undone.',
          confirmLabel: 'Revoke key',
        });
        if (!ok) return;
        await busy(button, async () => {
          try {
            await api.post(`/v1/api-keys/${encodeURIComponent(key.id)}/revoke`);
            notify(`The API key ${key.name} (${key.prefix}) was revoked.`);
            await refresh();
          } catch (err) {
            notify(`Could not revoke ${key.name}. ${errorText(err)}`, 'error');
          }
        });
      },
    }, 'Revoke'));
  }
  cells.attrs = { dataset: { keyId: key.id, prefix: key.prefix } };
  return cells;
}

function createForm(secretArea, refresh) {
  const name = field({ label: 'Name', name: 'name', required: true, autocomplete: 'off',
                       hint: 'What uses the key, e.g. ci-deploy.', attrs: { maxlength: 100 } });
  const role = field({ label: 'Role', name: 'role', kind: 'select', value: 'operator', required: true,
                       options: ROLES });
  const expires = field({ label: 'Expires', name: 'expires_at', kind: 'datetime-local',
                          hint: 'In your time zone. Leave empty for a key that does not expire.' });
  const message = formMessage();
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Create API key');
  const form = h('form', { class: 'form form-inline', novalidate: true },
    message, name.wrap, role.wrap, expires.wrap, h('div', { class: 'form-actions' }, submit));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    secretArea.replaceChildren();
    const body = { name: name.input.value.trim(), role: role.input.value };
    const missing = {};
    if (!body.name) missing.name = 'enter a name for the key';
    if (expires.input.value) {
      body.expires_at = localToIso(expires.input.value);
      if (!body.expires_at) missing.expires_at = 'enter a date and time, or leave it empty';
    }
    if (Object.keys(missing).length) {
      showFormError(form, { fields: missing });
      return;
    }
    await busy(submit, async () => {
      try {
        const key = await api.post('/v1/api-keys', body, { idempotent: true });
        form.reset();
        role.input.value = 'operator';
        secretArea.replaceChildren(secretPanel(key, () => {
          secretArea.replaceChildren();
          name.input.focus();
        }));
        secretArea.querySelector('h2').focus();
        notify(`The API key ${key.name} was created. Copy its secret now.`);
        await refresh();
      } catch (err) {
        showFormError(form, err);
      }
    }, 'Creating…');
  });

  return h('section', { class: 'section card', 'aria-labelledby': 'new-key-title' },
    h('h2', { id: 'new-key-title' }, 'New API key'), form);
}

/* The new key's secret, in this answer only. */
function secretPanel(key, dismiss) {
  const output = h('input', { type: 'text', readonly: true, class: 'secret-value', value: key.secret,
                              'aria-label': `Secret of the API key ${key.name}`, spellcheck: 'false',
                              autocomplete: 'off' });
  return h('section', { class: 'panel panel-secret', 'aria-labelledby': 'secret-title' },
    h('h2', { id: 'secret-title', tabindex: '-1' }, `Secret of ${key.name}`),
    h('p', { class: 'secret-warning' },
      h('strong', {}, 'Copy this secret now: you will not see it again.'),
      ' Cloister keeps only a hash of it. Send it as ', h('code', {}, 'Authorization: Bearer <secret>'), '.'),
    h('div', { class: 'secret-row' }, output,
      copyButton(key.secret, { label: 'Copy secret', selectEl: output, what: 'the secret' })),
    h('div', { class: 'panel-actions' },
      h('button', { type: 'button', class: 'button button-secondary', onclick: dismiss },
        'I have copied it')));
}
