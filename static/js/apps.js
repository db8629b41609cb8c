// apps.js - the applications of the account the session acts in: the list
// (/apps), one app (/apps/<id>), the create form (/apps/new), the edit
// form (/apps/<id>/edit) and registering a build (/apps/<id>/register,
// register_build.js).
//
// An app names an image to convert (input_image), where the converted image
// goes (output_image) and how it runs in its enclave. The forms have every
// field of POST /v1/apps, in forms people write: the enclave size as 256M or
// 1G (sent in bytes), the environment and labels as NAME=value lines, the
// entrypoint, arguments, domains and paths one per line. What the server
// refuses (422) is shown next to the field it names. Edits send only the
// fields that changed, with the ETag the page read in If-Match, so that
// someone else's change in between is refused (412) rather than undone.
//
// The domains an app may reach need approving (/tasks): the app's page shows
// which are approved and which still wait, with their approvals so far.
//
// "Convert" on the app's page asks for a build (POST /v1/apps/{id}/builds)
// and follows its convert job live there, as the inspection below does;
// once it succeeds, the new build is a link away (/builds/<id>). A
// conversion still running when the page opens is followed too. The page
// lists the app's latest builds, each linking to its own page, and where
// it is deployed (deployments.js's appDeployments).
//
// How the app's enclaves attest (attestation, identity, the node labels
// they need, their certificates' lifetime, what cloister-init does) is a
// part of the forms and of the page, the lifetime written as 12h or 7d
// (sent in seconds). What the enclaves do once running, their
// certificates, secrets and attestation activity, is app_enclaves.js's.
//
// "Create from an image": the create page inspects a reference (POST
// /v1/images/inspect, optionally through one of the account's registries),
// follows the image.inspect job live, shows what the image says, and fills
// the form from it: the input image pinned to the digest it resolved to, the
// entrypoint and arguments from the image's config.
import * as api from './api.js';
import { enclaveSections } from './app_enclaves.js';
import { buildStateBadge, shortHash } from './builds.js';
import { appDeployments } from './deployments.js';
import { renderRegister } from './register_build.js';
import { ENDED, followJob, inspectionFacts } from './jobs.js';
import { busy, checkboxField, clearFormErrors, codeList, confirmDialog, dataTable, errorPanel,
         errorText, facts, field, fieldset, formatBytes, formMessage, h, notify, pageHeading,
         parsePairs, showFormError, time } from './ui.js';

const DEFAULTS = { enclave_size: 536870912, max_threads: 16, isvprodid: 0, isvsvn: 0, attestation: 'cloister',
                   identity: 'mrenclave', min_isvsvn: 0, cert_lifetime: 604800, cloister_dir: '/run/cloister',
                   on_attestation_failure: 'retry' };
const RECENT_BUILDS = 5;
const UNITS = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
const SECONDS = { '': 1, s: 1, m: 60, h: 3600, d: 86400 };
const ATTESTATION = { cloister: 'Cloister: cloister-init attests, then starts the app',
                      none: 'None: the app starts alone, with no certificate or secrets' };
const IDENTITY = { mrenclave: 'MRENCLAVE: an approved build’s exact measurement',
                   signer: 'Signer: an approved build’s MRSIGNER and ISVPRODID' };
const ON_FAILURE = { retry: 'Retry, with back-off', exit: 'Exit' };

export async function render(ctx) {
  const [first, second] = ctx.sub;
  if (ctx.sub.length === 0) return renderList(ctx);
  if (ctx.sub.length === 1 && first === 'new') return renderCreate(ctx);
  if (ctx.sub.length === 1) return renderApp(ctx, first);
  if (ctx.sub.length === 2 && second === 'edit') return renderEdit(ctx, first);
  if (ctx.sub.length === 2 && second === 'register') {
    const loaded = await loadApp(ctx, first);
    return loaded ? renderRegister(ctx, loaded.body) : null;
  }
  ctx.main.append(pageHeading('Page not found'),
    h('p', {}, 'There is no page at this address. ', h('a', { href: '/apps' }, 'See the apps'), '.'));
  return null;
}

/* ---- the forms' conversions ---------------------------------------------- */

/* "256M" or "1G" (or plain bytes) → bytes; {value} or {error}. */
export function parseSize(text) {
  const t = text.trim();
  if (!t) return { value: null };
  const m = /^(\d+)\s*([KMGT])?(?:i?B)?$/i.exec(t);
  if (!m) return { error: 'enter a size such as 256M or 1G' };
  return { value: Number(m[1]) * UNITS[(m[2] || '').toUpperCase()] };
}

/* bytes → "512M", "1G"; bytes that are no whole unit stay a number. */
export function formatSize(bytes) {
  if (bytes === null || bytes === undefined) return '';
  for (const unit of ['T', 'G', 'M', 'K']) {
    if (bytes >= UNITS[unit] && bytes % UNITS[unit] === 0) return `${bytes / UNITS[unit]}${unit}`;
  }
  return String(bytes);
}

/* "12h" or "7d" (or plain seconds) → seconds; {value} or {error}. */
export function parseDuration(text) {
  const t = text.trim();
  if (!t) return { value: null };
  const m = /^(\d+)\s*([smhd])?$/i.exec(t);
  if (!m) return { error: 'enter a time such as 12h or 7d' };
  return { value: Number(m[1]) * SECONDS[(m[2] || '').toLowerCase()] };
}

