// deployments.js - approved builds running on the account's clusters: the
// list (/deployments), deploying one (/deployments/new, ?app_id= and
// ?cluster_id= choose for you) and one deployment (/deployments/<id>).
//
// A deployment is an approved build of an app on a cluster, in a namespace,
// under a name, with a number of replicas and the ports its Service opens
// (docs/deployment.md). Every change is a job that the worker runs against
// the cluster: POST /v1/deployments, .../scale, .../update (another
// approved build of the app) and .../rollback (the build it ran before)
// answer 202 with a `deploy` job, DELETE with an `undeploy` job, each
// carrying the deployment's id. The deploy job applies the objects and
// follows the rollout as `kubectl rollout status` does, logging kubectl's
// words ("Waiting for deployment "web" rollout to finish: 1 of 2 updated
// replicas are available..."), then records the outcome on the deployment:
// state available or failed, and a status with kubectl's message, the image
// and, for a failed rollout, the pods' problems.
//
// The deployment's page follows its job live (followJob from jobs.js) while
// one runs, the one that made it included, and reads the deployment again
// when the job ends. A deployment whose build was deprecated since it was
// deployed is flagged (build_deprecated). Removing one deletes only what
// Cloister applied for it (objects labelled with its id); the namespace and
// everything else stay. Admins and operators act; auditors read.
//
// deploymentsTable() and appDeployments() are the lists the cluster's and
// the app's pages show.
import * as api from './api.js';
import { buildStateBadge, shortHash } from './builds.js';
import { ENDED, followJob } from './jobs.js';
import { busy, capitalise, clearFormErrors, codeList, confirmDialog, dataTable, errorPanel, errorText, facts,
         field, formatTime, formMessage, h, notify, pageHeading, plural, section, showFormError, time } from './ui.js';

const STATE_LABELS = { deploying: 'Deploying', available: 'Available', failed: 'Failed', deleting: 'Removing',
                       deleted: 'Removed' };
/* A Kubernetes name (RFC 1123 label), as the API checks names of deployments, namespaces and clusters. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const DNS_RULE = 'use lower-case letters, digits and hyphens, at most 63, starting and ending with a ' +
                        'letter or digit';
const PORTS_MAX = 16;
const REPLICAS_MAX = 100;
const DEADLINE_MIN = 60;
const DEADLINE_MAX = 86400;
const GONE = new Set(['deleting', 'deleted']);

const none = (text) => h('span', { class: 'muted' }, text);
const shortId = (id) => h('code', { title: id }, id.slice(0, 8));

/* ---- small pieces shared with other pages -------------------------------- */

export function deploymentStateBadge(d) {
  return h('span', { class: ['badge', 'badge-deploy', `badge-deploy-${d.state}`], dataset: { state: d.state } },
    STATE_LABELS[d.state] || capitalise(d.state));
}

function deprecatedBadge() {
  return h('span', { class: 'badge badge-deprecated',
                     title: 'Its build was deprecated after it was deployed: update it to another approved build.' },
  'Build deprecated');
}

function stateCell(d) {
  return h('span', { class: 'reference-line' }, deploymentStateBadge(d), d.build_deprecated ? deprecatedBadge() : null);
}

/* The rollout's last words: kubectl's message, the error, or the phase. */
function lastMessage(d) {
  const s = d.status || {};
  if (s.error) return h('span', { class: 'status-error' }, s.error);
  if (s.message) return h('span', { class: 'status-message' }, s.message);
  if (s.phase) return h('span', { class: 'muted' }, `${capitalise(s.phase)}…`);
  return none('—');
}

function appLink(apps, id) {
  const app = apps.get(id);
  return h('a', { href: `/apps/${id}` }, app ? app.name : shortId(id));
}

function clusterLink(clusters, id) {
  const c = clusters.get(id);
  return h('a', { href: `/clusters/${id}` }, c ? c.name : shortId(id));
}

const byId = (items) => new Map((items || []).map((x) => [x.id, x]));

