// Jobs (issue 9, item 5; docs/architecture.md "Jobs"): GET /v1/jobs for administrators only;
// TIANXING_JOBS=off runs nothing; two `tianxingd serve` on one database run each of many due jobs
// exactly once (proved by the run records: one claim per job) and a periodic schedule without a
// doubled occurrence; a claim skips a job another session has locked; SIGTERM cancels a job
// stuck past the grace period and hands its claim back; `tianxingd jobs` lists and retries.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  assertProblem, commonHeadersTest, freshDatabase, holdTransaction, lit, metrics, pg, runBin, sleep,
  waitFor,
} from './lib/harness.mjs';
import {
  BY_ROLE, EMP, ROLES, assertFieldError, assertUnauthorized, call, client, loadFixtures, newSigningKey,
  ok, ownToken, startIdentityService,
} from './lib/identity.mjs';

const DB = 'tx_api_jobs';
const POLL = 100; // ms: instances look for due work this often
let key;
let off; // an instance with TIANXING_JOBS=off, also the one the HTTP tests talk to
const as = {};

const q = (sql) => pg(sql, { db: DB });
const owner = (sql) => pg(sql, { db: DB, user: 'tianxing_owner' });
const count = (where) => Number(q(`SELECT count(*) FROM jobs.jobs j WHERE ${where}`));
/** Enqueues n jobs of `kind` due now, tagged with `tag` in their payload; returns nothing. */
const enqueue = (n, tag, kind = 'idempotency.purge', extra = '') => owner(
  `SELECT jobs.enqueue(${lit(kind)}, now(), jsonb_build_object('tag', ${lit(tag)}${extra}))
     FROM generate_series(1, ${n})`);
const tagged = (tag) => `j.payload ->> 'tag' = ${lit(tag)}`;

// The harness starts services without jobs (startService): these ask for them.
function startJobs(extra = {}) {
  return startIdentityService(DB, key, {
    TIANXING_JOBS: 'on', TIANXING_JOB_POLL_MS: POLL, TIANXING_ACCESS_LOG: 'false', ...extra,
  });
}

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  off = await startIdentityService(DB, key, { TIANXING_JOBS: 'off' });
  loadFixtures(DB);
  for (const r of ROLES) as[r] = client(off, ownToken(key, BY_ROLE[r]));
});

after(async () => {
  if (off) await off.stop();
});