/* seconds → "7d", "12h", "90m"; seconds that are no whole unit stay a number. */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return '';
  for (const unit of ['d', 'h', 'm']) {
    if (seconds >= SECONDS[unit] && seconds % SECONDS[unit] === 0) return `${seconds / SECONDS[unit]}${unit}`;
  }
  return String(seconds);
}

/* seconds in words: "7 days", "12 hours". */
function durationWords(seconds) {
  for (const [unit, size] of [['day', 86400], ['hour', 3600], ['minute', 60]]) {
    if (seconds >= size && seconds % size === 0) {
      const n = seconds / size;
      return `${n} ${unit}${n === 1 ? '' : 's'}`;
    }
  }
  return `${seconds} seconds`;
}

/* An integer field: a number when it is one, else the text as typed, for the
 * server to say what it wants. */
function intOrText(text) {
  const t = text.trim();
  if (!t) return null;
  return /^-?\d+$/.test(t) ? Number(t) : t;
}

/* One item per line; blank lines left out. */
function lines(text, { trim = true } = {}) {
  return text.split('\n').map((l) => (trim ? l.trim() : l.replace(/\r$/, ''))).filter((l) => l.trim() !== '');
}

function pairLines(obj) {
  return Object.entries(obj || {}).map(([k, v]) => `${k}=${v}`).join('\n');
}

/* The same JSON, whatever the order of object keys. */
function canon(v) {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])]));
  }
  return v;
}
const same = (a, b) => JSON.stringify(canon(a)) === JSON.stringify(canon(b));

/* A reference without its digest, then pinned to `digest`: the tag, if any,
 * stays for people to read. */
export function pinnedReference(reference, digest) {
  const at = reference.indexOf('@');
  return `${at >= 0 ? reference.slice(0, at) : reference}@${digest}`;
}

/* A name for an app made from `reference`: its repository's last segment. */
function nameFrom(reference) {
  let base = reference.split('@')[0];
  const slash = base.lastIndexOf('/');
  const colon = base.lastIndexOf(':');
  if (colon > slash) base = base.slice(0, colon);
  return base.slice(slash + 1).toLowerCase().replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '').slice(0, 63);
}

/* ---- the form -------------------------------------------------------------- */

function textarea(label, name, value, hint, rows = 3) {
  return field({ label, name, kind: 'textarea', value, hint,
                 attrs: { rows: String(rows), spellcheck: 'false', autocomplete: 'off' } });
}

/*
 * Every field of an app, filled from `app` (editing) or empty (creating).
 * Answers {form, message, submit, fields, read()}: read() turns the fields
 * into {body} (every field, null for "the default") or {errors}.
 */
