// nodes.js - the confidential compute nodes of the account the session acts
// in (/nodes), one node (/nodes/<id>), the join tokens nodes enroll with
// (/nodes/tokens) and minting one (/nodes/tokens/new).
//
// A node is a machine with SGX whose cloister-agent joined the account with
// a join token and attestation evidence bound to its key (docs/nodes.md):
// the account's CA certified that key, and the evidence's report is kept
// under the subject node:<id>. GET /v1/nodes lists them oldest first, with
// their state, the platform's TCB status at the last attestation (marked
// simulated when the evidence chains to a root other than Intel's), labels
// and when they were last seen and attested, shown as how long ago with the
// exact time on hover.
//
// A node's page (GET /v1/nodes/{id}) shows its fields, the facts its agent
// reported, its certificate (PEM, to copy or download, with its serial and
// expiry), its events oldest first (GET /v1/nodes/{id}/events: the
// enrollment and each change of state, by whom and why), and its
// attestation reports (GET /v1/attestation-reports?subject=node:<id>),
// each linked to the report's page under /attestation. Operators and admins
// change its state with the actions the state allows (the API's table):
// deactivate (out of service, the certificate kept), reactivate, and revoke,
// which asks for a reason and a confirmation, since the certificate goes on
// the account's CRL for good. A 409 (the state changed meanwhile) is shown
// on the form.
//
// Join tokens (GET /v1/node-tokens) are listed oldest first without their
// secrets. Operators and admins mint one on /nodes/tokens/new, a two-step
// wizard: the token's name, uses, time to live and labels, then its secret,
// shown this once (Cloister keeps a hash), with the commands that start the
// agent with it, on a machine or on Kubernetes, naming this portal's origin
// as the manager. A token can be revoked (POST .../revoke), after
// confirming.
import * as api from './api.js';
import { shortHash } from './builds.js';
import { breakable, busy, clearFormErrors, confirmDialog, copyable, copyButton, dataTable, errorPanel,
         errorText, facts, field, formatTime, formMessage, h, notify, pageHeading, parsePairs,
         relativeTime, section, showFormError, time } from './ui.js';

const STATE_LABELS = { pending_approval: 'Pending approval', active: 'Active', unreachable: 'Unreachable',
                       attestation_failed: 'Attestation failed', deactivated: 'Deactivated', revoked: 'Revoked' };
const STATE_HINTS = {
  pending_approval: 'Waiting for an admin’s approval.',
  active: 'Enrolled and attested; its certificate is good.',
  unreachable: 'It missed its heartbeats.',
  attestation_failed: 'Its latest attestation was refused.',
  deactivated: 'Taken out of service; its certificate is kept, and it can be reactivated.',
  revoked: 'For good: its certificate is on the account’s CRL. It must enroll again with a new join token.',
};

/* What each action does to a node, and the states it may leave (the API's
 * transitions, docs/nodes.md). */
const ACTIONS = [
  { name: 'deactivate', label: 'Deactivate', done: 'deactivated', busyLabel: 'Deactivating…',
    from: ['pending_approval', 'active', 'unreachable', 'attestation_failed'], cls: 'button-secondary' },
  { name: 'reactivate', label: 'Reactivate', done: 'reactivated', busyLabel: 'Reactivating…',
    from: ['deactivated'], cls: 'button-primary' },
  { name: 'revoke', label: 'Revoke', done: 'revoked', busyLabel: 'Revoking…',
    from: ['pending_approval', 'active', 'unreachable', 'attestation_failed', 'deactivated'],
    cls: 'button-danger' },
];
const EVENTS = { enroll: 'Enrolled', attest: 'Attested', heartbeat: 'Heard from again',
                 heartbeat_missed: 'Heartbeats missed', deactivate: 'Deactivated', reactivate: 'Reactivated',
                 revoke: 'Revoked' };
const REASON_MAX = 500;

/* Intel's TCB statuses by how well the platform stands. */
const TCB_GOOD = new Set(['UpToDate']);
const TCB_WARN = new Set(['SWHardeningNeeded', 'ConfigurationNeeded', 'ConfigurationAndSWHardeningNeeded']);
const TCB_LEVEL_CLASS = { good: 'badge-active', warn: 'badge-waiting', bad: 'badge-revoked' };

const TOKEN_STATES = {
  active: { label: 'Active', cls: 'badge-active' },
  used: { label: 'Used up', cls: 'badge-expired' },
  expired: { label: 'Expired', cls: 'badge-expired' },
  revoked: { label: 'Revoked', cls: 'badge-revoked' },
};
const TTLS = [
  [600, '10 minutes'], [3600, '1 hour'], [21600, '6 hours'], [86400, '1 day'], [604800, '7 days'],
  [2592000, '30 days'],
];
const DEFAULT_TTL = 3600;
const USES_MAX = 10000;

