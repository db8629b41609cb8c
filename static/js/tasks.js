// tasks.js - approvals (/tasks): the tasks waiting for the account's admins,
// and the approval policy.
//
// GET /v1/tasks lists the tasks (a domain an app wants to reach, a build to
// approve, linked to its page where its measurements are, ...). The
// page shows the pending ones first, oldest first, then the decided and
// expired ones, newest first. A task is approved once as many distinct
// admins as its quorum approve it; one denial ends it. Admins, signed in,
// approve or deny with an optional comment (POST /v1/tasks/{id}/approve,
// /deny). The server decides who may: with a quorum above one, whoever asked
// for the task may not approve it (403), and a task decided meanwhile cannot
// be decided again (409); the page shows what the server said, on the task.
// Each card shows the approvals so far against the quorum and who decided
// what. The policy (GET /v1/policies/approval) is the quorum new tasks get;
// admins change it (PUT with If-Match).
import * as api from './api.js';
import { busy, capitalise, clearFormErrors, confirmDialog, errorText, facts, field, formMessage, h,
         notify, pageHeading, showFormError, time } from './ui.js';

const TYPES = { domain_approval: 'Domain approval', build_approval: 'Build approval' };

export async function render(ctx) {
  ctx.main.append(pageHeading('Approvals',
    `What waits for the admins of ${ctx.me.account.name} to decide. A task is approved when enough admins approve it; one denial ends it.`));
  const policyArea = h('div');
  const pendingArea = h('section', { class: 'section', 'aria-labelledby': 'pending-title' });
  const decidedArea = h('section', { class: 'section', 'aria-labelledby': 'decided-title' });
  ctx.main.append(policyArea, pendingArea, decidedArea);
  if (!ctx.can('tasks.decide')) {
    pendingArea.before(h('p', { class: 'note' }, 'Only the account’s admins approve or deny tasks.'));
  }

  const [policy, names] = await Promise.all([
    api.getVersioned('/v1/policies/approval'),
    api.actorNames(ctx.me, { keys: ctx.can('api_keys.read') }),
  ]);
  if (!ctx.current()) return null;
  policyArea.append(policySection(ctx, policy));

  let decidedPages;
  let decided;
  const more = h('button', { type: 'button', class: 'button button-secondary' }, 'Load more');

  async function refresh(focusTask = null) {
    const pages = api.pager('/v1/tasks');
    const [pending, first] = await Promise.all([
      api.getAll('/v1/tasks', { query: { state: 'pending' } }),
      pages.next(),
    ]);
    if (!ctx.current()) return;
    decidedPages = pages;
    decided = first.filter((t) => t.state !== 'pending');
    pending.reverse(); // oldest first: the first to expire
    pendingArea.replaceChildren(
      h('h2', { id: 'pending-title', tabindex: '-1' }, `Waiting for a decision (${pending.length})`),
      pending.length
        ? h('div', { class: 'task-list' }, pending.map((t) => taskCard(ctx, t, names, refresh)))
        : h('p', { class: 'empty' }, 'Nothing waits for a decision.'));
    drawDecided();
    if (focusTask) {
      const heading = ctx.main.querySelector(`#task-${CSS.escape(focusTask)} h3`);
      (heading || pendingArea.querySelector('h2')).focus();
    }
  }

  function drawDecided() {
    decidedArea.replaceChildren(
      h('h2', { id: 'decided-title' }, 'Decided and expired'),
      decided.length
        ? h('div', { class: 'task-list' }, decided.map((t) => taskCard(ctx, t, names, refresh)))
        : h('p', { class: 'empty' }, 'No task has been decided yet.'),
      h('div', { class: 'list-footer' }, more));
    more.hidden = decidedPages.done;
  }

  more.addEventListener('click', () => busy(more, async () => {
    try {
      decided.push(...(await decidedPages.next()).filter((t) => t.state !== 'pending'));
      drawDecided();
    } catch (err) {
      notify(`Could not load more tasks. ${errorText(err)}`, 'error');
    }
  }, 'Loading…'));

  await refresh();
  return null;
}

