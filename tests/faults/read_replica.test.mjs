// Reports on a read replica (issue 14, "Many replicas"): tianxingd with TIANXING_READ_DATABASE_URL
// pointing at a real streaming standby (pg_basebackup -R of a primary of the test's own, its own
// port; the shared cluster of tests/run is left alone, as its pg_hba.conf has no replication
// line). Proves that
//   * every route flagged as a report (`replica` in `tianxingd routes --json`) answers on the
//     standby: its SQL really runs in a hot standby's read-only transaction (no write, nextval or
//     temporary table; tx.begin_request writes nothing), counted as a read transaction, no
//     fallback;
//   * a report is served by the standby: with WAL replay paused, a report made on the primary is
//     missing from the list (flagged) while the report itself reads at once (unflagged: primary);
//     the standby's pg_stat_activity shows the pool as tianxingd-ro, the primary's does not;
//   * every write and every unflagged read go to the primary;
//   * with the standby stopped, the report still answers 200 (from the primary, a counted
//     fallback) and /readyz stays 200 with a read_database_unavailable warning; once the standby
//     is back, reports go to it again;
//   * a standby that answers but lags beyond TIANXING_READ_MAX_LAG_MS (replay paused) is left for
//     the primary (lag fallbacks counted, the lag gauge, /readyz warns read_database_lagging) and
//     used again once it has caught up.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { assertProblem, env, freshDatabase, metrics, pg, request, runBin, startService, tempDir, waitFor } from '../api/lib/harness.mjs';
import { DEPT, EMP, client, loadFixtures, newSigningKey, ok, ownToken } from '../api/lib/identity.mjs';
import { sh } from './lib.mjs';

const DB = 'tx_faults_read_replica';
const work = tempDir('tx-replica-');
// The postgres user (when the tests run as root) must reach both clusters.
fs.chmodSync(work, 0o711);
const primaryBase = path.join(work, 'primary');
const standbyBase = path.join(work, 'standby');
let standbyHost;
let standbyPort;
let svc;
let key;
let readUrlForLag;
const as = {};

/** psql as the cluster superuser on the standby. */
function onStandby(sql) {
  return execFileSync('psql', ['-h', standbyHost, '-p', String(standbyPort), '-U', env.pguser, '-d', DB,
    '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000,
  }).trim();
}
const onPrimary = (sql) => pg(sql, { db: DB });

/** The read replica's counters from /metrics. */
async function readUse() {
  const m = await metrics(svc);
  return {
    tx: m.get('tianxing_db_read_transactions_total'),
    fallbacks: m.get('tianxing_db_read_fallbacks_total'),
    up: m.get('tianxing_db_read_up'),
  };
}

/** The standby has replayed everything the primary wrote so far. */
async function caughtUp() {
  const lsn = onPrimary('SELECT pg_current_wal_lsn()');
  await waitFor(() => onStandby(`SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn`) === 't',
    { timeout: 10000, what: 'the standby to replay the primary' });
}