describe('GET /v1/jobs and /v1/jobs/{id}', () => {
  let jobId;
  before(() => {
    jobId = owner(`SELECT jobs.enqueue('jobs.purge', now() + interval '1 day', '{"keep_days": 30}', 4)`);
  });

  test('401 without a token, 403 for every role but admin', async () => {
    assertUnauthorized(await call(off, 'GET', '/v1/jobs'), { invalid: false });
    assertUnauthorized(await call(off, 'GET', `/v1/jobs/${jobId}`), { invalid: false });
    for (const r of ROLES.filter((x) => x !== 'admin')) {
      assertProblem(await as[r].get('/v1/jobs'), 403, 'forbidden');
      assertProblem(await as[r].get(`/v1/jobs/${jobId}`), 403, 'forbidden');
    }
  });

  test('admin lists jobs with filters and keyset pages', async () => {
    const all = ok(await as.admin.get('/v1/jobs'));
    assert.deepEqual(Object.keys(all).sort(), ['items', 'next_cursor']);
    const mine = all.items.find((j) => j.id === jobId);
    assert.ok(mine, 'the enqueued job is listed');
    assert.equal(mine.kind, 'jobs.purge');
    assert.equal(mine.state, 'due');
    assert.equal(mine.attempts, 0);
    assert.equal(mine.max_attempts, 4);
    assert.deepEqual(mine.payload, { keep_days: 30 });
    // the three housekeeping schedules' jobs do not exist yet (hourly/daily, in the future), so
    // filters are checked against what the database holds
    const due = ok(await as.admin.get('/v1/jobs?state=due&kind=jobs.purge'));
    assert.deepEqual(due.items.map((j) => j.id), q(`SELECT string_agg(id::text, ',' ORDER BY seq DESC) FROM jobs.jobs
      WHERE state = 'due' AND kind = 'jobs.purge'`).split(','));
    assert.equal(ok(await as.admin.get('/v1/jobs?state=dead')).items.length, count("j.state = 'dead'"));
    // pages of one, newest first, until the end
    owner(`SELECT jobs.enqueue('jobs.purge', now() + interval '2 days') FROM generate_series(1, 2)`);
    const seen = [];
    let cursor = null;
    for (let i = 0; i < 20; i++) {
      const page = ok(await as.admin.get(`/v1/jobs?kind=jobs.purge&limit=1${cursor ? `&cursor=${cursor}` : ''}`));
      assert.ok(page.items.length <= 1);
      seen.push(...page.items.map((j) => j.id));
      if (!page.next_cursor) break;
      cursor = page.next_cursor;
    }
    assert.deepEqual(seen, q(`SELECT string_agg(id::text, ',' ORDER BY seq DESC) FROM jobs.jobs WHERE kind = 'jobs.purge'`).split(','));
  });

  test('bad parameters: 422 naming them', async () => {
    assertFieldError(await as.admin.get('/v1/jobs?state=lost'), 'state');
    assertFieldError(await as.admin.get('/v1/jobs?limit=0'), 'limit');
    assertFieldError(await as.admin.get('/v1/jobs?limit=201'), 'limit');
    assertFieldError(await as.admin.get('/v1/jobs?limit=x'), 'limit');
    assertFieldError(await as.admin.get('/v1/jobs?cursor=abc'), 'cursor');
  });

  test('one job with its runs; unknown or malformed ids are 404', async () => {
    const j = ok(await as.admin.get(`/v1/jobs/${jobId}`));
    assert.equal(j.id, jobId);
    assert.deepEqual(j.runs, []);
    assertProblem(await as.admin.get('/v1/jobs/00000000-0000-4000-8000-000000000000'), 404, 'not_found');
    assertProblem(await as.admin.get('/v1/jobs/not-a-uuid'), 404, 'not_found');
  });
});

describe('TIANXING_JOBS=off', () => {
  test('an instance with jobs off claims nothing, and says so on /metrics', async () => {
    enqueue(5, 'off');
    const m = await metrics(off);
    assert.equal(m.get('tianxing_jobs_workers'), 0);
    assert.equal(m.get('tianxing_jobs_done_total{kind="idempotency.purge"}'), undefined);
    // Ten poll intervals of an instance with jobs on: the jobs are still due and unclaimed.
    await sleep(POLL * 10);
    assert.equal(count(`${tagged('off')} AND j.state = 'due' AND j.attempts = 0`), 5);
    assert.equal(Number(q(`SELECT count(*) FROM jobs.runs r JOIN jobs.jobs j ON j.id = r.job_id WHERE ${tagged('off')}`)), 0);
  });
});

