// workers.js - the cloister-worker processes serving the job queue
// (/workers).
//
// GET /v1/workers answers every worker that sent a heartbeat in the last
// day, the most recently started first, in one page: its name, host and
// process, the job kinds it runs, its slots and how many jobs it runs now,
// its state and whether it is alive (not stopped, and heard from in the last
// 90 seconds). Every role may look; "Refresh" reads the list again.
import * as api from './api.js';
import { busy, dataTable, errorText, h, notify, pageHeading, time } from './ui.js';

const COLUMNS = [
  { label: 'Worker' },
  { label: 'Status' },
  { label: 'Kinds' },
  { label: 'Slots' },
  { label: 'Running (this account)' },
  { label: 'Last heartbeat' },
  { label: 'Started' },
];

export async function render(ctx) {
  ctx.main.append(pageHeading('Workers',
    'The processes that run jobs. A job waits in the queue until a live worker that runs its kind has a free slot.'));
  const summary = h('p', { class: 'list-summary', 'aria-live': 'polite' });
  const holder = h('div');
  const refresh = h('button', { type: 'button', class: 'button button-secondary' }, 'Refresh');
  ctx.main.append(h('div', { class: 'page-actions' }, refresh),
    h('section', { class: 'section', 'aria-labelledby': 'workers-title' },
      h('h2', { id: 'workers-title', class: 'sr-only' }, 'Workers'), summary, holder));

  const draw = (workers) => {
    holder.replaceChildren(dataTable({
      caption: 'Workers, the most recently started first',
      columns: COLUMNS,
      rows: workers.map(workerRow),
      empty: 'No worker has sent a heartbeat in the last day. Jobs wait in the queue until one runs.',
    }));
    const alive = workers.filter((w) => w.alive).length;
    const slots = workers.filter((w) => w.alive).reduce((n, w) => n + w.slots, 0);
    const running = workers.reduce((n, w) => n + w.running, 0);
    summary.textContent = `${alive} of ${workers.length} worker${workers.length === 1 ? '' : 's'} alive, ` +
      `${running} of this account's job${running === 1 ? '' : 's'} running; ${slots} slot${slots === 1 ? '' : 's'} in all.`;
  };

  draw((await api.get('/v1/workers')).items);
  refresh.addEventListener('click', () => busy(refresh, async () => {
    try {
      const doc = await api.get('/v1/workers');
      if (ctx.current()) draw(doc.items);
    } catch (err) {
      notify(`Could not read the workers. ${errorText(err)}`, 'error');
    }
  }, 'Refreshing…'));
}

function workerRow(w) {
  const cells = [
    h('span', { class: 'worker-name' },
      h('span', { class: 'strong' }, w.name),
      h('span', { class: 'muted small' }, `${w.hostname}, process ${w.pid}`)),
    h('span', { class: 'key-status' },
      h('span', { class: `badge ${w.alive ? 'badge-alive' : 'badge-dead'}`, dataset: { alive: String(w.alive) } },
        w.alive ? 'Alive' : w.state === 'stopped' ? 'Stopped' : 'Not responding'),
      w.alive && w.state === 'draining' ? h('span', { class: 'muted small' }, 'draining: takes no new jobs') : null),
    h('span', { class: 'kinds' }, w.kinds.map((k) => h('code', { class: 'kind' }, k))),
    String(w.slots),
    String(w.running),
    time(w.heartbeat_at, { seconds: true }),
    time(w.started_at),
  ];
  cells.attrs = { dataset: { workerId: w.id, alive: String(w.alive) } };
  return cells;
}
