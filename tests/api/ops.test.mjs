// Operational endpoints: /healthz, /readyz, /v1/version, /metrics, /openapi.yaml, HEAD, the
// common headers, X-Request-Id handling and the access log (docs/interfaces.md).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';

import {
  UUID_RE, assertCommonHeaders, assertProblem, commonHeadersTest, env, freshDatabase, metrics,
  parseMetrics, rawRequest, request, runBin, startService, waitFor,
} from './lib/harness.mjs';

const DB = 'tx_api_ops';
const POOL_SIZE = 3;
let svc;

before(async () => {
  freshDatabase(DB);
  svc = await startService({ db: DB, env: { TIANXING_DB_POOL_SIZE: POOL_SIZE } });
});

test('GET /healthz answers 200 {"status":"ok"} as JSON', async () => {
  const r = await request(svc, { path: '/healthz' });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^application\/json\b/);
  assert.deepEqual(r.json, { status: 'ok' });
  assertCommonHeaders(r);
});

test('GET /readyz answers 200 with every built-in migration applied', async () => {
  const files = fs.readdirSync(path.join(env.sourceDir, 'sql', 'migrations')).filter((f) => f.endsWith('.sql'));
  const r = await request(svc, { path: '/readyz' });
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers['content-type'], /^application\/json\b/);
  // A fresh database has no backup: a warning, still ready (issue 14; the restore drill covers the
  // rest, tests/faults/restore_drill.test.mjs).
  assert.deepEqual(r.json, {
    status: 'ready', database: 'ok', migrations: { applied: files.length, expected: files.length },
    backup: { max_age_seconds: 26 * 3600 },
    warnings: [{ code: 'backup_missing', detail: 'No backup is recorded (deploy/local/run backup).' }],
  });
  assert.equal(r.headers['retry-after'], undefined);
});

test('GET /v1/version names the build, the API version of openapi.yaml and the commit', async () => {
  const r = await request(svc, { path: '/v1/version' });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^application\/json\b/);
  assert.deepEqual(Object.keys(r.json).sort(), ['api_version', 'commit', 'name', 'version']);
  assert.equal(r.json.name, 'tianxingd');
  assert.match(r.json.version, /^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$/);
  assert.match(r.json.commit, /^\S+$/);
  // The same values as `tianxingd version` prints ...
  const v = await runBin(['version']);
  assert.equal(v.code, 0);
  assert.ok(v.stdout.startsWith(`tianxingd ${r.json.version} (api ${r.json.api_version}, ${r.json.commit}`), v.stdout);
  // ... and the API version is the contract's info.version.
  const yaml = fs.readFileSync(path.join(env.sourceDir, 'openapi.yaml'), 'utf8');
  const info = /^info:\n(?:[ \t]+.*\n|\n)*?[ \t]+version:[ \t]*['"]?([^'"\s]+)/m.exec(yaml);
  assert.ok(info, 'info.version in openapi.yaml');
  assert.equal(r.json.api_version, info[1]);
});

