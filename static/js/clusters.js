// clusters.js - the Kubernetes clusters the account deploys to (/clusters),
// adding one (/clusters/new) and one cluster (/clusters/<id>).
//
// A cluster is of one of two kinds (docs/deployment.md): `kubernetes`,
// reached through an uploaded kubeconfig (its current context or a named
// one; a token or a client certificate inline, or AKS's kubelogin form with
// an Azure service principal whose Entra ID token the worker fetches), or
// `aks`, a managed cluster reached through Azure Resource Manager with a
// service principal, and the SGX node pool Cloister keeps there. Secrets
// (the kubeconfig, the client secret) are write-only: the API never answers
// them, and the page says only that they are sealed. GET /v1/clusters lists
// them oldest first, with their last check.
//
// A check (POST /v1/clusters/{id}/check) is a cluster.check job, which the
// cluster's page follows live (followJob from jobs.js) and then shows what
// it found, kept as the cluster's last_check: whether the API server
// answered, its version, the nodes with SGX and the EPC resource they
// advertise (for AKS also the provisioning state, the AKS version and the
// SGX add-on), or the reason it could not. Removing a cluster forgets it and
// changes nothing in it; one that still runs deployments is a 409, which
// the page shows as the server words it. Admins and operators add, check
// and remove clusters; auditors read.
import * as api from './api.js';
import { DNS_LABEL, DNS_RULE, deploymentsTable } from './deployments.js';
import { ENDED, followJob } from './jobs.js';
import { busy, clearFormErrors, codeList, confirmDialog, dataTable, errorPanel, errorText, facts, field,
         fieldset, formMessage, h, notify, pageHeading, parsePairs, plural, relativeTime, section,
         showFormError, time } from './ui.js';

const KIND_LABELS = { kubernetes: 'Kubernetes', aks: 'AKS' };
const AUTH_LABELS = {
  token: 'Bearer token', client_certificate: 'Client certificate',
  kubelogin: 'kubelogin (Entra ID)', service_principal: 'Service principal',
};
const KUBECONFIG_MAX = 256 * 1024;
const VM_SIZES = ['Standard_DC2s_v3', 'Standard_DC4s_v3', 'Standard_DC8s_v3', 'Standard_DC16s_v3',
                  'Standard_DC24s_v3', 'Standard_DC32s_v3', 'Standard_DC48s_v3', 'Standard_DC2ds_v3',
                  'Standard_DC4ds_v3', 'Standard_DC8ds_v3'];

const none = (text) => h('span', { class: 'muted' }, text);

/* ---- small pieces -------------------------------------------------------- */

/* Where a cluster is: its API server, or its AKS names. */
function clusterWhere(c) {
  if (c.kind === 'aks') {
    return h('span', { class: 'cluster-where' },
      h('code', {}, c.cluster_name), h('span', { class: 'muted small' }, ' in '), h('code', {}, c.resource_group));
  }
  return c.server ? h('code', { class: 'reference' }, c.server) : none('—');
}

function reachableBadge(check) {
  if (!check) return h('span', { class: 'badge badge-expired', dataset: { reachable: 'unknown' } }, 'Not checked');
  return check.reachable
    ? h('span', { class: 'badge badge-active', dataset: { reachable: 'true' } }, 'Reachable')
    : h('span', { class: 'badge badge-revoked', dataset: { reachable: 'false' } }, 'Unreachable');
}

/* "2 SGX nodes of 3 (sgx.intel.com/epc)" */
function sgxSummary(check) {
  const n = (check.sgx_nodes || []).length;
  const of = Number.isInteger(check.nodes) ? ` of ${check.nodes}` : '';
  return h('span', { class: 'sgx-summary' }, `${plural(n, 'SGX node')}${of}`,
    check.epc_resource ? [' (', h('code', {}, check.epc_resource), ')'] : null);
}

/* The last check in a line: reachable, version and SGX nodes, or the error. */
function checkLine(c) {
  const check = c.last_check;
  if (!check) return none('Never checked');
  if (!check.reachable) {
    return h('span', { class: 'check-line' }, reachableBadge(check),
      h('span', { class: 'check-error' }, check.error || 'no reason given'));
  }
  return h('span', { class: 'check-line' }, reachableBadge(check),
    check.version ? h('code', { class: 'check-version' }, check.version) : null, sgxSummary(check));
}

