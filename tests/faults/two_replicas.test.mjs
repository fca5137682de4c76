// Two `tianxingd serve` on one database, as two replicas behind a balancer would be: the same
// Idempotency-Key sent to both at once creates once (a call route and a handler route), due jobs
// run once between them, a token one signed verifies on the other, and SIGHUP makes each reload
// the signing key after a rotation (docs/architecture.md, "Faults").
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { after, before, test } from 'node:test';

import { assertProblem, freshDatabase, lit, pg, request, waitFor } from '../api/lib/harness.mjs';
import { customerKeys, startCustomerService } from '../api/lib/customers.mjs';
import {
  EMP, assertUnauthorized, call, loadFixtures, newSigningKey, ok, ownToken,
} from '../api/lib/identity.mjs';

const DB = 'tx_faults_two_replicas';
let key;
let a;
let b;
const q = (sql) => pg(sql, { db: DB });
const owner = (sql) => pg(sql, { db: DB, user: 'tianxing_owner' });

before(async () => {
  key = newSigningKey();
  const keys = customerKeys();
  freshDatabase(DB);
  // Both replicas read the same key files (a mounted Secret), run jobs, and poll often.
  const env = { TIANXING_JOBS: 'on', TIANXING_JOB_POLL_MS: 100, TIANXING_ACCESS_LOG: 'false' };
  [a, b] = await Promise.all([startCustomerService(DB, key, keys, { env }), startCustomerService(DB, key, keys, { env })]);
  loadFixtures(DB);
});
after(async () => {
  await Promise.all([a, b].filter(Boolean).map((s) => s.stop()));
});

test('the same Idempotency-Key sent to both replicas at once creates once', async () => {
  const admin = ownToken(key, EMP.admin);
  const staff = ownToken(key, EMP.staffA1);
  for (let i = 0; i < 10; i++) {
    // A call route (the key is recorded by the create's own statement) ...
    const dept = { code: `TWIN${i}`, name: `雙副本部門${i}`, kind: 'business' };
    const idem = { 'Idempotency-Key': `twin-dept-${i}` };
    const [ra, rb] = await Promise.all([
      call(a, 'POST', '/v1/departments', { token: admin, body: dept, headers: idem }),
      call(b, 'POST', '/v1/departments', { token: admin, body: dept, headers: idem }),
    ]);
    assert.equal(ra.status, 201, `A: ${ra.text}`);
    assert.equal(rb.status, 201, `B: ${rb.text}`);
    assert.equal(ra.json.id, rb.json.id);
    assert.equal(q(`SELECT count(*) FROM org.departments WHERE code = ${lit(dept.code)}`), '1');
    // ... and a handler route (customers: sealed PII, the answer rebuilt on a replay).
    const n = `雙副本客戶${i}`;
    const cust = { name: n, company_name: `${n}有限公司`, business_scope: '貿易', tags: ['twin'], source: '轉介' };
    const cidem = { 'Idempotency-Key': `twin-cust-${i}` };
    const [ca, cb] = await Promise.all([
      call(a, 'POST', '/v1/customers', { token: staff, body: cust, headers: cidem }),
      call(b, 'POST', '/v1/customers', { token: staff, body: cust, headers: cidem }),
    ]);
    assert.equal(ca.status, 201, `A: ${ca.text}`);
    assert.equal(cb.status, 201, `B: ${cb.text}`);
    assert.equal(ca.json.id, cb.json.id);
    assert.equal([ca, cb].filter((r) => r.headers['idempotent-replayed'] === 'true').length, 1, 'exactly one is the replay');
  }
  assert.equal(q(`SELECT count(*) FROM cust.customers WHERE 'twin' = ANY (tags)`), '10');
});