function appForm(app, submitLabel) {
  const a = app || {};
  const f = {
    name: field({ label: 'Name', name: 'name', required: true, value: a.name || '', autocomplete: 'off',
                  hint: 'Lower-case letters, digits and hyphens; unique in the account.',
                  attrs: { maxlength: 63, spellcheck: 'false' } }),
    description: field({ label: 'Description', name: 'description', kind: 'textarea',
                         value: a.description || '', attrs: { rows: '2', maxlength: 1000 } }),
    input_image: field({ label: 'Input image', name: 'input_image', required: true,
                         value: a.input_image || '', autocomplete: 'off',
                         hint: 'The image to convert: a reference with a tag, a digest or both, e.g. registry.example.com/acme/web:1.4.',
                         attrs: { spellcheck: 'false' } }),
    output_image: field({ label: 'Output image', name: 'output_image', required: true,
                          value: a.output_image || '', autocomplete: 'off',
                          hint: 'Where the converted image goes: a repository and tag, never a digest.',
                          attrs: { spellcheck: 'false' } }),
    runtime: field({ label: 'Runtime', name: 'runtime', kind: 'select', value: a.runtime || 'gramine',
                     required: true, options: [{ value: 'gramine', label: 'Gramine' }] }),
    enclave_size: field({ label: 'Enclave size', name: 'enclave_size', value: app ? formatSize(a.enclave_size) : '',
                          placeholder: '512M', autocomplete: 'off',
                          hint: 'A power of two from 64M to 64G, e.g. 256M or 1G. Empty: 512M.',
                          attrs: { spellcheck: 'false' } }),
    max_threads: field({ label: 'Threads', name: 'max_threads', value: app ? String(a.max_threads) : '',
                         placeholder: '16', autocomplete: 'off', hint: 'From 1 to 1024. Empty: 16.',
                         attrs: { inputmode: 'numeric' } }),
    isvprodid: field({ label: 'Product ID (ISVPRODID)', name: 'isvprodid', value: app ? String(a.isvprodid) : '',
                       placeholder: '0', autocomplete: 'off', hint: 'From 0 to 65535.',
                       attrs: { inputmode: 'numeric' } }),
    isvsvn: field({ label: 'Security version (ISVSVN)', name: 'isvsvn', value: app ? String(a.isvsvn) : '',
                    placeholder: '0', autocomplete: 'off', hint: 'From 0 to 65535.',
                    attrs: { inputmode: 'numeric' } }),
    debug: checkboxField({ label: 'Debug enclave', name: 'debug', checked: Boolean(a.debug),
                           hint: 'Its memory can be read: never for production.' }),
    entrypoint: textarea('Entrypoint', 'entrypoint', (a.entrypoint || []).join('\n'),
      'The program, then its first arguments, one per line. Empty: the image’s own.'),
    args: textarea('Arguments', 'args', (a.args || []).join('\n'),
      'The arguments after them, one per line. Empty: the image’s own command.'),
    env: textarea('Environment', 'env', pairLines(a.env),
      'One variable per line, NAME=value.', 4),
    allowed_domains: textarea('Allowed domains', 'allowed_domains', (a.allowed_domains || []).join('\n'),
      'The DNS names the app may reach, one per line; *.example.com for any name under one. ' +
      'Each new domain waits for approval.'),
    encrypted_paths: textarea('Encrypted paths', 'encrypted_paths', (a.encrypted_paths || []).join('\n'),
      'Absolute paths whose files are kept encrypted, one per line.'),
    writable_paths: textarea('Writable paths', 'writable_paths', (a.writable_paths || []).join('\n'),
      'Absolute paths the app may write to, one per line.'),
    labels: textarea('Labels', 'labels', pairLines(a.labels), 'One per line, key=value.'),
    attestation: field({ label: 'Attestation', name: 'attestation', kind: 'select', required: true,
                         value: a.attestation || 'cloister', hint: 'Whether the enclave proves what it is before the ' +
                           'app starts, and receives its certificate and secrets.',
                         options: Object.entries(ATTESTATION).map(([value, label]) => ({ value, label })) }),
    identity: field({ label: 'Identity', name: 'identity', kind: 'select', required: true,
                      value: a.identity || 'mrenclave', hint: 'How an enclave is matched to an approved build.',
                      options: Object.entries(IDENTITY).map(([value, label]) => ({ value, label })) }),
    min_isvsvn: field({ label: 'Lowest ISVSVN', name: 'min_isvsvn', value: app ? String(a.min_isvsvn) : '',
                        placeholder: '0', autocomplete: 'off',
                        hint: 'With the signer identity: the lowest security version accepted, 0 to 65535.',
                        attrs: { inputmode: 'numeric' } }),
    cert_lifetime: field({ label: 'Certificate lifetime', name: 'cert_lifetime',
                           value: app ? formatDuration(a.cert_lifetime) : '', placeholder: '7d', autocomplete: 'off',
                           hint: 'How long an enclave’s certificate is valid, e.g. 12h or 30d, from 1h to 90d; ' +
                                 'cloister-init renews it before then. Empty: 7d.',
                           attrs: { spellcheck: 'false' } }),
    on_attestation_failure: field({ label: 'When attestation fails', name: 'on_attestation_failure', kind: 'select',
                                    required: true, value: a.on_attestation_failure || 'retry',
                                    options: Object.entries(ON_FAILURE).map(([value, label]) => ({ value, label })) }),
    cloister_dir: field({ label: 'Cloister directory', name: 'cloister_dir', value: a.cloister_dir || '',
                          placeholder: '/run/cloister', autocomplete: 'off',
                          hint: 'The in-enclave tmpfs where the key, certificate, chain and secrets are written. ' +
                                'Empty: /run/cloister.', attrs: { spellcheck: 'false' } }),
    required_node_labels: textarea('Required node labels', 'required_node_labels', pairLines(a.required_node_labels),
      'Labels a node must carry for the app’s enclaves to attest on it, one per line, key=value.'),
    secrets_env: checkboxField({ label: 'Secrets as variables too', name: 'secrets_env',
                                 checked: Boolean(a.secrets_env),
                                 hint: 'Besides the files in the Cloister directory, the app gets each secret as an ' +
                                       'environment variable of its name.' }),
  };
  const message = formMessage();
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, submitLabel);
  const form = h('form', { class: 'form app-form', novalidate: true },
    message,
    fieldset('Name', h('div', { class: 'form-grid' }, f.name.wrap, f.description.wrap)),
    fieldset('Images', h('div', { class: 'form-grid' }, f.input_image.wrap, f.output_image.wrap)),
    fieldset('Enclave', h('div', { class: 'form-grid form-grid-narrow' },
      f.runtime.wrap, f.enclave_size.wrap, f.max_threads.wrap, f.isvprodid.wrap, f.isvsvn.wrap),
    f.debug.wrap),
    fieldset('How it starts', h('div', { class: 'form-grid' }, f.entrypoint.wrap, f.args.wrap, f.env.wrap)),
    fieldset('What it may reach and write',
      h('div', { class: 'form-grid' }, f.allowed_domains.wrap, f.encrypted_paths.wrap, f.writable_paths.wrap)),
    fieldset('Attestation', h('div', { class: 'form-grid' },
      f.attestation.wrap, f.identity.wrap, f.min_isvsvn.wrap, f.cert_lifetime.wrap, f.on_attestation_failure.wrap,
      f.cloister_dir.wrap, f.required_node_labels.wrap),
    f.secrets_env.wrap),
    fieldset('Labels', h('div', { class: 'form-grid' }, f.labels.wrap)),
    h('div', { class: 'form-actions' }, submit));

  const read = () => {
    const errors = {};
    const v = (k) => f[k].input.value;
    const body = {
      name: v('name').trim(),
      description: v('description'),
      input_image: v('input_image').trim(),
      output_image: v('output_image').trim(),
      runtime: v('runtime'),
      max_threads: intOrText(v('max_threads')),
      isvprodid: intOrText(v('isvprodid')),
      isvsvn: intOrText(v('isvsvn')),
      entrypoint: lines(v('entrypoint'), { trim: false }),
      args: lines(v('args'), { trim: false }),
      allowed_domains: lines(v('allowed_domains')),
      encrypted_paths: lines(v('encrypted_paths')),
      writable_paths: lines(v('writable_paths')),
      debug: f.debug.input.checked,
      attestation: v('attestation'),
      identity: v('identity'),
      min_isvsvn: intOrText(v('min_isvsvn')),
      cloister_dir: v('cloister_dir').trim() || null,
      on_attestation_failure: v('on_attestation_failure'),
      secrets_env: f.secrets_env.input.checked,
    };
    if (!body.entrypoint.length) body.entrypoint = null;
    if (!body.args.length) body.args = null;
    const size = parseSize(v('enclave_size'));
    if (size.error) errors.enclave_size = size.error;
    else body.enclave_size = size.value;
    const env = parsePairs(v('env'), 'NAME');
    if (env.error) errors.env = env.error;
    else body.env = env.value;
    const labels = parsePairs(v('labels'), 'key');
    if (labels.error) errors.labels = labels.error;
    else body.labels = labels.value;
    const required = parsePairs(v('required_node_labels'), 'key');
    if (required.error) errors.required_node_labels = required.error;
    else body.required_node_labels = required.value;
    const lifetime = parseDuration(v('cert_lifetime'));
    if (lifetime.error) errors.cert_lifetime = lifetime.error;
    else if (lifetime.value !== null && (lifetime.value < 3600 || lifetime.value > 7776000))
      errors.cert_lifetime = 'must be from 1h to 90d';
    else body.cert_lifetime = lifetime.value;
    if (!body.name) errors.name = 'enter a name for the app';
    if (!body.input_image) errors.input_image = 'enter the image to convert';
    if (!body.output_image) errors.output_image = 'enter where the converted image goes';
    return Object.keys(errors).length ? { errors } : { body };
  };
  return { form, message, submit, fields: f, read };
}