function notFound(ctx) {
  ctx.main.append(pageHeading('Page not found'),
    h('p', {}, 'There is no page at this address. ', h('a', { href: '/clusters' }, 'See the clusters'), '.'));
  return null;
}

/* ---- the pages ----------------------------------------------------------- */

export async function render(ctx) {
  if (!ctx.sub.length) return renderList(ctx);
  if (ctx.sub.length === 1 && ctx.sub[0] === 'new') return renderNew(ctx);
  if (ctx.sub.length === 1) return renderCluster(ctx, ctx.sub[0]);
  return notFound(ctx);
}

async function renderList(ctx) {
  const canWrite = ctx.can('clusters.write');
  ctx.main.append(pageHeading('Clusters',
    `The Kubernetes clusters with SGX nodes that ${ctx.me.account.name} deploys approved builds to, ` +
    'oldest first.'));
  const pages = api.pager('/v1/clusters');
  let list = await pages.next();
  if (!ctx.current()) return null;
  let current = pages;

  const refresh = h('button', { type: 'button', class: 'button button-secondary' }, 'Refresh');
  ctx.main.append(h('div', { class: 'page-actions' },
    canWrite ? h('a', { href: '/clusters/new', class: 'button button-primary' }, 'Add cluster') : null,
    refresh));
  if (!canWrite) {
    ctx.main.append(h('p', { class: 'note' },
      'Only the account’s operators and admins add, check or remove clusters.'));
  }
  const holder = h('div');
  const more = h('button', { type: 'button', class: 'button button-secondary' }, 'Load more');
  ctx.main.append(h('section', { class: 'section', 'aria-labelledby': 'clusters-list-title' },
    h('h2', { id: 'clusters-list-title', class: 'sr-only' }, 'Clusters'),
    holder, h('div', { class: 'list-footer' }, more)));

  const columns = [
    { label: 'Name' }, { label: 'Kind' }, { label: 'Where' }, { label: 'Authentication' },
    { label: 'Last check' }, { label: 'Checked' },
  ];
  const draw = () => {
    holder.replaceChildren(dataTable({
      caption: 'Clusters, oldest first',
      columns,
      rows: list.map(clusterRow),
      empty: canWrite
        ? ['No clusters yet. ', h('a', { href: '/clusters/new' }, 'Add one'), ' from its kubeconfig or from Azure.']
        : 'This account has no clusters.',
    }));
    more.hidden = current.done;
  };
  more.addEventListener('click', () => busy(more, async () => {
    try {
      list.push(...await current.next());
      draw();
    } catch (err) {
      notify(`Could not load more clusters. ${errorText(err)}`, 'error');
    }
  }, 'Loading…'));
  refresh.addEventListener('click', () => busy(refresh, async () => {
    const fresh = api.pager('/v1/clusters');
    try {
      const items = await fresh.next();
      if (!ctx.current()) return;
      list = items;
      current = fresh;
      draw();
    } catch (err) {
      notify(`Could not read the clusters. ${errorText(err)}`, 'error');
    }
  }, 'Refreshing…'));
  draw();
  return null;
}

function clusterRow(c) {
  const cells = [
    h('a', { href: `/clusters/${c.id}`, class: 'strong' }, c.name),
    KIND_LABELS[c.kind] || c.kind,
    clusterWhere(c),
    AUTH_LABELS[c.auth] || c.auth,
    checkLine(c),
    relativeTime(c.checked_at, { never: 'Never' }),
  ];
  cells.attrs = { dataset: { clusterId: c.id, name: c.name, kind: c.kind } };
  return cells;
}

/* ---- adding a cluster ---------------------------------------------------- */

async function renderNew(ctx) {
  ctx.setTitle('Add a cluster');
  ctx.main.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '/clusters' }, 'Clusters'), ' / Add'),
    pageHeading('Add a cluster',
      'A Kubernetes cluster with SGX nodes, from its kubeconfig, or an AKS cluster that Cloister reaches ' +
      'through Azure Resource Manager. Credentials are sealed and never shown again.'));
  if (!ctx.can('clusters.write')) {
    ctx.main.append(h('p', { class: 'note' }, 'Only the account’s operators and admins add clusters.'),
      h('p', {}, h('a', { href: '/clusters' }, 'See the clusters'), '.'));
    return null;
  }
  ctx.main.append(clusterForm(ctx));
  return null;
}

