// The audit trail (G3: effective control the company can prove): every write of the identity,
// organization and regulations modules leaves a row naming the actor, their effective roles and
// the request id; updates record only the changed fields; secrets are redacted. Auditors and
// admins read it with filters and keyset pages; the hash chain verifies, and a row edited behind
// the service's back (as the superuser, triggers off) is found by GET /v1/audit/verify and by
// `tianxingd audit-verify`.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, describe, test } from 'node:test';

import { assertProblem, commonHeadersTest, freshDatabase, lit, pg, request, runBin } from './lib/harness.mjs';
import {
  EMP, ROLES, BY_ROLE, assertFieldError, assertUnauthorized, call, client, dbDay, loadFixtures,
  newSigningKey, ok, ownToken, startIdentityService,
} from './lib/identity.mjs';

const DB = 'tx_api_audit';
const RUN = crypto.randomBytes(4).toString('hex'); // request ids unique to this run
const rid = (what) => `audit-${what}-${RUN}`;
let key;
let svc;
const as = {};
const asEmp = (e, roles) => client(svc, ownToken(key, e, { roles }));
const withId = (id, extra = {}) => ({ headers: { 'X-Request-Id': id, ...extra } });

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startIdentityService(DB, key);
  loadFixtures(DB);
  for (const r of ROLES) as[r] = asEmp(BY_ROLE[r]);
  as.admin2 = asEmp(EMP.admin2); // admin and hr
});

/** Every audit entry matching `query` (a query string without limit/cursor), as `c` sees them. */
async function audit(query = '', c = as.auditor, limit = 200) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < 200; i++) {
    const q = [query, `limit=${limit}`, cursor && `cursor=${encodeURIComponent(cursor)}`].filter(Boolean).join('&');
    const body = ok(await c.get(`/v1/audit?${q}`));
    items.push(...body.items);
    if (!body.next_cursor) return items;
    cursor = body.next_cursor;
  }
  throw new Error('too many pages');
}

/** The entries of `table` written by request `id`. */
async function byRequest(table, id) {
  return (await audit(`table=${table}`)).filter((e) => e.request_id === id);
}

const keysOf = (o) => Object.keys(o).sort();

// Writes of the tests below, kept for the later ones.
const W = {};