/* ---- the list ---------------------------------------------------------------- */

async function renderList(ctx) {
  const canWrite = ctx.can('apps.write');
  ctx.main.append(pageHeading('Apps',
    `The applications ${ctx.me.account.name} converts to run in SGX enclaves.`));
  if (canWrite) {
    ctx.main.append(h('div', { class: 'page-actions' },
      h('a', { href: '/apps/new', class: 'button button-primary' }, 'New app'),
      h('a', { href: '/apps/new?from=image', class: 'button button-secondary' }, 'Create from an image')));
  } else {
    ctx.main.append(h('p', { class: 'note' }, 'Only the account’s operators and admins can create or change apps.'));
  }
  const listArea = h('section', { class: 'section', 'aria-labelledby': 'apps-list-title' },
    h('h2', { id: 'apps-list-title', class: 'sr-only' }, 'Apps'));
  ctx.main.append(listArea);

  const pages = api.pager('/v1/apps');
  const apps = await pages.next();
  if (!ctx.current()) return null;
  const holder = h('div');
  const more = h('button', { type: 'button', class: 'button button-secondary' }, 'Load more');
  listArea.append(holder, h('div', { class: 'list-footer' }, more));
  const columns = [{ label: 'Name' }, { label: 'Input image' }, { label: 'Output image' },
                   { label: 'Domains' }, { label: 'Changed' }];
  const draw = () => {
    holder.replaceChildren(dataTable({
      caption: 'Apps',
      columns,
      rows: apps.map((a) => {
        const pending = a.allowed_domains.filter((d) => !a.approved_domains.includes(d)).length;
        const cells = [
          h('a', { href: `/apps/${a.id}`, class: 'strong' }, a.name),
          h('code', { class: 'reference' }, a.input_image),
          h('code', { class: 'reference' }, a.output_image),
          a.allowed_domains.length
            ? h('span', {}, `${a.approved_domains.length} approved`,
              pending ? [', ', h('span', { class: 'badge badge-waiting' }, `${pending} waiting`)] : null)
            : h('span', { class: 'muted' }, 'None'),
          time(a.updated_at),
        ];
        cells.attrs = { dataset: { appId: a.id, name: a.name } };
        return cells;
      }),
      empty: canWrite ? 'No apps yet. Create the first one.' : 'This account has no apps yet.',
    }));
    more.hidden = pages.done;
  };
  more.addEventListener('click', () => busy(more, async () => {
    try {
      apps.push(...await pages.next());
      draw();
    } catch (err) {
      notify(`Could not load more apps. ${errorText(err)}`, 'error');
    }
  }, 'Loading…'));
  draw();
  return null;
}

/* ---- one app ------------------------------------------------------------------ */