/* The kubeconfig: a file to upload or its text pasted, one field. */
function kubeconfigField() {
  const f = field({ label: 'Kubeconfig', name: 'kubeconfig', kind: 'textarea', required: true,
                    hint: 'Choose the file, or paste its text. Its user must hold a token or a client ' +
                          'certificate inline, or be AKS’s kubelogin form. At most 256 KiB.',
                    attrs: { rows: '8', spellcheck: 'false', autocomplete: 'off',
                             placeholder: 'apiVersion: v1\nkind: Config\n…' } });
  const file = h('input', { type: 'file', name: 'kubeconfig_file', class: 'file-input',
                            'aria-label': 'Kubeconfig file', accept: '.yaml,.yml,.conf,.config,.kubeconfig,text/*' });
  const chosen = h('p', { class: 'hint file-chosen', hidden: true });
  const clear = h('button', { type: 'button', class: 'button button-secondary button-small', hidden: true },
    'Paste instead');
  file.addEventListener('change', () => {
    const picked = file.files && file.files[0];
    f.input.disabled = Boolean(picked);
    f.input.hidden = Boolean(picked);
    clear.hidden = !picked;
    chosen.hidden = !picked;
    chosen.textContent = picked ? `The file ${picked.name} is sent; its contents are not shown.` : '';
  });
  clear.addEventListener('click', () => {
    file.value = '';
    file.dispatchEvent(new Event('change'));
    f.input.focus();
  });
  f.input.before(h('div', { class: 'file-row' }, file, clear), chosen);
  return {
    wrap: f.wrap,
    input: f.input,
    /* The text to send: the file's, or what was pasted; {error} otherwise. */
    async text() {
      const picked = file.files && file.files[0];
      if (picked) {
        if (picked.size > KUBECONFIG_MAX) return { error: 'is larger than 256 KiB' };
        return { value: await picked.text() };
      }
      if (!f.input.value.trim()) return { error: 'choose the kubeconfig file or paste its text' };
      return { value: f.input.value };
    },
  };
}