describe('every write leaves an audit entry', () => {
  test('department create and update: actor, effective roles, request id; only changed fields', async () => {
    const c = await as.admin2.post('/v1/departments', { code: 'AUD', name: 'Audit dept', kind: 'support' }, withId(rid('dept-create')));
    const d = ok(c, 201);
    assert.equal(c.headers['x-request-id'], rid('dept-create'));
    const [ins] = await byRequest('org.departments', rid('dept-create'));
    assert.ok(ins, 'INSERT entry');
    assert.equal(ins.op, 'INSERT');
    assert.equal(ins.row_key, d.id);
    assert.equal(ins.actor_id, EMP.admin2.id);
    assert.deepEqual(ins.actor_roles, ['admin', 'hr']);
    assert.equal(ins.changes.code, 'AUD');
    assert.equal(ins.changes.name, 'Audit dept');
    assert.equal(ins.changes.id, d.id);
    assert.match(ins.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.match(ins.hash, /^[0-9a-f]{64}$/);
    assert.match(ins.prev_hash, /^[0-9a-f]{64}$/);
    assert.equal(ins.hash_version, 2, 'written since 0048: the digest at staging, the link at commit');

    const u = await as.admin.patch(`/v1/departments/${d.id}`, { name: 'Audit department', kind: 'support' }, withId(rid('dept-patch'), { 'If-Match': '"1"' }));
    ok(u);
    const upd = await byRequest('org.departments', rid('dept-patch'));
    assert.equal(upd.length, 1);
    assert.equal(upd[0].op, 'UPDATE');
    assert.equal(upd[0].actor_id, EMP.admin.id);
    assert.deepEqual(upd[0].actor_roles, ['admin']);
    assert.deepEqual(keysOf(upd[0].changes), ['name', 'updated_at', 'version'], 'kind was sent but did not change');
    assert.deepEqual(upd[0].changes.name, ['Audit dept', 'Audit department']);
    assert.deepEqual(upd[0].changes.version, [1, 2]);
    W.dept = d;
    W.deptUpdateEntry = upd[0];
  });

  test('employee create, update, deactivation', async () => {
    const e = ok(await as.admin.post('/v1/employees', { username: 'audit.me', display_name: 'Audit Me', roles: ['staff'], department_id: W.dept.id }, withId(rid('emp-create'))), 201);
    W.emp = e;
    const [ins] = await byRequest('org.employees', rid('emp-create'));
    assert.equal(ins.op, 'INSERT');
    assert.equal(ins.row_key, e.id);
    assert.equal(ins.actor_id, EMP.admin.id);
    assert.deepEqual(ins.changes.roles, ['staff']);
    ok(await as.admin.patch(`/v1/employees/${e.id}`, { display_name: 'Audit Me Too', email: null }, withId(rid('emp-patch'), { 'If-Match': '"1"' })));
    const [upd] = await byRequest('org.employees', rid('emp-patch'));
    assert.deepEqual(keysOf(upd.changes), ['display_name', 'updated_at', 'version'], 'email was null and stayed null');
    assert.deepEqual(upd.changes.display_name, ['Audit Me', 'Audit Me Too']);
    ok(await as.admin.post(`/v1/employees/${e.id}/deactivate`, undefined, withId(rid('emp-deactivate'))));
    const [deact] = await byRequest('org.employees', rid('emp-deactivate'));
    assert.deepEqual(keysOf(deact.changes), ['active', 'deactivated_at', 'updated_at', 'version']);
    assert.deepEqual(deact.changes.active, [true, false]);
    assert.equal(deact.changes.deactivated_at[0], null);
    ok(await as.admin.post(`/v1/employees/${e.id}/activate`, undefined, withId(rid('emp-activate'))));
    assert.equal((await byRequest('org.employees', rid('emp-activate'))).length, 1);
  });

  test('passwords: credentials are audited with the hash redacted', async () => {
    const url = `/v1/employees/${W.emp.id}/password`;
    assert.equal((await as.admin.put(url, { password: 'first-password-1' }, withId(rid('pw-1')))).status, 204);
    const [ins] = await byRequest('auth.credentials', rid('pw-1'));
    assert.equal(ins.op, 'INSERT');
    assert.equal(ins.row_key, W.emp.id);
    assert.equal(ins.actor_id, EMP.admin.id);
    assert.equal(ins.changes.password_hash, '[redacted]');
    assert.equal((await as.admin.put(url, { password: 'second-password-2' }, withId(rid('pw-2')))).status, 204);
    const [upd] = await byRequest('auth.credentials', rid('pw-2'));
    assert.equal(upd.op, 'UPDATE');
    assert.deepEqual(upd.changes.password_hash, ['[redacted]', '[redacted]']);
    // nowhere in the trail, through the API or in the table itself
    for (const e of await audit('table=auth.credentials')) assert.doesNotMatch(JSON.stringify(e.changes), /\$scrypt\$|second-password|first-password/);
    assert.equal(pg(`SELECT count(*) FROM audit.log WHERE changes::text ~ '\\$scrypt\\$|password-[12]'`, { db: DB }), '0');
  });

  test('sign-in, failed sign-in and refresh: refresh-token hashes redacted; anonymous writes carry the request id', async () => {
    // The admin set this password: it must change at first sign-in (org.test.mjs tests that, and
    // such a request runs without an employee claim). This test is about the audit of a normal
    // sign-in, so the employee is taken to have chosen it.
    pg(`UPDATE auth.credentials SET must_change = false WHERE employee_id = ${lit(W.emp.id)}`, { db: DB });
    const login = (password, id) => call(svc, 'POST', '/v1/auth/login', { body: { username: 'audit.me', password }, ...withId(id) });
    assertProblem(await login('wrong-password-0', rid('login-failed')), 401, 'invalid_credentials');
    // a failure is counted in auth.login_throttle, which is not audited (docs/identity.md: any
    // anonymous caller writes it, known username or not)
    assert.deepEqual(await byRequest('auth.credentials', rid('login-failed')), []);
    assert.equal(pg(`SELECT count(*) FROM audit.log WHERE request_id = ${lit(rid('login-failed'))}`, { db: DB }), '0');
    assert.equal(pg(`SELECT failed_count FROM auth.login_throttle WHERE username = 'audit.me'`, { db: DB }), '1');
    const pair = ok(await login('second-password-2', rid('login-ok')));
    const tokens = await byRequest('auth.refresh_tokens', rid('login-ok'));
    assert.equal(tokens.length, 1);
    assert.equal(tokens[0].op, 'INSERT');
    assert.equal(tokens[0].actor_id, W.emp.id, 'the employee signing in');
    assert.deepEqual(tokens[0].actor_roles, ['staff']);
    assert.equal(tokens[0].changes.token_hash, '[redacted]');
    ok(await call(svc, 'POST', '/v1/auth/refresh', { body: { refresh_token: pair.refresh_token }, ...withId(rid('refresh')) }));
    const rot = await byRequest('auth.refresh_tokens', rid('refresh'));
    assert.deepEqual(rot.map((e) => e.op).sort(), ['INSERT', 'UPDATE']);
    for (const e of rot) assert.doesNotMatch(JSON.stringify(e.changes), /token_hash":"(?!\[redacted\])/);
    assert.equal(pg(`SELECT count(*) FROM audit.log WHERE table_name = 'auth.refresh_tokens' AND changes ? 'token_hash' AND changes->>'token_hash' <> '[redacted]'`, { db: DB }), '0');
  });

  test('regulations, acknowledgements and policy decisions', async () => {
    const seed = ok(await as.staff.get('/v1/regulations/current'));
    const draft = ok(await as.hr.post('/v1/regulations', { based_on: seed.id }, withId(rid('reg-create'))), 201);
    const regs = await byRequest('org.regulations', rid('reg-create'));
    assert.equal(regs.length, 1);
    assert.equal(regs[0].actor_id, EMP.hr.id);
    assert.deepEqual(regs[0].actor_roles, ['hr']);
    const clauses = await byRequest('org.regulation_clauses', rid('reg-create'));
    assert.equal(clauses.length, seed.clauses.length, 'one entry per copied clause');
    assert.ok(clauses.every((e) => e.row_key.startsWith(`${draft.id},`)));
    ok(await as.hr.post(`/v1/regulations/${draft.id}/publish`, {}, withId(rid('reg-publish'))));
    const pub = await byRequest('org.regulations', rid('reg-publish'));
    assert.deepEqual(pub.map((e) => e.row_key).sort(), [draft.id, seed.id].sort(), 'published and superseded');
    assert.deepEqual(pub.find((e) => e.row_key === seed.id).changes.status, ['published', 'superseded']);
    ok(await as.staff.post(`/v1/regulations/${draft.id}/acknowledge`, undefined, withId(rid('ack'))));
    const [ack] = await byRequest('org.regulation_acknowledgements', rid('ack'));
    assert.equal(ack.row_key, `${draft.id},${EMP.staffA1.id}`);
    assert.equal(ack.actor_id, EMP.staffA1.id);
    assert.deepEqual(ack.actor_roles, ['staff']);
    ok(await as.staff.post(`/v1/regulations/${draft.id}/acknowledge`, undefined, withId(rid('ack-again'))));
    assert.equal((await byRequest('org.regulation_acknowledgements', rid('ack-again'))).length, 0, 'the idempotent repeat writes nothing');

    const prop = ok(await as.hr.post('/v1/policy-parameters/customer_review_period_days/proposals',
      { value: 90, effective_from: dbDay(DB, 5), reason: 'audit test' }, withId(rid('propose'))), 201);
    const [pi] = await byRequest('org.policy_values', rid('propose'));
    assert.equal(pi.row_key, prop.id);
    assert.equal(pi.actor_id, EMP.hr.id);
    ok(await as.admin.post(`/v1/policy-proposals/${prop.id}/approve`, undefined, withId(rid('approve'))));
    const [pa] = await byRequest('org.policy_values', rid('approve'));
    assert.equal(pa.actor_id, EMP.admin.id);
    assert.deepEqual(pa.changes.status, ['proposed', 'approved']);
    assert.deepEqual(pa.changes.decided_by, [null, EMP.admin.id]);
    assert.ok(!('value' in pa.changes), 'the value did not change');
  });

  test('refused writes leave nothing', async () => {
    const id = rid('refused');
    assertProblem(await as.staff.post('/v1/departments', { code: 'NOPE', name: 'N', kind: 'support' }, withId(id)), 403, 'forbidden');
    assertProblem(await asEmp(EMP.staffA1, ['staff', 'admin']).post('/v1/departments', { code: 'NOPE', name: 'N', kind: 'support' }, withId(id)), 403, 'forbidden');
    assertFieldError(await as.admin.post('/v1/departments', { code: 'NOPE', name: 'N', kind: 'space' }, withId(id)), 'kind');
    assert.equal(pg(`SELECT count(*) FROM audit.log WHERE request_id = ${lit(id)}`, { db: DB }), '0');
  });
});

describe('reading the trail', () => {
  test('auditor and admin read it; every other role 403; no token 401', async () => {
    ok(await as.auditor.get('/v1/audit?limit=1'));
    ok(await as.admin.get('/v1/audit?limit=1'));
    ok(await as.auditor.get('/v1/audit/verify'));
    for (const role of ROLES.filter((r) => r !== 'auditor' && r !== 'admin')) {
      assertProblem(await as[role].get('/v1/audit'), 403, 'forbidden');
      assertProblem(await as[role].get('/v1/audit/verify'), 403, 'forbidden');
    }
    // a token claiming auditor for someone who is not one: refused by the database
    assertProblem(await asEmp(EMP.staffA1, ['staff', 'auditor']).get('/v1/audit'), 403, 'forbidden');
    assertUnauthorized(await request(svc, { path: '/v1/audit' }), { invalid: false });
    assertUnauthorized(await request(svc, { path: '/v1/audit/verify' }), { invalid: false });
  });

  test('filters: table, row_key, actor_id, from/to', async () => {
    const byRow = await audit(`table=org.departments&row_key=${W.dept.id}`);
    assert.deepEqual(byRow.map((e) => e.op), ['UPDATE', 'INSERT'], 'newest first');
    assert.ok(byRow.every((e) => e.table_name === 'org.departments' && e.row_key === W.dept.id));
    const byActor = await audit(`actor_id=${EMP.hr.id}`);
    assert.ok(byActor.length > 0 && byActor.every((e) => e.actor_id === EMP.hr.id));
    assert.ok(byActor.some((e) => e.table_name === 'org.policy_values'));
    const nobody = await audit(`actor_id=${crypto.randomUUID()}`);
    assert.deepEqual(nobody, []);
    const t = W.deptUpdateEntry.at; // millisecond precision; the stored time may have microseconds
    const t1 = new Date(Date.parse(t) + 1).toISOString();
    const window = await audit(`table=org.departments&from=${t}&to=${t1}`);
    assert.deepEqual(window.map((e) => e.id), [W.deptUpdateEntry.id], 'from is inclusive');
    const before = await audit(`table=org.departments&row_key=${W.dept.id}&to=${t}`);
    assert.deepEqual(before.map((e) => e.op), ['INSERT'], 'to is exclusive');
    assert.deepEqual(await audit(`from=${new Date(Date.now() + 3600e3).toISOString()}`), []);
    assertFieldError(await as.auditor.get(`/v1/audit?from=${t1}&to=${t}`), 'from');
    assertFieldError(await as.auditor.get('/v1/audit?from=yesterday'), 'from');
    assertFieldError(await as.auditor.get('/v1/audit?from=2024-13-45T99:00:00Z'), 'from');
    assertFieldError(await as.auditor.get('/v1/audit?to=2024-01-31T08:00:00'), 'to');
    // an offset is fine ('+' sent as %2B)
    const offset = new Date(Date.parse(t1) + 8 * 3600e3).toISOString().slice(0, 23) + '%2B08:00';
    assert.deepEqual((await audit(`table=org.departments&from=${t}&to=${offset}`)).map((e) => e.id), [W.deptUpdateEntry.id]);
    assertFieldError(await as.auditor.get('/v1/audit?to=2024-01-01'), 'to');
    assertFieldError(await as.auditor.get('/v1/audit?actor_id=admin'), 'actor_id');
    assertFieldError(await as.auditor.get('/v1/audit?limit=0'), 'limit');
    assertFieldError(await as.auditor.get('/v1/audit?limit=201'), 'limit');
    assertFieldError(await as.auditor.get('/v1/audit?cursor=abc'), 'cursor');
    assert.deepEqual(await audit('table=no.such_table'), []);
  });

  test('keyset pages: next_cursor walks the whole list once, newest first', async () => {
    const q = 'table=org.regulation_clauses';
    const whole = await audit(q);
    assert.ok(whole.length > 60, `${whole.length} entries`);
    const first = ok(await as.auditor.get(`/v1/audit?${q}&limit=7`));
    assert.equal(first.items.length, 7);
    assert.equal(first.next_cursor, String(first.items[6].id));
    const paged = await audit(q, as.admin, 7);
    assert.deepEqual(paged.map((e) => e.id), whole.map((e) => e.id));
    for (let i = 1; i < paged.length; i++) assert.ok(paged[i].id < paged[i - 1].id, 'strictly descending ids');
    const last = ok(await as.auditor.get(`/v1/audit?${q}&limit=200`));
    assert.equal(last.next_cursor, null);
  });

  test('the chain is a line: each entry\'s prev_hash is the previous entry\'s hash', async () => {
    const all = await audit('', as.auditor);
    const asc = [...all].reverse();
    assert.equal(asc[0].prev_hash, '0'.repeat(64));
    for (let i = 1; i < asc.length; i++) assert.equal(asc[i].prev_hash, asc[i - 1].hash, `entry ${asc[i].id}`);
  });
});

describe('verification', () => {
  test('GET /v1/audit/verify: intact; `tianxingd audit-verify` agrees (exit 0)', async () => {
    const total = Number(pg('SELECT count(*) FROM audit.log', { db: DB }));
    const v = ok(await as.auditor.get('/v1/audit/verify'));
    assert.deepEqual(v, { checked: total, intact: true, first_broken_id: null, reason: null });
    assert.deepEqual(ok(await as.admin.get('/v1/audit/verify')).intact, true);
    const r = await runBin(['audit-verify'], { db: DB });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.intact, true);
    assert.equal(out.checked, total);
  });

  test('the trail refuses UPDATE and DELETE, from the service\'s role and from the superuser', () => {
    const id = W.deptUpdateEntry.id;
    assert.throws(() => pg(`UPDATE audit.log SET op = 'DELETE' WHERE id = ${id}`, { db: DB, user: 'tianxing_app' }), /permission denied/);
    assert.throws(() => pg(`DELETE FROM audit.log WHERE id = ${id}`, { db: DB, user: 'tianxing_app' }), /permission denied/);
    assert.throws(() => pg(`UPDATE audit.log SET op = 'DELETE' WHERE id = ${id}`, { db: DB }), /append-only/);
    assert.throws(() => pg(`DELETE FROM audit.log WHERE id = ${id}`, { db: DB }), /append-only/);
    assert.throws(() => pg('TRUNCATE audit.log', { db: DB }), /append-only/);
    assert.equal(pg(`SELECT op FROM audit.log WHERE id = ${id}`, { db: DB }), 'UPDATE');
  });

  test('a row edited behind the service\'s back is found: API and audit-verify name it', async () => {
    const n = W.deptUpdateEntry.id;
    pg(`SET session_replication_role = replica;
        UPDATE audit.log SET changes = jsonb_set(changes, '{name,1}', '"Nothing to see"') WHERE id = ${n};`, { db: DB });
    assert.equal(pg(`SELECT changes->'name'->>1 FROM audit.log WHERE id = ${n}`, { db: DB }), 'Nothing to see');
    const v = ok(await as.auditor.get('/v1/audit/verify'));
    assert.equal(v.intact, false);
    assert.equal(v.first_broken_id, n);
    assert.match(v.reason, /hash/);
    assert.ok(v.checked > 0 && v.checked <= Number(pg('SELECT count(*) FROM audit.log', { db: DB })));
    const r = await runBin(['audit-verify'], { db: DB });
    assert.equal(r.code, 1, `exit 1 at the first broken row; stdout ${r.stdout} stderr ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`\\b${n}\\b`));
    assert.equal(JSON.parse(r.stdout).first_broken_id, n);
    // later writes go on chaining; the first broken row stays the one reported
    ok(await as.admin.patch(`/v1/departments/${W.dept.id}`, { name: 'After the tampering' }, { headers: { 'If-Match': '"2"' } }));
    assert.equal(ok(await as.admin.get('/v1/audit/verify')).first_broken_id, n);
  });
});

commonHeadersTest();
