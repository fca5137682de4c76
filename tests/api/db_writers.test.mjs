// Writers at once (TIANXING_DB_WRITERS, db/pool.h): read-write transactions take one of the
// pool's writer turns, and wait for it without a connection; reads keep the rest of the pool,
// and so does a full customer read, whose only write is its PII read log row (C2.3). Here one
// writer turn, held by a create stuck at its commit behind the audit chain's lock (taken by the
// test): a second write is refused 503 service_busy after the pool's wait, leaving nothing
// behind, while a full read and a list still answer and the read is logged.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { customerKeys, startCustomerService } from './lib/customers.mjs';
import { assertProblem, freshDatabase, holdTransaction, lit, metrics, pg, waitFor } from './lib/harness.mjs';
import { EMP, call, loadFixtures, newSigningKey, ok, ownToken } from './lib/identity.mjs';

const DB = 'tx_api_db_writers';
const POOL_TIMEOUT_MS = 300;
// The audit chain's advisory lock (sql/code/audit/030_link.sql): every audited commit takes it.
const CHAIN_KEY = '7354010472261181442';
let svc;
let key;

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, customerKeys(), {
    env: {
      TIANXING_DB_POOL_SIZE: 3,
      TIANXING_DB_WRITERS: 1,
      TIANXING_DB_POOL_TIMEOUT_MS: POOL_TIMEOUT_MS,
      TIANXING_DB_STATEMENT_TIMEOUT_MS: 20000,
    },
  });
  loadFixtures(DB);
});
after(async () => { await svc?.stop(); });

const token = () => ownToken(key, EMP.staffA1);
const count = (sql) => Number(pg(sql, { db: DB }));
const waitingForChain = () => count(`SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
  WHERE a.datname = ${lit(DB)} AND a.application_name = 'tianxingd' AND l.locktype = 'advisory'
  AND NOT l.granted`);

test('one writer turn: a second write waits for it without a connection, reads keep the pool', async () => {
  const c = ok(await call(svc, 'POST', '/v1/customers', { token: token(), body: { name: '寫者客戶' } }), 201);
  const m0 = await metrics(svc);
  assert.equal(m0.get('tianxing_db_pool_writers'), 1);
  const customers = () => count('SELECT count(*) FROM cust.customers');
  const n0 = customers();

  const chain = await holdTransaction(DB, `SELECT pg_advisory_xact_lock(${CHAIN_KEY});`,
    `EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid())`);
  let first;
  try {
    first = call(svc, 'POST', '/v1/customers', { token: token(), body: { name: '排隊客戶甲' }, timeout: 30000 });
    await waitFor(() => waitingForChain() === 1, { what: 'the first create waiting for the chain at its commit' });
    const m1 = await metrics(svc);
    assert.equal(m1.get('tianxing_db_pool_writers_in_use'), 1);

    const second = await call(svc, 'POST', '/v1/customers', { token: token(), body: { name: '排隊客戶乙' } });
    assertProblem(second, 503, 'service_busy');
    assert.match(second.headers['retry-after'] || '', /^\d+$/);
    const m2 = await metrics(svc);
    assert.equal(m2.get('tianxing_db_pool_in_use'), 1, 'the refused writer never held a connection');
    assert.equal(m2.get('tianxing_db_pool_timeouts_total') - m1.get('tianxing_db_pool_timeouts_total'), 1);

    // Reads go on: the full read writes its PII log row without a writer turn.
    const before = count(`SELECT count(*) FROM cust.pii_reads WHERE customer_id = ${lit(c.id)}`);
    const read = ok(await call(svc, 'GET', `/v1/customers/${c.id}`, { token: token() }));
    assert.equal(read.id, c.id);
    assert.equal(count(`SELECT count(*) FROM cust.pii_reads WHERE customer_id = ${lit(c.id)}`), before + 1,
      'the full read was logged');
    ok(await call(svc, 'GET', '/v1/customers', { token: token() }));
  } finally {
    await chain.release();
  }
  ok(await first, 201);
  const m3 = await metrics(svc);
  assert.equal(m3.get('tianxing_db_pool_writers_in_use'), 0);
  assert.equal(m3.get('tianxing_db_pool_writers_waiting'), 0);
  assert.equal(customers(), n0 + 1, 'the first create, and nothing of the refused one');
  // And the turn is back: the next write goes through.
  ok(await call(svc, 'POST', '/v1/customers', { token: token(), body: { name: '排隊客戶乙' } }), 201);
});