/* Where the agent's Kubernetes manifests read the token: this Secret, key `token`. */
const K8S_NAMESPACE = 'cloister';
const K8S_SECRET = 'cloister-agent-join-token';

/* ---- small pieces -------------------------------------------------------- */

const none = (text) => h('span', { class: 'muted' }, text);

export function nodeStateBadge(state) {
  return h('span', { class: ['badge', 'badge-node', STATE_LABELS[state] ? `badge-node-${state}` : 'badge-expired'],
                     dataset: { state } }, STATE_LABELS[state] || state);
}

function tcbLevel(status) {
  if (TCB_GOOD.has(status)) return 'good';
  if (TCB_WARN.has(status)) return 'warn';
  if (/^OutOfDate/.test(status) || status === 'Revoked') return 'bad';
  return 'warn';     // one Intel adds later: neither good nor known to be bad
}

/* The platform's TCB status at the node's last attestation. */
function tcbBadge(status) {
  if (!status) return none('Not known');
  const level = tcbLevel(status);
  return h('span', { class: ['badge', 'badge-tcb', TCB_LEVEL_CLASS[level]], dataset: { status, level } },
    breakable(status));
}

function simulatedBadge() {
  return h('span', { class: 'badge badge-simulated',
                     title: 'Its evidence chains to a root other than the Intel SGX Root CA: ' +
                            'it proves nothing about Intel hardware.' }, 'Simulated');
}

function tcbCell(node) {
  return h('span', { class: 'reference-line' }, tcbBadge(node.tcb_status), node.simulated ? simulatedBadge() : null);
}

