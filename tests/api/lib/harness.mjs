// Shared helpers for the api tier (black-box HTTP against a real tianxingd on the throwaway
// cluster of tests/run). No npm dependencies: node:http, node:net, node:child_process, node:fs.
//
// Environment (docs/interfaces.md, "Test environment"): TX_TEST_BIN, TX_TEST_PGHOST,
// TX_TEST_PGPORT, TX_TEST_PGUSER, TX_TEST_PGCTL, TX_TEST_RECORD_DIR, TX_TEST_SOURCE_DIR.
//
// Every HTTP response seen through request() is appended to
// $TX_TEST_RECORD_DIR/<test file without .test.mjs>.jsonl for the contract tier, which validates
// each one against openapi.yaml.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the api tests through tests/run (see docs/interfaces.md)`);
  return v;
}

export const env = {
  get bin() { return need('TX_TEST_BIN'); },
  get pghost() { return need('TX_TEST_PGHOST'); },
  get pgport() { return need('TX_TEST_PGPORT'); },
  get pguser() { return need('TX_TEST_PGUSER'); },
  get pgctl() { return need('TX_TEST_PGCTL'); },
  get sourceDir() { return process.env.TX_TEST_SOURCE_DIR || process.cwd(); },
  get recordDir() { return process.env.TX_TEST_RECORD_DIR || ''; },
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The test file this process runs (node --test runs each file in its own process).
const testFile = path.basename(process.argv.find((a) => /\.test\.mjs$/.test(a)) || process.argv[1] || 'unknown');
const recordName = testFile.replace(/\.test\.mjs$/, '').replace(/\.m?js$/, '');

// ---------------------------------------------------------------------------------------------
// PostgreSQL

const NAME_RE = /^[a-z_][a-z0-9_]{0,62}$/;

function psqlArgs({ db = 'postgres', user } = {}) {
  return ['-h', env.pghost, '-p', String(env.pgport), '-U', user || env.pguser, '-d', db,
    '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1'];
}

/** Runs one SQL string with psql (as the cluster superuser unless `user`); returns trimmed stdout. */
export function pg(sql, { db = 'postgres', user } = {}) {
  try {
    return execFileSync('psql', [...psqlArgs({ db, user }), '-c', sql], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000,
    }).trim();
  } catch (e) {
    const err = new Error(`psql failed (${user || env.pguser}@${db}): ${(e.stderr || e.message).trim()}\nSQL: ${sql}`);
    err.stderr = e.stderr || '';
    throw err;
  }
}

/** SQL string literal. */
export const lit = (s) => `'${String(s).replace(/'/g, "''")}'`;

/** Drops database `name` (forcing out sessions) and recreates it with sql/bootstrap.sql. */
export function freshDatabase(name) {
  assert.match(name, NAME_RE, 'database name');
  pg(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  try {
    execFileSync('psql', [...psqlArgs(), '-v', `db=${name}`, '-f',
      path.join(env.sourceDir, 'sql', 'bootstrap.sql')], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000,
    });
  } catch (e) {
    throw new Error(`sql/bootstrap.sql failed for ${name}: ${e.stderr || e.message}`);
  }
  return dbUrls(name);
}

/** libpq URIs for the runtime (app) and the migration (owner) roles. */
export function dbUrls(name) {
  const q = (user) => `postgresql:///${name}?host=${encodeURIComponent(env.pghost)}&port=${env.pgport}&user=${user}`;
  return { app: q('tianxing_app'), owner: q('tianxing_owner') };
}

/**
 * Holds a lock (or any statements) in an open transaction of an interactive superuser psql.
 * `ready` is an SQL boolean expression polled from another session until it is true (e.g. that
 * the lock is granted). Returns { release(): Promise<void> } which COMMITs and ends psql.
 */
