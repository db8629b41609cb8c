// registries.js - the OCI registries of the account the session acts in
// (/registries, /registries/<id>).
//
// GET /v1/registries lists them. A registry's password is write-only: the
// API says only whether one is set (has_password), and the portal never
// shows or keeps one. Operators and admins add registries (POST), change
// them on their own page (PATCH with If-Match: an empty password field
// keeps the password, "Remove the password" sends null), delete them after
// confirming, and check them: POST /v1/registries/{id}/check queues a
// registry.check job, which the page follows live (followJob from jobs.js)
// until the registry has answered or the check has failed.
import * as api from './api.js';
import { ENDED, followJob, stateBadge } from './jobs.js';
import { busy, checkboxField, clearFormErrors, confirmDialog, dataTable, errorPanel, errorText,
         facts, field, formMessage, h, notify, pageHeading, showFormError, time } from './ui.js';

export async function render(ctx) {
  if (ctx.sub.length === 1) return renderOne(ctx, ctx.sub[0]);
  if (ctx.sub.length > 1) {
    ctx.main.append(pageHeading('Page not found'),
      h('p', {}, 'There is no page at this address. ', h('a', { href: '/registries' }, 'See the registries'), '.'));
    return null;
  }
  return renderList(ctx);
}

/* The account's latest registry checks, by job id. */
async function checkJobs() {
  try {
    const page = await api.getPage('/v1/jobs', { query: { kind: 'registry.check' }, limit: 200 });
    return new Map(page.items.map((j) => [j.id, j]));
  } catch {
    return new Map();
  }
}

function lastCheck(registry, jobs) {
  if (!registry.last_check_job) return h('span', { class: 'muted' }, 'Never');
  const job = jobs.get(registry.last_check_job);
  const link = h('a', { href: `/jobs/${registry.last_check_job}`, class: 'small' }, 'details');
  if (!job) return link;
  return h('span', { class: 'key-status' },
    h('span', {}, stateBadge(job), ' ', link),
    job.finished_at ? h('span', { class: 'muted small' }, time(job.finished_at)) : null);
}

/* Start a check and follow it in `area`; answers the follower. */
async function startCheck(ctx, registry, area, followers, onEnd) {
  const job = await api.post(`/v1/registries/${encodeURIComponent(registry.id)}/check`);
  const follower = followJob(job, { alive: ctx.current, events: true, title: `Checking ${registry.name}` });
  followers.add(follower);
  const dismiss = h('button', { type: 'button', class: 'button button-secondary button-small', hidden: true },
    'Dismiss');
  const panel = h('div', { class: 'panel job-panel', dataset: { registryId: registry.id } },
    follower.element, h('div', { class: 'panel-actions' }, dismiss));
  dismiss.addEventListener('click', () => {
    panel.remove();
    followers.delete(follower);
  });
  area.prepend(panel);
  follower.done.then((j) => {
    followers.delete(follower);
    dismiss.hidden = false;
    if (!ctx.current()) return;
    if (j.state === 'succeeded') {
      notify(`${registry.name} answered; authentication: ${j.result && j.result.auth}.`);
    } else {
      notify(`The check of ${registry.name} ${j.state === 'canceled' ? 'was canceled' : 'failed'}` +
             `${j.error ? `: ${j.error}` : ''}.`, 'error');
    }
    if (onEnd) onEnd(j);
  }, (err) => {
    dismiss.hidden = false;
    if (ctx.current()) notify(`Could not follow the check of ${registry.name}. ${errorText(err)}`, 'error');
  });
  return follower;
}