/**
 * The deployments as a table: namespace/name, app, cluster, replicas,
 * state, last message. `apps` and `clusters` (lists) name what they link
 * to; `omit` drops the 'app' or 'cluster' column (the page is its own). A
 * list that could not be read (an Error) says so.
 */
export function deploymentsTable(list, { apps = [], clusters = [], omit = null, empty = 'No deployments yet.' } = {}) {
  if (list instanceof Error) {
    return h('p', { class: 'job-error' }, `Could not load the deployments. ${errorText(list)}`);
  }
  const appMap = byId(apps);
  const clusterMap = byId(clusters);
  const columns = [
    { label: 'Deployment', key: 'name' },
    { label: 'App', key: 'app' },
    { label: 'Cluster', key: 'cluster' },
    { label: 'Replicas', key: 'replicas' },
    { label: 'State', key: 'state' },
    { label: 'Last message', key: 'message' },
  ].filter((c) => c.key !== omit);
  return dataTable({
    caption: 'Deployments, oldest first',
    columns,
    rows: list.map((d) => {
      const all = {
        name: h('a', { href: `/deployments/${d.id}`, class: 'strong deployment-name' },
          h('span', { class: 'muted' }, `${d.namespace}/`), d.name),
        app: appLink(appMap, d.app_id),
        cluster: clusterLink(clusterMap, d.cluster_id),
        replicas: String(d.replicas),
        state: stateCell(d),
        message: lastMessage(d),
      };
      const cells = columns.map((c) => all[c.key]);
      cells.attrs = { dataset: { deploymentId: d.id, name: d.name, state: d.state } };
      return cells;
    }),
    empty,
  });
}

/* The app page's list of its deployments (GET /v1/deployments, this app's). */
export async function appDeployments(ctx, app) {
  let list;
  let clusters;
  try {
    [list, clusters] = await Promise.all([
      api.getAll('/v1/deployments', { max: 2000 }),
      api.getAll('/v1/clusters', { max: 2000 }).catch(() => []),
    ]);
  } catch (err) {
    return deploymentsTable(err);
  }
  const mine = list.filter((d) => d.app_id === app.id);
  return h('div', { class: 'app-deployments' },
    deploymentsTable(mine, { clusters, omit: 'app', empty: `${app.name} is not deployed anywhere.` }),
    ctx.can('deployments.write')
      ? h('p', { class: 'list-footer' },
        h('a', { href: `/deployments/new?app_id=${encodeURIComponent(app.id)}`, class: 'button button-secondary' },
          `Deploy ${app.name}`))
      : null);
}

/* The app's approved builds, newest first, or the error. */
function approvedBuilds(appId) {
  return api.getPage(`/v1/apps/${encodeURIComponent(appId)}/builds`, { query: { state: 'approved' }, limit: 100 })
    .then((page) => page.items, (err) => err);
}

function buildLabel(b) {
  return `MRENCLAVE ${b.mrenclave.slice(0, 16)}… · built ${formatTime(b.created_at)}`;
}

function notFound(ctx) {
  ctx.main.append(pageHeading('Page not found'),
    h('p', {}, 'There is no page at this address. ', h('a', { href: '/deployments' }, 'See the deployments'), '.'));
  return null;
}

/* ---- the pages ----------------------------------------------------------- */

export async function render(ctx) {
  if (!ctx.sub.length) return renderList(ctx);
  if (ctx.sub.length === 1 && ctx.sub[0] === 'new') return renderNew(ctx);
  if (ctx.sub.length === 1) return renderDeployment(ctx, ctx.sub[0]);
  return notFound(ctx);
}