async function loadApp(ctx, id) {
  try {
    return await api.getVersioned(`/v1/apps/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err.status === 404) {
      ctx.main.append(pageHeading('App not found'), errorPanel(err),
        h('p', {}, h('a', { href: '/apps' }, 'See all apps'), '.'));
      return null;
    }
    throw err;
  }
}

function section(title, ...content) {
  const id = `app-${title.toLowerCase().replace(/[^a-z]+/g, '-')}`;
  return h('section', { class: 'section detail-section', 'aria-labelledby': id },
    h('h2', { id }, title), content);
}

async function renderApp(ctx, id) {
  const loaded = await loadApp(ctx, id);
  if (!loaded) return null;
  const { body: app, etag } = loaded;
  // What became of each domain's approval: the latest task for it (the
  // list is newest first, and cannot be asked for one app's tasks only).
  // With it, the app's latest builds and its conversions still running.
  const [tasks, builds, conversions, enclaves, deployments] = await Promise.all([
    api.getAll('/v1/tasks', { query: { type: 'domain_approval' }, max: 2000 }).catch(() => []),
    recentBuilds(app),
    api.getPage('/v1/jobs', { query: { kind: 'convert', target: `app:${app.id}` }, limit: 20 })
      .then((page) => page.items.filter((j) => !ENDED.has(j.state)), () => []),
    enclaveSections(ctx, app),
    appDeployments(ctx, app),
  ]);
  if (!ctx.current()) return null;
  ctx.setTitle(app.name);
  const canWrite = ctx.can('apps.write');
  const followers = new Set();
  const convertArea = h('div', { class: 'result-area', 'aria-label': 'Conversions' });
  const buildsHolder = h('div');
  const drawBuilds = (page) => buildsHolder.replaceChildren(buildsTable(ctx, app, page));
  drawBuilds(builds);
  const follow = (job) => followConversion(ctx, app, job, convertArea, followers, async () => {
    const page = await recentBuilds(app);
    if (ctx.current()) drawBuilds(page);
  });
  const latest = new Map();
  for (const t of tasks) {
    if (t.details && t.details.app_id === app.id && !latest.has(t.details.domain)) latest.set(t.details.domain, t);
  }
  const domainStatus = (d) => {
    const t = latest.get(d);
    if (!t || t.state === 'approved') return h('span', { class: 'muted small' }, 'Waiting');
    if (t.state === 'pending') {
      return h('a', { href: `/tasks#task-${t.id}`, class: 'small' },
        `Waiting: ${t.approvals} of ${t.quorum} approval${t.quorum === 1 ? '' : 's'}`);
    }
    return h('span', { class: `badge ${t.state === 'denied' ? 'badge-revoked' : 'badge-expired'}` },
      t.state === 'denied' ? 'Denied' : 'Expired');
  };

  ctx.main.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '/apps' }, 'Apps'), ' / ', app.name),
    pageHeading(app.name, app.description || null));
  if (canWrite) {
    const remove = h('button', { type: 'button', class: 'button button-danger-quiet' }, 'Delete');
    remove.addEventListener('click', async () => {
      const ok = await confirmDialog({
        title: `Delete ${app.name}?`,
        message: `The app ${app.name} and its settings are deleted. Images already built are not touched.`,
        confirmLabel: 'Delete app',
      });
      if (!ok) return;
      await busy(remove, async () => {
        try {
          await api.del(`/v1/apps/${encodeURIComponent(app.id)}`, { headers: api.ifMatch(etag) });
          await ctx.navigate('/apps');
          notify(`The app ${app.name} was deleted.`);
        } catch (err) {
          notify(`Could not delete ${app.name}. ${errorText(err)}`, 'error');
        }
      });
    });
    ctx.main.append(h('div', { class: 'page-actions' },
      h('a', { href: `/apps/${app.id}/edit`, class: 'button button-primary' }, 'Edit'),
      // Only Gramine apps are converted; every runtime's builds can be
      // registered by their SIGSTRUCT, the other runtimes' only so.
      ctx.can('builds.create') && app.runtime === 'gramine' ? convertButton(app, follow) : null,
      ctx.can('builds.create')
        ? h('a', { href: `/apps/${app.id}/register`, class: 'button button-secondary' }, 'Register a build')
        : null,
      remove));
  }

  const pinned = /@sha256:[0-9a-f]{64}$/.test(app.input_image);
  // The digest the input image resolved to, where the server keeps one
  // (input_digest, filled in by the image.inspect job input_inspect_job):
  // a job still running is followed here until it tells.
  let digestRow = null;
  let follower = null;
  if ('input_digest' in app) {
    if (app.input_digest) {
      digestRow = ['Resolved digest', h('code', { class: 'digest', dataset: { field: 'input_digest' } }, app.input_digest)];
    } else if (app.input_inspect_job) {
      follower = followJob(app.input_inspect_job, { alive: ctx.current, events: false, titleTag: 'span',
                                                    title: 'Resolving the input image' });
      const cell = h('div', { class: 'digest-follow' }, follower.element);
      digestRow = ['Resolved digest', cell];
      follower.done.then((j) => {
        if (!ctx.current()) return;
        cell.replaceChildren(j.state === 'succeeded' && j.result && j.result.digest
          ? h('code', { class: 'digest', dataset: { field: 'input_digest' } }, j.result.digest)
          : h('span', { class: 'muted' }, `Not resolved: ${j.error || j.state}.`));
      }, () => {});
    }
  }
  const approved = app.approved_domains;
  const pending = app.allowed_domains.filter((d) => !approved.includes(d));
  // Oldest first, so that the newest ends on top.
  conversions.reverse().forEach(follow);
  ctx.main.append(
    section('Builds', convertArea, buildsHolder),
    section('Deployments', deployments),
    ...enclaves,
    section('Images', facts([
      ['Input image', h('span', { class: 'reference-line' }, h('code', { class: 'reference', dataset: { field: 'input_image' } }, app.input_image),
        pinned ? h('span', { class: 'badge badge-active' }, 'Pinned to a digest') : null)],
      digestRow,
      ['Output image', h('code', { class: 'reference' }, app.output_image)],
    ])),
    section('Enclave', facts([
      ['Runtime', app.runtime === 'gramine' ? 'Gramine' : app.runtime],
      ['Size', `${formatBytes(app.enclave_size)} (${app.enclave_size.toLocaleString('en')} bytes)`],
      ['Threads', String(app.max_threads)],
      ['Product ID (ISVPRODID)', String(app.isvprodid)],
      ['Security version (ISVSVN)', String(app.isvsvn)],
      ['Debug', app.debug ? h('span', { class: 'badge badge-revoked' }, 'Debug enclave: not for production') : 'No'],
    ])),
    section('Attestation', facts([
      ['Attestation', ATTESTATION[app.attestation] || app.attestation],
      ['Identity', IDENTITY[app.identity] || app.identity],
      ['Lowest ISVSVN', app.identity === 'signer' ? String(app.min_isvsvn)
        : h('span', {}, String(app.min_isvsvn), h('span', { class: 'muted' }, ' (used with the signer identity only)'))],
      ['Required node labels', Object.keys(app.required_node_labels).length
        ? codeList(Object.entries(app.required_node_labels).map(([k, v]) => `${k}=${v}`))
        : h('span', { class: 'muted' }, 'None: any active node')],
      ['Certificate lifetime', `${durationWords(app.cert_lifetime)} (${app.cert_lifetime.toLocaleString('en')} seconds)`],
      ['Secrets as environment variables', app.secrets_env ? 'Yes' : 'No: as files only'],
      ['Cloister directory', h('code', {}, app.cloister_dir)],
      ['When attestation fails', ON_FAILURE[app.on_attestation_failure] || app.on_attestation_failure],
    ], { cls: 'attestation-settings' })),
    section('How it starts', facts([
      ['Entrypoint', app.entrypoint ? codeList(app.entrypoint) : h('span', { class: 'muted' }, 'The image’s own')],
      ['Arguments', app.args ? codeList(app.args) : h('span', { class: 'muted' }, 'The image’s own command')],
      ['Environment', Object.keys(app.env).length
        ? codeList(Object.entries(app.env).map(([k, v]) => `${k}=${v}`)) : null],
    ])),
    section('Domains',
      h('p', { class: 'hint' }, 'An app reaches only the domains it is allowed and an approval has approved.'),
      h('div', { class: 'domains' },
        h('div', { class: 'domain-group', dataset: { group: 'approved' } },
          h('h3', {}, `Approved (${approved.length})`),
          codeList(approved, { empty: 'None yet' })),
        h('div', { class: 'domain-group', dataset: { group: 'pending' } },
          h('h3', {}, `Not approved (${pending.length})`),
          pending.length
            ? h('ul', { class: 'code-list' }, pending.map((d) => h('li', {}, h('code', {}, d), ' ', domainStatus(d))))
            : h('span', { class: 'muted' }, 'None')))),
    section('Files', facts([
      ['Encrypted paths', codeList(app.encrypted_paths)],
      ['Writable paths', codeList(app.writable_paths)],
    ])),
    section('Labels', Object.keys(app.labels).length
      ? codeList(Object.entries(app.labels).map(([k, v]) => `${k}=${v}`))
      : h('p', { class: 'muted' }, 'No labels.')),
    section('Record', facts([
      ['Created', time(app.created_at)],
      ['Changed', time(app.updated_at)],
      ['ID', h('code', {}, app.id)],
    ])));
  if (follower) followers.add(follower);
  return () => followers.forEach((f) => f.stop());
}