/* Labels by name, as key=value. */
function labelList(labels) {
  const entries = Object.entries(labels || {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (!entries.length) return none('None');
  return h('ul', { class: 'labels' }, entries.map(([k, v]) => h('li', {}, h('code', { class: 'label' }, `${k}=${v}`))));
}

/* An actor as people know it: a member by e-mail address, an API key or a
 * join token by name, the node itself (its own signed requests). */
function actorName(actor, names, tokens, node) {
  if (names.has(actor)) return names.get(actor);
  if (actor === `node:${node.id}`) return 'the node';
  if (actor && actor.startsWith('node_token:')) {
    const token = tokens.get(actor.slice('node_token:'.length));
    return token ? `join token ${token.name}` : 'a join token';
  }
  return actor;
}

/* The sub-pages, as tabs under the page's heading. */
function tabs(current) {
  const pages = [['/nodes', 'Nodes'], ['/nodes/tokens', 'Join tokens']];
  return h('nav', { class: 'subnav', 'aria-label': 'Nodes' },
    h('ul', { class: 'subnav-list' }, pages.map(([href, label]) =>
      h('li', {}, h('a', { href, class: 'subnav-link', 'aria-current': href === current ? 'page' : null }, label)))));
}

function notFound(ctx) {
  ctx.main.append(pageHeading('Page not found'),
    h('p', {}, 'There is no page at this address. ', h('a', { href: '/nodes' }, 'See the nodes'), '.'));
  return null;
}

/* ---- the pages ----------------------------------------------------------- */

export async function render(ctx) {
  const [first, second] = ctx.sub;
  if (!ctx.sub.length) return renderList(ctx);
  if (first === 'tokens') {
    if (ctx.sub.length === 1) return renderTokens(ctx);
    if (ctx.sub.length === 2 && second === 'new') return renderNewToken(ctx);
    return notFound(ctx);
  }
  if (ctx.sub.length === 1) return renderNode(ctx, first);
  return notFound(ctx);
}

/* ---- the nodes ----------------------------------------------------------- */

async function renderList(ctx) {
  const canWrite = ctx.can('nodes.write');
  ctx.main.append(
    pageHeading('Nodes',
      `The confidential compute nodes of ${ctx.me.account.name}, oldest first. A node joins with a join token ` +
      'and attestation evidence, and the account’s CA certifies its key.'),
    tabs('/nodes'));
  const pages = api.pager('/v1/nodes');
  const nodes = await pages.next();
  if (!ctx.current()) return null;

  const refresh = h('button', { type: 'button', class: 'button button-secondary' }, 'Refresh');
  ctx.main.append(h('div', { class: 'page-actions' },
    canWrite ? h('a', { href: '/nodes/tokens/new', class: 'button button-primary' }, 'New join token') : null,
    refresh));
  if (!canWrite) {
    ctx.main.append(h('p', { class: 'note' },
      'Only the account’s operators and admins mint join tokens and change nodes.'));
  }
  const summary = h('p', { class: 'list-summary', 'aria-live': 'polite' });
  const holder = h('div');
  const more = h('button', { type: 'button', class: 'button button-secondary' }, 'Load more');
  ctx.main.append(h('section', { class: 'section', 'aria-labelledby': 'nodes-list-title' },
    h('h2', { id: 'nodes-list-title', class: 'sr-only' }, 'Nodes'),
    summary, holder, h('div', { class: 'list-footer' }, more)));

  let list = nodes;
  let current = pages;
  const columns = [
    { label: 'Node' }, { label: 'State' }, { label: 'TCB status' }, { label: 'Labels' },
    { label: 'Last seen' }, { label: 'Last attested' }, { label: 'Agent' },
  ];
  const draw = () => {
    holder.replaceChildren(dataTable({
      caption: 'Nodes, oldest first',
      columns,
      rows: list.map(nodeRow),
      empty: canWrite
        ? ['No node has joined yet. ', h('a', { href: '/nodes/tokens/new' }, 'Mint a join token'),
          ' and start the agent with it on a machine with SGX.']
        : 'No node has joined yet.',
    }));
    const n = list.length;
    summary.textContent = `${n} node${n === 1 ? '' : 's'}${current.done ? '' : ' so far'}.`;
    more.hidden = current.done;
  };
  more.addEventListener('click', () => busy(more, async () => {
    try {
      list.push(...await current.next());
      draw();
    } catch (err) {
      notify(`Could not load more nodes. ${errorText(err)}`, 'error');
    }
  }, 'Loading…'));
  refresh.addEventListener('click', () => busy(refresh, async () => {
    const fresh = api.pager('/v1/nodes');
    try {
      const items = await fresh.next();
      if (!ctx.current()) return;
      list = items;
      current = fresh;
      draw();
    } catch (err) {
      notify(`Could not read the nodes. ${errorText(err)}`, 'error');
    }
  }, 'Refreshing…'));
  draw();
  return null;
}

function nodeRow(n) {
  const cells = [
    h('span', { class: 'node-name' },
      h('a', { href: `/nodes/${n.id}`, class: 'strong' }, n.name),
      h('code', { class: 'muted small', title: n.id }, n.id.slice(0, 8))),
    nodeStateBadge(n.state),
    tcbCell(n),
    labelList(n.labels),
    relativeTime(n.last_seen_at, { never: 'Never' }),
    relativeTime(n.last_attested_at, { never: 'Never' }),
    n.agent_version ? h('code', {}, n.agent_version) : none('—'),
  ];
  cells.attrs = { dataset: { nodeId: n.id, state: n.state, simulated: String(n.simulated) } };
  return cells;
}

/* ---- one node ------------------------------------------------------------ */

async function renderNode(ctx, id) {
  const path = `/v1/nodes/${encodeURIComponent(id)}`;
  let node;
  try {
    node = await api.get(path);
  } catch (err) {
    if (err.status === 404) {
      ctx.main.append(pageHeading('Node not found'), errorPanel(err),
        h('p', {}, h('a', { href: '/nodes' }, 'See all nodes'), '.'));
      return null;
    }
    throw err;
  }
  const reports = api.pager('/v1/attestation-reports', { query: { subject: `node:${node.id}` } });
  const [events, firstReports, tokenList, names] = await Promise.all([
    api.get(`${path}/events`).then((d) => d.items).catch((err) => err),
    reports.next().catch((err) => err),
    api.getAll('/v1/node-tokens', { max: 2000 }).catch(() => []),
    api.actorNames(ctx.me, { keys: ctx.can('api_keys.read') }),
  ]);
  if (!ctx.current()) return null;
  const tokens = new Map(tokenList.map((t) => [t.id, t]));
  const token = node.join_token_id ? tokens.get(node.join_token_id) : null;
  const short = node.id.slice(0, 8);
  const urls = [];
  ctx.setTitle(node.name);

  ctx.main.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '/nodes' }, 'Nodes'), ' / ', node.name),
    pageHeading(node.name, h('span', {}, 'Node ', h('code', {}, short), ', enrolled ', time(node.created_at),
      token ? ` with the join token ${token.name}` : '', '.')));
  if (node.simulated) {
    ctx.main.append(h('div', { class: 'panel panel-warning simulated-warning' },
      h('p', { class: 'panel-title' }, 'Simulated evidence'),
      h('p', { class: 'simulated-why' }, 'The node’s evidence chains to a root other than the Intel SGX Root CA: ' +
        'it proves nothing about Intel hardware.'),
      h('p', { class: 'hint' }, 'The daemon trusts that root through its sgx-trust-roots setting, as machines ' +
        'without SGX and tests do.')));
  }
  ctx.main.append(
    section('node-status-title', 'Status', facts([
      ['State', h('span', { class: 'reference-line' }, nodeStateBadge(node.state),
        h('span', { class: 'muted small state-hint' }, STATE_HINTS[node.state] || ''))],
      ['TCB status', tcbCell(node)],
      ['Last seen', relativeTime(node.last_seen_at, { never: 'Never' })],
      ['Last attested', relativeTime(node.last_attested_at, { never: 'Never' })],
      ['Labels', labelList(node.labels)],
      ['Agent version', node.agent_version ? h('code', {}, node.agent_version) : null],
    ], { cls: 'node-status' })),
    ctx.can('nodes.write') ? actionsCard(ctx, node, path)
      : h('p', { class: 'note' }, 'Only the account’s operators and admins deactivate, reactivate or revoke nodes.'),
    attestationSection(node, reports, firstReports),
    factsSection(node),
    certificateSection(ctx, node, urls),
    eventsSection(node, events, names, tokens),
    section('node-record-title', 'Record', facts([
      ['Join token', node.join_token_id
        ? h('span', {}, token ? token.name : h('code', {}, node.join_token_id),
          token ? h('span', { class: 'muted' }, ' (', h('code', {}, token.prefix), '…)') : null)
        : none('Deleted')],
      ['Enrolled', time(node.created_at)],
      ['Updated', time(node.updated_at)],
      ['ID', h('code', {}, node.id)],
    ])));
  return () => urls.forEach((u) => URL.revokeObjectURL(u));
}