export async function holdTransaction(db, statements, ready) {
  const p = spawn('psql', psqlArgs({ db }), { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(p);
  let stderr = '';
  p.stderr.on('data', (d) => { stderr += d; });
  p.stdout.resume();
  const exited = new Promise((r) => p.on('exit', (code) => { children.delete(p); r(code); }));
  p.stdin.write(`BEGIN;\n${statements}\n`);
  const deadline = Date.now() + 10000;
  for (;;) {
    if (p.exitCode !== null) throw new Error(`holding psql exited: ${stderr}`);
    if (pg(`SELECT (${ready})::text`, { db }) === 'true') break;
    if (Date.now() > deadline) throw new Error(`transaction not ready: ${ready}; psql: ${stderr}`);
    await sleep(50);
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      p.stdin.end('COMMIT;\n\\q\n');
      const code = await exited;
      if (code !== 0) throw new Error(`holding psql exited ${code}: ${stderr}`);
    },
  };
}

/** SQL expression: the ACCESS EXCLUSIVE lock on tx_meta.schema_migrations is granted. */
export const LEDGER_LOCKED = `EXISTS (SELECT FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'tx_meta' AND c.relname = 'schema_migrations'
    AND l.mode = 'AccessExclusiveLock' AND l.granted)`;

/** Locks the migration ledger so that /readyz blocks inside the database. */
export function lockLedger(db) {
  return holdTransaction(db, 'LOCK TABLE tx_meta.schema_migrations IN ACCESS EXCLUSIVE MODE;', LEDGER_LOCKED);
}

// Cluster control ($TX_TEST_PGCTL). A stopped cluster is always restarted when the process ends.
let clusterStopped = false;
export function clusterCtl(action) {
  execFileSync(env.pgctl, [action], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000 });
  if (action === 'stop') clusterStopped = true;
  if (action === 'start') clusterStopped = false;
}
export function ensureClusterRunning() {
  if (clusterStopped) clusterCtl('start');
}

// ---------------------------------------------------------------------------------------------
// Processes

const children = new Set();

function killAll() {
  for (const p of children) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
  children.clear();
}
process.on('exit', () => {
  killAll();
  if (clusterStopped) {
    try { execFileSync(env.pgctl, ['start'], { stdio: 'ignore', timeout: 60000 }); } catch { /* reported by the tests */ }
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { process.exit(sig === 'SIGINT' ? 130 : 143); });
}

/** Environment for tianxingd: a clean one, not the caller's (no stray TIANXING_* settings). */
export function serviceEnv({ db, env: extra = {} } = {}) {
  const e = { PATH: process.env.PATH || '/usr/bin:/bin' };
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']) {
    if (process.env[k] !== undefined) e[k] = process.env[k];
  }
  if (db) {
    const urls = dbUrls(db);
    e.TIANXING_DATABASE_URL = urls.app;
    e.TIANXING_MIGRATE_DATABASE_URL = urls.owner;
  }
  e.TIANXING_BIND_ADDRESS = '127.0.0.1';
  // No job workers unless the test asks for them (env TIANXING_JOBS: 'on', as jobs.test.mjs
  // does): the housekeeping schedules run hourly, and a run in the middle of a test would add
  // audit entries (and connections) that the test did not make, e.g. api_audit's counts.
  e.TIANXING_JOBS = 'off';
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined || v === null) delete e[k];
    else e[k] = String(v);
  }
  return e;
}

