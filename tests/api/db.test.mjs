// The service and its database: pool exhaustion (503 service_busy), the database going away and
// coming back (503 database_unavailable, then ready again without a restart), the connections'
// identity, and pending migrations (503 migrations_pending).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  assertProblem, clusterCtl, commonHeadersTest, ensureClusterRunning, env, freshDatabase, lit,
  lockLedger, metrics, pg, request, sleep, startService, tempDir, waitFor,
} from './lib/harness.mjs';

const DB = 'tx_api_db';
const POOL_TIMEOUT_MS = 300;
const STATEMENT_TIMEOUT_MS = 15000;
let svc;

before(async () => {
  freshDatabase(DB);
  svc = await startService({
    db: DB,
    env: {
      TIANXING_DB_POOL_SIZE: 1,
      TIANXING_DB_POOL_TIMEOUT_MS: POOL_TIMEOUT_MS,
      TIANXING_DB_STATEMENT_TIMEOUT_MS: STATEMENT_TIMEOUT_MS,
      TIANXING_DB_CONNECT_TIMEOUT: 2,
    },
  });
});

after(() => ensureClusterRunning());

test('request connections run as tianxing_app with application_name tianxingd', async () => {
  const r = await request(svc, { path: '/readyz' });
  assert.equal(r.status, 200, r.text);
  const rows = () => pg(`SELECT usename || '|' || application_name FROM pg_stat_activity
    WHERE datname = ${lit(DB)} AND backend_type = 'client backend' AND pid <> pg_backend_pid()
    ORDER BY 1`, { db: DB });
  // The job workers (two by default) have connections of their own, as the runtime role too.
  await waitFor(() => rows().split('\n').length >= 3, { what: 'the job workers connected' });
  assert.deepEqual(rows().split('\n'), ['tianxing_app|tianxingd', 'tianxing_app|tianxingd-jobs', 'tianxing_app|tianxingd-jobs'],
    'the pooled connection (pool size 1) and the two job workers\' ones, nothing else');
  // The migration connection (tianxingd-migrate) was closed after start-up.
});

test('pool exhausted: a second request waits TIANXING_DB_POOL_TIMEOUT_MS, then 503 service_busy', async () => {
  const lock = await lockLedger(DB);
  let first;
  try {
    // #1 takes the only connection and blocks inside the database on the locked ledger.
    first = request(svc, { path: '/readyz', headers: { 'X-Request-Id': 'held-1' } });
    await waitFor(() => pg(`SELECT count(*) FROM pg_stat_activity WHERE datname = ${lit(DB)}
      AND application_name = 'tianxingd' AND usename = 'tianxing_app' AND wait_event_type = 'Lock'`, { db: DB }) === '1',
    { what: '/readyz #1 waiting for the lock as tianxing_app' });
    const m = await metrics(svc);
    assert.equal(m.get('tianxing_db_pool_in_use'), 1);

    const t0 = Date.now();
    const second = await request(svc, { path: '/readyz', headers: { 'Accept-Language': 'zh-TW' } });
    const took = Date.now() - t0;
    assertProblem(second, 503, 'service_busy', { zh: true });
    assert.match(second.headers['retry-after'] || '', /^\d+$/, 'Retry-After in seconds');
    assert.ok(took >= POOL_TIMEOUT_MS - 50, `waited for the pool (${took} ms)`);
    assert.ok(took < 2000, `answered quickly, well under the statement timeout (${took} ms)`);
  } finally {
    await lock.release();
  }
  const r1 = await first;
  assert.equal(r1.status, 200, r1.text);
  assert.equal(r1.json.status, 'ready');
  assert.equal(r1.headers['x-request-id'], 'held-1');

  const m = await metrics(svc);
  assert.ok(m.get('tianxing_db_pool_timeouts_total') >= 1, 'pool timeouts counted');
  assert.equal(m.get('tianxing_db_pool_in_use'), 0);
  assert.equal(m.get('tianxing_db_pool_waiting'), 0);
  assert.equal((await request(svc, { path: '/readyz' })).status, 200, 'the pool recovered');
});

test('database down: /readyz 503 database_unavailable, /healthz 200; back up: ready again', async () => {
  assert.equal((await request(svc, { path: '/readyz' })).status, 200, 'pool holds a live connection');
  clusterCtl('stop');
  try {
    const t0 = Date.now();
    const r = await request(svc, { path: '/readyz' });
    assertProblem(r, 503, 'database_unavailable');
    assert.match(r.headers['retry-after'] || '', /^\d+$/, 'Retry-After');
    assert.ok(Date.now() - t0 < 5000, 'answered within the connect timeout');
    const again = await request(svc, { path: '/readyz' });
    assertProblem(again, 503, 'database_unavailable');
    const h = await request(svc, { path: '/healthz' });
    assert.equal(h.status, 200, '/healthz does not depend on the database');
    assert.deepEqual(h.json, { status: 'ok' });
  } finally {
    clusterCtl('start');
  }
  // The same process recovers on its own.
  const ready = await waitFor(async () => {
    const r = await request(svc, { path: '/readyz' });
    return r.status === 200 && r;
  }, { timeout: 10000, interval: 200, what: '/readyz 200 after the cluster restart' });
  assert.equal(ready.json.status, 'ready');
  assert.equal(svc.proc.exitCode, null, 'tianxingd kept running');
  const m = await metrics(svc);
  assert.ok(m.get('tianxing_db_reconnects_total') >= 2, 'the pool reconnected');
  assert.equal(m.get('tianxing_db_pool_in_use'), 0);
});

test('the service logs the outage without leaking it to clients', () => {
  const err = svc.stderrText();
  assert.match(err, /"level":"warn"/);
  for (const l of err.split('\n').filter(Boolean)) JSON.parse(l);
});

test('migrations pending: a build that knows one more migration is not ready', async () => {
  const dir = tempDir('tx-migr-');
  const src = path.join(env.sourceDir, 'sql', 'migrations');
  for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, '9999_extra.sql'), 'SELECT 1;\n');
  const applied = Number(pg('SELECT count(*) FROM tx_meta.schema_migrations', { db: DB }));
  const other = await startService({
    db: DB, env: { TIANXING_MIGRATE_ON_START: 'false', TIANXING_MIGRATIONS_DIR: dir },
  });
  const r = await request(other, { path: '/readyz' });
  const p = assertProblem(r, 503, 'migrations_pending');
  assert.match(r.headers['retry-after'] || '', /^\d+$/);
  assert.match(p.detail, new RegExp(`${applied} of ${applied + 1}`));
  // Nothing was applied behind our back.
  assert.equal(pg('SELECT count(*) FROM tx_meta.schema_migrations WHERE version = 9999', { db: DB }), '0');
  assert.equal(await other.stop(), 0, other.stderrText());
});

test('migrations differing from the build: not ready either', async () => {
  // A ledger row the build does not know (as the superuser; removed afterwards).
  pg(`INSERT INTO tx_meta.schema_migrations (version, name, checksum) VALUES (9998, '9998_future.sql', ${lit('0'.repeat(64))})`, { db: DB });
  try {
    const r = await request(svc, { path: '/readyz' });
    assertProblem(r, 503, 'migrations_pending');
  } finally {
    pg('DELETE FROM tx_meta.schema_migrations WHERE version = 9998', { db: DB });
  }
  assert.equal((await request(svc, { path: '/readyz' })).status, 200);
});

test('the service stops cleanly after the outage', async () => {
  await sleep(10);
  assert.equal(await svc.stop('SIGTERM'), 0, svc.stderrText());
});

commonHeadersTest();