/* The actions the node's state allows, with a reason kept with the event. */
function actionsCard(ctx, node, path) {
  const allowed = ACTIONS.filter((a) => a.from.includes(node.state));
  const title = h('h2', { id: 'node-actions-title' }, 'Change its state');
  if (!allowed.length) {
    return h('section', { class: 'section card node-actions', 'aria-labelledby': 'node-actions-title' }, title,
      h('p', { class: 'note' }, 'A revoked node stays revoked. To come back, the machine enrolls again with a new ' +
        'join token, as a new node.'));
  }
  const reason = field({ label: 'Reason', name: 'reason', kind: 'textarea',
                         hint: 'Kept with the node’s event and in the audit log. Revoking needs one.',
                         attrs: { rows: '2', maxlength: String(REASON_MAX) } });
  const buttons = allowed.map((a) =>
    h('button', { type: 'button', class: ['button', a.cls], dataset: { action: a.name } }, a.label));
  const form = h('form', { class: 'form node-actions-form', novalidate: true, 'aria-labelledby': 'node-actions-title' },
    formMessage(), reason.wrap, h('div', { class: 'form-actions' }, buttons));
  form.addEventListener('submit', (event) => event.preventDefault());

  allowed.forEach((action, i) => buttons[i].addEventListener('click', async () => {
    clearFormErrors(form);
    const text = reason.input.value.trim();
    if (action.name === 'revoke') {
      if (!text) {
        showFormError(form, { fields: { reason: 'say why the node is revoked' } });
        return;
      }
      const ok = await confirmDialog({
        title: `Revoke ${node.name}?`,
        message: `Its certificate (serial ${node.cert_serial}) goes on the account’s CRL for good: nothing that ` +
                 'checks the CRL trusts it from then on. The machine must enroll again with a new join token to ' +
                 'come back. Revoking cannot be undone.',
        confirmLabel: 'Revoke node',
      });
      if (!ok) return;
    }
    await busy(buttons[i], async () => {
      try {
        await api.post(`${path}/${action.name}`, text ? { reason: text } : undefined);
      } catch (err) {
        showFormError(form, err);
        return;
      }
      await ctx.reload();
      notify(`The node ${node.name} was ${action.done}.`);
    }, action.busyLabel);
  }));

  return h('section', { class: 'section card node-actions', 'aria-labelledby': 'node-actions-title' }, title,
    h('p', { class: 'hint' }, 'Deactivating takes the node out of service and keeps its certificate, so that it ',
      'can be reactivated. Revoking is for good: its certificate goes on the account’s CRL.'),
    form);
}