describe('two instances on one database', () => {
  let a;
  let b;
  before(async () => {
    [a, b] = await Promise.all([startJobs({ TIANXING_JOB_WORKERS: 3 }), startJobs({ TIANXING_JOB_WORKERS: 3 })]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  test('each worker has a connection of its own, as the runtime role', async () => {
    // Was checked by api_db while every test service ran jobs; the harness now turns them off.
    const workers = () => pg(`SELECT usename FROM pg_stat_activity
      WHERE datname = ${lit(DB)} AND application_name = 'tianxingd-jobs' ORDER BY 1`, { db: DB });
    await waitFor(() => workers().split('\n').filter(Boolean).length === 6, { what: 'six job workers connected' });
    assert.deepEqual([...new Set(workers().split('\n'))], ['tianxing_app']);
  });

  test('many jobs due at once: each runs exactly once', async () => {
    const N = 300;
    enqueue(N, 'burst');
    await waitFor(() => count(`${tagged('burst')} AND j.state = 'done'`) === N,
      { timeout: 90000, interval: 100, what: `${N} jobs done` });
    // The jobs left over from the off test ran too (this instance runs idempotency.purge).
    await waitFor(() => count(`${tagged('off')} AND j.state = 'done'`) === 5, { timeout: 10000, what: 'the jobs off left' });
    // One run per job: no job was claimed twice, none failed or was lost.
    const runs = q(`SELECT count(*) || ' ' || count(DISTINCT r.job_id) || ' ' || count(*) FILTER (WHERE r.outcome = 'done')
                      FROM jobs.runs r JOIN jobs.jobs j ON j.id = r.job_id WHERE ${tagged('burst')}`);
    assert.equal(runs, `${N} ${N} ${N}`);
    assert.equal(count(`${tagged('burst')} AND j.attempts <> 1`), 0);
    // Both instances took part (the worker name is host:pid:n).
    const pids = q(`SELECT string_agg(DISTINCT split_part(r.worker, ':', 2), ',') FROM jobs.runs r
                      JOIN jobs.jobs j ON j.id = r.job_id WHERE ${tagged('burst')}`).split(',').sort();
    assert.deepEqual(pids, [String(a.proc.pid), String(b.proc.pid)].sort());
    // And each counted what it ran.
    const [ma, mb] = await Promise.all([metrics(a), metrics(b)]);
    const done = (m) => m.get('tianxing_jobs_done_total{kind="idempotency.purge"}');
    assert.ok(done(ma) > 0 && done(mb) > 0);
    assert.equal(done(ma) + done(mb), Number(q(`SELECT count(*) FROM jobs.runs r JOIN jobs.jobs j ON j.id = r.job_id
      WHERE j.kind = 'idempotency.purge' AND r.outcome = 'done'`)));
    assert.equal(ma.get('tianxing_jobs_workers'), 3);
    for (const m of [ma, mb]) {
      assert.ok(m.has('tianxing_jobs_due'), 'queue depth gauge');
      assert.ok(m.has('tianxing_jobs_lag_seconds'), 'lag gauge');
    }
  });

  test('a periodic schedule makes one job per occurrence, never two', async () => {
    owner(`SELECT jobs.schedule_set('test.tick', 'jobs.purge', interval '1 second', NULL, 'UTC', '{"keep_days": 3650}')`);
    const where = `j.schedule_name = 'test.tick'`;
    await waitFor(() => count(`${where} AND j.state = 'done'`) >= 5, { timeout: 30000, interval: 100, what: 'five ticks' });
    owner(`SELECT jobs.schedule_set('test.tick', 'jobs.purge', interval '1 second', NULL, 'UTC', '{"keep_days": 3650}', NULL, false)`);
    await waitFor(() => count(`${where} AND j.state IN ('due', 'running')`) === 0, { timeout: 10000, what: 'the last tick' });
    const occ = q(`SELECT string_agg(extract(epoch FROM j.scheduled_for)::bigint::text, ',' ORDER BY j.scheduled_for)
                     FROM jobs.jobs j WHERE ${where}`).split(',').map(Number);
    assert.ok(occ.length >= 5);
    // Whole seconds from the anchor, strictly increasing: one job per occurrence.
    for (let i = 1; i < occ.length; i++) assert.ok(occ[i] > occ[i - 1], `occurrences ${occ}`);
    assert.equal(new Set(occ).size, occ.length);
    assert.equal(Number(q(`SELECT count(*) FROM jobs.runs r JOIN jobs.jobs j ON j.id = r.job_id WHERE ${where}`)),
      occ.length, 'one run per occurrence');
  });

  test('a dead job after its attempts, visible to GET /v1/jobs and tianxingd jobs; retry revives it', async () => {
    // A payload the kind refuses (batch must be a number): every attempt fails, and this job
    // allows one attempt.
    const id = owner(`SELECT jobs.enqueue('auth.refresh_tokens.purge', now(), '{"batch": "many"}', 1)`);
    await waitFor(() => q(`SELECT state FROM jobs.jobs WHERE id = ${lit(id)}`) === 'dead', { timeout: 15000, what: 'dead' });
    const j = ok(await as.admin.get(`/v1/jobs/${id}`));
    assert.equal(j.state, 'dead');
    assert.match(j.last_error, /^22P02 /, 'the database error is kept');
    assert.equal(j.runs.length, 1);
    assert.equal(j.runs[0].outcome, 'failed');
    const listed = await runBin(['jobs', '--json'], { db: DB });
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(JSON.parse(listed.stdout).some((x) => x.id === id && x.state === 'dead'));
    const text = await runBin(['jobs'], { db: DB });
    assert.match(text.stdout, new RegExp(`^${id} dead`, 'm'));
    const retried = await runBin(['jobs', 'retry', id], { db: DB });
    assert.equal(retried.code, 0, retried.stderr);
    // It runs again (and fails again: the payload is still bad), a second run on record.
    await waitFor(() => Number(q(`SELECT count(*) FROM jobs.runs WHERE job_id = ${lit(id)}`)) === 2, { timeout: 15000, what: 'the retry' });
    const again = await runBin(['jobs', 'retry', '00000000-0000-4000-8000-000000000000'], { db: DB });
    assert.equal(again.code, 1);
  });
});

describe('claims', () => {
  test('a claim skips a job another session has locked (SKIP LOCKED) instead of waiting', async () => {
    // A kind no instance runs: only the claims below touch these jobs.
    const first = owner(`SELECT jobs.enqueue('t.skip', now() - interval '1 minute')`);
    const second = owner(`SELECT jobs.enqueue('t.skip', now())`);
    const claim = () => q(`SELECT c.job_id FROM (SELECT set_config('tx.roles', 'system', true), 'probe' AS w) s
                            CROSS JOIN LATERAL jobs.claim(s.w, '{"t.skip": {}}') c`);
    const hold = await holdTransaction(DB, `SELECT id FROM jobs.jobs WHERE id = ${lit(first)} FOR UPDATE;`,
      `EXISTS (SELECT FROM pg_stat_activity WHERE state = 'idle in transaction' AND query LIKE '%FOR UPDATE%')`);
    try {
      assert.equal(claim(), second, 'the locked (older) job is skipped, the next one claimed');
      assert.equal(claim(), '', 'nothing else is claimable while the lock is held');
    } finally {
      await hold.release();
    }
    assert.equal(claim(), first, 'once the lock is gone, the older job is claimed');
  });

  test('SIGTERM: a job stuck past the grace period is cancelled and its claim released', async () => {
    const svc = await startJobs({ TIANXING_SHUTDOWN_GRACE: 1, TIANXING_JOB_WORKERS: 1 });
    // The purge needs the idempotency table: hold it locked so that the job hangs inside its run.
    const hold = await holdTransaction(DB, 'LOCK TABLE tx_meta.idempotency IN ACCESS EXCLUSIVE MODE;',
      `EXISTS (SELECT FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                WHERE c.relname = 'idempotency' AND l.mode = 'AccessExclusiveLock' AND l.granted)`);
    let id;
    try {
      id = owner(`SELECT jobs.enqueue('idempotency.purge', now(), '{"tag": "stuck"}')`);
      await waitFor(() => q(`SELECT state FROM jobs.jobs WHERE id = ${lit(id)}`) === 'running', { timeout: 10000, what: 'running' });
      // It is waiting for the lock inside its transaction.
      await waitFor(() => q(`SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tianxingd-jobs'
                               AND wait_event_type = 'Lock'`) === '1', { timeout: 10000, what: 'the job waiting' });
      const t0 = Date.now();
      assert.equal(await svc.stop('SIGTERM'), 0, svc.stderrText());
      assert.ok(Date.now() - t0 < 8000, 'shutdown is bounded by the grace period');
    } finally {
      await hold.release();
    }
    assert.equal(q(`SELECT state || ' ' || attempts FROM jobs.jobs WHERE id = ${lit(id)}`), 'due 0',
      'released: due again, the attempt not counted');
    assert.equal(q(`SELECT outcome FROM jobs.runs WHERE job_id = ${lit(id)}`), 'released');
    assert.match(svc.stderrText(), /released job/);
  });
});

commonHeadersTest();