function clusterForm(ctx) {
  const name = field({ label: 'Name', name: 'name', required: true, autocomplete: 'off',
                       hint: 'Lower-case letters, digits and hyphens; unique in the account.',
                       attrs: { maxlength: '63', spellcheck: 'false' } });
  const kind = field({ label: 'Kind', name: 'kind', kind: 'select', value: 'kubernetes', required: true,
                       options: [{ value: 'kubernetes', label: 'Kubernetes, from a kubeconfig' },
                                 { value: 'aks', label: 'Azure Kubernetes Service (AKS), through Azure' }] });
  const kubeconfig = kubeconfigField();
  const context = field({ label: 'Context', name: 'context', autocomplete: 'off',
                          hint: 'The kubeconfig’s context to use; its current context when empty.',
                          attrs: { spellcheck: 'false' } });
  const subscription = field({ label: 'Subscription ID', name: 'subscription_id', required: true,
                               autocomplete: 'off', attrs: { spellcheck: 'false' },
                               placeholder: '00000000-0000-0000-0000-000000000000' });
  const group = field({ label: 'Resource group', name: 'resource_group', required: true, autocomplete: 'off',
                        attrs: { spellcheck: 'false', maxlength: '90' } });
  const clusterName = field({ label: 'Cluster name', name: 'cluster_name', required: true, autocomplete: 'off',
                              attrs: { spellcheck: 'false', maxlength: '63' } });
  const tenant = field({ label: 'Tenant ID', name: 'azure.tenant_id', autocomplete: 'off',
                         attrs: { spellcheck: 'false' }, markOptional: false });
  const client = field({ label: 'Client ID', name: 'azure.client_id', autocomplete: 'off',
                         attrs: { spellcheck: 'false' }, markOptional: false,
                         hint: 'The service principal’s application (client) ID.' });
  const secret = field({ label: 'Client secret', name: 'azure.client_secret', kind: 'password',
                         autocomplete: 'new-password', markOptional: false,
                         hint: 'Sealed by Cloister and never shown again.' });
  const poolName = field({ label: 'Pool name', name: 'node_pool.name', value: 'sgxpool', required: true,
                           autocomplete: 'off', hint: '1 to 12 lower-case letters and digits, a letter first.',
                           attrs: { maxlength: '12', spellcheck: 'false' } });
  const vmSize = field({ label: 'VM size', name: 'node_pool.vm_size', value: 'Standard_DC4s_v3', required: true,
                         autocomplete: 'off', hint: 'An SGX size: Standard_DC…',
                         attrs: { list: 'sgx-vm-sizes', spellcheck: 'false' } });
  const count = field({ label: 'Nodes', name: 'node_pool.count', kind: 'number', value: '2', required: true,
                        hint: 'From 1 to 100.', attrs: { min: '1', max: '100', step: '1', inputmode: 'numeric' } });
  const labels = field({ label: 'Node labels', name: 'node_pool.labels', kind: 'textarea',
                         hint: 'One per line, key=value. At most 32.',
                         attrs: { rows: '2', spellcheck: 'false', autocomplete: 'off' } });
  const taints = field({ label: 'Taints', name: 'node_pool.taints', kind: 'textarea',
                         hint: 'One per line, key=value:Effect (NoSchedule, PreferNoSchedule, NoExecute). ' +
                               'Deployments tolerate them.',
                         attrs: { rows: '2', spellcheck: 'false', autocomplete: 'off',
                                  placeholder: 'sgx=true:NoSchedule' } });
  const azureNote = h('p', { class: 'hint fieldset-hint' });
  const kubeParts = h('div', { class: 'kind-part', dataset: { kind: 'kubernetes' } },
    fieldset('From a kubeconfig', kubeconfig.wrap, context.wrap));
  const aksParts = h('div', { class: 'kind-part', dataset: { kind: 'aks' } },
    fieldset('Managed cluster', h('div', { class: 'form-grid' }, subscription.wrap, group.wrap, clusterName.wrap)));
  const poolPart = h('div', { class: 'kind-part', dataset: { kind: 'aks' } },
    fieldset('SGX node pool',
      h('p', { class: 'hint fieldset-hint' }, 'The pool Cloister keeps on the cluster for confidential containers.'),
      h('div', { class: 'form-grid' }, poolName.wrap, vmSize.wrap, count.wrap),
      h('div', { class: 'form-grid' }, labels.wrap, taints.wrap),
      h('datalist', { id: 'sgx-vm-sizes' }, VM_SIZES.map((s) => h('option', { value: s })))));
  const azureLegend = h('legend', {});
  const azurePart = h('fieldset', { class: 'fieldset' }, azureLegend, azureNote,
    h('div', { class: 'form-grid' }, tenant.wrap, client.wrap, secret.wrap));
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Add cluster');
  const form = h('form', { class: 'form cluster-form', novalidate: true, 'aria-labelledby': 'cluster-form-title' },
    formMessage(), h('div', { class: 'form-grid' }, name.wrap, kind.wrap),
    kubeParts, aksParts, azurePart, poolPart,
    h('div', { class: 'form-actions' }, submit,
      h('a', { href: '/clusters', class: 'button button-secondary' }, 'Cancel')));

  const showKind = () => {
    const k = kind.input.value;
    for (const part of form.querySelectorAll('.kind-part')) part.hidden = part.dataset.kind !== k;
    const aks = k === 'aks';
    azureLegend.replaceChildren('Azure service principal',
      ...(aks ? [] : [h('span', { class: 'optional' }, ' (optional)')]));
    azureNote.textContent = aks
      ? 'Cloister signs in to Microsoft Entra ID as this service principal to reach Azure Resource Manager. ' +
        'It needs to read the cluster and list its user credentials.'
      : 'Only for a kubeconfig whose user signs in with kubelogin (AKS with Entra ID): Cloister fetches the ' +
        'token with this service principal instead of running kubelogin.';
    for (const f of [tenant, client, secret]) f.input.required = aks;
  };
  kind.input.addEventListener('change', showKind);
  showKind();

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const problems = {};
    const body = { name: name.input.value.trim(), kind: kind.input.value };
    if (!body.name) problems.name = 'enter a name for the cluster';
    else if (!DNS_LABEL.test(body.name)) problems.name = DNS_RULE;
    const azure = { tenant_id: tenant.input.value.trim(), client_id: client.input.value.trim(),
                    client_secret: secret.input.value };
    const anyAzure = Boolean(azure.tenant_id || azure.client_id || azure.client_secret);
    if (body.kind === 'kubernetes') {
      const text = await kubeconfig.text();
      if (text.error) problems.kubeconfig = text.error;
      else body.kubeconfig = text.value;
      if (context.input.value.trim()) body.context = context.input.value.trim();
    } else {
      for (const [key, f, what] of [['subscription_id', subscription, 'the subscription’s ID'],
                                     ['resource_group', group, 'the resource group'],
                                     ['cluster_name', clusterName, 'the AKS cluster’s name']]) {
        body[key] = f.input.value.trim();
        if (!body[key]) problems[key] = `enter ${what}`;
      }
      const pool = { name: poolName.input.value.trim(), vm_size: vmSize.input.value.trim() };
      const n = count.input.value.trim();
      pool.count = /^\d+$/.test(n) ? Number(n) : n;
      if (!n) problems['node_pool.count'] = 'enter how many nodes the pool has, from 1 to 100';
      const pairs = parsePairs(labels.input.value, 'key');
      if (pairs.error) problems['node_pool.labels'] = pairs.error;
      else if (Object.keys(pairs.value).length) pool.labels = pairs.value;
      const lines = taints.input.value.split('\n').map((l) => l.trim()).filter(Boolean);
      if (lines.length) pool.taints = lines;
      body.node_pool = pool;
    }
    if (body.kind === 'aks' || anyAzure) {
      body.azure = azure;
      if (!azure.tenant_id) problems['azure.tenant_id'] = 'enter the tenant’s ID';
      if (!azure.client_id) problems['azure.client_id'] = 'enter the application’s client ID';
      if (!azure.client_secret) problems['azure.client_secret'] = 'enter the client secret';
    }
    if (Object.keys(problems).length) {
      showFormError(form, { fields: problems });
      return;
    }
    await busy(submit, async () => {
      let cluster;
      try {
        cluster = await api.post('/v1/clusters', body, { idempotent: true });
      } catch (err) {
        secret.input.value = '';
        showFormError(form, err);
        return;
      }
      await ctx.navigate(`/clusters/${cluster.id}`);
      notify(`The cluster ${cluster.name} was added, its credentials sealed. Check it to see its SGX nodes.`);
    }, 'Adding…');
  });

  return h('section', { class: 'section card', 'aria-labelledby': 'cluster-form-title' },
    h('h2', { id: 'cluster-form-title' }, 'The cluster'), form);
}

