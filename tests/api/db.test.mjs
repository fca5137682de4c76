// The service and its database: pool exhaustion (503 service_busy), the database going away and
// coming back (503 database_unavailable, then ready again without a restart), the connections'
// identity, and pending migrations (503 migrations_pending).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
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
// What clients were told while the database was down: the log test checks nothing leaked.
const outageBodies = [];

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
  const rows = pg(`SELECT usename || '|' || application_name FROM pg_stat_activity
    WHERE datname = ${lit(DB)} AND backend_type = 'client backend' AND pid <> pg_backend_pid()
    ORDER BY 1`, { db: DB });
  // The harness starts services with TIANXING_JOBS=off, so no job worker has a connection here
  // (jobs.test.mjs checks theirs).
  assert.deepEqual(rows.split('\n'), ['tianxing_app|tianxingd'], 'the pooled connection (pool size 1), nothing else');
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
    outageBodies.push(r.text, again.text);
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
  const lines = svc.stderrText().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  // The operator learns why: libpq's own reason, after our prefix.
  const outage = lines.filter((l) => l.level === 'warn' && /^database connection (failed|lost): \S/.test(l.msg));
  assert.ok(outage.length >= 1, `a warning with the database's reason; got ${JSON.stringify(lines.map((l) => l.msg))}`);
  assert.ok(outageBodies.length >= 2, 'the outage test recorded what clients got');
  // Clients learn only that the database is unavailable: none of libpq's words, paths or ports.
  for (const l of outage) {
    const reason = l.msg.replace(/^database connection (failed|lost): /, '').split('\n')[0].trim();
    assert.ok(reason.length > 5, `a reason worth checking: ${l.msg}`);
    for (const body of outageBodies) assert.ok(!body.includes(reason), `client saw "${reason}": ${body}`);
  }
  for (const body of outageBodies) {
    assert.doesNotMatch(body, /connection to server|\.s\.PGSQL|socket|port \d|libpq|postgres/i, body);
  }
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

test('SQL code differing from the build: not ready, nothing applied behind our back', async () => {
  const dir = tempDir('tx-code-');
  fs.cpSync(path.join(env.sourceDir, 'sql', 'code'), dir, { recursive: true });
  const file = path.join(dir, 'kit', '030_paging.sql');
  fs.appendFileSync(file, '\n-- a build whose paging helpers differ\n');
  const ledgerBefore = pg('SELECT string_agg(path || checksum, \',\' ORDER BY path) FROM tx_meta.schema_code', { db: DB });
  const other = await startService({
    db: DB, env: { TIANXING_MIGRATE_ON_START: 'false', TIANXING_CODE_DIR: dir },
  });
  try {
    const r = await request(other, { path: '/readyz' });
    const p = assertProblem(r, 503, 'migrations_pending');
    const files = fs.readFileSync(path.join(dir, 'ORDER'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    assert.match(p.detail, new RegExp(`^${files.length - 1} of ${files.length} SQL code files`), p.detail);
  } finally {
    assert.equal(await other.stop(), 0, other.stderrText());
  }
  assert.equal(pg('SELECT string_agg(path || checksum, \',\' ORDER BY path) FROM tx_meta.schema_code', { db: DB }), ledgerBefore);
  assert.equal((await request(svc, { path: '/readyz' })).status, 200, 'the build whose code is in force is ready');
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

// Issue 10 item 18: the local and test clusters were `trust` on a socket any local user could reach.
test('the cluster socket admits only the scripts\' own OS users, never by trust', () => {
  const rules = pg(`SELECT type || ' ' || auth_method FROM pg_hba_file_rules ORDER BY line_number`);
  assert.doesNotMatch(rules, /trust/, rules);
  assert.match(rules, /^local peer$/m, rules);
  const mode = fs.statSync(env.pghost).mode & 0o777;
  assert.equal(mode.toString(8), '700', 'a socket directory only the cluster owner enters');
  if (process.getuid() !== 0) return; // only root can act as another local user here
  let refused;
  try {
    execFileSync('runuser', ['-u', 'nobody', '--', 'psql', '-h', env.pghost, '-p', String(env.pgport),
      '-U', 'postgres', '-d', 'postgres', '-X', '-c', 'SELECT 1'], { stdio: 'pipe', cwd: '/' });
    refused = false;
  } catch (e) {
    refused = String(e.stderr);
  }
  assert.ok(refused, 'another local user connected as the superuser');
  assert.match(refused, /Permission denied|authentication failed|No such file/, refused);
});
