// jobs.js - the account's jobs (/jobs, /jobs/<id>), and followJob(), the
// live view of one job that the pages starting jobs (apps, builds,
// registries) use.
//
// GET /v1/jobs lists the jobs newest first; the filters (state, kind,
// target) live in the URL's query, as the audit log's do. A job's page
// follows it live: every 500 ms it reads GET /v1/jobs/{id} (state,
// progress, phase, attempts, result or error) and the events that came
// after the last one it has (GET /v1/jobs/{id}/events, oldest first, from
// the sequence cursor), until the job has ended. Operators and admins may
// cancel a queued or running job (POST /v1/jobs/{id}/cancel); a running one
// stops when its worker notices, and the page shows that happen. A job's
// result is shown as facts where the portal knows its kind (an image's
// inspection, a registry check, a conversion's build), as JSON otherwise.
import * as api from './api.js';
import { busy, capitalise, clearFormErrors, codeList, confirmDialog, dataTable, errorPanel,
         errorText, facts, field, formatBytes, formMessage, h, jsonBlock, newId, notify,
         pageHeading, showFormError, time } from './ui.js';

export const STATES = ['queued', 'running', 'succeeded', 'failed', 'canceled'];
export const ENDED = new Set(['succeeded', 'failed', 'canceled']);
const KINDS = ['convert', 'deploy', 'undeploy', 'cluster.check', 'image.inspect', 'registry.check',
  'noop'];
const FILTERS = ['state', 'kind', 'target'];
const POLL_MS = 500;

/* ---- small pieces shared with other pages -------------------------------- */

export function stateLabel(job) {
  if (job.state === 'running' && job.cancel_requested) return 'Canceling';
  if (job.state === 'queued' && job.attempts > 0) return 'Retrying';
  return capitalise(job.state);
}

export function stateBadge(job) {
  return h('span', { class: `badge badge-job badge-job-${job.state}`, dataset: { state: job.state } },
    stateLabel(job));
}

/* What a job is about, linked to its page where the portal has one. */
export function targetLink(target) {
  if (!target) return h('span', { class: 'muted' }, '—');
  const cut = target.indexOf(':');
  const type = cut > 0 ? target.slice(0, cut) : '';
  const id = cut > 0 ? target.slice(cut + 1) : target;
  const pages = { app: '/apps', build: '/builds', registry: '/registries', cluster: '/clusters',
    deployment: '/deployments' };
  if (pages[type] && /^[0-9a-f-]{36}$/.test(id)) {
    return h('a', { href: `${pages[type]}/${id}`, title: target }, `${type} ${id.slice(0, 8)}`);
  }
  return h('code', { class: 'target' }, target);
}

/* The result of an image.inspect job as facts. */
export function inspectionFacts(r) {
  const platform = r.platform
    ? [r.platform.os, r.platform.architecture].filter(Boolean).join('/') || null : null;
  return facts([
    ['Reference', h('code', {}, r.reference)],
    ['Digest', h('code', { class: 'digest' }, r.digest)],
    ['Platform', platform],
    ['Size', r.size !== undefined ? `${formatBytes(r.size)} (${r.layers} layer${r.layers === 1 ? '' : 's'})` : null],
    ['Entrypoint', r.entrypoint ? codeList(r.entrypoint) : null],
    ['Command', r.cmd ? codeList(r.cmd) : null],
    ['Environment', r.env ? codeList(r.env) : null],
    ['Working directory', r.working_dir ? h('code', {}, r.working_dir) : null],
    ['Exposed ports', codeList(r.exposed_ports, { empty: 'None' })],
    ['Media type', r.media_type ? h('code', {}, r.media_type) : null],
  ], { cls: 'inspection' });
}

/* What a convert job made: the build, its measurements and the image. A
 * build whose key is kept offline has no output digest yet: nothing is
 * pushed until it is signed. */
const CONVERTED_STATES = { pending: 'Pending approval', awaiting_signature: 'Awaiting signature' };

export function conversionFacts(r) {
  const output = r.output_digest
    ? h('code', { class: 'reference' }, `${r.output_image}@${r.output_digest}`)
    : h('span', {}, h('code', { class: 'reference' }, r.output_image),
      h('span', { class: 'muted' }, ' (not pushed yet: it is pushed once the build is signed)'));
  return facts([
    ['Build', h('span', { class: 'reference-line' },
      h('a', { href: `/builds/${r.build_id}` }, 'View build'),
      h('code', { title: r.build_id }, r.build_id.slice(0, 8)))],
    ['State', h('span', { class: 'badge badge-build badge-waiting', dataset: { state: r.state } },
      CONVERTED_STATES[r.state] || capitalise(r.state))],
    ['MRENCLAVE', h('code', { class: 'hash' }, r.mrenclave)],
    ['MRSIGNER', h('code', { class: 'hash' }, r.mrsigner)],
    ['Input digest', r.input_digest ? h('code', { class: 'digest' }, r.input_digest) : null],
    ['Output image', output],
    ['Trusted files', Number(r.trusted_files).toLocaleString('en')],
  ], { cls: 'conversion' });
}