/* The enclave that attested for the node, and every report on its evidence. */
function attestationSection(node, pages, first) {
  const content = [facts([
    ['MRENCLAVE', node.mrenclave ? copyable(node.mrenclave, 'MRENCLAVE', 'mrenclave') : null],
    ['MRSIGNER', node.mrsigner ? copyable(node.mrsigner, 'MRSIGNER', 'mrsigner') : null],
    ['Attestations', String(node.attestation_count)],
  ])];
  if (first instanceof Error) {
    content.push(h('p', { class: 'job-error' }, `Could not load the attestation reports. ${errorText(first)}`));
    return section('node-attestation-title', 'Attestation', content);
  }
  const reports = first;
  const holder = h('div', { class: 'node-reports' });
  const more = h('button', { type: 'button', class: 'button button-secondary' }, 'Load more');
  const columns = [{ label: 'Report' }, { label: 'Verdict' }, { label: 'Authentic' }, { label: 'TCB status' },
                   { label: 'MRENCLAVE' }, { label: 'Judged' }];
  const draw = () => {
    holder.replaceChildren(dataTable({
      caption: 'The node’s attestation reports, newest first',
      columns,
      rows: reports.map((r) => {
        const rshort = r.id.slice(0, 8);
        const cells = [
          h('a', { href: `/attestation/${r.id}`, class: 'strong', 'aria-label': `Report ${rshort}` },
            h('code', {}, rshort)),
          h('span', { class: `badge badge-verdict ${r.verdict === 'accepted' ? 'badge-active' : 'badge-revoked'}`,
                      dataset: { verdict: r.verdict } }, r.verdict === 'accepted' ? 'Accepted' : 'Refused'),
          h('span', { class: 'reference-line' },
            h('span', { class: `badge ${r.authentic ? 'badge-active' : 'badge-revoked'}` }, r.authentic ? 'Yes' : 'No'),
            r.simulated ? simulatedBadge() : null),
          r.tcb_status ? tcbBadge(r.tcb_status) : none('—'),
          r.mrenclave ? shortHash(r.mrenclave) : none('—'),
          time(r.created_at, { seconds: true }),
        ];
        cells.attrs = { dataset: { reportId: r.id, verdict: r.verdict } };
        return cells;
      }),
      empty: 'No attestation report names this node.',
    }));
    more.hidden = pages.done;
  };
  more.addEventListener('click', () => busy(more, async () => {
    try {
      reports.push(...await pages.next());
      draw();
    } catch (err) {
      notify(`Could not load more reports. ${errorText(err)}`, 'error');
    }
  }, 'Loading…'));
  draw();
  content.push(h('h3', { class: 'subsection-title' }, 'Reports'),
    h('p', { class: 'hint' }, 'Every judgement of the node’s evidence, newest first, accepted or refused.'),
    holder, h('div', { class: 'list-footer' }, more));
  return section('node-attestation-title', 'Attestation', content);
}

/* What the agent reported about the machine, as it reported it. */
function factsSection(node) {
  const entries = Object.entries(node.facts || {});
  return section('node-facts-title', 'Facts',
    entries.length
      ? facts(entries.map(([k, v]) => [k, typeof v === 'string' ? v : h('code', {}, JSON.stringify(v))]),
        { cls: 'node-facts' })
      : h('p', { class: 'empty' }, 'The agent reported no facts.'));
}

/* The node's certificate from the account's CA: to copy or download. */
function certificateSection(ctx, node, urls) {
  const expires = Date.parse(node.cert_expires_at);
  const expired = !Number.isNaN(expires) && expires <= Date.now();
  const account = ctx.me.account.id;
  const pki = `/pki/${encodeURIComponent(account)}`;
  const pem = node.certificate || '';
  const filename = `node-${node.id.slice(0, 8)}.pem`;
  let download = null;
  let box = null;
  if (pem) {
    const url = URL.createObjectURL(new Blob([pem], { type: 'application/x-pem-file' }));
    urls.push(url);
    download = h('a', { href: url, download: filename, class: 'button button-secondary', dataset: { file: filename } },
      'Download .pem');
    const lines = pem.trim().split('\n').length;
    box = h('textarea', { class: 'cert-pem', readonly: true, rows: String(Math.min(lines + 1, 24)),
                          'aria-label': 'Certificate (PEM)', spellcheck: 'false', autocomplete: 'off' }, pem);
  }
  return section('node-certificate-title', 'Certificate',
    facts([
      ['Serial', h('code', { class: 'cert-serial' }, node.cert_serial)],
      ['Expires', h('span', { class: 'reference-line' }, time(node.cert_expires_at, { seconds: true }),
        h('span', { class: 'muted' }, '(', relativeTime(node.cert_expires_at), ')'),
        expired ? h('span', { class: 'badge badge-revoked' }, 'Expired') : null)],
      ['Revoked', node.state === 'revoked'
        ? h('span', {}, 'Yes: its serial is on ', h('a', { href: `${pki}/crl.der` }, 'the account’s CRL'), '.')
        : 'No'],
      ['Issued by', h('span', {}, 'The account’s CA (', h('a', { href: `${pki}/ca.pem` }, 'its certificate'), ')')],
    ]),
    pem ? h('div', { class: 'cert-box' }, box,
      h('div', { class: 'copy-row' },
        copyButton(pem, { label: 'Copy certificate', selectEl: box, what: 'the certificate' }), download))
      : h('p', { class: 'empty' }, 'The node has no certificate.'));
}

