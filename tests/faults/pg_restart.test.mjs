// PostgreSQL restarted (pg_ctl stop -m fast, then start) under a load of creates that carry an
// Idempotency-Key and are retried, with the same key and body, until one is acknowledged: what
// was in flight when the server went, and everything sent while it was away, is answered 503 with
// Retry-After as a problem document (never a 500, never a dropped connection); the same process
// serves again once the server is back (no restart); and each key made exactly one customer, even
// where a create committed but its answer was lost with the connection (the retry replays it).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';

import {
  assertProblem, clusterCtl, ensureClusterRunning, freshDatabase, lit, metrics, pg, request, sleep, waitFor,
} from '../api/lib/harness.mjs';
import { asClient } from '../api/lib/cases.mjs';
import { customerKeys, startCustomerService } from '../api/lib/customers.mjs';
import { EMP, loadFixtures, newSigningKey } from '../api/lib/identity.mjs';

const DB = 'tx_faults_pg_restart';
const WORKERS = 6;
const TAG = 'pg-restart';
const UNAVAILABLE = new Set(['database_unavailable', 'service_busy', 'database_timeout']);
let key;
let svc;

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, customerKeys(), {
    env: { TIANXING_THREADS: 8, TIANXING_DB_POOL_SIZE: 4, TIANXING_DB_CONNECT_TIMEOUT: 2 },
  });
  loadFixtures(DB);
});
after(() => ensureClusterRunning());

test('a PostgreSQL restart under load: 503 with Retry-After, recovery without a restart, no duplicate', async (t) => {
  const c = asClient(svc, key, EMP.staffA1);
  const acked = new Map(); // Idempotency-Key -> customer id
  const seen = { ok: 0, replayed: 0, unavailable: 0, codes: new Set(), bad: [] };
  let phase = 'before'; // before -> down -> up -> done
  let aborted = false; // the test failed: the workers stop after the request they are waiting for
  const okAfterUp = new Array(WORKERS).fill(0);
  // What each worker is doing, for the message of a condition that never came.
  const doing = Array.from({ length: WORKERS }, () => ({ tries: 0, since: 0, last: '-' }));
  const started = Date.now();
  const where = () => `${Date.now() - started} ms in, phase ${phase}; 201: ${seen.ok}, 503: ${seen.unavailable}; `
    + `workers: ${doing.map((d, i) => `${i}: try ${d.tries}, last ${d.last}, `
    + `${d.since ? `waiting ${Date.now() - d.since} ms` : 'not waiting'}`).join('; ')}; bad: ${JSON.stringify(seen.bad)}`;
  // Waits for predicate, or for a worker's failure: either way a test that cannot pass ends here,
  // saying where everyone was, rather than hanging until ctest's timeout.
  async function until(predicate, timeout, what) {
    try {
      await waitFor(() => seen.bad.length || predicate(), { timeout, interval: 10, what });
    } catch (e) {
      throw new Error(`${e.message}: ${where()}`);
    }
    if (seen.bad.length) throw new Error(`a worker failed while waiting for ${what}: ${where()}`);
  }

  async function createUntilAcknowledged(i) {
    const idem = crypto.randomUUID();
    const n = `客戶${crypto.randomBytes(4).toString('hex')}`;
    const body = { name: n, company_name: `${n}有限公司`, business_scope: '貿易', tags: [TAG], source: '轉介' };
    // The same key and body until acknowledged, as a client following Retry-After would do.
    for (let tries = 0; !aborted; tries++) {
      doing[i].tries = tries;
      doing[i].since = Date.now();
      let res;
      try {
        res = await c.post('/v1/customers', body, { headers: { 'Idempotency-Key': idem }, timeout: 20000 });
      } catch (e) {
        throw new Error(`no answer: ${e.message}`);
      } finally {
        doing[i].since = 0;
      }
      doing[i].last = `${res.status}${res.json && res.json.code ? ` ${res.json.code}` : ''}`;
      if (res.status === 201) {
        if (acked.has(idem)) throw new Error(`key ${idem} acknowledged twice`);
        acked.set(idem, res.json.id);
        seen.ok++;
        if (res.headers['idempotent-replayed'] === 'true') seen.replayed++;
        if (phase === 'up') okAfterUp[i]++;
        return;
      }
      if (res.status !== 503) throw new Error(`${res.status} ${res.text}`);
      assertProblem(res, 503, res.json && res.json.code);
      assert.ok(UNAVAILABLE.has(res.json.code), res.text);
      assert.match(res.headers['retry-after'] || '', /^[1-9]\d*$/, 'Retry-After in seconds');
      seen.unavailable++;
      seen.codes.add(res.json.code);
      if (tries > 400) throw new Error(`key ${idem}: still 503 after ${tries} tries`);
      // Shorter than Retry-After asks, to keep the test short; the service must cope either way.
      await sleep(50);
    }
  }

  // A worker ends at the first answer the test does not accept, and says which in seen.bad.
  let finished = 0;
  async function worker(i) {
    try {
      while (phase !== 'done' && !aborted) await createUntilAcknowledged(i);
    } catch (e) {
      seen.bad.push(`worker ${i}: ${e.message}`);
    } finally {
      finished++;
    }
  }

  Array.from({ length: WORKERS }, (_, i) => worker(i));
  let completed = false;
  try {
    await until(() => seen.ok >= 40, 30000, '40 creates before the restart');
    // -m fast: the server ends every session at once (the requests in flight get 57P01 or a lost
    // connection) and refuses new ones until it is started again.
    clusterCtl('stop');
    phase = 'down';
    const before503 = seen.unavailable;
    await until(() => seen.unavailable >= before503 + 20, 20000, '503s while the database is down');
    clusterCtl('start');
    phase = 'up';
    await until(() => okAfterUp.every((n) => n >= 5), 30000, 'every worker served again');
    phase = 'done';
    // Each worker finishes the key it holds (the database is back: a few tries at most).
    await until(() => finished === WORKERS, 30000, 'the workers to finish their keys');
    completed = true;
  } finally {
    aborted = !completed;
  }

  t.diagnostic(`201: ${seen.ok} (replayed ${seen.replayed}), 503: ${seen.unavailable} (${[...seen.codes]})`);
  assert.deepEqual(seen.bad, [], 'every answer was a 201 or a 503 problem');
  assert.ok(seen.unavailable >= 20, `503s seen: ${seen.unavailable}`);
  assert.ok(seen.codes.has('database_unavailable'), `problem codes: ${[...seen.codes]}`);
  assert.equal(svc.proc.exitCode, null, 'the same process served throughout');

  // One customer per key: no duplicate from a retried create, none lost.
  const rows = pg(`SELECT id FROM cust.customers WHERE ${lit(TAG)} = ANY (tags)`, { db: DB }).split('\n').filter(Boolean);
  assert.equal(rows.length, acked.size, `customers ${rows.length}, acknowledged keys ${acked.size}`);
  assert.deepEqual(new Set(rows), new Set(acked.values()));

  // Recovered: ready, and nothing left borrowed or waiting.
  await waitFor(async () => (await request(svc, { path: '/readyz' })).status === 200, { timeout: 10000, what: 'ready again' });
  const m = await metrics(svc);
  assert.equal(m.get('tianxing_db_pool_in_use'), 0);
  assert.equal(m.get('tianxing_db_pool_waiting'), 0);
  assert.equal(await svc.stop(), 0, 'a clean stop after the outage');
});
