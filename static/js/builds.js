// builds.js - the enclave builds of the account the session acts in: the
// list (/builds) and one build (/builds/<id>).
//
// A build is what a convert job made of an app (POST /v1/apps/{id}/builds,
// the app page's "Convert"): the output image pushed to its registry, the
// measurements the CPU will report for it (MRENCLAVE, MRSIGNER), the
// SIGSTRUCT's fields and the Gramine manifest with a SHA-256 for every
// trusted file. GET /v1/builds lists them newest first; the filters (state,
// app_id) live in the URL's query, as the jobs' do, and "Load more" follows
// next_cursor.
//
// A build's page shows what a person checks before approving it: the
// measurements to compare with their own, each with a copy button; the
// images by digest, the output as the reference to pull; the trusted files
// (GET /v1/builds/{id}/manifest, which can list thousands: a filter box
// narrows them, and at most FILES_SHOWN rows are drawn at once, saying so)
// and the manifest itself. A build starts pending with a build_approval task
// that the approvals page (/tasks) decides; an admin may deprecate an
// approved build (POST /v1/builds/{id}/deprecate, with a reason), which
// withdraws its approval for good.
import * as api from './api.js';
import { busy, capitalise, clearFormErrors, confirmDialog, copyButton, dataTable, errorPanel,
         errorText, facts, field, formatBytes, formMessage, h, notify, pageHeading, showFormError,
         time } from './ui.js';

export const STATES = ['awaiting_signature', 'pending', 'approved', 'rejected', 'deprecated'];
const STATE_LABELS = { awaiting_signature: 'Awaiting signature', pending: 'Pending', approved: 'Approved',
                       rejected: 'Rejected', deprecated: 'Deprecated' };
const STATE_CLASS = { awaiting_signature: 'badge-waiting', pending: 'badge-waiting', approved: 'badge-active',
                      rejected: 'badge-revoked', deprecated: 'badge-expired' };
const FILTERS = ['state', 'app_id'];
const FILES_SHOWN = 500;

/* ---- small pieces shared with other pages -------------------------------- */

export function buildStateBadge(build) {
  return h('span', { class: `badge badge-build ${STATE_CLASS[build.state] || 'badge-expired'}`,
                     dataset: { state: build.state } },
  STATE_LABELS[build.state] || capitalise(build.state));
}

/* The first 16 hex digits of a measurement, the whole in its title. */
export function shortHash(hex) {
  return h('code', { class: 'hash', title: hex }, `${hex.slice(0, 16)}…`);
}

/* ---- the pages ----------------------------------------------------------- */

export async function render(ctx) {
  if (ctx.sub.length === 1) return renderBuild(ctx, ctx.sub[0]);
  if (ctx.sub.length > 1) {
    ctx.main.append(pageHeading('Page not found'),
      h('p', {}, 'There is no page at this address. ', h('a', { href: '/builds' }, 'See the builds'), '.'));
    return null;
  }
  return renderList(ctx);
}

async function renderList(ctx) {
  const query = {};
  for (const name of FILTERS) {
    const v = ctx.query.get(name);
    if (v) query[name] = v;
  }
  const limit = /^\d+$/.test(ctx.query.get('limit') || '') ? Number(ctx.query.get('limit')) : null;
  const filtered = Object.keys(query).length > 0;
  ctx.main.append(pageHeading('Builds',
    `The enclave images made of ${ctx.me.account.name}’s apps, newest first, with their measurements. ` +
    'A build is deployed only once an admin has approved it.'));

  const pages = api.pager('/v1/builds', { query, limit });
  const [first, apps, names] = await Promise.all([
    pages.next().catch((err) => err),
    api.getAll('/v1/apps', { max: 2000 }).catch(() => []),
    api.actorNames(ctx.me, { keys: ctx.can('api_keys.read') }),
  ]);
  if (!ctx.current()) return null;

  const form = filterForm(ctx, query, apps, limit);
  const listArea = h('section', { class: 'section', 'aria-labelledby': 'builds-list-title' },
    h('h2', { id: 'builds-list-title', class: 'sr-only' }, 'Builds'));
  ctx.main.append(form, listArea);
  if (first instanceof Error) {
    // A filter the server refuses (an app id that is none): said on the form.
    if (filtered && [400, 404].includes(first.status)) {
      showFormError(form, first);
      listArea.append(h('p', { class: 'empty' }, 'Correct the filters to see builds.'));
      return null;
    }
    throw first;
  }

  const builds = first;
  const summary = h('p', { class: 'list-summary', 'aria-live': 'polite' });
  const holder = h('div');
  const more = h('button', { type: 'button', class: 'button button-secondary' }, 'Load more');
  listArea.append(summary, holder, h('div', { class: 'list-footer' }, more));
  const columns = [
    { label: 'Build' }, { label: 'State' }, { label: 'MRENCLAVE' }, { label: 'Output image' },
    { label: 'Created' }, { label: 'By' },
  ];
  const draw = () => {
    holder.replaceChildren(dataTable({
      caption: 'Builds, newest first',
      columns,
      rows: builds.map((b) => buildRow(b, names)),
      empty: filtered ? 'No builds match these filters.'
        : 'No builds yet. Open an app and choose Convert to make one.',
    }));
    const n = builds.length;
    summary.textContent = `${n} build${n === 1 ? '' : 's'}${pages.done ? '' : ' so far'}` +
      `${filtered ? ' matching the filters' : ''}.`;
    more.hidden = pages.done;
  };
  more.addEventListener('click', () => busy(more, async () => {
    try {
      builds.push(...await pages.next());
      draw();
    } catch (err) {
      notify(`Could not load more builds. ${errorText(err)}`, 'error');
    }
  }, 'Loading…'));
  draw();
  return null;
}

