// audit.js - the audit trail of the account the session acts in (/audit).
//
// GET /v1/audit answers the events newest first. The filters (action, actor,
// target, since, until) are a form whose values live in the URL's query, so
// applying them is a navigation: back and forward step through them and a
// filtered view can be shared. "Load more" follows next_cursor. Above the
// table, GET /v1/audit/verify says whether the account's hash chain holds,
// or where it breaks. People and keys in the trail are named by their
// e-mail address or key name where the account's members and keys tell.
import * as api from './api.js';
import { busy, dataTable, errorText, field, formMessage, h, isoToLocal, localToIso, notify,
         pageHeading, showFormError, time } from './ui.js';

const FILTERS = ['action', 'actor', 'target', 'since', 'until'];
const ACTIONS = ['account.create', 'account.update', 'member.add', 'member.update', 'member.remove',
  'api_key.create', 'api_key.revoke', 'session.create', 'session.account', 'session.delete'];

const COLUMNS = [
  { label: 'Time' },
  { label: 'Actor' },
  { label: 'Action' },
  { label: 'Target' },
  { label: 'Details', class: 'details' },
];

export async function render(ctx) {
  const query = {};
  for (const name of FILTERS) {
    const v = ctx.query.get(name);
    if (v) query[name] = v;
  }
  const limit = /^\d+$/.test(ctx.query.get('limit') || '') ? Number(ctx.query.get('limit')) : null;
  const filtered = Object.keys(query).length > 0;

  ctx.main.append(pageHeading('Audit log',
    `Every change made in ${ctx.me.account.name}, newest first. Each event is chained to the one before it by a hash.`));
  const badgeArea = h('div', { class: 'verify', 'aria-live': 'polite' },
    h('span', { class: 'badge badge-pending' }, 'Checking the chain…'));
  const form = filterForm(ctx, query, limit);
  const listArea = h('section', { class: 'section', 'aria-labelledby': 'audit-events-title' },
    h('h2', { id: 'audit-events-title', class: 'sr-only' }, 'Events'));
  ctx.main.append(badgeArea, form, listArea);

  const pages = api.pager('/v1/audit', { query, limit });
  const [first, verification, names] = await Promise.all([
    pages.next().catch((err) => err),
    api.get('/v1/audit/verify').catch((err) => err),
    actorNames(ctx.me),
  ]);
  if (!ctx.current()) return;

  badgeArea.replaceChildren(verifyBadge(verification));
  if (first instanceof Error) {
    if (first.status === 400 && Object.keys(first.fields).length) {
      showFormError(form, first);
      listArea.append(h('p', { class: 'empty' }, 'Correct the filters to see events.'));
      return;
    }
    throw first;
  }

  const events = first;
  const badSeq = verification && verification.first_bad ? verification.first_bad.seq : null;
  const summary = h('p', { class: 'list-summary', 'aria-live': 'polite' });
  const holder = h('div');
  const more = h('button', { type: 'button', class: 'button button-secondary' }, 'Load more');
  listArea.append(summary, holder, h('div', { class: 'list-footer' }, more));

  const draw = () => {
    holder.replaceChildren(dataTable({
      caption: 'Audit events, newest first',
      columns: COLUMNS,
      rows: events.map((e) => eventRow(e, names, badSeq)),
      empty: filtered ? 'No events match these filters.' : 'No events yet.',
    }));
    const n = events.length;
    summary.textContent = `${n} event${n === 1 ? '' : 's'}${pages.done ? '' : ' so far'}` +
      `${filtered ? ' matching the filters' : ''}.`;
    more.hidden = pages.done;
  };
  more.addEventListener('click', () => busy(more, async () => {
    try {
      events.push(...await pages.next());
      draw();
    } catch (err) {
      notify(`Could not load more events. ${errorText(err)}`, 'error');
    }
  }, 'Loading…'));
  draw();
}

/* user:<id> and api_key:<id> as people and key names, as far as we can tell. */
async function actorNames(me) {
  const names = new Map([[`user:${me.user.id}`, me.user.email]]);
  for (const a of me.accounts) names.set(`account:${a.id}`, `account ${a.name}`);
  const members = `/v1/accounts/${encodeURIComponent(me.account.id)}/members`;
  await Promise.all([
    api.getAll(members, { max: 2000 })
      .then((ms) => ms.forEach((m) => names.set(`user:${m.user_id}`, m.email)))
      .catch(() => {}),
    api.getAll('/v1/api-keys', { max: 2000 })
      .then((ks) => ks.forEach((k) => names.set(`api_key:${k.id}`, `key ${k.name} (${k.prefix})`)))
      .catch(() => {}),
  ]);
  return names;
}