function title(t) {
  const d = t.details || {};
  if (t.type === 'domain_approval') return `${d.domain} for ${d.app_name}`;
  if (t.type === 'build_approval' && d.build_id) return `Build ${d.build_id.slice(0, 8)} of ${d.app_name}`;
  return TYPES[t.type] || t.type;
}

function what(t) {
  const d = t.details || {};
  if (t.type === 'domain_approval') {
    return h('p', { class: 'task-what' }, 'The app ',
      d.app_id ? h('a', { href: `/apps/${d.app_id}` }, d.app_name) : d.app_name,
      ' wants to reach ', h('code', {}, d.domain), '.');
  }
  if (t.type === 'build_approval' && d.build_id) {
    return h('p', { class: 'task-what' }, 'A build of the app ',
      d.app_id ? h('a', { href: `/apps/${d.app_id}` }, d.app_name) : d.app_name,
      ', MRENCLAVE ', h('code', { class: 'hash' }, d.mrenclave), '. ',
      h('a', { href: `/builds/${d.build_id}`, class: 'build-link' }, 'See the build'),
      ' for its measurements, images and trusted files.');
  }
  return facts(Object.entries(d).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

const STATE_CLASS = { pending: 'badge-waiting', approved: 'badge-active', denied: 'badge-revoked',
                      expired: 'badge-expired' };

function taskCard(ctx, t, names, refresh) {
  const titleId = `task-title-${t.id}`;
  const who = (actor) => names.get(actor) || actor;
  const me = `user:${ctx.me.user.id}`;
  const mine = t.decisions.find((d) => d.actor === me);
  const pending = t.state === 'pending';
  const card = h('article', { class: ['task', `task-${t.state}`], id: `task-${t.id}`, 'aria-labelledby': titleId,
                              dataset: { taskId: t.id, state: t.state } },
    h('div', { class: 'task-head' },
      h('h3', { id: titleId, tabindex: '-1' }, title(t)),
      h('span', { class: `badge ${STATE_CLASS[t.state] || 'badge-expired'}`, dataset: { state: t.state } },
        capitalise(t.state)),
      h('span', { class: 'muted small' }, TYPES[t.type] || t.type)),
    what(t),
    facts([
      ['Asked by', who(t.requested_by)],
      ['Asked', time(t.created_at)],
      pending ? ['Expires', time(t.expires_at)] : ['Decided', time(t.decided_at)],
      ['Approvals', h('span', { class: 'approvals' },
        h('span', { class: 'approval-count' }, `${t.approvals} of ${t.quorum}`),
        h('meter', { min: '0', max: String(t.quorum), value: String(t.approvals),
                     'aria-label': `Approvals of ${title(t)}`, class: 'approval-meter' }))],
    ], { cls: 'task-facts' }),
    t.decisions.length
      ? h('ol', { class: 'decisions', 'aria-label': 'Decisions' }, t.decisions.map((d) =>
        h('li', { class: `decision decision-${d.decision}`, dataset: { actor: d.actor, decision: d.decision } },
          h('span', { class: 'strong' }, d.decision === 'approve' ? 'Approved' : 'Denied'),
          ' by ', who(d.actor), ', ', time(d.at),
          d.comment ? [': ', h('q', { class: 'comment' }, d.comment)] : null)))
      : h('p', { class: 'muted small' }, 'No decisions yet.'));

  if (!pending || !ctx.can('tasks.decide')) return card;
  if (mine) {
    card.append(h('p', { class: 'note' },
      `You ${mine.decision === 'approve' ? 'approved' : 'denied'} this; it waits for other admins.`));
    return card;
  }

  const comment = field({ label: 'Comment', name: 'comment', kind: 'textarea',
                          attrs: { rows: '2', maxlength: 2000 } });
  const message = formMessage();
  const approve = h('button', { type: 'button', class: 'button button-primary',
                                'aria-label': `Approve ${title(t)}` }, 'Approve');
  const deny = h('button', { type: 'button', class: 'button button-danger-quiet',
                             'aria-label': `Deny ${title(t)}` }, 'Deny');
  const form = h('form', { class: 'form task-form', novalidate: true, 'aria-label': `Decide on ${title(t)}` },
    message, comment.wrap,
    t.requested_by === me && t.quorum > 1
      ? h('p', { class: 'hint' }, `You asked for this: with a quorum of ${t.quorum}, other admins approve it.`) : null,
    h('div', { class: 'form-actions' }, approve, deny));
  form.addEventListener('submit', (event) => event.preventDefault());

  const decide = async (verb, button) => {
    clearFormErrors(form);
    if (verb === 'deny') {
      const ok = await confirmDialog({
        title: `Deny ${title(t)}?`,
        message: 'One denial ends the task: it cannot be approved afterwards.',
        confirmLabel: 'Deny',
      });
      if (!ok) return;
    }
    const text = comment.input.value.trim();
    await busy(button, async () => {
      try {
        const res = await api.post(`/v1/tasks/${encodeURIComponent(t.id)}/${verb}`,
                                   text ? { comment: text } : undefined);
        const d = res.details || {};
        const subject = res.type === 'domain_approval' ? `${d.app_name} may now reach ${d.domain}` : title(res);
        notify(res.state === 'approved' ? `Approved: ${subject}.`
          : res.state === 'denied' ? `Denied: ${title(res)}.`
            : `Your approval is recorded: ${res.approvals} of ${res.quorum}.`);
        await refresh(t.id);
      } catch (err) {
        showFormError(form, err);
        notify(`Could not ${verb} ${title(t)}. ${errorText(err)}`, 'error');
      }
    }, verb === 'approve' ? 'Approving…' : 'Denying…');
  };
  approve.addEventListener('click', () => decide('approve', approve));
  deny.addEventListener('click', () => decide('deny', deny));
  card.append(form);
  return card;
}

function policySection(ctx, { body: policy, etag }) {
  const summary = h('p', { class: 'policy-summary' });
  const say = (q) => {
    summary.textContent = `A new task needs the approval of ${q} admin${q === 1 ? '' : 's'}` +
      (q > 1 ? '; whoever asked for it may not be one of them.' : '.');
  };
  say(policy.quorum);
  const section = h('section', { class: 'section card', 'aria-labelledby': 'policy-title' },
    h('h2', { id: 'policy-title' }, 'Approval policy'), summary);
  if (!ctx.can('policies.write')) return section;

  let version = etag;
  const quorum = field({ label: 'Quorum', name: 'quorum', kind: 'number', value: String(policy.quorum),
                         required: true, hint: 'How many admins must approve, from 1 to 10. Tasks keep the quorum they were made with.',
                         attrs: { min: '1', max: '10', step: '1', inputmode: 'numeric' } });
  quorum.wrap.classList.add('field-narrow');
  const message = formMessage();
  const save = h('button', { type: 'submit', class: 'button button-primary' }, 'Save policy');
  const form = h('form', { class: 'form form-inline', novalidate: true, 'aria-label': 'Approval policy' },
    message, quorum.wrap, h('div', { class: 'form-actions' }, save));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const text = quorum.input.value.trim();
    const value = /^\d+$/.test(text) ? Number(text) : text;
    await busy(save, async () => {
      try {
        const res = await api.request('PUT', '/v1/policies/approval',
          { body: { quorum: value }, headers: api.ifMatch(version), full: true });
        version = res.etag;
        say(res.body.quorum);
        notify(`Saved: new tasks need ${res.body.quorum} approval${res.body.quorum === 1 ? '' : 's'}.`);
      } catch (err) {
        showFormError(form, err);
      }
    }, 'Saving…');
  });
  section.append(form);
  return section;
}