async function renderList(ctx) {
  const canWrite = ctx.can('registries.write');
  const followers = new Set();
  ctx.main.append(pageHeading('Registries',
    `The OCI registries ${ctx.me.account.name} pulls images from and pushes them to, with the credentials to use.`));
  const checkArea = h('div', { class: 'result-area', 'aria-label': 'Registry checks' });
  const listArea = h('section', { class: 'section', 'aria-labelledby': 'registries-list-title' },
    h('h2', { id: 'registries-list-title', class: 'sr-only' }, 'Registries'));
  if (canWrite) ctx.main.append(createForm(() => refresh()));
  else ctx.main.append(h('p', { class: 'note' }, 'Only the account’s operators and admins can add, change or check registries.'));
  ctx.main.append(checkArea, listArea);

  const holder = h('div');
  const more = h('button', { type: 'button', class: 'button button-secondary' }, 'Load more');
  listArea.append(holder, h('div', { class: 'list-footer' }, more));
  let pages;
  let list;
  let jobs;
  const columns = [
    { label: 'Name' }, { label: 'Host' }, { label: 'Connection' }, { label: 'User name' },
    { label: 'Password' }, { label: 'Last check' },
    ...(canWrite ? [{ label: 'Actions', class: 'actions' }] : []),
  ];

  const draw = () => {
    holder.replaceChildren(dataTable({
      caption: 'Registries',
      columns,
      rows: list.map((g) => row(g)),
      empty: canWrite ? 'No registries yet. Add the first one above.' : 'This account has no registries.',
    }));
    more.hidden = pages.done;
  };

  const row = (g) => {
    const cells = [
      h('a', { href: `/registries/${g.id}`, class: 'strong' }, g.name),
      h('code', {}, g.host),
      g.tls ? 'HTTPS' : h('span', { class: 'badge badge-plain' }, 'Plain HTTP'),
      g.username ? h('code', {}, g.username) : h('span', { class: 'muted' }, 'None'),
      g.has_password ? h('span', { class: 'badge badge-active' }, 'Set') : h('span', { class: 'muted' }, 'None'),
      lastCheck(g, jobs),
    ];
    if (canWrite) {
      const check = h('button', { type: 'button', class: 'button button-secondary button-small',
                                  'aria-label': `Check ${g.name}` }, 'Check');
      check.addEventListener('click', () => busy(check, async () => {
        try {
          await startCheck(ctx, g, checkArea, followers, () => refresh());
        } catch (err) {
          notify(`Could not check ${g.name}. ${errorText(err)}`, 'error');
        }
      }));
      const remove = h('button', { type: 'button', class: 'button button-danger-quiet button-small',
                                   'aria-label': `Delete ${g.name}` }, 'Delete');
      remove.addEventListener('click', async () => {
        if (await deleteRegistry(g)) await refresh();
      });
      cells.push(h('span', { class: 'row-actions' }, check,
        h('a', { href: `/registries/${g.id}`, class: 'button button-secondary button-small',
                 'aria-label': `Edit ${g.name}` }, 'Edit'),
        remove));
    }
    cells.attrs = { dataset: { registryId: g.id, name: g.name } };
    return cells;
  };

  async function refresh() {
    const fresh = api.pager('/v1/registries');
    try {
      const [items, checks] = await Promise.all([fresh.next(), checkJobs()]);
      if (!ctx.current()) return;
      pages = fresh;
      list = items;
      jobs = checks;
      draw();
    } catch (err) {
      if (!list) throw err;
      notify(`Could not reload the registries. ${errorText(err)}`, 'error');
    }
  }

  more.addEventListener('click', () => busy(more, async () => {
    try {
      list.push(...await pages.next());
      draw();
    } catch (err) {
      notify(`Could not load more registries. ${errorText(err)}`, 'error');
    }
  }, 'Loading…'));

  await refresh();
  return () => followers.forEach((f) => f.stop());
}

async function deleteRegistry(g) {
  const ok = await confirmDialog({
    title: `Delete ${g.name}?`,
    message: `Cloister forgets ${g.host} and its credentials. Images already there are not touched.`,
    confirmLabel: 'Delete registry',
  });
  if (!ok) return false;
  try {
    await api.del(`/v1/registries/${encodeURIComponent(g.id)}`);
    notify(`The registry ${g.name} was deleted.`);
    return true;
  } catch (err) {
    notify(`Could not delete ${g.name}. ${errorText(err)}`, 'error');
    return false;
  }
}