function resultView(job) {
  if (job.result === null || job.result === undefined) return null;
  if (job.kind === 'image.inspect' && job.result.digest) return inspectionFacts(job.result);
  if (job.kind === 'convert' && job.result.build_id) return conversionFacts(job.result);
  if (job.kind === 'registry.check' && job.result.auth) {
    return facts([
      ['Authentication', job.result.auth],
      ['API version', job.result.api_version ? h('code', {}, job.result.api_version) : null],
    ]);
  }
  return jsonBlock(job.result, 'Result');
}

/* ---- following a job live ---------------------------------------------- */

const EVENT_TYPES = { progress: 'Progress', phase: 'Phase', log: 'Log', state: 'State' };

/**
 * A live view of one job: state badge, progress bar, phase, the job's error
 * and, with `events`, its events as they come. It polls every `interval` ms
 * until the job ends, `stop()` is called, or `alive()` (the page's
 * ctx.current) says the page is gone. Answers {element, done, stop}: `done`
 * resolves to the ended job (or rejects when the job can no longer be read).
 * `job` may be the job the server answered when it queued it (202).
 */
export function followJob(job, { alive = () => true, interval = POLL_MS, events = true,
                                 title = null, titleTag = 'h3', link = true, onUpdate = null } = {}) {
  const jobId = typeof job === 'string' ? job : job.id;
  const titleId = newId('job-title');
  let badge = h('span', { class: 'badge badge-job badge-job-queued' }, 'Queued');
  const bar = h('progress', { max: '100', value: '0', 'aria-labelledby': titleId, class: 'job-progress' });
  const pct = h('span', { class: 'progress-value', 'aria-hidden': 'true' }, '0 %');
  const phase = h('p', { class: 'job-phase', hidden: true });
  const status = h('p', { class: 'sr-only job-status', role: 'status' });
  const jobError = h('p', { class: 'job-error', hidden: true });
  const followError = h('p', { class: 'job-error follow-error', role: 'alert', hidden: true });
  const log = events ? h('ol', { class: 'event-log', 'aria-label': 'Events, oldest first', tabindex: '0' }) : null;
  const noEvents = events ? h('p', { class: 'muted small event-none' }, 'No events yet.') : null;
  const element = h('section', { class: 'job-follow', 'aria-labelledby': titleId, dataset: { jobId } },
    h('div', { class: 'job-follow-head' },
      h(titleTag, { id: titleId, class: 'job-follow-title' }, title || 'Job'),
      badge,
      link ? h('a', { href: `/jobs/${jobId}`, class: 'job-link' }, 'Job details') : null),
    h('div', { class: 'progress-row' }, bar, pct),
    phase, status, jobError, followError,
    events ? h('div', { class: 'event-log-wrap' }, noEvents, log) : null);

  let stopped = false;
  let timer = null;
  let cursor = null;
  let failures = 0;
  let lastState = null;
  let progressRow = null;
  const controller = new AbortController();
  let resolveDone;
  let rejectDone;
  const done = new Promise((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  done.catch(() => {}); // a caller that does not wait need not handle it

  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    controller.abort();
  };

  function addEvent(e) {
    noEvents.hidden = true;
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    if (e.type === 'progress' && progressRow) {
      // A run of progress events is one line: "Progress 10 % → 60 %".
      progressRow.to = e.progress;
      progressRow.text.textContent = `${progressRow.from} % → ${e.progress} %`;
      progressRow.li.dataset.seq = e.seq;
      progressRow.when.replaceChildren(time(e.at, { seconds: true }));
      return;
    }
    const text = h('span', { class: 'event-text' },
      e.type === 'progress' ? `${e.progress} %` : e.message || '');
    const when = h('span', { class: 'event-time' }, time(e.at, { seconds: true }));
    const li = h('li', { class: `event event-is-${e.type}`, dataset: { seq: e.seq, type: e.type } },
      when, h('span', { class: 'event-type' }, EVENT_TYPES[e.type] || e.type), text);
    progressRow = e.type === 'progress' ? { li, text, when, from: e.progress, to: e.progress } : null;
    log.append(li);
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  async function pullEvents() {
    const path = `/v1/jobs/${encodeURIComponent(jobId)}/events`;
    for (;;) {
      const page = await api.getPage(path, { cursor, limit: 500, signal: controller.signal });
      if (stopped) return;
      page.items.forEach(addEvent);
      if (page.nextCursor) {
        cursor = page.nextCursor;
        continue;
      }
      if (page.items.length) cursor = api.seqCursor(page.items[page.items.length - 1].seq);
      return;
    }
  }

  function show(j) {
    const fresh = stateBadge(j);
    badge.replaceWith(fresh);
    badge = fresh;
    element.dataset.state = j.state;
    bar.value = j.progress;
    pct.textContent = `${j.progress} %`;
    phase.textContent = j.phase ? `${capitalise(j.phase)}…` : '';
    phase.hidden = !j.phase || ENDED.has(j.state);
    if (j.error && (j.state === 'failed' || (j.state === 'queued' && j.attempts > 0))) {
      jobError.textContent = j.state === 'queued'
        ? `Attempt ${j.attempts} of ${j.max_attempts} failed: ${j.error}. It will be tried again.`
        : capitalise(j.error.endsWith('.') ? j.error : `${j.error}.`);
      jobError.hidden = false;
    } else {
      jobError.hidden = true;
    }
    if (j.state !== lastState) {
      lastState = j.state;
      status.textContent = {
        queued: 'The job is queued.',
        running: 'The job is running.',
        succeeded: 'The job succeeded.',
        failed: `The job failed${j.error ? `: ${j.error}` : ''}.`,
        canceled: 'The job was canceled.',
      }[j.state] || '';
    }
    if (onUpdate) onUpdate(j);
  }

  async function tick() {
    if (stopped) return;
    if (!alive()) {
      stop();
      return;
    }
    try {
      const j = await api.get(`/v1/jobs/${encodeURIComponent(jobId)}`, { signal: controller.signal });
      if (events) await pullEvents();
      if (stopped) return;
      failures = 0;
      followError.hidden = true;
      show(j);
      if (ENDED.has(j.state)) {
        stopped = true;
        resolveDone(j);
        return;
      }
    } catch (err) {
      if (stopped || (err && err.name === 'AbortError')) return;
      failures += 1;
      followError.textContent = `Could not follow the job. ${errorText(err)}`;
      followError.hidden = false;
      if (failures >= 5 || [401, 403, 404].includes(err.status)) {
        stopped = true;
        rejectDone(err);
        return;
      }
    }
    timer = setTimeout(tick, interval);
  }

  if (typeof job === 'object') show(job);
  timer = setTimeout(tick, 0);
  return { element, done, stop };
}

/* ---- the pages ----------------------------------------------------------- */

export async function render(ctx) {
  if (ctx.sub.length === 1) return renderJob(ctx, ctx.sub[0]);
  if (ctx.sub.length > 1) {
    ctx.main.append(pageHeading('Page not found'),
      h('p', {}, 'There is no page at this address. ', h('a', { href: '/jobs' }, 'See the jobs'), '.'));
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
  const filtered = Object.keys(query).length > 0;
  ctx.main.append(pageHeading('Jobs',
    `The slow work done for ${ctx.me.account.name} by the workers, newest first: conversions, ` +
    'registry checks, image inspections and more.'));
  const form = filterForm(ctx, query);
  const listArea = h('section', { class: 'section', 'aria-labelledby': 'jobs-list-title' },
    h('h2', { id: 'jobs-list-title', class: 'sr-only' }, 'Jobs'));
  ctx.main.append(form, listArea);

  const pages = api.pager('/v1/jobs', { query });
  let first;
  let names;
  try {
    [first, names] = await Promise.all([
      pages.next(),
      api.actorNames(ctx.me, { keys: ctx.can('api_keys.read') }),
    ]);
  } catch (err) {
    if (err.status === 400 && Object.keys(err.fields).length) {
      showFormError(form, err);
      listArea.append(h('p', { class: 'empty' }, 'Correct the filters to see jobs.'));
      return null;
    }
    throw err;
  }
  if (!ctx.current()) return null;

  const jobs = first;
  const summary = h('p', { class: 'list-summary', 'aria-live': 'polite' });
  const holder = h('div');
  const more = h('button', { type: 'button', class: 'button button-secondary' }, 'Load more');
  listArea.append(summary, holder, h('div', { class: 'list-footer' }, more));
  const columns = [
    { label: 'Job' }, { label: 'Target' }, { label: 'State' }, { label: 'Progress' },
    { label: 'Created' }, { label: 'By' },
  ];
  const draw = () => {
    holder.replaceChildren(dataTable({
      caption: 'Jobs, newest first',
      columns,
      rows: jobs.map((j) => jobRow(j, names)),
      empty: filtered ? 'No jobs match these filters.' : 'No jobs yet.',
    }));
    const n = jobs.length;
    summary.textContent = `${n} job${n === 1 ? '' : 's'}${pages.done ? '' : ' so far'}` +
      `${filtered ? ' matching the filters' : ''}.`;
    more.hidden = pages.done;
  };
  more.addEventListener('click', () => busy(more, async () => {
    try {
      jobs.push(...await pages.next());
      draw();
    } catch (err) {
      notify(`Could not load more jobs. ${errorText(err)}`, 'error');
    }
  }, 'Loading…'));
  draw();
  return null;
}

function jobRow(job, names) {
  const cells = [
    h('a', { href: `/jobs/${job.id}`, class: 'strong', 'aria-label': `Job ${job.kind} ${job.id.slice(0, 8)}` },
      h('code', {}, job.kind), ' ', h('span', { class: 'muted small' }, job.id.slice(0, 8))),
    targetLink(job.target),
    stateBadge(job),
    h('span', { class: 'progress-cell' },
      h('progress', { max: '100', value: String(job.progress), 'aria-label': `Progress of job ${job.id.slice(0, 8)}` }),
      h('span', { class: 'progress-value' }, `${job.progress} %`)),
    time(job.created_at, { seconds: true }),
    names.get(job.created_by) || job.created_by,
  ];
  cells.attrs = { dataset: { jobId: job.id, state: job.state, kind: job.kind } };
  return cells;
}

function filterForm(ctx, query) {
  const state = field({
    label: 'State', name: 'state', kind: 'select', value: query.state || '', markOptional: false,
    options: [{ value: '', label: 'Any state' }, ...STATES.map((s) => ({ value: s, label: capitalise(s) }))],
  });
  const kind = field({ label: 'Kind', name: 'kind', value: query.kind || '', markOptional: false,
                       autocomplete: 'off', hint: 'e.g. image.inspect',
                       attrs: { list: 'job-kinds', spellcheck: 'false' } });
  const target = field({ label: 'Target', name: 'target', value: query.target || '', markOptional: false,
                         autocomplete: 'off', hint: 'e.g. registry:<id>', attrs: { spellcheck: 'false' } });
  const datalist = h('datalist', { id: 'job-kinds' }, KINDS.map((k) => h('option', { value: k })));
  const apply = h('button', { type: 'submit', class: 'button button-primary' }, 'Apply filters');
  const clear = h('a', { href: '/jobs', class: 'button button-secondary' }, 'Clear filters');
  const form = h('form', { class: 'form filters', role: 'search', 'aria-label': 'Filter the jobs', novalidate: true },
    formMessage(),
    h('div', { class: 'filter-grid' }, state.wrap, kind.wrap, target.wrap),
    datalist,
    h('div', { class: 'form-actions' }, apply, clear));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const params = new URLSearchParams();
    for (const [name, f] of Object.entries({ state, kind, target })) {
      const v = f.input.value.trim();
      if (v) params.set(name, v);
    }
    const qs = params.toString();
    ctx.navigate(`/jobs${qs ? `?${qs}` : ''}`);
  });
  return form;
}

async function renderJob(ctx, id) {
  const path = `/v1/jobs/${encodeURIComponent(id)}`;
  let job;
  try {
    job = await api.get(path);
  } catch (err) {
    if (err.status === 404) {
      ctx.main.append(pageHeading('Job not found'), errorPanel(err),
        h('p', {}, h('a', { href: '/jobs' }, 'See all jobs'), '.'));
      return null;
    }
    throw err;
  }
  const [names, workers] = await Promise.all([
    api.actorNames(ctx.me, { keys: ctx.can('api_keys.read') }),
    api.get('/v1/workers').then((w) => w.items).catch(() => []),
  ]);
  if (!ctx.current()) return null;
  ctx.setTitle(`${job.kind} ${job.id.slice(0, 8)}`);
  const workerNames = new Map(workers.map((w) => [w.id, w.name]));

  const cancel = h('button', { type: 'button', class: 'button button-danger-quiet', hidden: true }, 'Cancel job');
  ctx.main.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '/jobs' }, 'Jobs'), ' / ', h('code', {}, job.id.slice(0, 8))),
    pageHeading(`Job ${job.kind}`, job.target ? h('span', {}, 'About ', targetLink(job.target), '.') : null));
  const actions = h('div', { class: 'page-actions' }, cancel);
  if (ctx.can('jobs.cancel')) ctx.main.append(actions);

  const detailsArea = h('div');
  const resultArea = h('section', { class: 'section detail-section', 'aria-labelledby': 'job-result-title' });
  const attemptsArea = h('section', { class: 'section', 'aria-labelledby': 'job-attempts-title' });
  let lastDrawn = '';
  const draw = (j) => {
    job = j;
    cancel.hidden = !ctx.can('jobs.cancel') || ENDED.has(j.state) || j.cancel_requested;
    const key = JSON.stringify(j);
    if (key === lastDrawn) return;
    lastDrawn = key;
    detailsArea.replaceChildren(facts([
      ['Job', h('code', {}, j.id)],
      ['Kind', h('code', {}, j.kind)],
      ['Target', targetLink(j.target)],
      ['Created by', names.get(j.created_by) || j.created_by],
      ['Created', time(j.created_at, { seconds: true })],
      ['Started', time(j.started_at, { seconds: true })],
      ['Finished', time(j.finished_at, { seconds: true })],
      ['Attempts', `${j.attempts} of at most ${j.max_attempts}`],
      j.state === 'queued' && j.attempts > 0 ? ['Next attempt', time(j.run_after, { seconds: true })] : null,
      j.cancel_requested && !ENDED.has(j.state) ? ['Cancel', 'Requested; the worker is stopping it.'] : null,
      ['Parameters', jsonBlock(j.params, 'Parameters')],
    ]));
    const result = resultView(j);
    const failed = j.state === 'failed' || (j.state === 'queued' && j.error);
    let body;
    if (j.state === 'succeeded') body = result || h('p', { class: 'muted' }, 'The job produced no result.');
    else if (failed) body = h('div', { class: 'panel panel-error job-error-panel' }, h('p', {}, j.error));
    else if (j.state === 'canceled') body = h('p', { class: 'muted' }, 'The job was canceled before it produced a result.');
    else body = h('p', { class: 'muted' }, 'The result appears here when the job succeeds.');
    resultArea.replaceChildren(h('h2', { id: 'job-result-title' }, failed ? 'Error' : 'Result'), body);
    attemptsArea.replaceChildren(h('h2', { id: 'job-attempts-title' }, 'Attempts'),
      dataTable({
        caption: 'Attempts',
        columns: [{ label: 'Attempt' }, { label: 'Worker' }, { label: 'Outcome' }, { label: 'Error' },
                  { label: 'Started' }, { label: 'Finished' }],
        rows: (j.attempt_history || []).map((a) => {
          const cells = [
            String(a.attempt),
            a.worker_id ? h('span', { title: a.worker_id }, workerNames.get(a.worker_id) || a.worker_id.slice(0, 8)) : '—',
            a.outcome ? h('span', { class: `badge badge-outcome badge-outcome-${a.outcome}` }, a.outcome.replace('_', ' '))
                      : h('span', { class: 'badge badge-job badge-job-running' }, 'running'),
            a.error || h('span', { class: 'muted' }, '—'),
            time(a.started_at, { seconds: true }),
            time(a.finished_at, { seconds: true }),
          ];
          cells.attrs = { dataset: { attempt: a.attempt, outcome: a.outcome || 'running' } };
          return cells;
        }),
        empty: 'No attempt has started yet.',
      }));
  };

  const follower = followJob(job, { alive: ctx.current, events: true, title: 'Progress', link: false,
                                    onUpdate: (j) => { if (j.attempt_history) draw(j); } });
  draw(job);
  ctx.main.append(
    h('section', { class: 'section card', 'aria-label': 'Progress' }, follower.element),
    h('section', { class: 'section detail-section', 'aria-labelledby': 'job-details-title' },
      h('h2', { id: 'job-details-title' }, 'Details'), detailsArea),
    resultArea, attemptsArea);

  cancel.addEventListener('click', async () => {
    const ok = await confirmDialog({
      title: 'Cancel this job?',
      message: job.state === 'queued'
        ? 'It has not started: it is canceled at once.'
        : 'Its worker stops it within moments. Work it has done so far is not undone.',
      confirmLabel: 'Cancel job',
      cancelLabel: 'Keep it',
    });
    if (!ok) return;
    await busy(cancel, async () => {
      try {
        const j = await api.post(`${path}/cancel`);
        notify(j.state === 'canceled' ? 'The job was canceled.'
          : 'Cancel requested: the worker is stopping the job.');
        draw(j);
      } catch (err) {
        notify(`Could not cancel the job. ${errorText(err)}`, 'error');
      }
    }, 'Canceling…');
    cancel.hidden = !ctx.can('jobs.cancel') || ENDED.has(job.state) || job.cancel_requested;
  });

  return () => follower.stop();
}