const tempDirs = new Set();
/** A temporary directory, removed when the test file ends. */
export function tempDir(prefix = 'tx-api-') {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

// Registered at import time, i.e. on the root test: runs once when the whole file is done.
// (An after() registered inside a before() hook would run right after that hook.)
after(async () => {
  const waits = [];
  for (const p of children) {
    if (p.exitCode === null && p.signalCode === null) {
      waits.push(new Promise((r) => p.once('close', r)));
      p.kill('SIGKILL');
    }
  }
  await Promise.all(waits);
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
  ensureClusterRunning();
});

/**
 * Runs `tianxingd ...args` to completion (cwd a temp dir, clean env); resolves
 * { code, signal, stdout, stderr }.
 */
export function runBin(args, { db, env: extra = {}, timeout = 60000, cwd } = {}) {
  const dir = cwd || fs.mkdtempSync(path.join(os.tmpdir(), 'tx-bin-'));
  return new Promise((resolve, reject) => {
    const p = spawn(env.bin, args, { cwd: dir, env: serviceEnv({ db, env: extra }), stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(p);
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`tianxingd ${args.join(' ')} timed out; stderr: ${stderr}`)); }, timeout);
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(p);
      if (!cwd) fs.rmSync(dir, { recursive: true, force: true });
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A TCP port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Every thread's stack of process `pid`, from gdb (deploy/local/lib.sh installs it), or why not. */
export function threadStacks(pid) {
  try {
    return execFileSync('gdb', ['-p', String(pid), '-batch', '-nx', '-ex', 'thread apply all bt 30'], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000,
    }).split('\n').filter((l) => /^(Thread|#)/.test(l)).join('\n');
  } catch (e) {
    return `(no stacks: ${e.message.split('\n')[0]})`;
  }
}

/**
 * Starts `tianxingd serve` against database `db` and waits for GET /healthz.
 * Returns { url, port, proc, stdoutLines(), stderrText(), accessLog(), exited, stop(signal) }.
 */
export async function startService({ db, env: extra = {}, timeoutMs = 20000 } = {}) {
  const port = await freePort();
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'tx-svc-'));
  const e = serviceEnv({ db, env: { TIANXING_PORT: port, ...extra } });
  const proc = spawn(env.bin, ['serve'], { cwd, env: e, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let out = '', err = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => {
    proc.on('close', (code, signal) => {
      children.delete(proc);
      fs.rmSync(cwd, { recursive: true, force: true });
      resolve(code === null ? `signal ${signal}` : code);
    });
  });
  const svc = {
    url: `http://127.0.0.1:${port}`,
    port,
    proc,
    env: e,
    exited,
    stdoutLines: () => out.split('\n').filter((l) => l !== ''),
    stderrText: () => err,
    /** Parsed access-log lines (stdout). */
    accessLog: () => out.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)),
    /**
     * Sends `signal` and resolves the exit code (or "signal X"). A process still running after
     * `timeoutMs` is a failure of its own (a drain that never ends), not a test hung until
     * ctest's timeout with nothing said: its threads' stacks are taken, it is killed, and the
     * promise rejects with them.
     */
    async stop(signal = 'SIGTERM', { timeoutMs = 30000 } = {}) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const late = Symbol('late');
      let timer;
      const first = await Promise.race([exited, new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs, late); })]);
      clearTimeout(timer);
      if (first !== late) return first;
      const stacks = threadStacks(proc.pid);
      proc.kill('SIGKILL');
      await exited;
      throw new Error(`tianxingd (pid ${proc.pid}) still running ${timeoutMs} ms after ${signal}; `
        + `its threads:\n${stacks}\nstderr (last 4000 characters):\n${err.slice(-4000)}`);
    },
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      await exited;
      throw new Error(`tianxingd serve exited (${proc.exitCode ?? proc.signalCode}) before answering /healthz; stderr:\n${err}`);
    }
    try {
      const r = await request(svc, { path: '/healthz', record: false, timeout: 1000 });
      if (r.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      await exited;
      throw new Error(`tianxingd serve did not answer /healthz within ${timeoutMs} ms; stderr:\n${err}`);
    }
    await sleep(50);
  }
  return svc;
}