/* The fields of the add and edit forms; `registry` when editing. */
function registryFields(registry = null) {
  const name = field({ label: 'Name', name: 'name', required: true, autocomplete: 'off',
                       value: registry ? registry.name : '',
                       hint: 'Lower-case letters, digits and hyphens; unique in the account.',
                       attrs: { maxlength: 63, spellcheck: 'false' } });
  const host = field({ label: 'Host', name: 'host', required: true, autocomplete: 'off',
                       value: registry ? registry.host : '',
                       hint: 'A host name or address with an optional port, e.g. registry.example.com or 10.0.0.5:5000.',
                       attrs: { spellcheck: 'false' } });
  const tls = checkboxField({ label: 'Use HTTPS', name: 'tls', checked: registry ? registry.tls : true,
                              hint: 'Turn it off only for a registry on plain HTTP.' });
  const username = field({ label: 'User name', name: 'username', autocomplete: 'off',
                           value: registry && registry.username ? registry.username : '',
                           attrs: { spellcheck: 'false' } });
  const password = field({ label: 'Password', name: 'password', kind: 'password', autocomplete: 'new-password',
                           hint: registry
                             ? registry.has_password
                               ? 'A password is set. Leave this empty to keep it, or enter a new one.'
                               : 'None is set. A token works too.'
                             : 'Or a token. Cloister seals it and never shows it again.' });
  const remove = registry && registry.has_password
    ? checkboxField({ label: 'Remove the password', name: 'remove_password' }) : null;
  return { name, host, tls, username, password, remove };
}

function createForm(refresh) {
  const f = registryFields();
  const message = formMessage();
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Add registry');
  const form = h('form', { class: 'form form-grid', novalidate: true },
    message, f.name.wrap, f.host.wrap, f.username.wrap, f.password.wrap, f.tls.wrap,
    h('div', { class: 'form-actions' }, submit));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const body = { name: f.name.input.value.trim(), host: f.host.input.value.trim(), tls: f.tls.input.checked };
    const missing = {};
    if (!body.name) missing.name = 'enter a name for the registry';
    if (!body.host) missing.host = 'enter the registry’s host';
    if (Object.keys(missing).length) {
      showFormError(form, { fields: missing });
      return;
    }
    if (f.username.input.value.trim()) body.username = f.username.input.value.trim();
    if (f.password.input.value) body.password = f.password.input.value;
    await busy(submit, async () => {
      try {
        const g = await api.post('/v1/registries', body, { idempotent: true });
        form.reset();
        notify(`The registry ${g.name} was added${g.has_password ? ', with its password sealed' : ''}.`);
        await refresh();
      } catch (err) {
        f.password.input.value = '';
        showFormError(form, err);
      }
    }, 'Adding…');
  });

  return h('section', { class: 'section card', 'aria-labelledby': 'new-registry-title' },
    h('h2', { id: 'new-registry-title' }, 'Add a registry'), form);
}