/* ---- one cluster --------------------------------------------------------- */

async function renderCluster(ctx, id) {
  const path = `/v1/clusters/${encodeURIComponent(id)}`;
  let cluster;
  try {
    cluster = await api.get(path);
  } catch (err) {
    if (err.status === 404) {
      ctx.main.append(pageHeading('Cluster not found'), errorPanel(err),
        h('p', {}, h('a', { href: '/clusters' }, 'See all clusters'), '.'));
      return null;
    }
    throw err;
  }
  const [checkJob, deployments, apps, names] = await Promise.all([
    cluster.check_job ? api.get(`/v1/jobs/${encodeURIComponent(cluster.check_job)}`).catch(() => null) : null,
    api.getAll('/v1/deployments', { max: 2000 }).catch((err) => err),
    api.getAll('/v1/apps', { max: 2000 }).catch(() => []),
    api.actorNames(ctx.me, { keys: ctx.can('api_keys.read') }),
  ]);
  if (!ctx.current()) return null;
  ctx.setTitle(cluster.name);
  const canWrite = ctx.can('clusters.write');
  const followers = new Set();

  ctx.main.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '/clusters' }, 'Clusters'), ' / ', cluster.name),
    pageHeading(cluster.name, cluster.kind === 'aks'
      ? h('span', {}, 'AKS cluster ', h('code', {}, cluster.cluster_name), ' in the resource group ',
        h('code', {}, cluster.resource_group), '.')
      : h('span', {}, 'Kubernetes cluster at ', h('code', {}, cluster.server || '?'), '.')));

  const checkArea = h('div', { class: 'result-area', 'aria-label': 'Cluster checks' });
  const checkHolder = h('div');
  const factsHolder = h('div');
  const draw = (c) => {
    cluster = c;
    checkHolder.replaceChildren(...checkSections(c));
    factsHolder.replaceChildren(...clusterSections(c, names));
  };

  const follow = (job) => {
    followers.forEach((f) => f.stop());
    followers.clear();
    const follower = followJob(job, { alive: ctx.current, events: true, title: `Checking ${cluster.name}` });
    followers.add(follower);
    checkArea.replaceChildren(h('div', { class: 'panel job-panel', dataset: { clusterId: cluster.id } },
      follower.element));
    follower.done.then(async (j) => {
      followers.delete(follower);
      let fresh = cluster;
      try {
        fresh = await api.get(path);
      } catch (err) {
        if (ctx.current()) notify(`Could not read ${cluster.name} again. ${errorText(err)}`, 'error');
      }
      if (!ctx.current()) return;
      draw(fresh);
      const check = fresh.last_check;
      if (j.state === 'succeeded' && check && check.reachable) {
        notify(`${fresh.name} answered: Kubernetes ${check.version || '(version not given)'}, ` +
               `${plural((check.sgx_nodes || []).length, 'SGX node')}.`);
      } else {
        notify(`The check of ${fresh.name} ${j.state === 'canceled' ? 'was canceled' : 'failed'}` +
               `${j.error ? `: ${j.error}` : ''}.`, 'error');
      }
    }, (err) => {
      followers.delete(follower);
      if (ctx.current()) notify(`Could not follow the check of ${cluster.name}. ${errorText(err)}`, 'error');
    });
  };

  if (canWrite) {
    const check = h('button', { type: 'button', class: 'button button-primary' }, 'Check now');
    const remove = h('button', { type: 'button', class: 'button button-danger-quiet' }, 'Remove');
    check.addEventListener('click', () => busy(check, async () => {
      try {
        follow(await api.post(`${path}/check`));
      } catch (err) {
        notify(`Could not check ${cluster.name}. ${errorText(err)}`, 'error');
      }
    }, 'Starting…'));
    remove.addEventListener('click', async () => {
      const ok = await confirmDialog({
        title: `Remove ${cluster.name}?`,
        message: `Cloister forgets ${cluster.name} and its sealed credentials. Nothing in the cluster is ` +
                 'changed: what runs there keeps running.',
        confirmLabel: 'Remove cluster',
      });
      if (!ok) return;
      await busy(remove, async () => {
        try {
          await api.del(path);
          await ctx.navigate('/clusters');
          notify(`The cluster ${cluster.name} was removed.`);
        } catch (err) {
          notify(`Could not remove ${cluster.name}. ${errorText(err)}`, 'error');
        }
      }, 'Removing…');
    });
    ctx.main.append(h('div', { class: 'page-actions' }, check, remove));
  } else {
    ctx.main.append(h('p', { class: 'note' }, 'Only the account’s operators and admins check or remove clusters.'));
  }

  draw(cluster);
  const mine = deployments instanceof Error ? deployments : deployments.filter((d) => d.cluster_id === cluster.id);
  ctx.main.append(checkArea, checkHolder,
    section('cluster-deployments-title', 'Deployments',
      deploymentsTable(mine, { apps, clusters: [cluster], omit: 'cluster',
                               empty: 'Nothing of this account is deployed here.' })),
    factsHolder);

  // A check still running when the page opens is followed too.
  if (checkJob && !ENDED.has(checkJob.state)) follow(checkJob);
  return () => followers.forEach((f) => f.stop());
}