async function renderList(ctx) {
  const canWrite = ctx.can('deployments.write');
  ctx.main.append(pageHeading('Deployments',
    `The approved builds ${ctx.me.account.name} runs on its clusters, oldest first.`));
  const load = () => Promise.all([
    api.getAll('/v1/deployments', { max: 5000 }),
    api.getAll('/v1/apps', { max: 2000 }).catch(() => []),
    api.getAll('/v1/clusters', { max: 2000 }).catch(() => []),
  ]);
  let [list, apps, clusters] = await load();
  if (!ctx.current()) return null;

  const refresh = h('button', { type: 'button', class: 'button button-secondary' }, 'Refresh');
  ctx.main.append(h('div', { class: 'page-actions' },
    canWrite ? h('a', { href: '/deployments/new', class: 'button button-primary' }, 'New deployment') : null,
    refresh));
  if (!canWrite) {
    ctx.main.append(h('p', { class: 'note' }, 'Only the account’s operators and admins deploy, scale, update or ' +
      'remove deployments.'));
  }
  const summary = h('p', { class: 'list-summary', 'aria-live': 'polite' });
  const holder = h('div');
  ctx.main.append(h('section', { class: 'section', 'aria-labelledby': 'deployments-list-title' },
    h('h2', { id: 'deployments-list-title', class: 'sr-only' }, 'Deployments'), summary, holder));
  const draw = () => {
    holder.replaceChildren(deploymentsTable(list, {
      apps, clusters,
      empty: canWrite
        ? ['Nothing is deployed yet. ', h('a', { href: '/deployments/new' }, 'Deploy an approved build'), '.']
        : 'Nothing is deployed yet.',
    }));
    summary.textContent = `${plural(list.length, 'deployment')}.`;
  };
  refresh.addEventListener('click', () => busy(refresh, async () => {
    try {
      const fresh = await load();
      if (!ctx.current()) return;
      [list, apps, clusters] = fresh;
      draw();
    } catch (err) {
      notify(`Could not read the deployments. ${errorText(err)}`, 'error');
    }
  }, 'Refreshing…'));
  draw();
  return null;
}

/* ---- deploying ----------------------------------------------------------- */

async function renderNew(ctx) {
  ctx.setTitle('New deployment');
  ctx.main.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '/deployments' }, 'Deployments'), ' / New'),
    pageHeading('New deployment',
      'Run an approved build of an app on one of the account’s clusters. Cloister applies the objects and ' +
      'follows the rollout to its end.'));
  if (!ctx.can('deployments.write')) {
    ctx.main.append(h('p', { class: 'note' }, 'Only the account’s operators and admins deploy.'),
      h('p', {}, h('a', { href: '/deployments' }, 'See the deployments'), '.'));
    return null;
  }
  const [apps, clusters] = await Promise.all([
    api.getAll('/v1/apps', { max: 2000 }),
    api.getAll('/v1/clusters', { max: 2000 }),
  ]);
  if (!ctx.current()) return null;
  if (!apps.length || !clusters.length) {
    ctx.main.append(h('div', { class: 'panel' },
      h('p', {}, 'A deployment needs an app with an approved build and a cluster.'),
      !apps.length
        ? h('p', {}, 'This account has no apps yet: ', h('a', { href: '/apps/new' }, 'create one'), '.') : null,
      !clusters.length
        ? h('p', {}, 'This account has no clusters yet: ', h('a', { href: '/clusters/new' }, 'add one'), '.') : null));
    return null;
  }
  ctx.main.append(deployForm(ctx, apps, clusters));
  return null;
}

/* Ports as the API takes them, from "8443, 9000" or one per line. */
function parsePorts(text) {
  const words = text.split(/[\s,]+/).filter(Boolean);
  if (words.length > PORTS_MAX) return { error: `give at most ${PORTS_MAX} ports` };
  const ports = [];
  for (const w of words) {
    const n = /^\d+$/.test(w) ? Number(w) : NaN;
    if (!(n >= 1 && n <= 65535)) return { error: `${w} is not a port: each must be a number from 1 to 65535` };
    if (!ports.some((p) => p.port === n)) ports.push({ port: n });
  }
  return { value: ports };
}

/* A whole number from a field, or the text itself for the server to judge. */
function count(text) {
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : t;
}