function buildRow(b, names) {
  const cells = [
    h('a', { href: `/builds/${b.id}`, class: 'strong', 'aria-label': `Build ${b.id.slice(0, 8)} of ${b.app_name}` },
      b.app_name, ' ', h('span', { class: 'muted small' }, b.id.slice(0, 8))),
    buildStateBadge(b),
    shortHash(b.mrenclave),
    h('code', { class: 'reference' }, b.output_image),
    time(b.created_at),
    names.get(b.created_by) || b.created_by,
  ];
  cells.attrs = { dataset: { buildId: b.id, state: b.state, appId: b.app_id } };
  return cells;
}

function filterForm(ctx, query, apps, limit) {
  const appOptions = apps.map((a) => ({ value: a.id, label: a.name }))
    .sort((x, y) => x.label.localeCompare(y.label));
  // An app the list does not hold (deleted, or a hand-made address) stays
  // chosen, by its id.
  if (query.app_id && !appOptions.some((o) => o.value === query.app_id)) {
    appOptions.push({ value: query.app_id, label: query.app_id });
  }
  const state = field({
    label: 'State', name: 'state', kind: 'select', value: query.state || '', markOptional: false,
    options: [{ value: '', label: 'Any state' }, ...STATES.map((s) => ({ value: s, label: STATE_LABELS[s] }))],
  });
  const app = field({
    label: 'App', name: 'app_id', kind: 'select', value: query.app_id || '', markOptional: false,
    options: [{ value: '', label: 'Any app' }, ...appOptions],
  });
  const apply = h('button', { type: 'submit', class: 'button button-primary' }, 'Apply filters');
  const clear = h('a', { href: '/builds', class: 'button button-secondary' }, 'Clear filters');
  const form = h('form', { class: 'form filters', role: 'search', 'aria-label': 'Filter the builds', novalidate: true },
    formMessage(),
    h('div', { class: 'filter-grid' }, state.wrap, app.wrap),
    h('div', { class: 'form-actions' }, apply, clear));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const params = new URLSearchParams();
    if (state.input.value) params.set('state', state.input.value);
    if (app.input.value) params.set('app_id', app.input.value);
    if (limit) params.set('limit', String(limit));
    const qs = params.toString();
    ctx.navigate(`/builds${qs ? `?${qs}` : ''}`);
  });
  return form;
}

/* ---- one build ------------------------------------------------------------ */

function section(id, title, ...content) {
  return h('section', { class: 'section detail-section', 'aria-labelledby': id },
    h('h2', { id }, title), content);
}

/* A value to copy: read-only, so that without a clipboard the copy button
 * can select it for the person to copy by hand. */
function copyable(value, what, name, cls = 'copy-hash') {
  const input = h('input', { type: 'text', readonly: true, class: ['copy-value', cls], value,
                             'aria-label': what, spellcheck: 'false', autocomplete: 'off',
                             dataset: { field: name } });
  return h('div', { class: 'copy-row' }, input,
    copyButton(value, { label: `Copy ${what}`, selectEl: input, what: `the ${what}` }));
}

/* Where the build stands, and the way to its approval task. */
function stateLine(build, task) {
  const taskHref = build.task_id ? `/tasks#task-${build.task_id}` : null;
  let note = null;
  if (build.state === 'pending' && taskHref) {
    note = h('a', { href: taskHref, class: 'task-link' }, task
      ? `Waiting for approval: ${task.approvals} of ${task.quorum} approval${task.quorum === 1 ? '' : 's'}`
      : 'Waiting for approval');
  } else if (build.state === 'awaiting_signature') {
    note = h('span', { class: 'muted' }, 'Its SIGSTRUCT waits to be signed offline.');
  } else if (taskHref) {
    note = h('a', { href: taskHref, class: 'task-link small' }, 'The approval task');
  }
  return h('span', { class: 'reference-line' }, buildStateBadge(build), note);
}