/* The app's latest builds: a page of GET /v1/apps/{id}/builds, or the error. */
function recentBuilds(app) {
  return api.getPage(`/v1/apps/${encodeURIComponent(app.id)}/builds`, { limit: RECENT_BUILDS })
    .catch((err) => err);
}

function buildsTable(ctx, app, page) {
  if (page instanceof Error) {
    return h('p', { class: 'job-error' }, `Could not load the builds. ${errorText(page)}`);
  }
  return h('div', {},
    dataTable({
      caption: `The latest builds of ${app.name}`,
      columns: [{ label: 'Build' }, { label: 'State' }, { label: 'Created' }],
      rows: page.items.map((b) => {
        const cells = [
          h('a', { href: `/builds/${b.id}`, 'aria-label': `Build ${b.id.slice(0, 8)}, MRENCLAVE ${b.mrenclave.slice(0, 16)}` },
            shortHash(b.mrenclave)),
          buildStateBadge(b),
          time(b.created_at),
        ];
        cells.attrs = { dataset: { buildId: b.id, state: b.state } };
        return cells;
      }),
      empty: !ctx.can('builds.create') ? 'No builds yet.'
        : app.runtime === 'gramine' ? 'No builds yet. Convert the app to make one.'
          : 'No builds yet. Register one made with the runtime\'s own tools: Register a build, ' +
            'or cloister build register.',
    }),
    page.items.length
      ? h('p', { class: 'list-footer' }, h('a', { href: `/builds?app_id=${app.id}` }, `All builds of ${app.name}`))
      : null);
}