function deployForm(ctx, apps, clusters) {
  const wantApp = ctx.query.get('app_id');
  const wantCluster = ctx.query.get('cluster_id');
  const app = field({ label: 'App', name: 'app_id', kind: 'select', required: true,
                      value: apps.some((a) => a.id === wantApp) ? wantApp : '',
                      options: [{ value: '', label: 'Choose an app…' },
                                ...apps.map((a) => ({ value: a.id, label: a.name }))] });
  const build = field({ label: 'Build', name: 'build_id', kind: 'select', required: true,
                        hint: 'Its approved builds, newest first.',
                        options: [{ value: '', label: 'Choose the app first' }], attrs: { disabled: true } });
  const cluster = field({ label: 'Cluster', name: 'cluster_id', kind: 'select', required: true,
                          value: clusters.some((c) => c.id === wantCluster) ? wantCluster
                            : clusters.length === 1 ? clusters[0].id : '',
                          options: [{ value: '', label: 'Choose a cluster…' },
                                    ...clusters.map((c) => ({ value: c.id, label: c.name }))] });
  const namespace = field({ label: 'Namespace', name: 'namespace', required: true, autocomplete: 'off',
                            hint: 'Created if the cluster has none of that name.',
                            attrs: { maxlength: '63', spellcheck: 'false' } });
  const name = field({ label: 'Name', name: 'name', autocomplete: 'off',
                       hint: 'Of the Deployment and its Service; the app’s name when empty.',
                       attrs: { maxlength: '63', spellcheck: 'false' } });
  const replicas = field({ label: 'Replicas', name: 'replicas', kind: 'number', value: '1', required: true,
                           hint: `From 0 to ${REPLICAS_MAX}.`,
                           attrs: { min: '0', max: String(REPLICAS_MAX), step: '1', inputmode: 'numeric' } });
  const ports = field({ label: 'Ports', name: 'ports', autocomplete: 'off',
                       hint: 'The ports the Service opens, separated by commas, e.g. 8443.',
                       attrs: { spellcheck: 'false', inputmode: 'numeric' } });
  const deadline = field({ label: 'Progress deadline (seconds)', name: 'progress_deadline', kind: 'number',
                          value: '600',
                          hint: 'A rollout that makes no progress this long has failed. Large enclaves start ' +
                                'slowly: allow them more.',
                          attrs: { min: String(DEADLINE_MIN), max: String(DEADLINE_MAX), step: '1',
                                   inputmode: 'numeric' } });
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Deploy');
  const form = h('form', { class: 'form deploy-form', novalidate: true, 'aria-labelledby': 'deploy-form-title' },
    formMessage(),
    h('div', { class: 'form-grid' }, app.wrap, build.wrap),
    h('div', { class: 'form-grid' }, cluster.wrap, namespace.wrap, name.wrap),
    h('div', { class: 'form-grid form-grid-narrow' }, replicas.wrap, ports.wrap, deadline.wrap),
    h('div', { class: 'form-actions' }, submit,
      h('a', { href: '/deployments', class: 'button button-secondary' }, 'Cancel')));

  // The name follows the app chosen until someone types one.
  let nameTyped = false;
  name.input.addEventListener('input', () => { nameTyped = name.input.value !== ''; });
  let loading = 0;
  const chooseApp = async () => {
    const id = app.input.value;
    const chosen = apps.find((a) => a.id === id);
    if (!nameTyped) name.input.value = chosen ? chosen.name : '';
    const seq = ++loading;
    const select = build.input;
    select.disabled = true;
    if (!chosen) {
      select.replaceChildren(h('option', { value: '' }, 'Choose the app first'));
      return;
    }
    select.replaceChildren(h('option', { value: '' }, 'Loading its approved builds…'));
    const builds = await approvedBuilds(id);
    if (seq !== loading || !ctx.current()) return;
    if (builds instanceof Error) {
      select.replaceChildren(h('option', { value: '' }, 'Could not load the builds'));
      showFormError(form, { fields: { build_id: `could not load the builds of ${chosen.name}: ` +
                                                 errorText(builds) } });
      return;
    }
    if (!builds.length) {
      select.replaceChildren(h('option', { value: '' }, 'No approved build'));
      showFormError(form, { fields: { build_id: `${chosen.name} has no approved build yet` } });
      return;
    }
    clearFormErrors(form);
    select.replaceChildren(...builds.map((b, i) =>
      h('option', { value: b.id, selected: i === 0, dataset: { mrenclave: b.mrenclave } }, buildLabel(b))));
    select.disabled = false;
  };
  app.input.addEventListener('change', chooseApp);
  if (app.input.value) chooseApp();

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const problems = {};
    const body = { app_id: app.input.value, build_id: build.input.value, cluster_id: cluster.input.value,
                   namespace: namespace.input.value.trim() };
    if (!body.app_id) problems.app_id = 'choose the app to deploy';
    else if (!body.build_id) problems.build_id = 'choose an approved build';
    if (!body.cluster_id) problems.cluster_id = 'choose the cluster to deploy to';
    if (!body.namespace) problems.namespace = 'enter the namespace';
    else if (!DNS_LABEL.test(body.namespace)) problems.namespace = DNS_RULE;
    const n = name.input.value.trim();
    if (n && !DNS_LABEL.test(n)) problems.name = DNS_RULE;
    else if (n) body.name = n;
    if (!replicas.input.value.trim()) problems.replicas = `enter how many replicas, from 0 to ${REPLICAS_MAX}`;
    else body.replicas = count(replicas.input.value);
    if (deadline.input.value.trim()) body.progress_deadline = count(deadline.input.value);
    const p = parsePorts(ports.input.value);
    if (p.error) problems.ports = p.error;
    else if (p.value.length) body.ports = p.value;
    if (Object.keys(problems).length) {
      showFormError(form, { fields: problems });
      return;
    }
    await busy(submit, async () => {
      let job;
      try {
        job = await api.post('/v1/deployments', body, { idempotent: true });
      } catch (err) {
        showFormError(form, err);
        return;
      }
      const what = body.name || apps.find((a) => a.id === body.app_id).name;
      const where = clusters.find((x) => x.id === body.cluster_id).name;
      await ctx.navigate(`/deployments/${job.deployment_id}`);
      notify(`Deploying ${what} to ${where}: the rollout is followed below.`);
    }, 'Deploying…');
  });

  return h('section', { class: 'section card', 'aria-labelledby': 'deploy-form-title' },
    h('h2', { id: 'deploy-form-title' }, 'What, where, how many'), form);
}