/* Why an event happened: the reason given, the report on the evidence
 * judged, or when the node was last heard from. */
function eventWhy(e) {
  const detail = e.detail || {};
  if (detail.reason) return h('span', { class: 'reason' }, detail.reason);
  if (detail.report_id) {
    const judged = e.event === 'enroll' ? 'Evidence accepted: '
      : e.to_state === 'attestation_failed' ? 'Evidence refused: ' : 'Evidence judged: ';
    return h('span', {}, judged, h('a', { href: `/attestation/${detail.report_id}` },
      'report ', h('code', {}, detail.report_id.slice(0, 8))));
  }
  if (detail.last_seen_at) return h('span', {}, 'Last seen ', time(detail.last_seen_at, { seconds: true }));
  return none('—');
}

/* Everything that happened to the node, oldest first. */
function eventsSection(node, events, names, tokens) {
  if (events instanceof Error) {
    return section('node-events-title', 'Events',
      h('p', { class: 'job-error' }, `Could not load the node’s events. ${errorText(events)}`));
  }
  const columns = [{ label: 'Event' }, { label: 'Change' }, { label: 'By' }, { label: 'Time' }, { label: 'Reason' }];
  return section('node-events-title', 'Events',
    dataTable({
      caption: 'The node’s events, oldest first',
      columns,
      rows: events.map((e) => {
        const cells = [
          h('span', { class: 'strong' }, EVENTS[e.event] || e.event),
          h('span', { class: 'transition' }, e.from_state ? nodeStateBadge(e.from_state) : none('—'),
            h('span', { 'aria-hidden': 'true' }, '→'), h('span', { class: 'sr-only' }, 'to'),
            nodeStateBadge(e.to_state)),
          actorName(e.actor, names, tokens, node),
          time(e.created_at, { seconds: true }),
          eventWhy(e),
        ];
        cells.attrs = { dataset: { event: e.event, from: e.from_state || '', to: e.to_state } };
        return cells;
      }),
      empty: 'No events yet.',
    }));
}

/* ---- the join tokens ----------------------------------------------------- */

function tokenState(t) {
  const s = TOKEN_STATES[t.state] || { label: t.state, cls: 'badge-expired' };
  return h('span', { class: `badge ${s.cls}`, dataset: { state: t.state } }, s.label);
}

async function renderTokens(ctx) {
  const canWrite = ctx.can('nodes.write');
  ctx.setTitle('Join tokens');
  ctx.main.append(
    pageHeading('Join tokens',
      `A node joins ${ctx.me.account.name} with a join token, which admits a number of nodes for a while and ` +
      'stamps its labels on them. Its secret is shown once, when it is minted.'),
    tabs('/nodes/tokens'));
  const pages = api.pager('/v1/node-tokens');
  const tokens = await pages.next();
  if (!ctx.current()) return null;

  if (canWrite) {
    ctx.main.append(h('div', { class: 'page-actions' },
      h('a', { href: '/nodes/tokens/new', class: 'button button-primary' }, 'New join token')));
  } else {
    ctx.main.append(h('p', { class: 'note' }, 'Only the account’s operators and admins mint or revoke join tokens.'));
  }
  const holder = h('div');
  const more = h('button', { type: 'button', class: 'button button-secondary' }, 'Load more');
  ctx.main.append(h('section', { class: 'section', 'aria-labelledby': 'tokens-list-title' },
    h('h2', { id: 'tokens-list-title', class: 'sr-only' }, 'Join tokens'),
    holder, h('div', { class: 'list-footer' }, more)));

  let list = tokens;
  let current = pages;
  const columns = [
    { label: 'Name' }, { label: 'Prefix' }, { label: 'Used' }, { label: 'Labels' }, { label: 'State' },
    { label: 'Expires' }, { label: 'Created' },
    ...(canWrite ? [{ label: 'Actions', class: 'actions' }] : []),
  ];
  const draw = () => {
    holder.replaceChildren(dataTable({
      caption: 'Join tokens, oldest first',
      columns,
      rows: list.map((t) => tokenRow(t, canWrite, refresh)),
      empty: 'This account has no join tokens.',
    }));
    more.hidden = current.done;
  };

  async function refresh() {
    const fresh = api.pager('/v1/node-tokens');
    try {
      const items = await fresh.next();
      if (!ctx.current()) return;
      list = items;
      current = fresh;
      draw();
    } catch (err) {
      notify(`Could not reload the join tokens. ${errorText(err)}`, 'error');
    }
  }

  more.addEventListener('click', () => busy(more, async () => {
    try {
      list.push(...await current.next());
      draw();
    } catch (err) {
      notify(`Could not load more join tokens. ${errorText(err)}`, 'error');
    }
  }, 'Loading…'));
  draw();
  return null;
}