function signingKey(build, keys) {
  if (!build.signing_key_id) return null;
  const key = keys.find((k) => k.id === build.signing_key_id);
  return h('span', {}, h('code', { title: build.signing_key_id }, build.signing_key_id.slice(0, 8)),
    key ? h('span', { class: 'muted' },
      ` (${key.origin === 'imported' ? 'imported' : 'generated by Cloister'}, ${key.state})`) : null);
}

async function renderBuild(ctx, id) {
  const path = `/v1/builds/${encodeURIComponent(id)}`;
  let build;
  try {
    build = await api.get(path);
  } catch (err) {
    if (err.status === 404) {
      ctx.main.append(pageHeading('Build not found'), errorPanel(err),
        h('p', {}, h('a', { href: '/builds' }, 'See all builds'), '.'));
      return null;
    }
    throw err;
  }
  const [names, keys, task, manifest] = await Promise.all([
    api.actorNames(ctx.me, { keys: ctx.can('api_keys.read') }),
    api.getAll('/v1/signing-keys', { max: 500 }).catch(() => []),
    build.state === 'pending' && build.task_id
      ? api.get(`/v1/tasks/${encodeURIComponent(build.task_id)}`).catch(() => null) : null,
    api.get(`${path}/manifest`).catch((err) => err),
  ]);
  if (!ctx.current()) return null;
  const short = build.id.slice(0, 8);
  ctx.setTitle(`${build.app_name} ${short}`);

  ctx.main.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '/builds' }, 'Builds'), ' / ', h('code', {}, short)),
    pageHeading(`Build of ${build.app_name}`,
      h('span', {}, 'Converted from the app ', h('a', { href: `/apps/${build.app_id}` }, build.app_name),
        ' by ', names.get(build.created_by) || build.created_by, ', ', time(build.created_at), '.')));

  ctx.main.append(section('build-state-title', 'State', facts([
    ['State', stateLine(build, task)],
    build.decided_at ? [build.state === 'rejected' ? 'Rejected' : 'Approved', time(build.decided_at)] : null,
    build.deprecated_at ? ['Deprecated', time(build.deprecated_at)] : null,
  ])));
  if (build.state === 'approved' && ctx.can('builds.deprecate')) ctx.main.append(deprecateCard(ctx, build, path));
  const pull = `${build.output_image}@${build.output_digest}`;
  ctx.main.append(
    section('build-measurements-title', 'Measurements', facts([
      ['MRENCLAVE', copyable(build.mrenclave, 'MRENCLAVE', 'mrenclave')],
      ['MRSIGNER', copyable(build.mrsigner, 'MRSIGNER', 'mrsigner')],
      ['Signing key', signingKey(build, keys)],
    ])),
    section('build-enclave-title', 'Enclave', facts([
      ['Product ID (ISVPRODID)', String(build.isvprodid)],
      ['Security version (ISVSVN)', String(build.isvsvn)],
      ['Debug', build.debug ? h('span', { class: 'badge badge-revoked' }, 'Debug enclave: not for production') : 'No'],
      ['Size', `${formatBytes(build.enclave_size)} (${Number(build.enclave_size).toLocaleString('en')} bytes)`],
      ['Threads', String(build.max_threads)],
      ['SIGSTRUCT date', build.sigstruct_date],
    ])),
    section('build-images-title', 'Images', facts([
      ['Input image', h('code', { class: 'reference' }, build.input_image)],
      ['Input digest', h('code', { class: 'digest' }, build.input_digest)],
      ['Output image', h('code', { class: 'reference' }, build.output_image)],
      ['Output digest', h('code', { class: 'digest' }, build.output_digest)],
      ['Pull reference', copyable(pull, 'pull reference', 'pull', 'copy-reference')],
      ['Runtime', `${build.runtime === 'gramine' ? 'Gramine' : build.runtime} ${build.runtime_version}`],
      ['Runtime image', h('code', { class: 'reference' }, build.runtime_image)],
      ['Runtime digest', h('code', { class: 'digest' }, build.runtime_digest)],
    ])),
    trustedFiles(build, manifest),
    section('build-manifest-title', 'Manifest', manifest instanceof Error
      ? h('p', { class: 'job-error' }, `Could not load the manifest. ${errorText(manifest)}`)
      : h('details', { class: 'manifest' },
        h('summary', {}, 'The Gramine manifest (.manifest.sgx), ',
          h('span', { class: 'muted' }, formatBytes(new TextEncoder().encode(manifest.manifest).length))),
        h('pre', { class: 'manifest-text', tabindex: '0', 'aria-label': 'The manifest' },
          h('code', {}, manifest.manifest)))),
    section('build-record-title', 'Record', facts([
      ['Job', h('a', { href: `/jobs/${build.job_id}` }, 'convert ', h('code', {}, build.job_id.slice(0, 8)))],
      ['Created', time(build.created_at)],
      ['Created by', names.get(build.created_by) || build.created_by],
      ['ID', h('code', {}, build.id)],
    ])));
  return null;
}