before(async () => {
  // The primary: a cluster of this test, with a replication line for the unprivileged OS user
  // (tx_pg_secure writes pg_hba.conf at each start, so the line is added after it).
  const port = sh('tx_pick_free_port 56600');
  sh(`tx_pg_init "$1" "$2" "fsync = off"; tx_pg_start "$1"
      real=$(tx_pg_real "$1")
      printf 'local replication all peer map=tianxing\\n' | tx_pg_as_owner tee -a -- "$real/data/pg_hba.conf" >/dev/null
      tx_pg_psql "$1" -X -q -d postgres -c 'SELECT pg_reload_conf()' >/dev/null`, [primaryBase, port]);
  process.env.TX_TEST_PGHOST = sh('tx_pg_sockdir "$1"', [primaryBase]);
  process.env.TX_TEST_PGPORT = port;
  key = newSigningKey();
  freshDatabase(DB);
  const m = await runBin(['migrate'], { db: DB });
  assert.equal(m.code, 0, m.stderr);
  loadFixtures(DB);

  // The standby: a base backup streamed from the primary as the OS user that owns the clusters,
  // -R writes standby.signal and primary_conninfo; its own port and socket directory.
  standbyPort = sh('tx_pick_free_port 56700');
  sh(`real=$(tx_pg_prepare_base "$1" "$2")
      tx_pg_as_owner "$TX_PG_BIN/pg_basebackup" -h "$(tx_pg_sockdir "$3")" -p "$(tx_pg_port "$3")" \\
        -U "$(tx_pg_superuser)" -D "$real/data" -R -X stream -c fast
      tx_pg_as_owner mkdir -p -- "$real/run"
      printf "\\nport = %s\\nunix_socket_directories = '%s'\\n" "$2" "$real/run" |
        tx_pg_as_owner tee -a -- "$real/data/postgresql.conf" >/dev/null
      printf '%s\\n' "$2" >"$real/port"
      tx_pg_start "$1"`, [standbyBase, standbyPort, primaryBase]);
  standbyHost = sh('tx_pg_sockdir "$1"', [standbyBase]);
  assert.equal(onStandby('SELECT pg_is_in_recovery()'), 't', 'a hot standby');

  const readUrl = `postgresql:///${DB}?host=${encodeURIComponent(standbyHost)}&port=${standbyPort}&user=tianxing_app`;
  svc = await startService({
    db: DB,
    // No lag limit to speak of here: the paused-replay test below shows the lag itself, however
    // long ago the standby replayed its last commit on a slow machine.
    env: { TIANXING_SIGNING_KEY_FILE: key.file, TIANXING_READ_DATABASE_URL: readUrl, TIANXING_READ_DB_POOL_SIZE: 2,
      TIANXING_READ_MAX_LAG_MS: 3600000 },
  });
  readUrlForLag = readUrl;
  for (const [k, e] of Object.entries({ hr: EMP.hr, risk: EMP.risk, a1: EMP.staffA1, admin: EMP.admin })) {
    as[k] = client(svc, ownToken(key, e));
  }
});

after(async () => {
  if (svc) await svc.stop();
  for (const b of [standbyBase, primaryBase]) {
    try { sh('tx_pg_stop "$1"', [b]); } catch { /* reported by the tests */ }
  }
});

test('/readyz and /metrics show the read replica', async () => {
  const r = ok(await request(svc, { path: '/readyz' }));
  assert.equal(r.read_database, 'ok', JSON.stringify(r));
  // (backup_missing is there: no backup of this cluster; the subject of the restore drill)
  assert.ok(!r.warnings?.some((w) => w.code === 'read_database_unavailable'), JSON.stringify(r));
  const m = await metrics(svc);
  assert.equal(m.get('tianxing_db_read_pool_size'), 2);
  assert.equal(m.get('tianxing_db_read_up'), 1);
  assert.equal(m.get('tianxing_db_pool_size'), 4, 'the primary pool keeps its own size');
});