test('due jobs run once between the two replicas', async () => {
  const N = 60;
  owner(`SELECT jobs.enqueue('idempotency.purge', now(), jsonb_build_object('tag', 'twin-jobs'))
           FROM generate_series(1, ${N})`);
  const where = `j.payload ->> 'tag' = 'twin-jobs'`;
  await waitFor(() => q(`SELECT count(*) FROM jobs.jobs j WHERE ${where} AND j.state = 'done'`) === String(N),
    { timeout: 30000, interval: 100, what: `${N} jobs done` });
  assert.equal(q(`SELECT count(*) || ' ' || count(DISTINCT r.job_id) FROM jobs.runs r JOIN jobs.jobs j ON j.id = r.job_id
                   WHERE ${where}`), `${N} ${N}`, 'one run per job');
  const pids = q(`SELECT string_agg(DISTINCT split_part(r.worker, ':', 2), ',') FROM jobs.runs r
                    JOIN jobs.jobs j ON j.id = r.job_id WHERE ${where}`).split(',');
  for (const p of pids) assert.ok([String(a.proc.pid), String(b.proc.pid)].includes(p), `worker pid ${p} is a replica`);
});

test('a token one replica signed verifies on the other, both ways', async () => {
  for (const [from, to] of [[a, b], [b, a]]) {
    const login = ok(await call(from, 'POST', '/v1/auth/login', { body: { username: 'staff.a1', password: EMP.staffA1.password } }));
    const me = ok(await call(to, 'GET', '/v1/me', { token: login.access_token }));
    assert.equal(me.id, EMP.staffA1.id);
  }
});

test('SIGHUP: each replica reloads the rotated signing key', async (t) => {
  const old = ownToken(key, EMP.staffA1);
  ok(await call(a, 'GET', '/v1/me', { token: old }));
  ok(await call(b, 'GET', '/v1/me', { token: old })); // now in each one's token cache
  // Rotate: the new key replaces the file's content (what a Secret update does), then SIGHUP.
  const next = newSigningKey();
  fs.copyFileSync(next.file, key.file);
  const kids = async (s) => ok(await request(s, { path: '/.well-known/jwks.json' })).keys.map((k) => k.kid);
  assert.deepEqual(await kids(a), [key.kid], 'A publishes the old key before its SIGHUP');
  a.proc.kill('SIGHUP');
  await waitFor(async () => (await kids(a)).includes(next.kid), { what: 'A to publish the new key' });
  // B has not been told yet: it still trusts only the old key.
  assert.deepEqual(await kids(b), [key.kid]);
  const fresh = ownToken(next, EMP.staffA1);
  assertUnauthorized(await call(b, 'GET', '/v1/me', { token: fresh }));
  b.proc.kill('SIGHUP');
  await waitFor(async () => (await kids(b)).includes(next.kid), { what: 'B to publish the new key' });
  for (const s of [a, b]) {
    assert.equal(ok(await call(s, 'GET', '/v1/me', { token: fresh })).id, EMP.staffA1.id);
    // The old key is gone and so is its cached verification (SIGHUP empties the cache).
    assertUnauthorized(await call(s, 'GET', '/v1/me', { token: old }));
  }
  // Tokens minted after the reload are signed with the new key and verify across.
  const login = ok(await call(b, 'POST', '/v1/auth/login', { body: { username: 'staff.a1', password: EMP.staffA1.password } }));
  assert.equal(JSON.parse(Buffer.from(login.access_token.split('.')[0], 'base64url')).kid, next.kid);
  ok(await call(a, 'GET', '/v1/me', { token: login.access_token }));
  t.diagnostic(`rotated ${key.kid.slice(0, 8)} -> ${next.kid.slice(0, 8)} on pids ${a.proc.pid}, ${b.proc.pid}`);
  assert.equal(a.proc.exitCode, null);
  assert.equal(b.proc.exitCode, null);
  // A broken key file on SIGHUP keeps the key in use (and says so) rather than failing requests.
  fs.writeFileSync(key.file, 'not a key\n');
  a.proc.kill('SIGHUP');
  await waitFor(() => /key reload failed/.test(a.stderrText()), { what: 'A to report the failed reload' });
  assert.equal(ok(await call(a, 'GET', '/v1/me', { token: fresh })).id, EMP.staffA1.id);
  assertProblem(await call(a, 'GET', '/v1/me', { token: 'x.y.z' }), 401, 'unauthorized');
});