/* The trusted files as a table, with a box that narrows it. */
function trustedFiles(build, manifest) {
  const title = `Trusted files (${build.trusted_files.toLocaleString('en')})`;
  if (manifest instanceof Error) {
    return section('build-files-title', title,
      h('p', { class: 'job-error' }, `Could not load the trusted files. ${errorText(manifest)}`));
  }
  const files = manifest.trusted_files.map((f) => ({
    path: f.uri.startsWith('file:') ? f.uri.slice(5) : f.uri,
    sha256: f.sha256,
  }));
  const filter = field({ label: 'Filter the files', name: 'filter', kind: 'search', markOptional: false,
                         autocomplete: 'off', hint: 'Part of a path or of a SHA-256.',
                         attrs: { spellcheck: 'false' } });
  const form = h('form', { class: 'form trusted-filter', role: 'search', 'aria-label': 'Filter the trusted files',
                           novalidate: true }, filter.wrap);
  form.addEventListener('submit', (event) => event.preventDefault());
  const summary = h('p', { class: 'list-summary', 'aria-live': 'polite' });
  const holder = h('div', { class: 'trusted-files' });
  const columns = [{ label: 'Path' }, { label: 'SHA-256' }];
  const draw = () => {
    const needle = filter.input.value.trim().toLowerCase();
    const matching = needle
      ? files.filter((f) => f.path.toLowerCase().includes(needle) || f.sha256.includes(needle)) : files;
    const shown = matching.slice(0, FILES_SHOWN);
    holder.replaceChildren(dataTable({
      caption: 'Trusted files',
      columns,
      rows: shown.map((f) => {
        const cells = [h('code', { class: 'path' }, f.path), h('code', { class: 'hash' }, f.sha256)];
        cells.attrs = { dataset: { path: f.path } };
        return cells;
      }),
      empty: needle ? 'No trusted file matches the filter.' : 'The manifest trusts no file.',
    }));
    const n = files.length.toLocaleString('en');
    const m = matching.length.toLocaleString('en');
    const of = needle ? `${m} of ${n} trusted files match “${filter.input.value.trim()}”`
      : `${n} trusted file${files.length === 1 ? '' : 's'}`;
    summary.textContent = matching.length > FILES_SHOWN
      ? `${of}; the first ${FILES_SHOWN} are shown: narrow the filter to see the others.`
      : `${of}.`;
  };
  filter.input.addEventListener('input', draw);
  draw();
  return section('build-files-title', title,
    h('p', { class: 'hint' }, 'The files the enclave checks against these hashes before it uses them.'),
    form, summary, holder);
}

/* An admin withdraws an approved build's approval, with a reason. */
function deprecateCard(ctx, build, path) {
  const reason = field({ label: 'Reason', name: 'reason', kind: 'textarea',
                         hint: 'Kept in the audit log.', attrs: { rows: '2', maxlength: 2000 } });
  const submit = h('button', { type: 'submit', class: 'button button-danger-quiet' }, 'Deprecate');
  const form = h('form', { class: 'form', novalidate: true, 'aria-label': 'Deprecate the build' },
    formMessage(), reason.wrap, h('div', { class: 'form-actions' }, submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const ok = await confirmDialog({
      title: `Deprecate this build of ${build.app_name}?`,
      message: 'Its approval is withdrawn for good: it can no longer be deployed or receive certificates, ' +
               'its certificates are revoked and the deployments running it are flagged.',
      confirmLabel: 'Deprecate build',
    });
    if (!ok) return;
    const text = reason.input.value.trim();
    await busy(submit, async () => {
      try {
        await api.post(`${path}/deprecate`, text ? { reason: text } : undefined);
      } catch (err) {
        showFormError(form, err);
        return;
      }
      await ctx.reload();
      notify(`The build ${build.id.slice(0, 8)} of ${build.app_name} was deprecated.`);
    }, 'Deprecating…');
  });
  return h('section', { class: 'section card', 'aria-labelledby': 'build-deprecate-title' },
    h('h2', { id: 'build-deprecate-title' }, 'Withdraw the approval'),
    h('p', { class: 'hint' }, 'Deprecate the build when it must no longer run, for example after a flaw is found in it.'),
    form);
}