/* The last check: what the cluster answered, and its SGX nodes. */
function checkSections(c) {
  const check = c.last_check;
  if (!check) {
    return [section('cluster-check-title', 'Last check',
      h('p', { class: 'empty' }, 'Not checked yet. A check reaches the API server with the cluster’s ' +
        'credentials and lists its nodes with SGX.'))];
  }
  if (!check.reachable) {
    return [section('cluster-check-title', 'Last check',
      h('div', { class: 'panel panel-error check-failed-panel' },
        h('p', { class: 'panel-title' }, reachableBadge(check), ' ', 'Checked ', relativeTime(c.checked_at)),
        h('p', { class: 'check-error' }, check.error || 'No reason given.')))];
  }
  const aks = 'provisioning_state' in check || 'aks_version' in check || 'sgx_addon' in check;
  const nodes = check.sgx_nodes || [];
  return [
    section('cluster-check-title', 'Last check', facts([
      ['Reachable', h('span', { class: 'reference-line' }, reachableBadge(check),
        h('span', { class: 'muted small' }, 'checked ', relativeTime(c.checked_at)))],
      ['Server', check.server ? h('code', {}, check.server) : null],
      ['Version', check.version ? h('code', { class: 'check-version' }, check.version) : null],
      ['Nodes', Number.isInteger(check.nodes) ? String(check.nodes) : null],
      ['SGX nodes', sgxSummary(check)],
      ['EPC resource', check.epc_resource ? h('code', {}, check.epc_resource) : none('None advertised')],
      aks ? ['Provisioning state', check.provisioning_state || null] : null,
      aks ? ['AKS version', check.aks_version ? h('code', {}, check.aks_version) : null] : null,
      aks ? ['SGX add-on', check.sgx_addon ? 'On (ACCSGXDevicePlugin)'
        : h('span', { class: 'badge badge-waiting' }, 'Off')] : null,
    ], { cls: 'cluster-check' })),
    section('cluster-sgx-title', 'SGX nodes', dataTable({
      caption: 'The nodes with SGX at the last check',
      columns: [{ label: 'Node' }, { label: 'EPC resource' }, { label: 'EPC' }],
      rows: nodes.map((n) => {
        const cells = [h('span', { class: 'strong' }, n.name || '?'), h('code', {}, n.epc_resource),
                       h('code', {}, n.epc)];
        cells.attrs = { dataset: { node: n.name || '' } };
        return cells;
      }),
      empty: 'No node advertises SGX EPC: deployments would not be scheduled. Install Intel’s SGX device ' +
             'plugin, or turn on AKS’s confidential computing add-on.',
    })),
  ];
}

