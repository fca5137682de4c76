// Process lifecycle: bad configuration fails fast (exit 2), the descriptive subcommands, and the
// graceful shutdown that drains in-flight requests.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { before, test } from 'node:test';

import {
  assertProblem, freshDatabase, lockLedger, pg, request, runBin, sleep, startService,
  tempDir, tryConnect, waitFor,
} from './lib/harness.mjs';

const DB = 'tx_api_lifecycle';

before(() => {
  freshDatabase(DB);
});

test('TIANXING_PORT=abc fails fast: exit 2 naming TIANXING_PORT', async () => {
  const r = await runBin(['serve'], { db: DB, env: { TIANXING_PORT: 'abc' } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /config: TIANXING_PORT: must be an integer in 1\.\.65535 \(got "abc"\)/);
  assert.equal(r.stdout, '');
});

test('other bad values fail fast with exit 2 and the setting named', async () => {
  const cases = {
    TIANXING_PORT: '70000',
    TIANXING_THREADS: '0',
    TIANXING_BODY_LIMIT: '12x',
    TIANXING_MIGRATE_ON_START: 'maybe',
    TIANXING_LOG_LEVEL: 'verbose',
    TIANXING_BIND_ADDRESS: 'localhost',
    TIANXING_CORS_ORIGINS: 'https://app.example.com/',
    TIANXING_DB_POOL_SIZE: '',
  };
  for (const [k, v] of Object.entries(cases)) {
    const r = await runBin(['serve'], { db: DB, env: { [k]: v } });
    assert.equal(r.code, 2, `${k}=${v}: ${r.stderr}`);
    assert.ok(r.stderr.includes(k), `${k}=${v}: ${r.stderr}`);
  }
});

test('an unknown TIANXING_* setting fails fast: TIANXING_PROT=1 -> exit 2', async () => {
  const r = await runBin(['serve'], { db: DB, env: { TIANXING_PROT: '1' } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /TIANXING_PROT/);
  assert.match(r.stderr, /unknown/);
  const m = await runBin(['migrate'], { db: DB, env: { TIANXING_PROT: '1' } });
  assert.equal(m.code, 2, m.stderr);
});

test('a config file is read with --config, and its errors name the line', async () => {
  const dir = tempDir('tx-conf-');
  const file = path.join(dir, 'tianxing.conf');
  fs.writeFileSync(file, '# comment\n\nTIANXING_LOG_LEVEL=debug\nTIANXING_PORT=abc\n');
  const r = await runBin(['--config', file, 'migrate'], { db: DB });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /TIANXING_PORT/);
  assert.ok(r.stderr.includes(`${file}:4`), r.stderr);
});

test('unknown subcommands and arguments exit 2', async () => {
  const r = await runBin(['bogus']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command 'bogus'/);
  assert.equal((await runBin([])).code, 2);
  assert.equal((await runBin(['routes', '--json', 'extra'])).code, 2);
  const help = await runBin(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: tianxingd/);
});

test('tianxingd routes --json is the route table as a JSON array', async () => {
  const r = await runBin(['routes', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const routes = JSON.parse(r.stdout);
  assert.ok(Array.isArray(routes));
  for (const rt of routes) {
    // media_types and csv_columns only on the routes that negotiate (docs/adding-a-module.md),
    // replica only on the reports a read replica serves (always true where present, on a GET)
    const keys = Object.keys(rt).sort();
    assert.deepEqual(keys.filter((k) => !['csv_columns', 'media_types', 'replica'].includes(k)),
      ['clauses', 'method', 'path', 'roles']);
    if ('replica' in rt) assert.ok(rt.replica === true && rt.method === 'GET', `${rt.method} ${rt.path} replica`);
    if (rt.media_types) assert.ok(rt.media_types.length >= 2, `${rt.method} ${rt.path} negotiates`);
    assert.equal(Boolean(rt.csv_columns?.length), Boolean(rt.media_types?.includes('text/csv')),
      `${rt.method} ${rt.path}: CSV columns exactly when it answers text/csv`);
    assert.match(rt.method, /^(GET|POST|PUT|PATCH|DELETE)$/);
    assert.match(rt.path, /^\/[^\s]*$/);
    assert.ok(Array.isArray(rt.roles) && Array.isArray(rt.clauses));
    assert.ok(rt.clauses.length >= 1, `${rt.method} ${rt.path} names a clause`);
  }
  const keys = routes.map((rt) => `${rt.method} ${rt.path}`);
  for (const k of ['GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /openapi.yaml', 'GET /v1/version']) {
    assert.ok(keys.includes(k), k);
  }
  assert.equal(new Set(keys).size, keys.length, 'no duplicate routes');
  const text = await runBin(['routes']);
  assert.equal(text.code, 0);
  assert.equal(text.stdout.trim().split('\n').length, routes.length);
});

test('tianxingd errors --json lists the problem registry with both titles', async () => {
  const r = await runBin(['errors', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const errors = JSON.parse(r.stdout);
  const nf = errors.find((e) => e.code === 'not_found');
  assert.deepEqual(nf, { code: 'not_found', status: 404, title: 'Not found', title_zh: '找不到資源' });
  for (const e of errors) {
    assert.match(e.code, /^[a-z_]+$/);
    assert.ok(e.status >= 400 && e.status <= 599);
  }
});

test('tianxingd version prints name, version, api version and commit', async () => {
  const r = await runBin(['version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^tianxingd \d+\.\d+\.\d+\S* \(api \d+\.\d+\.\d+, \S+/);
});

// Regression: MHD_quiesce_daemon() stops accept() but leaves the socket listening; server.c shuts
// it down so that new connections are refused during the drain instead of hanging unserved.
test('SIGTERM drains: the in-flight request completes, new connections are refused, exit 0', async () => {
  const GRACE = 10;
  const svc = await startService({ db: DB, env: { TIANXING_SHUTDOWN_GRACE: GRACE, TIANXING_DB_STATEMENT_TIMEOUT_MS: 30000 } });
  assert.equal((await request(svc, { path: '/readyz' })).status, 200);
  // A client with a kept-alive connection opened before the signal.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const warm = await request(svc, { path: '/healthz', agent });
  assert.equal(warm.status, 200);
  assert.notEqual(warm.headers.connection, 'close');
  const lock = await lockLedger(DB);
  let inflight;
  let t0;
  let state;
  let late;
  try {
    inflight = request(svc, { path: '/readyz', headers: { 'X-Request-Id': 'in-flight' }, timeout: 30000 });
    // Watched from the database, not over HTTP: a request sent now could be accepted by the very
    // worker thread that is blocked, and wait behind it (docs/architecture.md, worker threads).
    await waitFor(() => pg(`SELECT count(*) FROM pg_stat_activity WHERE datname = '${DB}' AND application_name = 'tianxingd' AND wait_event_type = 'Lock'`, { db: DB }) === '1',
      { what: 'the in-flight /readyz blocked on the lock' });

    t0 = Date.now();
    svc.proc.kill('SIGTERM');
    await waitFor(() => svc.stderrText().includes('draining'), { what: 'the draining log line' });
    assert.equal(svc.proc.exitCode, null, 'still running while a request is in flight');
    // The kept-alive connection is still served, but the service says it is going away. Not
    // awaited here: the connection may belong to the worker thread that the in-flight request
    // blocks, and then it is answered only once the lock below is released.
    late = request(svc, { path: '/readyz', agent, headers: { 'X-Request-Id': 'late' }, timeout: 30000 });
    // New connections should be refused soon after the signal; poll for up to 2 s.
    const deadline = Date.now() + 2000;
    do {
      state = await tryConnect(svc.port, { timeout: 300 });
      if (state === 'refused') break;
      await sleep(100);
    } while (Date.now() < deadline);
  } finally {
    await lock.release();
  }
  late = await late;
  const r = await inflight;
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'ready');
  assert.equal(r.headers['x-request-id'], 'in-flight');
  assert.equal(r.headers.connection, 'close', 'answers while draining close their connection');
  const code = await svc.exited;
  const took = (Date.now() - t0) / 1000;
  assert.equal(code, 0, svc.stderrText());
  assert.ok(took < GRACE, `exited within the grace period (${took.toFixed(1)} s)`);
  assert.match(svc.stderrText(), /"msg":"stopped"/);
  assert.ok(svc.accessLog().some((l) => l.request_id === 'in-flight' && l.status === 200), 'in-flight request logged');
  agent.destroy();
  assertProblem(late, 503, 'shutting_down');
  assert.match(late.headers['retry-after'] || '', /^\d+$/);
  assert.equal(late.headers.connection, 'close');
  assert.equal(state, 'refused',
    `a new connection during the drain was "${state}", not refused`);
});

test('SIGINT on an idle service exits 0 at once', async () => {
  const svc = await startService({ db: DB });
  const t0 = Date.now();
  assert.equal(await svc.stop('SIGINT'), 0, svc.stderrText());
  assert.ok(Date.now() - t0 < 3000);
});

// Regression: MHD_stop_daemon() joins busy worker threads, so stopping after the grace period
// would wait for a stuck request anyway; server.c exits instead, and the database rolls back.
test('the grace period bounds the shutdown even with a request stuck in the database', async () => {
  const GRACE = 1;
  const svc = await startService({ db: DB, env: { TIANXING_SHUTDOWN_GRACE: GRACE, TIANXING_DB_STATEMENT_TIMEOUT_MS: 30000 } });
  const lock = await lockLedger(DB);
  let inflight;
  let outcome;
  try {
    inflight = request(svc, { path: '/readyz', timeout: 30000 }).catch((e) => e);
    await waitFor(() => pg(`SELECT count(*) FROM pg_stat_activity WHERE datname = '${DB}' AND application_name = 'tianxingd' AND wait_event_type = 'Lock'`, { db: DB }) === '1',
      { what: 'the in-flight /readyz blocked on the lock' });
    svc.proc.kill('SIGTERM');
    outcome = await Promise.race([svc.exited.then((code) => ({ code })), sleep((GRACE + 3) * 1000).then(() => null)]);
  } finally {
    await lock.release();
  }
  await inflight;
  const late = await svc.exited; // it does end once the request is released
  assert.match(svc.stderrText(), /grace period over with 1 requests still running/);
  assert.ok(outcome, `tianxingd still running ${GRACE + 3} s after SIGTERM with TIANXING_SHUTDOWN_GRACE=${GRACE} (exited ${late} only after the lock was released)`);
  assert.equal(outcome.code, 1, 'a shutdown that abandons requests exits non-zero');
});