test('every report route answers on the hot standby, counted there, no fallback', async () => {
  // What the reports need: a month and a year period (HR opens them on the primary).
  const month = ok(await as.hr.post('/v1/assessment-periods', { label: '2025-06' }), 201);
  const year = ok(await as.hr.post('/v1/assessment-periods', { label: '2025' }), 201);
  await caughtUp();
  const calls = {
    'GET /v1/risk-reports': [as.risk, '/v1/risk-reports'],
    'GET /v1/risk-heatmap': [as.a1, '/v1/risk-heatmap', 'image/svg+xml'],
    'GET /v1/employees/{id}/assessment-trend': [as.a1, `/v1/employees/${EMP.staffA1.id}/assessment-trend?year=2025`],
    'GET /v1/departments/{id}/grade-distribution': [as.hr, `/v1/departments/${DEPT.A}/grade-distribution?period_id=${month.id}`],
    'GET /v1/assessment-periods/{id}/bonus-list': [as.hr, `/v1/assessment-periods/${month.id}/bonus-list`],
    'GET /v1/assessment-periods/{id}/promotion-candidates': [as.hr, `/v1/assessment-periods/${year.id}/promotion-candidates`],
    'GET /v1/survey-response-rates': [as.hr, `/v1/survey-response-rates?period_id=${month.id}`],
    'GET /v1/archive': [as.a1, '/v1/archive', 'text/csv'],
    'GET /v1/case-facts': [as.hr, '/v1/case-facts'],
    'GET /v1/case-stats/weekly': [as.a1, '/v1/case-stats/weekly', 'image/svg+xml'],
  };
  // The test knows every flagged route: a route flagged later must be added here, and so checked
  // on a standby.
  const listed = JSON.parse((await runBin(['routes', '--json'])).stdout)
    .filter((rt) => rt.replica).map((rt) => `${rt.method} ${rt.path}`).sort();
  assert.deepEqual(listed, Object.keys(calls).sort());
  for (const [route, [c, p, accept]] of Object.entries(calls)) {
    const before = await readUse();
    const res = await c.get(p, accept ? { headers: { Accept: accept } } : {});
    assert.equal(res.status, 200, `${route}: ${res.text}`);
    const now = await readUse();
    assert.equal(now.tx, before.tx + 1, `${route} ran on the replica`);
    assert.equal(now.fallbacks, before.fallbacks, `${route} did not fall back`);
  }
  // The replica's pool is there, as tianxingd-ro, and only there.
  assert.ok(Number(onStandby(`SELECT count(*) FROM pg_stat_activity
    WHERE application_name = 'tianxingd-ro' AND usename = 'tianxing_app'`)) >= 1);
  assert.equal(onStandby(`SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tianxingd'`), '0');
  assert.equal(onPrimary(`SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tianxingd-ro'`), '0');
});

test('with replay paused, the report list lags; the write and the unflagged read use the primary', async () => {
  onStandby('SELECT pg_wal_replay_pause()');
  try {
    const before = await readUse();
    // A write: on a standby it would fail (read-only); here it is acknowledged.
    const made = ok(await as.risk.post('/v1/risk-reports', {}), 201);
    // The stored report itself (not flagged: a client follows Location right after creating).
    assert.equal(ok(await as.risk.get(`/v1/risk-reports/${made.id}`)).id, made.id);
    assert.equal((await readUse()).tx, before.tx, 'neither the write nor the unflagged read used the replica');
    const list = ok(await as.risk.get('/v1/risk-reports'));
    assert.ok(!list.items.some((r) => r.id === made.id), 'the replica has not replayed the new report');
    assert.equal((await readUse()).tx, before.tx + 1);
    assert.equal(onPrimary(`SELECT count(*) FROM risk.reports WHERE id = '${made.id}'`), '1');
    onStandby('SELECT pg_wal_replay_resume()');
    await waitFor(async () => ok(await as.risk.get('/v1/risk-reports')).items.some((r) => r.id === made.id),
      { timeout: 10000, what: 'the report to reach the replica' });
  } finally {
    onStandby('SELECT pg_wal_replay_resume()');
  }
});

