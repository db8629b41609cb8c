// tests/bench/graphile.mjs - the same workload as tests/bench/queue on
// graphile-worker, for the ratios:
//
//   node tests/bench/graphile.mjs CONNINFO_URL drain N CONCURRENCY [batched]
//   node tests/bench/graphile.mjs CONNINFO_URL latency N
//
// drain: N no-op jobs added in one statement, then a runner started; prints
// "jobs_per_s <rate>".  latency: N single jobs added one at a time on an idle
// runner; prints "p50_ms <x> p99_ms <y>" of enqueue-to-start.
import { Logger, run, makeWorkerUtils } from 'graphile-worker';
import pg from 'pg';

const [url, mode, nText, concText, batched] = process.argv.slice(2);
const n = Number(nText);
const pool = new pg.Pool({ connectionString: url, max: 4 });
const utils = await makeWorkerUtils({ pgPool: pool });
await utils.migrate();
const q = (sql, args) => pool.query(sql, args);
// errors only: the benchmark prints its own figures
const quiet = () => (level, message) => { if (level === 'error') console.error(message); };

async function runner(concurrency, taskList, batch) {
    const preset = batch ? { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0,
                                       failJobBatchDelay: 0 } } : undefined;
    return run({ pgPool: pool, concurrency: Number(concurrency), noHandleSignals: true,
                 pollInterval: 1000, taskList, preset,
                 logger: new Logger(quiet) });
}

if (mode === 'drain') {
    await q(`SELECT graphile_worker.add_jobs(array(
               SELECT json_populate_record(null::graphile_worker.job_spec,
                      json_build_object('identifier', 'noop', 'payload', '{}'::json))
                 FROM generate_series(1, $1)))`, [n]);
    await q('ANALYZE graphile_worker._private_jobs');
    let done = 0;
    const started = process.hrtime.bigint();
    const r = await runner(concText, { noop: async () => { done++; } }, batched === 'batched');
    while (done < n)
        await new Promise((res) => setTimeout(res, 5));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await r.stop();
    console.log(`jobs_per_s ${(n / seconds).toFixed(0)}`);
} else {
    const waits = [];
    let resolve;
    const r = await runner(1, {
        noop: async (payload) => { waits.push(performance.now() - payload.t); resolve(); },
    }, false);
    for (let i = 0; i < n; i++) {
        const seen = new Promise((res) => { resolve = res; });
        await utils.addJob('noop', { t: performance.now() });
        await seen;
    }
    await r.stop();
    waits.sort((a, b) => a - b);
    const at = (p) => waits[Math.min(waits.length - 1, Math.floor(p * waits.length))];
    console.log(`p50_ms ${at(0.5).toFixed(2)} p99_ms ${at(0.99).toFixed(2)}`);
}
await utils.release();
await pool.end();