function verifyBadge(v) {
  if (v instanceof Error) {
    return h('p', { class: 'verify-line' },
      h('span', { class: 'badge badge-pending' }, 'Chain not checked'), ' ', errorText(v));
  }
  if (v.valid) {
    return h('p', { class: 'verify-line' },
      h('span', { class: 'badge badge-ok', dataset: { chain: 'valid' } }, 'Chain verified'),
      ' ', h('span', { class: 'muted' },
        `${v.rows} event${v.rows === 1 ? '' : 's'}, every hash recomputed`,
        v.head ? [', head ', h('code', { title: v.head }, `${v.head.slice(0, 12)}…`)] : null, '.'));
  }
  const bad = v.first_bad || {};
  const where = bad.seq !== undefined && bad.seq !== null ? `event #${bad.seq}` : 'its end';
  return h('p', { class: 'verify-line' },
    h('span', { class: 'badge badge-broken', dataset: { chain: 'broken' } }, `Chain broken at ${where}`),
    ' ', h('span', {}, bad.reason ? `${bad.reason[0].toUpperCase()}${bad.reason.slice(1)}.` : ''));
}

function filterLink(name, value, text, title = null) {
  const params = new URLSearchParams({ [name]: value });
  return h('a', { href: `/audit?${params}`, class: 'filter-link', title: title || `Only events with ${name} ${value}` },
    text);
}

function eventRow(e, names, badSeq) {
  const actorName = names.get(e.actor);
  const targetName = names.get(e.target);
  const details = Object.entries(e.details || {});
  const cells = [
    time(e.at, { seconds: true }),
    filterLink('actor', e.actor, actorName || e.actor, e.actor),
    filterLink('action', e.action, h('code', {}, e.action)),
    filterLink('target', e.target, targetName || e.target, e.target),
    details.length
      ? h('dl', { class: 'kv' }, details.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v === null ? 'null' : String(v))]))
      : h('span', { class: 'muted' }, '—'),
  ];
  const broken = badSeq !== null && badSeq !== undefined && e.seq === badSeq;
  cells.attrs = {
    class: broken ? 'row-broken' : null,
    title: broken ? 'The chain breaks at this event' : null,
    dataset: { seq: e.seq, action: e.action, actor: e.actor, target: e.target },
  };
  return cells;
}

function filterForm(ctx, query, limit) {
  const text = (label, name, hint = null) => field({
    label, name, hint, value: query[name] || '', autocomplete: 'off', markOptional: false,
    attrs: { spellcheck: 'false', list: name === 'action' ? 'audit-actions' : null },
  });
  const when = (label, name) => field({
    label, name, kind: 'datetime-local', value: isoToLocal(query[name]), markOptional: false,
    hint: 'In your time zone.',
  });
  const action = text('Action', 'action', 'e.g. api_key.create');
  const actor = text('Actor', 'actor', 'user:<id> or api_key:<id>');
  const target = text('Target', 'target', 'e.g. api_key:<id>');
  const since = when('Since', 'since');
  const until = when('Until', 'until');
  const datalist = h('datalist', { id: 'audit-actions' }, ACTIONS.map((a) => h('option', { value: a })));
  const message = formMessage();
  const apply = h('button', { type: 'submit', class: 'button button-primary' }, 'Apply filters');
  const clear = h('a', { href: '/audit', class: 'button button-secondary' }, 'Clear filters');
  const form = h('form', { class: 'form filters', role: 'search', 'aria-label': 'Filter the audit log', novalidate: true },
    message,
    h('div', { class: 'filter-grid' }, action.wrap, actor.wrap, target.wrap, since.wrap, until.wrap),
    datalist,
    h('div', { class: 'form-actions' }, apply, clear));

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const [name, f] of Object.entries({ action, actor, target })) {
      const v = f.input.value.trim();
      if (v) params.set(name, v);
    }
    const times = { since, until };
    const bad = {};
    for (const [name, f] of Object.entries(times)) {
      if (!f.input.value) continue;
      const iso = localToIso(f.input.value);
      if (!iso) bad[name] = 'enter a date and time';
      else params.set(name, iso);
    }
    if (Object.keys(bad).length) {
      showFormError(form, { fields: bad });
      return;
    }
    if (limit) params.set('limit', String(limit));
    const qs = params.toString();
    ctx.navigate(`/audit${qs ? `?${qs}` : ''}`);
  });
  return form;
}