/** Waits until predicate() is truthy (sync or async), polling; returns its value. */
export async function waitFor(predicate, { timeout = 5000, interval = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(interval);
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

/** Every response this process saw through request(), in order. */
export const responses = [];
let recordFileStarted = false;

function record(entry) {
  if (!env.recordDir) return;
  const file = path.join(env.recordDir, `${recordName}.jsonl`);
  if (!recordFileStarted) {
    fs.mkdirSync(env.recordDir, { recursive: true });
    fs.writeFileSync(file, '');
    recordFileStarted = true;
  }
  fs.appendFileSync(file, JSON.stringify(entry) + '\n');
}

/**
 * One HTTP request over node:http (a fresh connection each time, unless `agent` is a keep-alive
 * http.Agent). `body` is a string, Buffer or
 * object (sent as JSON); `chunked` sends it in chunks without Content-Length; `localAddress`
 * (127.0.0.2, ...) makes the request come from another loopback address. Resolves
 * { status, headers (lower-case), text, body (Buffer), json, ms }.
 */
export function request(svc, { method = 'GET', path: p = '/', headers = {}, body, chunked = false,
  record: doRecord = true, timeout = 15000, agent = false, localAddress } = {}) {
  let payload;
  const h = { ...headers };
  if (body !== undefined) {
    if (Buffer.isBuffer(body)) payload = body;
    else if (typeof body === 'string') payload = Buffer.from(body, 'utf8');
    else {
      payload = Buffer.from(JSON.stringify(body), 'utf8');
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
    }
    if (!chunked) h['Content-Length'] = String(payload.length);
  }
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    let settled = false;
    const req = http.request({
      host: '127.0.0.1', port: svc.port, method, path: p, headers: h, agent, timeout, localAddress,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', (e) => { if (!settled) { settled = true; reject(e); } });
      res.on('end', () => {
        if (settled) return;
        settled = true;
        const buf = Buffer.concat(chunks);
        const text = buf.toString('utf8');
        const ct = res.headers['content-type'] || '';
        let json;
        if (/^application\/(?:[\w.-]+\+)?json\b/i.test(ct) && text !== '') {
          try { json = JSON.parse(text); } catch { json = undefined; }
        }
        svc.answered = (svc.answered || 0) + 1;
        const out = { status: res.statusCode, headers: res.headers, text, body: buf, json, ms: Date.now() - t0, method, path: p };
        if (doRecord) {
          responses.push(out);
          record({ method, path: p.split('?')[0], status: res.statusCode, headers: res.headers, body: text, test: testFile });
        }
        resolve(out);
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${p}: no answer within ${timeout} ms`)));
    // The server may answer (413) and close before it read the whole body: a write error after
    // the response is not a failure of the request.
    req.on('error', (e) => { if (!settled) { settled = true; reject(e); } });
    if (payload === undefined) {
      req.end();
    } else if (chunked) {
      const size = 512;
      for (let i = 0; i < payload.length; i += size) req.write(payload.subarray(i, i + size));
      req.end();
    } else {
      req.end(payload);
    }
  });
}

/**
 * Sends raw bytes on a fresh TCP connection and resolves everything the server sent until it
 * closed the connection, as { head, body (Buffer), raw (Buffer) }.
 */
export function rawRequest(svc, text, { timeout = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect(svc.port, '127.0.0.1');
    const chunks = [];
    s.setTimeout(timeout, () => s.destroy(new Error('raw request timed out')));
    s.on('connect', () => s.write(text));
    s.on('data', (c) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => {
      const raw = Buffer.concat(chunks);
      if (raw.length) svc.answered = (svc.answered || 0) + 1;
      const i = raw.indexOf('\r\n\r\n');
      resolve({ raw, head: i < 0 ? raw.toString('latin1') : raw.subarray(0, i).toString('latin1'), body: i < 0 ? Buffer.alloc(0) : raw.subarray(i + 4) });
    });
  });
}

/** Tries to open a TCP connection: resolves 'refused', 'connected' or 'timeout'. */
export function tryConnect(port, { timeout = 1000 } = {}) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const done = (v) => { s.destroy(); resolve(v); };
    s.setTimeout(timeout, () => done('timeout'));
    s.on('connect', () => done('connected'));
    s.on('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : `error ${e.code}`));
  });
}

// ---------------------------------------------------------------------------------------------
// Assertions

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * The members a problem may carry: the property names of the Problem schema in
 * contract/common/components.yaml, read from the contract itself so that a documented extension
 * member (existing_id, missing_milestones, open_cases, ...) needs no second list here, and an
 * undocumented one still fails. The harness has no YAML dependency: the schema's block is plain
 * block-style YAML (`  Problem:` at 2 spaces, `    properties:` at 4, each member at 6), and the
 * reader refuses to guess when that shape changes.
 */
function problemMembers() {
  const file = path.join(env.sourceDir, 'contract', 'common', 'components.yaml');
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const start = lines.findIndex((l) => l === '  Problem:');
  assert.ok(start >= 0, `no Problem schema in ${file}`);
  const keys = new Set();
  let inProps = false;
  for (const l of lines.slice(start + 1)) {
    if (/^ {0,3}\S/.test(l)) break; // the next schema (or section) begins
    if (/^ {4}\S/.test(l)) { inProps = l === '    properties:'; continue; }
    const m = inProps && /^ {6}([a-z_][a-z0-9_]*):\s*$/.exec(l);
    if (m) keys.add(m[1]);
  }
  for (const k of ['type', 'title', 'status', 'detail', 'code', 'request_id', 'instance']) {
    assert.ok(keys.has(k), `Problem schema of ${file} read without its member ${k}: its layout changed`);
  }
  return keys;
}
let problemKeys;
// Text that must never reach a client: SQL, server error decorations, source positions, stacks.
const LEAK_RES = [
  /\b(?:SELECT|INSERT|UPDATE|DELETE)\b[\s\S]*\b(?:FROM|INTO|SET|WHERE)\b/i,
  /\b(?:CREATE|DROP|ALTER)\s+(?:TABLE|SCHEMA|FUNCTION|ROLE)\b/i,
  /\bSQLSTATE\b|\bERROR:\s|\bDETAIL:\s|\bHINT:\s|\bLINE \d+:/,
  /\b(?:pg_|tx_meta\.|schema_migrations|libpq|PQ[a-z]+)\w*/,
  /\.[ch]:\d+|\bat \S+ \(|Traceback|backtrace|AddressSanitizer|0x[0-9a-f]{8,}/i,
];

/** The common headers every response carries (interfaces.md, HTTP behaviour). */
export function assertCommonHeaders(res) {
  const where = `${res.method} ${res.path} -> ${res.status}`;
  assert.match(res.headers['x-request-id'] || '', /^[A-Za-z0-9._:-]{1,128}$/, `X-Request-Id on ${where}`);
  assert.equal(res.headers['cache-control'], 'no-store', `Cache-Control on ${where}`);
  assert.equal(res.headers['x-content-type-options'], 'nosniff', `X-Content-Type-Options on ${where}`);
}

/**
 * Asserts an RFC 9457 problem with `status` and `code`; returns the parsed body. Its members are
 * those the contract's Problem schema documents (problemMembers); `members` gives the expected
 * values of some of them (deep equality), e.g. `{ missing_milestones: ['draft'] }`.
 */
export function assertProblem(res, status, code, { instance, zh = false, members = {} } = {}) {
  assert.equal(res.status, status, `status (body: ${res.text})`);
  assert.match(res.headers['content-type'] || '', /^application\/problem\+json\b/, 'problem content-type');
  const p = res.json;
  assert.ok(p && typeof p === 'object', `problem body is JSON: ${res.text}`);
  assert.equal(p.code, code, `problem code (body: ${res.text})`);
  assert.equal(p.status, status);
  assert.equal(p.type, `urn:tianxing:problem:${code}`);
  assert.equal(typeof p.title, 'string');
  assert.ok(p.title.length > 0);
  if (zh) assert.match(p.title, /[\u4e00-\u9fff]/, 'Chinese title');
  else assert.match(p.title, /^[\x20-\x7e]+$/, 'English title');
  assert.equal(typeof p.detail, 'string');
  assert.equal(p.request_id, res.headers['x-request-id'], 'request_id equals X-Request-Id');
  assert.equal(p.instance, instance ?? res.path.split('?')[0], 'instance is the request path');
  problemKeys ??= problemMembers();
  for (const k of Object.keys(p)) {
    assert.ok(problemKeys.has(k), `problem member ${k} is not in the contract's Problem schema: ${res.text}`);
  }
  for (const [k, v] of Object.entries(members)) {
    assert.ok(problemKeys.has(k), `expected member ${k} is not in the contract's Problem schema`);
    assert.deepEqual(p[k], v, `problem member ${k} (body: ${res.text})`);
  }
  assertNoLeak(res);
  return p;
}

/** A response body never contains SQL, server error text or stack traces. */
export function assertNoLeak(res) {
  for (const re of LEAK_RES) assert.doesNotMatch(res.text, re, `leak in ${res.method} ${res.path}: ${res.text}`);
}

/** Registers a final test: every response this file saw carried the common headers. */
export function commonHeadersTest() {
  test('every response of this file carried X-Request-Id, Cache-Control and nosniff', () => {
    assert.ok(responses.length > 0);
    for (const r of responses) assertCommonHeaders(r);
  });
}

// ---------------------------------------------------------------------------------------------
// Metrics

/** Parses Prometheus text into Map("name{labels}" -> number), checking the syntax line by line. */
export function parseMetrics(text) {
  const samples = new Map();
  const types = new Map();
  const label = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\.)*"';
  const sampleRe = new RegExp(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(?:${label}(?:,${label})*)?\\})? (\\S+)$`);
  assert.ok(text.endsWith('\n'), 'metrics text ends with a newline');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
      assert.ok(m, `metrics comment line: ${line}`);
      if (m[1] === 'TYPE') {
        assert.match(m[3], /^(counter|gauge|histogram|summary|untyped)$/);
        assert.ok(!types.has(m[2]), `one TYPE line for ${m[2]}`);
        types.set(m[2], m[3]);
      }
      continue;
    }
    const m = sampleRe.exec(line);
    assert.ok(m, `metrics sample line: ${line}`);
    const family = m[1].replace(/_(bucket|sum|count)$/, (s) => (types.get(m[1].slice(0, -s.length)) === 'histogram' ? '' : s));
    assert.ok(types.has(family), `TYPE declared before ${m[1]}`);
    const v = m[3] === '+Inf' ? Infinity : Number(m[3]);
    assert.ok(!Number.isNaN(v), `numeric value: ${line}`);
    const key = m[1] + (m[2] || '');
    assert.ok(!samples.has(key), `duplicate series ${key}`);
    samples.set(key, v);
  }
  return { samples, types };
}

export async function metrics(svc) {
  const r = await request(svc, { path: '/metrics' });
  assert.equal(r.status, 200, r.text);
  return parseMetrics(r.text).samples;
}