async function renderOne(ctx, id) {
  const path = `/v1/registries/${encodeURIComponent(id)}`;
  let registry;
  let etag;
  try {
    ({ body: registry, etag } = await api.getVersioned(path));
  } catch (err) {
    if (err.status === 404) {
      ctx.main.append(pageHeading('Registry not found'), errorPanel(err),
        h('p', {}, h('a', { href: '/registries' }, 'See all registries'), '.'));
      return null;
    }
    throw err;
  }
  const jobs = await checkJobs();
  if (!ctx.current()) return null;
  ctx.setTitle(registry.name);
  const canWrite = ctx.can('registries.write');
  const followers = new Set();

  ctx.main.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '/registries' }, 'Registries'), ' / ', registry.name),
    pageHeading(registry.name, h('code', {}, registry.host)));

  const checkArea = h('div', { class: 'result-area' });
  if (canWrite) {
    const check = h('button', { type: 'button', class: 'button button-secondary' }, 'Check');
    const remove = h('button', { type: 'button', class: 'button button-danger-quiet' }, 'Delete');
    check.addEventListener('click', () => busy(check, async () => {
      checkArea.replaceChildren();
      followers.forEach((f) => f.stop());
      followers.clear();
      try {
        await startCheck(ctx, registry, checkArea, followers, null);
      } catch (err) {
        notify(`Could not check ${registry.name}. ${errorText(err)}`, 'error');
      }
    }));
    remove.addEventListener('click', async () => {
      if (await deleteRegistry(registry)) await ctx.navigate('/registries');
    });
    ctx.main.append(h('div', { class: 'page-actions' }, check, remove));
  }
  ctx.main.append(checkArea,
    h('section', { class: 'section', 'aria-labelledby': 'registry-facts-title' },
      h('h2', { id: 'registry-facts-title' }, 'Registry'),
      facts([
        ['Name', registry.name],
        ['Host', h('code', {}, registry.host)],
        ['Connection', registry.tls ? 'HTTPS' : 'Plain HTTP (no TLS)'],
        ['User name', registry.username ? h('code', {}, registry.username) : null],
        ['Password', registry.has_password ? 'Set (never shown)' : 'None'],
        ['Last check', lastCheck(registry, jobs)],
        ['Created', time(registry.created_at)],
        ['Changed', time(registry.updated_at)],
        ['ID', h('code', {}, registry.id)],
      ])));
  if (canWrite) ctx.main.append(editForm(ctx, path, registry, etag));

  // A check still running when the page opens is followed too.
  const last = registry.last_check_job && jobs.get(registry.last_check_job);
  if (last && !ENDED.has(last.state)) {
    const follower = followJob(last, { alive: ctx.current, title: `Checking ${registry.name}` });
    followers.add(follower);
    checkArea.append(h('div', { class: 'panel job-panel' }, follower.element));
  }
  return () => followers.forEach((f) => f.stop());
}

function editForm(ctx, path, registry, etag) {
  const f = registryFields(registry);
  const message = formMessage();
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Save changes');
  const form = h('form', { class: 'form form-grid', novalidate: true },
    message, f.name.wrap, f.host.wrap, f.username.wrap, f.password.wrap,
    f.remove ? f.remove.wrap : null, f.tls.wrap,
    h('div', { class: 'form-actions' }, submit));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const body = {};
    const name = f.name.input.value.trim();
    const host = f.host.input.value.trim();
    const username = f.username.input.value.trim() || null;
    const bad = {};
    if (!name) bad.name = 'enter a name for the registry';
    if (!host) bad.host = 'enter the registry’s host';
    if (f.remove && f.remove.input.checked && f.password.input.value)
      bad.password = 'enter a new password or remove it, not both';
    if (Object.keys(bad).length) {
      showFormError(form, { fields: bad });
      return;
    }
    if (name !== registry.name) body.name = name;
    if (host !== registry.host) body.host = host;
    if (f.tls.input.checked !== registry.tls) body.tls = f.tls.input.checked;
    if (username !== (registry.username || null)) body.username = username;
    if (f.password.input.value) body.password = f.password.input.value;
    else if (f.remove && f.remove.input.checked) body.password = null;
    if (!Object.keys(body).length) {
      notify('Nothing to save: the form is as the registry is.');
      return;
    }
    await busy(submit, async () => {
      try {
        const g = await api.patch(path, body, { headers: api.ifMatch(etag) });
        f.password.input.value = '';
        notify(`The registry ${g.name} was saved.`);
        await ctx.reload();
      } catch (err) {
        f.password.input.value = '';
        showFormError(form, err);
      }
    }, 'Saving…');
  });

  return h('section', { class: 'section card', 'aria-labelledby': 'edit-registry-title' },
    h('h2', { id: 'edit-registry-title' }, 'Change the registry'), form);
}