test('GET /openapi.yaml serves the bytes of the bundled contract, one document', async () => {
  const r = await request(svc, { path: '/openapi.yaml' });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^application\/yaml\b/);
  // openapi.yaml refers to the module files under contract/; the binary embeds their bundle.
  const want = fs.readFileSync(path.join(env.sourceDir, 'contract', 'openapi.bundled.yaml'));
  assert.equal(Number(r.headers['content-length']), want.length);
  assert.ok(r.body.equals(want), 'served openapi.yaml differs from contract/openapi.bundled.yaml (stale build?)');
  // A client loading it from the service cannot follow a reference to another file.
  const refs = [...r.body.toString('utf8').matchAll(/^[ \t-]*\$ref:[ \t]*['"]?([^'"\s]*)/gm)];
  assert.ok(refs.length > 0, 'no $ref found in the served contract');
  const external = refs.map((m) => m[1]).filter((ref) => !ref.startsWith('#'));
  assert.deepEqual(external, [], 'served contract has external $refs');
});

test('HEAD /healthz answers like GET without a body', async () => {
  const r = await request(svc, { method: 'HEAD', path: '/healthz' });
  assert.equal(r.status, 200);
  assert.equal(r.text, '');
  assert.match(r.headers['content-type'], /^application\/json\b/);
  assertCommonHeaders(r);
  // node:http never reads a body after HEAD: look at the bytes on the wire instead.
  const raw = await rawRequest(svc, 'HEAD /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n');
  assert.match(raw.head, /^HTTP\/1\.1 200 /);
  assert.equal(raw.body.length, 0, `bytes after the HEAD response head: ${raw.body.toString('latin1')}`);
});

test('HEAD is accepted wherever GET is (/readyz, /v1/version, /metrics, /openapi.yaml)', async () => {
  for (const p of ['/readyz', '/v1/version', '/metrics', '/openapi.yaml']) {
    const r = await request(svc, { method: 'HEAD', path: p });
    assert.equal(r.status, 200, p);
    assert.equal(r.text, '');
  }
});

test('a sane incoming X-Request-Id is echoed in the header and the problem', async () => {
  for (const id of ['abc-123', 'A.b_c:d-e', 'x'.repeat(128), '0']) {
    const r = await request(svc, { path: '/healthz', headers: { 'X-Request-Id': id } });
    assert.equal(r.headers['x-request-id'], id);
  }
  const nf = await request(svc, { path: '/no/such/thing', headers: { 'X-Request-Id': 'trace-42' } });
  const p = assertProblem(nf, 404, 'not_found');
  assert.equal(p.request_id, 'trace-42');
});

test('an insane X-Request-Id is replaced by a fresh UUID', async () => {
  const bad = ['has space', 'x'.repeat(129), 'y'.repeat(200), 'caf\u00e9', 'a/b', 'a;b', '{}', ''];
  const seen = new Set();
  for (const id of bad) {
    const r = await request(svc, { path: '/healthz', headers: { 'X-Request-Id': id } });
    assert.equal(r.status, 200);
    assert.match(r.headers['x-request-id'], UUID_RE, `replacement for ${JSON.stringify(id)}`);
    seen.add(r.headers['x-request-id']);
  }
  assert.equal(seen.size, bad.length, 'each replacement id is new');
  const none = await request(svc, { path: '/healthz' });
  assert.match(none.headers['x-request-id'], UUID_RE);
});

test('GET /metrics is Prometheus text whose request counters follow the calls made', async () => {
  const r = await request(svc, { path: '/metrics' });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4\b/);
  const { samples: m0, types } = parseMetrics(r.text);
  assert.equal(types.get('tianxing_http_requests_total'), 'counter');
  assert.equal(types.get('tianxing_http_request_duration_seconds'), 'histogram');
  for (const g of ['tianxing_db_pool_size', 'tianxing_db_pool_in_use', 'tianxing_db_pool_waiting',
    'tianxing_db_pool_writers', 'tianxing_db_pool_writers_in_use', 'tianxing_db_pool_writers_waiting']) {
    assert.equal(types.get(g), 'gauge', g);
  }
  assert.equal(types.get('tianxing_db_pool_timeouts_total'), 'counter');

  for (let i = 0; i < 3; i++) assert.equal((await request(svc, { path: '/healthz' })).status, 200);
  for (let i = 0; i < 2; i++) assert.equal((await request(svc, { path: '/v1/version' })).status, 200);
  assert.equal((await request(svc, { path: '/readyz' })).status, 200);
  assert.equal((await request(svc, { path: '/nope' })).status, 404);
  assert.equal((await request(svc, { method: 'DELETE', path: '/healthz' })).status, 405);
  const m1 = await metrics(svc);

  const c = (m, route, status) => m.get(`tianxing_http_requests_total{route="${route}",status="${status}"}`) ?? 0;
  const delta = (route, status) => c(m1, route, status) - c(m0, route, status);
  assert.equal(delta('GET /healthz', 200), 3);
  assert.equal(delta('GET /v1/version', 200), 2);
  assert.equal(delta('GET /readyz', 200), 1);
  assert.equal(delta('GET /metrics', 200), 1, 'the first /metrics call itself');

  const h = (m, suffix, route, le) => m.get(`tianxing_http_request_duration_seconds_${suffix}{route="${route}"${le ? `,le="${le}"` : ''}}`) ?? 0;
  assert.equal(h(m1, 'count', 'GET /healthz') - h(m0, 'count', 'GET /healthz'), 3);
  assert.equal(h(m1, 'bucket', 'GET /healthz', '+Inf'), h(m1, 'count', 'GET /healthz'));
  assert.ok(h(m1, 'sum', 'GET /healthz') >= 0);
  // Buckets are cumulative.
  let prev = 0;
  for (const [k, v] of m1) {
    if (!k.startsWith('tianxing_http_request_duration_seconds_bucket{route="GET /healthz"')) continue;
    assert.ok(v >= prev, `${k} is cumulative`);
    prev = v;
  }

  assert.equal(m1.get('tianxing_db_pool_size'), POOL_SIZE, 'pool size gauge = TIANXING_DB_POOL_SIZE');
  assert.equal(m1.get('tianxing_db_pool_in_use'), 0);
  assert.equal(m1.get('tianxing_db_pool_waiting'), 0);
  // TIANXING_DB_WRITERS' default, within the pool
  assert.equal(m1.get('tianxing_db_pool_writers'), Math.min(2, POOL_SIZE));
  assert.equal(m1.get('tianxing_db_pool_writers_in_use'), 0);
  assert.equal(m1.get('tianxing_db_pool_writers_waiting'), 0);
  assert.equal(m1.get('tianxing_db_pool_timeouts_total'), 0);
  assert.ok(m1.get('tianxing_db_reconnects_total') >= 1, 'the pool connected for /readyz');
});

// Regression: unmatched answers were once counted in a slot /metrics never rendered.
test('answers that match no route are counted under route="unmatched"', async () => {
  const m0 = await metrics(svc);
  assert.equal((await request(svc, { path: '/nope' })).status, 404);
  assert.equal((await request(svc, { method: 'DELETE', path: '/healthz' })).status, 405);
  assert.equal((await request(svc, { method: 'POST', path: '/nope', body: 'x', headers: { 'Content-Type': 'text/plain' } })).status, 415);
  const m1 = await metrics(svc);
  const c = (m, status) => m.get(`tianxing_http_requests_total{route="unmatched",status="${status}"}`) ?? 0;
  for (const status of [404, 405, 415]) {
    assert.equal(c(m1, status) - c(m0, status), 1,
      `unmatched ${status} counted once in /metrics`);
  }
});

test('the access log has one JSON line per request with id, method, route, status, duration, user', async () => {
  const sent = [
    { method: 'GET', path: '/healthz', route: '/healthz', status: 200 },
    { method: 'HEAD', path: '/v1/version', route: '/v1/version', status: 200 },
    { method: 'GET', path: '/readyz', route: '/readyz', status: 200 },
    { method: 'GET', path: '/missing', route: null, status: 404 },
    { method: 'POST', path: '/healthz', route: null, status: 405 },
  ];
  const ids = [];
  for (const [i, s] of sent.entries()) {
    const id = `log-${process.pid}-${i}`;
    ids.push(id);
    const r = await request(svc, { method: s.method, path: s.path, headers: { 'X-Request-Id': id } });
    assert.equal(r.status, s.status);
  }
  // Every stdout line is one JSON access-log object.
  const lines = await waitFor(() => {
    const all = svc.accessLog();
    return ids.every((id) => all.some((l) => l.request_id === id)) && all;
  }, { what: 'access-log lines' });
  for (const l of svc.stdoutLines()) assert.doesNotThrow(() => JSON.parse(l), l);
  for (const [i, s] of sent.entries()) {
    const mine = lines.filter((l) => l.request_id === ids[i]);
    assert.equal(mine.length, 1, `exactly one line for ${ids[i]}`);
    const l = mine[0];
    assert.equal(l.msg, 'request');
    assert.equal(l.level, 'info');
    assert.match(l.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(l.method, s.method);
    assert.equal(l.route, s.route, `route of ${s.method} ${s.path}`);
    assert.equal(l.path, s.path);
    assert.equal(l.status, s.status);
    assert.equal(typeof l.duration_ms, 'number');
    assert.ok(l.duration_ms >= 0 && l.duration_ms < 10000, `duration_ms ${l.duration_ms}`);
    assert.ok('user' in l, 'user member present');
    assert.equal(l.user, null, 'no authenticated user on ops routes');
  }
  // One line per request overall: as many lines as responses this service gave (the harness's
  // /healthz polls during start-up included).
  await waitFor(() => svc.stdoutLines().length >= svc.answered, { what: 'all access-log lines' });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(svc.stdoutLines().length, svc.answered, 'one access-log line per answered request');
});

test('stderr carries JSON log lines only', () => {
  const lines = svc.stderrText().split('\n').filter((l) => l !== '');
  assert.ok(lines.length > 0);
  for (const l of lines) {
    const j = JSON.parse(l);
    assert.match(j.level, /^(error|warn|info|debug)$/);
    assert.equal(typeof j.msg, 'string');
  }
});

test('SIGTERM on an idle service exits 0', async () => {
  assert.equal(await svc.stop('SIGTERM'), 0, svc.stderrText());
});

commonHeadersTest();