function tokenRow(t, canWrite, refresh) {
  const cells = [
    h('span', { class: 'strong' }, t.name),
    h('code', { class: 'prefix' }, t.prefix),
    `${t.used} of ${t.uses}`,
    labelList(t.labels),
    h('span', { class: 'key-status' }, tokenState(t),
      t.revoked_at ? h('span', { class: 'muted small' }, time(t.revoked_at)) : null),
    h('span', { class: 'key-status' }, time(t.expires_at),
      h('span', { class: 'muted small' }, relativeTime(t.expires_at))),
    time(t.created_at),
  ];
  if (canWrite) {
    cells.push(t.state !== 'active' ? null : h('button', {
      type: 'button', class: 'button button-danger-quiet button-small',
      'aria-label': `Revoke ${t.name} (${t.prefix})`,
      onclick: async (event) => {
        const button = event.currentTarget;
        const ok = await confirmDialog({
          title: `Revoke ${t.name}?`,
          message: `No node will join with the token ${t.prefix}… from now on; the nodes that joined with it ` +
                   'stay as they are. Revoking cannot be undone.',
          confirmLabel: 'Revoke token',
        });
        if (!ok) return;
        await busy(button, async () => {
          try {
            await api.post(`/v1/node-tokens/${encodeURIComponent(t.id)}/revoke`);
            notify(`The join token ${t.name} (${t.prefix}) was revoked.`);
            await refresh();
          } catch (err) {
            notify(`Could not revoke ${t.name}. ${errorText(err)}`, 'error');
          }
        });
      },
    }, 'Revoke'));
  }
  cells.attrs = { dataset: { tokenId: t.id, prefix: t.prefix, state: t.state } };
  return cells;
}

/* ---- minting a join token: a wizard of two steps ------------------------- */

function wizardSteps(current) {
  const steps = ['Describe the token', 'Start the agent'];
  return h('ol', { class: 'wizard-steps', 'aria-label': 'Steps' }, steps.map((label, i) =>
    h('li', { class: ['wizard-step', i + 1 === current ? 'wizard-step-current' : null,
                      i + 1 < current ? 'wizard-step-done' : null],
              'aria-current': i + 1 === current ? 'step' : null },
    h('span', { class: 'wizard-step-number', 'aria-hidden': 'true' }, String(i + 1)), label)));
}

async function renderNewToken(ctx) {
  ctx.setTitle('New join token');
  ctx.main.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '/nodes' }, 'Nodes'), ' / ',
      h('a', { href: '/nodes/tokens' }, 'Join tokens'), ' / New'),
    pageHeading('New join token',
      `A join token lets machines with SGX join ${ctx.me.account.name} as nodes. Its secret is shown on the next ` +
      'step, once.'));
  if (!ctx.can('nodes.write')) {
    ctx.main.append(h('p', { class: 'note' }, 'Only the account’s operators and admins mint join tokens.'),
      h('p', {}, h('a', { href: '/nodes/tokens' }, 'See the join tokens'), '.'));
    return null;
  }
  const steps = h('div', {}, wizardSteps(1));
  const area = h('div');
  area.append(tokenForm((token) => {
    steps.replaceChildren(wizardSteps(2));
    area.replaceChildren(secretStep(token));
    area.querySelector('h2').focus();
    notify(`The join token ${token.name} was created. Copy its secret now.`);
  }));
  ctx.main.append(steps, area);
  return null;
}

