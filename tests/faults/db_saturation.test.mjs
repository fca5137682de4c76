// The database slower than the clients: a table locked behind the service's back, so that every
// request that reads it blocks inside PostgreSQL. What was borrowed answers 503 database_timeout
// at TIANXING_DB_STATEMENT_TIMEOUT_MS, what waited for a connection answers 503 service_busy at
// TIANXING_DB_POOL_TIMEOUT_MS, both as problem documents with Retry-After; no thread and no
// connection stays stuck afterwards. And the slow-request item (docs/architecture.md "Faults"):
// a libpq call blocks the libmicrohttpd thread that runs it, so when every HTTP thread is inside
// the database, even /healthz waits; with more HTTP threads than connections it does not.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  assertProblem, freshDatabase, holdTransaction, lit, metrics, pg, request, waitFor,
} from '../api/lib/harness.mjs';
import { EMP, loadFixtures, newSigningKey, ownToken, startIdentityService } from '../api/lib/identity.mjs';

const DB = 'tx_faults_db_saturation';
const STATEMENT_MS = 1500;
const POOL_WAIT_MS = 300;
let key;
let admin;
const services = [];

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  const s = await startIdentityService(DB, key);
  loadFixtures(DB);
  await s.stop();
  admin = ownToken(key, EMP.admin, { ttl: 3600 });
});
after(async () => {
  await Promise.all(services.map((s) => s.stop()));
});

async function start(threads, pool) {
  const s = await startIdentityService(DB, key, {
    TIANXING_THREADS: threads, TIANXING_DB_POOL_SIZE: pool, TIANXING_DB_POOL_TIMEOUT_MS: POOL_WAIT_MS,
    TIANXING_DB_STATEMENT_TIMEOUT_MS: STATEMENT_MS, TIANXING_ACCESS_LOG: 'false',
  });
  services.push(s);
  return s;
}

const LOCKED = `EXISTS (SELECT FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'org' AND c.relname = 'departments' AND l.mode = 'AccessExclusiveLock' AND l.granted)`;
const lockDepartments = () => holdTransaction(DB, 'LOCK TABLE org.departments IN ACCESS EXCLUSIVE MODE;', LOCKED);
const departments = (s, rid) => request(s, {
  path: '/v1/departments', headers: { Authorization: `Bearer ${admin}`, 'X-Request-Id': rid }, timeout: 20000,
});
const waitingOnLock = () => Number(pg(`SELECT count(*) FROM pg_stat_activity WHERE datname = ${lit(DB)}
  AND application_name = 'tianxingd' AND wait_event_type = 'Lock'`, { db: DB }));
/** Sessions of the service still working or holding a transaction open. */
const busySessions = () => Number(pg(`SELECT count(*) FROM pg_stat_activity WHERE datname = ${lit(DB)}
  AND application_name = 'tianxingd' AND state <> 'idle'`, { db: DB }));

test('pool exhausted and statements timing out: 503 problems with Retry-After, nothing stuck', async (t) => {
  const s = await start(8, 2);
  const lock = await lockDepartments();
  let answers;
  const t0 = Date.now();
  try {
    answers = await Promise.all(Array.from({ length: 8 }, (_, i) => departments(s, `sat-${i}`)));
  } finally {
    await lock.release();
  }
  const took = Date.now() - t0;
  const byCode = {};
  for (const r of answers) {
    const p = assertProblem(r, 503, r.json && r.json.code);
    assert.match(r.headers['retry-after'] || '', /^[1-9]\d*$/, `Retry-After on ${p.code}`);
    byCode[p.code] = (byCode[p.code] || []).concat(r.ms);
  }
  t.diagnostic(`8 requests on a locked table, pool 2: ${JSON.stringify(byCode)} ms; all answered in ${took} ms`);
  // Every request ended in a bounded time: the two that had a connection at the statement timeout,
  // the others at the pool timeout. A request accepted by a thread that is busy in libpq waits for
  // it (the slow-request item), so how the burst is spread over the threads matters:
  assert.equal((byCode.database_timeout || []).length + (byCode.service_busy || []).length, 8, JSON.stringify(byCode));
  assert.ok((byCode.database_timeout || []).length >= 2, JSON.stringify(byCode));
  for (const ms of byCode.database_timeout) assert.ok(ms >= STATEMENT_MS - 100, `database_timeout after ${ms} ms`);
  for (const ms of byCode.service_busy || []) assert.ok(ms >= POOL_WAIT_MS - 50, `service_busy after ${ms} ms`);
  // With MHD_USE_EPOLL a thread accepted up to ten connections of the burst at once and served
  // them in turn: measured 8 x database_timeout at 1.6, 3.1, 4.6 and 6.1 s, no pool timeout at all.
  // With poll a thread accepts one connection per turn, so the burst spreads over the threads; a
  // thread may still take a second one (seen: one at 3.1 s) or, on a loaded machine, a third
  // before its first blocks: at most three statement timeouts.
  assert.ok(took < 3 * STATEMENT_MS + 500, `the burst was answered within three statement timeouts (${took} ms)`);

  // Nothing stuck: no session working or in a transaction, nothing borrowed or waiting, and as
  // many requests as there are threads, twice over, are all served.
  await waitFor(() => busySessions() === 0, { what: 'the service\'s sessions idle' });
  const m = await metrics(s);
  assert.equal(m.get('tianxing_db_pool_in_use'), 0);
  assert.equal(m.get('tianxing_db_pool_waiting'), 0);
  assert.equal(m.get('tianxing_db_pool_timeouts_total'), (byCode.service_busy || []).length, 'each service_busy is a pool timeout');
  const after = await Promise.all(Array.from({ length: 16 }, (_, i) => departments(s, `after-${i}`)));
  for (const r of after) assert.equal(r.status, 200, r.text);
});

test('slow requests hold their HTTP thread: /healthz waits when every thread is in the database', async (t) => {
  // /healthz (no database) sent while `pool` requests wait on the lock inside PostgreSQL, each
  // sent and blocked before the next, so that each is on a thread of its own.
  const measure = async (threads, pool) => {
    const s = await start(threads, pool);
    const lock = await lockDepartments();
    let healthMs;
    const slow = [];
    try {
      for (let i = 0; i < pool; i++) {
        slow.push(departments(s, `slow-${threads}-${i}`));
        await waitFor(() => waitingOnLock() === i + 1, { what: `${i + 1} requests blocked on the lock` });
      }
      const r = await request(s, { path: '/healthz', timeout: 20000 });
      assert.equal(r.status, 200, r.text);
      healthMs = r.ms;
    } finally {
      await lock.release();
    }
    // Released in time or not, depending on how long /healthz took: either answer is right.
    for (const r of await Promise.all(slow)) if (r.status !== 200) assertProblem(r, 503, 'database_timeout');
    await s.stop();
    return healthMs;
  };
  const starved = await measure(1, 1);
  const spare = await measure(3, 2);
  t.diagnostic(`/healthz while every connection waits in the database: ${starved} ms with 1 HTTP thread and 1 connection, ${spare} ms with 3 threads and 2 connections`);
  // Every thread in libpq: /healthz waits for the statement timeout to free one, but no longer.
  assert.ok(starved >= STATEMENT_MS / 2, `/healthz with every thread busy: ${starved} ms`);
  assert.ok(starved < STATEMENT_MS + 2000, `/healthz waited at most a statement timeout: ${starved} ms`);
  // A thread to spare (TIANXING_THREADS > TIANXING_DB_POOL_SIZE): /healthz is not held up.
  assert.ok(spare < 500, `/healthz with a spare thread: ${spare} ms`);
});