/* ---- one deployment ------------------------------------------------------ */

/* The builds a deployment names, by id: {id: build or null}. */
async function buildsOf(ids) {
  const wanted = [...new Set(ids.filter(Boolean))];
  const got = await Promise.all(wanted.map((id) =>
    api.get(`/v1/builds/${encodeURIComponent(id)}`).catch(() => null)));
  return new Map(wanted.map((id, i) => [id, got[i]]));
}

function buildRef(builds, id) {
  if (!id) return none('—');
  const b = builds.get(id);
  return h('a', { href: `/builds/${id}`, class: 'build-ref', 'aria-label': `Build ${id.slice(0, 8)}` },
    b ? shortHash(b.mrenclave) : shortId(id));
}

/* What a job of the deployment does, for its live view's title. */
function jobTitle(job, d) {
  return job.kind === 'undeploy' ? `Removing ${d.name}` : `Rolling out ${d.name}`;
}

async function renderDeployment(ctx, id) {
  const path = `/v1/deployments/${encodeURIComponent(id)}`;
  let dep;
  try {
    dep = await api.get(path);
  } catch (err) {
    if (err.status === 404) {
      ctx.main.append(pageHeading('Deployment not found'), errorPanel(err),
        h('p', {}, h('a', { href: '/deployments' }, 'See all deployments'), '.'));
      return null;
    }
    throw err;
  }
  const [app, cluster, job, names, approved] = await Promise.all([
    api.get(`/v1/apps/${encodeURIComponent(dep.app_id)}`).catch(() => null),
    api.get(`/v1/clusters/${encodeURIComponent(dep.cluster_id)}`).catch(() => null),
    dep.job_id ? api.get(`/v1/jobs/${encodeURIComponent(dep.job_id)}`).catch(() => null) : null,
    api.actorNames(ctx.me, { keys: ctx.can('api_keys.read') }),
    approvedBuilds(dep.app_id),
  ]);
  let builds = await buildsOf([dep.build_id, dep.previous_build_id]);
  if (!ctx.current()) return null;
  ctx.setTitle(`${dep.namespace}/${dep.name}`);
  const canWrite = ctx.can('deployments.write');
  const followers = new Set();
  const appName = app ? app.name : dep.app_id.slice(0, 8);
  const clusterName = cluster ? cluster.name : dep.cluster_id.slice(0, 8);

  ctx.main.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '/deployments' }, 'Deployments'), ' / ',
      `${dep.namespace}/${dep.name}`),
    pageHeading(dep.name, h('span', {}, 'Of ', h('a', { href: `/apps/${dep.app_id}` }, appName), ' on ',
      h('a', { href: `/clusters/${dep.cluster_id}` }, clusterName), ', in the namespace ',
      h('code', {}, dep.namespace), '.')));

  const pageActions = h('div', { class: 'page-actions' });
  const jobArea = h('div', { class: 'result-area', 'aria-label': 'The deployment’s job' });
  const warning = h('div');
  const statusHolder = h('div');
  const actionsHolder = h('div');
  const factsHolder = h('div');
  ctx.main.append(pageActions, warning, jobArea, statusHolder, actionsHolder, factsHolder);

  const draw = (d) => {
    dep = d;
    const flagged = d.build_deprecated && !GONE.has(d.state);
    warning.replaceChildren(...(flagged ? [h('div', { class: 'panel panel-warning deprecated-warning' },
      h('p', { class: 'panel-title' }, deprecatedBadge()),
      h('p', {}, 'The build this deployment runs was deprecated after it was deployed: its approval is ' +
        'withdrawn. Update it to another approved build.'))] : []));
    statusHolder.replaceChildren(statusSection(d));
    factsHolder.replaceChildren(...factsSection(d, { appName, clusterName, builds, names }));
    const live = canWrite && !GONE.has(d.state);
    pageActions.replaceChildren(...(live ? [removeButton] : []));
    pageActions.hidden = !live;
    actionsHolder.replaceChildren(...(live ? [actionsCard(d)] : []));
  };

  /* Follow a job of the deployment; when it ends, read the deployment again. */
  const follow = (j, { title, done }) => {
    followers.forEach((f) => f.stop());
    followers.clear();
    const follower = followJob(j, { alive: ctx.current, events: true, title });
    followers.add(follower);
    jobArea.replaceChildren(h('div', { class: 'panel job-panel', dataset: { deploymentId: dep.id } },
      follower.element));
    follower.done.then(async (ended) => {
      followers.delete(follower);
      let fresh = dep;
      try {
        fresh = await api.get(path);
        builds = await buildsOf([fresh.build_id, fresh.previous_build_id]);
      } catch (err) {
        if (ctx.current()) notify(`Could not read ${dep.name} again. ${errorText(err)}`, 'error');
      }
      if (!ctx.current()) return;
      draw(fresh);
      announce(ended, fresh, done);
    }, (err) => {
      followers.delete(follower);
      if (ctx.current()) notify(`Could not follow the job of ${dep.name}. ${errorText(err)}`, 'error');
    });
  };

  /* Say how it went: `done` is what succeeding means ("was scaled to 3 replicas"). */
  const announce = (ended, d, done) => {
    if (d.state === 'deleted') {
      notify(`${d.name} was removed from ${clusterName}: what Cloister applied is deleted.`);
    } else if (ended.state === 'succeeded' && d.state === 'available') {
      notify(`${d.name} ${done || 'is available'}. ${(d.status && d.status.message) || ''}`.trim());
    } else if (d.state === 'failed') {
      const s = d.status || {};
      notify(`${d.name} failed to roll out: ${s.message || s.error || ended.error || 'no reason given'}`, 'error');
    } else {
      notify(`The job of ${d.name} ${ended.state === 'canceled' ? 'was canceled' : 'failed'}` +
             `${ended.error ? `: ${ended.error}` : ''}.`, 'error');
    }
  };

  /* Post a change and follow the job it answers. */
  const change = async (button, what, request, title, done) => busy(button, async () => {
    let j;
    try {
      j = await request();
    } catch (err) {
      notify(`Could not ${what} ${dep.name}. ${errorText(err)}`, 'error');
      return;
    }
    dep = { ...dep, state: j.kind === 'undeploy' ? 'deleting' : 'deploying', job_id: j.id };
    draw(dep);
    follow(j, { title, done });
  });

  const removeButton = h('button', { type: 'button', class: 'button button-danger-quiet' }, 'Remove');
  removeButton.addEventListener('click', async () => {
    const ok = await confirmDialog({
      title: `Remove ${dep.name}?`,
      message: `Cloister deletes only what it applied for ${dep.name} in the namespace ${dep.namespace} of ` +
               `${clusterName}: its Deployment, Service and image-pull Secret, where they still carry this ` +
               'deployment’s label. The namespace and everything else there stay as they are.',
      confirmLabel: 'Remove deployment',
    });
    if (!ok) return;
    await change(removeButton, 'remove', () => api.del(path), `Removing ${dep.name}`, null);
  });

  function actionsCard(d) {
    const others = approved instanceof Error ? [] : approved.filter((b) => b.id !== d.build_id);

    const scaleField = field({ label: 'Replicas', name: 'replicas', kind: 'number', value: String(d.replicas),
                               required: true, attrs: { min: '0', max: String(REPLICAS_MAX), step: '1',
                                                        inputmode: 'numeric' } });
    const scaleButton = h('button', { type: 'submit', class: 'button button-secondary' }, 'Scale');
    const scaleForm = h('form', { class: 'form form-inline action-form', novalidate: true, 'aria-label': 'Scale' },
      formMessage(), scaleField.wrap, h('div', { class: 'form-actions' }, scaleButton));
    scaleForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearFormErrors(scaleForm);
      const n = count(scaleField.input.value);
      if (n === '') {
        showFormError(scaleForm, { fields: { replicas: `enter how many replicas, from 0 to ${REPLICAS_MAX}` } });
        return;
      }
      await busy(scaleButton, async () => {
        let j;
        try {
          j = await api.post(`${path}/scale`, { replicas: n });
        } catch (err) {
          showFormError(scaleForm, err);
          return;
        }
        dep = { ...dep, state: 'deploying', replicas: n, job_id: j.id };
        draw(dep);
        follow(j, { title: `Scaling ${d.name} to ${plural(n, 'replica')}`,
                    done: `was scaled to ${plural(n, 'replica')}` });
      });
    });

    const updateField = field({
      label: 'Build', name: 'build_id', kind: 'select', required: true,
      options: others.length ? others.map((b) => ({ value: b.id, label: buildLabel(b) }))
        : [{ value: '', label: approved instanceof Error ? 'Could not load the builds' : 'No other approved build' }],
      hint: `Another approved build of ${appName}, newest first.`,
      attrs: { disabled: !others.length },
    });
    const updateButton = h('button', { type: 'submit', class: 'button button-secondary', disabled: !others.length },
      'Update');
    const updateForm = h('form', { class: 'form form-inline action-form', novalidate: true, 'aria-label': 'Update' },
      formMessage(), updateField.wrap, h('div', { class: 'form-actions' }, updateButton));
    updateForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearFormErrors(updateForm);
      const to = updateField.input.value;
      if (!to) return;
      await busy(updateButton, async () => {
        let j;
        try {
          j = await api.post(`${path}/update`, { build_id: to });
        } catch (err) {
          showFormError(updateForm, err);
          return;
        }
        dep = { ...dep, state: 'deploying', job_id: j.id };
        draw(dep);
        follow(j, { title: `Updating ${d.name} to build ${to.slice(0, 8)}`, done: `runs build ${to.slice(0, 8)} now` });
      });
    });

    const rollback = h('button', { type: 'button', class: 'button button-secondary',
                                   disabled: !d.previous_build_id }, 'Roll back');
    rollback.addEventListener('click', () => change(rollback, 'roll back', () => api.post(`${path}/rollback`),
      `Rolling ${d.name} back`, `was rolled back to build ${(d.previous_build_id || '').slice(0, 8)}`));

    return h('section', { class: 'section card deployment-actions', 'aria-labelledby': 'deployment-actions-title' },
      h('h2', { id: 'deployment-actions-title' }, 'Change it'),
      h('div', { class: 'action-grid' },
        h('div', { class: 'action' }, h('h3', {}, 'Scale'),
          h('p', { class: 'hint' }, 'Run more or fewer replicas of the same build.'), scaleForm),
        h('div', { class: 'action' }, h('h3', {}, 'Update'),
          h('p', { class: 'hint' }, 'Roll out another approved build; the one it runs now is kept for a rollback.'),
          updateForm),
        h('div', { class: 'action' }, h('h3', {}, 'Roll back'),
          h('p', { class: 'hint' }, d.previous_build_id
            ? h('span', {}, 'Back to the build it ran before, ', buildRef(builds, d.previous_build_id), '.')
            : 'It has run no other build.'),
          h('div', { class: 'form-actions' }, rollback))));
  }

  draw(dep);
  if (!canWrite) {
    ctx.main.insertBefore(h('p', { class: 'note' }, 'Only the account’s operators and admins scale, update, roll ' +
      'back or remove deployments.'), warning);
  }
  // The job running now (the one that made it, or a change), followed live.
  if (job && !ENDED.has(job.state)) follow(job, { title: jobTitle(job, dep), done: null });
  return () => followers.forEach((f) => f.stop());
}