function tokenForm(onCreated) {
  const name = field({ label: 'Name', name: 'name', required: true, autocomplete: 'off',
                       hint: 'What it is for, e.g. rack-7 or aks-sgx-pool.', attrs: { maxlength: '100' } });
  const uses = field({ label: 'Uses', name: 'uses', kind: 'number', value: '1', required: true,
                       hint: `How many nodes may join with it, from 1 to ${USES_MAX.toLocaleString('en')}.`,
                       attrs: { min: '1', max: String(USES_MAX), step: '1', inputmode: 'numeric' } });
  const ttl = field({ label: 'Time to live', name: 'ttl', kind: 'select', value: String(DEFAULT_TTL), required: true,
                      hint: 'Nodes join with it until then; it can be revoked before.',
                      options: TTLS.map(([seconds, label]) => ({ value: String(seconds), label })) });
  const labels = field({ label: 'Labels', name: 'labels', kind: 'textarea',
                         hint: 'One per line, key=value; stamped on every node that joins with it. At most 32.',
                         attrs: { rows: '3', spellcheck: 'false', autocomplete: 'off' } });
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Create join token');
  const form = h('form', { class: 'form form-grid token-form', novalidate: true,
                           'aria-labelledby': 'token-form-title' },
    formMessage(), name.wrap, uses.wrap, ttl.wrap, labels.wrap, h('div', { class: 'form-actions' }, submit));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const problems = {};
    const body = { name: name.input.value.trim(), ttl: Number(ttl.input.value) };
    if (!body.name) problems.name = 'enter a name for the token';
    const count = uses.input.value.trim();
    if (!count) problems.uses = `enter how many nodes may join with it, from 1 to ${USES_MAX}`;
    // Not a whole number: sent as it is, for the server to say what it wants.
    else body.uses = /^\d+$/.test(count) ? Number(count) : count;
    const pairs = parsePairs(labels.input.value, 'name');
    if (pairs.error) problems.labels = pairs.error;
    else body.labels = pairs.value;
    if (Object.keys(problems).length) {
      showFormError(form, { fields: problems });
      return;
    }
    await busy(submit, async () => {
      let token;
      try {
        token = await api.post('/v1/node-tokens', body, { idempotent: true });
      } catch (err) {
        showFormError(form, err);
        return;
      }
      onCreated(token);
    }, 'Creating…');
  });
  return h('section', { class: 'section card', 'aria-labelledby': 'token-form-title' },
    h('h2', { id: 'token-form-title' }, 'The token'), form);
}

/* The commands that start the agent with the token's secret, against this
 * portal's daemon. */
function agentCommands(secret, manager) {
  return {
    machine: `echo '${secret}' > join-token && cloister-agent --manager ${manager} --join-token-file join-token ` +
             '--state-dir /var/lib/cloister-agent --evidence dcap',
    namespace: `kubectl create namespace ${K8S_NAMESPACE} --dry-run=client -o yaml | kubectl apply -f -`,
    secret: `kubectl -n ${K8S_NAMESPACE} create secret generic ${K8S_SECRET} --from-literal=token=${secret}`,
    apply: 'kubectl apply -k docker/k8s/base',
  };
}

/* The new token's secret, in this answer only, and how to use it. */
function secretStep(token) {
  const commands = agentCommands(token.secret, location.origin);
  const output = h('input', { type: 'text', readonly: true, class: 'secret-value', value: token.secret,
                              'aria-label': `Secret of the join token ${token.name}`, spellcheck: 'false',
                              autocomplete: 'off' });
  const admits = `${token.uses} node${token.uses === 1 ? '' : 's'}`;
  return h('section', { class: 'panel panel-secret token-secret', 'aria-labelledby': 'token-secret-title' },
    h('h2', { id: 'token-secret-title', tabindex: '-1' }, `Secret of ${token.name}`),
    h('p', { class: 'secret-warning' },
      h('strong', {}, 'Copy this secret now: it is not shown again.'),
      ' Cloister keeps only a hash of it. It admits ', admits, ' until ',
      h('time', { datetime: token.expires_at, title: formatTime(token.expires_at, { seconds: true }) },
        formatTime(token.expires_at)), '.'),
    h('div', { class: 'secret-row' }, output,
      copyButton(token.secret, { label: 'Copy secret', selectEl: output, what: 'the secret' })),

    h('h3', {}, 'On a machine with SGX'),
    h('p', { class: 'hint' }, 'Run the agent with the token: it enrolls the machine with this portal’s daemon, ',
      'attests it with DCAP and keeps its key and certificate in its state directory.'),
    copyable(commands.machine, 'agent command', 'agent-command', 'copy-command', { wrap: true }),

    h('h3', {}, 'On Kubernetes (AKS)'),
    h('p', { class: 'hint' }, 'Put the token in the Secret the agent’s DaemonSet reads (',
      h('code', {}, K8S_SECRET), ' in the namespace ', h('code', {}, K8S_NAMESPACE), ', key ', h('code', {}, 'token'),
      '), then apply the agent’s manifests from a checkout of Cloister:'),
    h('ol', { class: 'steps' },
      [['namespace', 'namespace command'], ['secret', 'Secret command'], ['apply', 'apply command']]
        .map(([key, what]) => h('li', {},
          copyable(commands[key], what, `${key}-command`, 'copy-command', { wrap: true })))),

    h('div', { class: 'panel-actions' },
      h('a', { href: '/nodes/tokens', class: 'button button-secondary' }, 'I have copied it')));
}