/* Convert: ask for a build and hand its job to `follow`. */
function convertButton(app, follow) {
  const button = h('button', { type: 'button', class: 'button button-secondary' }, 'Convert');
  button.addEventListener('click', () => busy(button, async () => {
    try {
      follow(await api.post(`/v1/apps/${encodeURIComponent(app.id)}/builds`, undefined, { idempotent: true }));
    } catch (err) {
      notify(`Could not convert ${app.name}. ${errorText(err)}`, 'error');
    }
  }, 'Starting…'));
  return button;
}

/* Follow a convert job in `area` until it ends: then a link to the build it
 * made, or its error (followJob shows it), and `onEnd`. */
function followConversion(ctx, app, job, area, followers, onEnd) {
  const follower = followJob(job, { alive: ctx.current, events: true, title: `Converting ${app.name}` });
  followers.add(follower);
  const outcome = h('div', { class: 'panel-actions', hidden: true });
  area.prepend(h('div', { class: 'panel job-panel convert-panel' }, follower.element, outcome));
  follower.done.then((j) => {
    followers.delete(follower);
    if (!ctx.current()) return;
    if (j.state === 'succeeded' && j.result && j.result.build_id) {
      outcome.replaceChildren(
        h('a', { href: `/builds/${j.result.build_id}`, class: 'button button-primary' }, 'View build'),
        h('span', { class: 'hint' }, ' MRENCLAVE ', shortHash(j.result.mrenclave)));
      outcome.hidden = false;
      notify(`${app.name} was converted.`);
    } else {
      notify(`The conversion of ${app.name} ${j.state === 'canceled' ? 'was canceled' : 'failed'}` +
             `${j.error ? `: ${j.error}` : ''}.`, 'error');
    }
    onEnd(j);
  }, (err) => {
    followers.delete(follower);
    if (ctx.current()) notify(`Could not follow the conversion of ${app.name}. ${errorText(err)}`, 'error');
  });
}

/* ---- create ------------------------------------------------------------------- */

async function renderCreate(ctx) {
  ctx.setTitle('New app');
  ctx.main.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '/apps' }, 'Apps'), ' / New app'),
    pageHeading('New app', 'Name the image to convert, where the result goes and how it runs.'));
  if (!ctx.can('apps.write')) {
    ctx.main.append(h('p', { class: 'note' }, 'Only the account’s operators and admins can create apps.'));
    return null;
  }
  const followers = new Set();
  const { form, read, fields } = appForm(null, 'Create app');
  const formSection = h('section', { class: 'section card', 'aria-labelledby': 'app-form-title' },
    h('h2', { id: 'app-form-title', tabindex: '-1' }, 'Settings'), form);

  if (ctx.can('images.inspect')) {
    const registries = await api.getAll('/v1/registries').catch(() => []);
    if (!ctx.current()) return null;
    ctx.main.append(inspectCard(ctx, registries, followers, (inspection, pinned) => {
      fields.input_image.input.value = pinned;
      fields.entrypoint.input.value = (inspection.entrypoint || []).join('\n');
      fields.args.input.value = (inspection.cmd || []).join('\n');
      if (!fields.name.input.value.trim()) fields.name.input.value = nameFrom(inspection.reference);
      clearFormErrors(form);
      formSection.querySelector('h2').focus();
      notify(`The form starts from ${pinned}.`);
    }));
  }
  ctx.main.append(formSection);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const { body, errors } = read();
    if (errors) {
      showFormError(form, { fields: errors });
      return;
    }
    // Only what was given: the server fills in the defaults.
    for (const [k, v] of Object.entries(body)) {
      if (v === null || v === '' || v === false || (Array.isArray(v) && !v.length) ||
          (v && typeof v === 'object' && !Array.isArray(v) && !Object.keys(v).length)) delete body[k];
    }
    const submit = form.querySelector('button[type=submit]');
    await busy(submit, async () => {
      try {
        const app = await api.post('/v1/apps', body, { idempotent: true });
        await ctx.navigate(`/apps/${app.id}`);
        const waiting = app.allowed_domains.length;
        notify(`The app ${app.name} was created.` +
               (waiting ? ` ${waiting} domain${waiting === 1 ? '' : 's'} wait${waiting === 1 ? 's' : ''} for approval.` : ''));
      } catch (err) {
        showFormError(form, err);
      }
    }, 'Creating…');
  });
  if (ctx.query.get('from') === 'image') {
    const ref = ctx.main.querySelector('input[name=reference]');
    if (ref) ref.focus();
  }
  return () => followers.forEach((f) => f.stop());
}