test('a standby lagging beyond TIANXING_READ_MAX_LAG_MS is left for the primary until it catches up', async () => {
  const lagSvc = await startService({
    db: DB,
    env: { TIANXING_SIGNING_KEY_FILE: key.file, TIANXING_READ_DATABASE_URL: readUrlForLag, TIANXING_READ_DB_POOL_SIZE: 2,
      TIANXING_READ_MAX_LAG_MS: 1000 },
  });
  const risk = client(lagSvc, ownToken(key, EMP.risk));
  const use = async () => {
    const m = await metrics(lagSvc);
    return { tx: m.get('tianxing_db_read_transactions_total'), lagFallbacks: m.get('tianxing_db_read_lag_fallbacks_total'),
      fallbacks: m.get('tianxing_db_read_fallbacks_total'), lag: m.get('tianxing_db_read_lag_seconds') };
  };
  try {
    await caughtUp();
    // Caught up: the report reads the standby, and the sample says so.
    await waitFor(async () => {
      const b = await use();
      ok(await risk.get('/v1/risk-reports'));
      const a = await use();
      return a.tx === b.tx + 1 && a.lag !== undefined && a.lag < 1;
    }, { timeout: 15000, interval: 300, what: 'a report on the caught-up standby' });
    const before = await use();
    onStandby('SELECT pg_wal_replay_pause()');
    try {
      // Received but not replayed: the lag is the age of the last replayed commit, past 1 s soon.
      const made = ok(await risk.post('/v1/risk-reports', {}), 201);
      await waitFor(async () => ok(await risk.get('/v1/risk-reports')).items.some((r) => r.id === made.id),
        { timeout: 15000, interval: 300, what: 'the list to come from the primary once the standby lags' });
      const lagging = await use();
      assert.ok(lagging.lagFallbacks > before.lagFallbacks, 'lag fallbacks counted');
      assert.ok(lagging.fallbacks - before.fallbacks >= lagging.lagFallbacks - before.lagFallbacks, 'within the fallbacks');
      assert.ok(lagging.lag > 1, `the lag gauge: ${lagging.lag}`);
      const r = ok(await request(lagSvc, { path: '/readyz' }));
      assert.equal(r.read_database, 'ok', 'it still answers');
      assert.ok(r.warnings?.some((w) => w.code === 'read_database_lagging'), JSON.stringify(r));
      // The standby itself still lacks the report: the answer above was the primary's.
      assert.equal(onStandby(`SELECT count(*) FROM risk.reports WHERE id = '${made.id}'`), '0');
    } finally {
      onStandby('SELECT pg_wal_replay_resume()');
    }
    // Caught up again: reports go back to the standby, the warning is gone.
    await waitFor(async () => {
      const b = await use();
      ok(await risk.get('/v1/risk-reports'));
      return (await use()).tx === b.tx + 1;
    }, { timeout: 15000, interval: 300, what: 'reports to return to the caught-up standby' });
    const r = ok(await request(lagSvc, { path: '/readyz' }));
    assert.ok(!r.warnings?.some((w) => w.code === 'read_database_lagging'), JSON.stringify(r));
  } finally {
    await lagSvc.stop();
  }
});

test('the standby stopped: reports answer from the primary (counted), /readyz warns; then back', async () => {
  sh('tx_pg_stop "$1"', [standbyBase]);
  const before = await readUse();
  const made = ok(await as.risk.post('/v1/risk-reports', {}), 201);
  const list = ok(await as.risk.get('/v1/risk-reports'));
  assert.ok(list.items.some((r) => r.id === made.id), 'read from the primary: current');
  assert.equal((await readUse()).fallbacks, before.fallbacks + 1, 'a fallback');
  // The pooled connections were found dead; the next report's connect fails, which marks the
  // replica down: within the down time it is not tried again, and /readyz says so at once.
  ok(await as.hr.get('/v1/case-facts'));
  const now = await readUse();
  assert.equal(now.fallbacks, before.fallbacks + 2);
  assert.equal(now.up, 0, 'the replica is marked down');
  const t0 = Date.now();
  ok(await as.hr.get('/v1/case-facts'));
  assert.equal((await readUse()).fallbacks, before.fallbacks + 3);
  assert.ok(Date.now() - t0 < 1000, 'no connect attempt while down');
  const r = ok(await request(svc, { path: '/readyz' }));
  assert.equal(r.status, 'ready');
  assert.equal(r.read_database, 'unavailable');
  assert.ok(r.warnings.some((w) => w.code === 'read_database_unavailable'), JSON.stringify(r));
  // Other work is untouched; an unknown report still answers its own problem.
  assertProblem(await as.hr.get('/v1/assessment-periods/7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e/bonus-list'), 404, 'not_found');

  sh('tx_pg_start "$1"', [standbyBase]);
  // After the down time (TX_READ_DOWN_FOR_S, 10 s) the next report connects to the replica again.
  await waitFor(async () => {
    const b = await readUse();
    ok(await as.risk.get('/v1/risk-reports'));
    return (await readUse()).tx === b.tx + 1;
  }, { timeout: 20000, interval: 500, what: 'reports to go to the restarted standby' });
  assert.equal(ok(await request(svc, { path: '/readyz' })).read_database, 'ok');
  assert.equal((await readUse()).up, 1);
});