/* What identifies the cluster, its node pool and its record. */
function clusterSections(c, names) {
  const aks = c.kind === 'aks';
  const pool = c.node_pool;
  const labels = pool && pool.labels ? Object.entries(pool.labels).map(([k, v]) => `${k}=${v}`) : [];
  return [
    section('cluster-facts-title', 'Cluster', facts([
      ['Kind', aks ? 'AKS, through Azure Resource Manager' : 'Kubernetes, from a kubeconfig'],
      aks ? null : ['Server', c.server ? h('code', {}, c.server) : null],
      aks ? null : ['Context', c.context ? h('code', {}, c.context) : null],
      aks ? ['Subscription', h('code', {}, c.subscription_id)] : null,
      aks ? ['Resource group', h('code', {}, c.resource_group)] : null,
      aks ? ['Cluster name', h('code', {}, c.cluster_name)] : null,
      ['Authentication', AUTH_LABELS[c.auth] || c.auth],
      c.tenant_id ? ['Tenant ID', h('code', {}, c.tenant_id)] : null,
      c.client_id ? ['Client ID', h('code', {}, c.client_id)] : null,
      c.client_id ? ['Client secret', 'Sealed (never shown)'] : null,
      aks ? null : ['Kubeconfig', 'Sealed (never shown)'],
    ], { cls: 'cluster-facts' })),
    pool ? section('cluster-pool-title', 'SGX node pool', facts([
      ['Name', h('code', {}, pool.name)],
      ['VM size', h('code', {}, pool.vm_size)],
      ['Nodes', String(pool.count)],
      ['Labels', codeList(labels)],
      ['Taints', codeList(pool.taints)],
    ])) : null,
    section('cluster-record-title', 'Record', facts([
      ['Added', time(c.created_at)],
      ['Added by', names.get(c.created_by) || c.created_by],
      ['Changed', time(c.updated_at)],
      ['ID', h('code', {}, c.id)],
    ])),
  ].filter(Boolean);
}