/* Inspect an image and offer to start the form from it. */
function inspectCard(ctx, registries, followers, use) {
  const reference = field({ label: 'Image reference', name: 'reference', required: true, autocomplete: 'off',
                            hint: 'e.g. registry.example.com/acme/web:1.4 or nginx:1.25',
                            attrs: { spellcheck: 'false' } });
  const registry = field({ label: 'Registry', name: 'registry_id', kind: 'select', value: '',
                           hint: 'One of the account’s registries, for its address and credentials.',
                           options: [{ value: '', label: 'None: a public registry over HTTPS' },
                             ...registries.map((g) => ({ value: g.id, label: `${g.name} (${g.host})` }))] });
  registry.input.addEventListener('change', () => {
    const g = registries.find((x) => x.id === registry.input.value);
    if (g && !reference.input.value.trim()) reference.input.value = `${g.host}/`;
  });
  const message = formMessage();
  const submit = h('button', { type: 'submit', class: 'button button-secondary' }, 'Inspect image');
  const form = h('form', { class: 'form form-inline', novalidate: true },
    message, reference.wrap, registry.wrap, h('div', { class: 'form-actions' }, submit));
  const result = h('div', { class: 'inspect-result' });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const ref = reference.input.value.trim();
    if (!ref) {
      showFormError(form, { fields: { reference: 'enter the reference of an image' } });
      return;
    }
    const body = { reference: ref };
    if (registry.input.value) body.registry_id = registry.input.value;
    followers.forEach((f) => f.stop());
    followers.clear();
    result.replaceChildren();
    await busy(submit, async () => {
      let job;
      try {
        job = await api.post('/v1/images/inspect', body);
      } catch (err) {
        showFormError(form, err);
        return;
      }
      const follower = followJob(job, { alive: ctx.current, events: false, title: `Inspecting ${ref}` });
      followers.add(follower);
      result.append(h('div', { class: 'panel job-panel' }, follower.element));
      let done;
      try {
        done = await follower.done;
      } catch (err) {
        if (ctx.current()) notify(`Could not follow the inspection. ${errorText(err)}`, 'error');
        return;
      }
      if (!ctx.current()) return;
      if (done.state !== 'succeeded') {
        notify(`The image could not be inspected${done.error ? `: ${done.error}` : ''}.`, 'error');
        return;
      }
      const inspection = done.result;
      const pinned = pinnedReference(inspection.reference, inspection.digest);
      const useButton = h('button', { type: 'button', class: 'button button-primary' }, 'Use this image');
      useButton.addEventListener('click', () => use(inspection, pinned));
      const heading = h('h3', { tabindex: '-1' }, 'What the image says');
      result.append(h('section', { class: 'panel inspection-panel', 'aria-label': 'The inspected image' },
        heading,
        inspectionFacts(inspection),
        h('p', {}, 'Pinned to its digest: ', h('code', { class: 'reference pinned-reference' }, pinned)),
        h('div', { class: 'panel-actions' }, useButton,
          h('span', { class: 'hint' }, ' Fills in the input image, entrypoint and arguments below.'))));
      heading.focus();
    }, 'Inspecting…');
  });

  return h('section', { class: 'section card', 'aria-labelledby': 'inspect-title' },
    h('h2', { id: 'inspect-title' }, 'Create from an image'),
    h('p', { class: 'hint' }, 'Optional: Cloister reads the image’s manifest and config from its registry, ' +
      'and the form below can start from what they say.'),
    form, result);
}

/* ---- edit --------------------------------------------------------------------- */

async function renderEdit(ctx, id) {
  const loaded = await loadApp(ctx, id);
  if (!loaded) return null;
  const { body: app, etag } = loaded;
  ctx.setTitle(`Edit ${app.name}`);
  ctx.main.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '/apps' }, 'Apps'), ' / ',
      h('a', { href: `/apps/${app.id}` }, app.name), ' / Edit'),
    pageHeading(`Edit ${app.name}`, 'Only the fields you change are sent.'));
  if (!ctx.can('apps.write')) {
    ctx.main.append(h('p', { class: 'note' }, 'Only the account’s operators and admins can change apps.'));
    return null;
  }
  const { form, read, submit } = appForm(app, 'Save changes');
  ctx.main.append(h('section', { class: 'section card', 'aria-label': `Settings of ${app.name}` }, form,
    h('p', { class: 'form-footer' }, h('a', { href: `/apps/${app.id}` }, 'Back to the app without saving'))));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const { body, errors } = read();
    if (errors) {
      showFormError(form, { fields: errors });
      return;
    }
    // What changed: an emptied field goes back to its default (null).
    const patch = {};
    for (const [k, v] of Object.entries(body)) {
      const now = v === null && k in DEFAULTS ? DEFAULTS[k] : v;
      if (!same(now, app[k])) patch[k] = v;
    }
    if (!Object.keys(patch).length) {
      notify('Nothing to save: the form is as the app is.');
      return;
    }
    await busy(submit, async () => {
      try {
        const saved = await api.patch(`/v1/apps/${encodeURIComponent(app.id)}`, patch,
                                      { headers: api.ifMatch(etag) });
        await ctx.navigate(`/apps/${saved.id}`);
        notify(`The app ${saved.name} was saved.`);
      } catch (err) {
        showFormError(form, err);
      }
    }, 'Saving…');
  });
  return null;
}