/* The rollout as the worker last saw it. */
function statusSection(d) {
  const s = d.status || {};
  const problems = Array.isArray(s.problems) ? s.problems : [];
  return section('deployment-status-title', 'Status', facts([
    ['State', h('span', { class: 'reference-line' }, deploymentStateBadge(d),
      d.build_deprecated ? deprecatedBadge() : null)],
    s.phase && d.state === 'deploying' ? ['Phase', `${capitalise(s.phase)}…`] : null,
    ['Message', s.message ? h('span', { class: 'status-message' }, s.message) : null],
    s.error ? ['Error', h('span', { class: 'status-error' }, s.error)] : null,
    s.image ? ['Image', h('code', { class: 'reference' }, s.image)] : null,
    problems.length ? ['Problems', h('ul', { class: 'problems' }, problems.map((p) => h('li', {}, String(p))))]
      : null,
  ], { cls: 'deployment-status' }));
}

function factsSection(d, { appName, clusterName, builds, names }) {
  const b = builds.get(d.build_id);
  return [
    section('deployment-facts-title', 'Deployment', facts([
      ['App', h('a', { href: `/apps/${d.app_id}` }, appName)],
      ['Cluster', h('a', { href: `/clusters/${d.cluster_id}` }, clusterName)],
      ['Namespace', h('code', {}, d.namespace)],
      ['Name', h('code', {}, d.name)],
      ['Build', h('span', { class: 'reference-line' }, buildRef(builds, d.build_id), b ? buildStateBadge(b) : null)],
      ['Previous build', buildRef(builds, d.previous_build_id)],
      ['Replicas', String(d.replicas)],
      ['Progress deadline', `${d.progress_deadline} seconds`],
      ['Ports', d.ports && d.ports.length ? codeList(d.ports.map((p) => String(p.port))) : none('None')],
      ['Last job', d.job_id ? h('a', { href: `/jobs/${d.job_id}` }, 'job ', shortId(d.job_id)) : null],
    ], { cls: 'deployment-facts' })),
    section('deployment-record-title', 'Record', facts([
      ['Deployed', time(d.created_at)],
      ['Deployed by', names.get(d.created_by) || d.created_by],
      ['Changed', time(d.updated_at)],
      ['ID', h('code', {}, d.id)],
    ])),
  ];
}
