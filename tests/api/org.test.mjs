// Module G, the organization (G2: the regulations apply to all employees and departments):
// departments and employees through every role. Three outcomes per route and role: allowed,
// refused by the route's roles (403), or filtered by row-level security (404 for a row the caller
// may not see, lists hold only visible rows). Also BOLA, optimistic concurrency (If-Match/ETag),
// creates, conflicts, validation naming the field, malformed ids, (de)activation and passwords.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, describe, test } from 'node:test';

import { assertProblem, commonHeadersTest, freshDatabase, lit, pg } from './lib/harness.mjs';
import {
  ALL_IDS, BY_ROLE, DEPT, EMP, ROLES, assertFieldError, assertUnauthorized, call, client,
  loadFixtures, newSigningKey, ok, ownToken, startIdentityService,
} from './lib/identity.mjs';

const DB = 'tx_api_org';
let key;
let svc;
const as = {}; // role -> client of BY_ROLE[role]
const asEmp = (e, roles) => client(svc, ownToken(key, e, { roles }));

// Who sees which fixture employees (docs/identity.md, "Visibility (RLS)").
const VISIBLE = {
  admin: ALL_IDS,
  hr: ALL_IDS,
  auditor: ALL_IDS,
  supervisor: [EMP.supB.id, EMP.staffB1.id], // sup.b: department B and direct reports
  staff: [EMP.staffA1.id],
  risk_officer: [EMP.risk.id],
};

const etagOf = (r) => r.headers.etag;
const sorted = (a) => [...a].sort();

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startIdentityService(DB, key);
  loadFixtures(DB);
  for (const r of ROLES) as[r] = asEmp(BY_ROLE[r]);
});

/** Every item of a paged list, following next_cursor. */
async function all(c, p, limit = 200) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < 50; i++) {
    const sep = p.includes('?') ? '&' : '?';
    const body = ok(await c.get(`${p}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`));
    items.push(...body.items);
    if (!body.next_cursor) return items;
    cursor = body.next_cursor;
  }
  throw new Error('too many pages');
}

describe('role matrix', () => {
  test('GET /v1/departments and /v1/departments/{id}: every role reads every department', async () => {
    for (const role of ROLES) {
      const items = await all(as[role], '/v1/departments');
      assert.deepEqual(items.map((d) => d.code), ['A', 'B', 'HR'], role);
      for (const id of Object.values(DEPT)) {
        const r = await as[role].get(`/v1/departments/${id}`);
        const d = ok(r);
        assert.equal(d.id, id);
        assert.equal(etagOf(r), `"${d.version}"`, `ETag on ${role}`);
      }
    }
  });

  test('GET /v1/employees: each role lists exactly the employees it may see', async () => {
    for (const role of ROLES) {
      const items = await all(as[role], '/v1/employees');
      assert.deepEqual(sorted(items.map((e) => e.id)), sorted(VISIBLE[role]), role);
      const names = items.map((e) => e.username);
      assert.deepEqual(names, [...names].sort(), `${role}: ordered by username`);
    }
  });

  test('GET /v1/employees/{id}: visible 200 with ETag, invisible 404', async () => {
    for (const role of ROLES) {
      for (const id of ALL_IDS) {
        const r = await as[role].get(`/v1/employees/${id}`);
        if (VISIBLE[role].includes(id)) {
          const e = ok(r);
          assert.equal(e.id, id);
          assert.equal(etagOf(r), `"${e.version}"`);
        } else {
          assertProblem(r, 404, 'not_found');
        }
      }
    }
  });

  test('writes are the admin\'s: every other role gets 403 on each write route, and nothing changes', async () => {
    const before = pg(`SELECT string_agg(id || ':' || version, ',' ORDER BY id) FROM org.employees`, { db: DB })
      + pg(`SELECT string_agg(id || ':' || version, ',' ORDER BY id) FROM org.departments`, { db: DB });
    for (const role of ROLES.filter((r) => r !== 'admin')) {
      const c = as[role];
      const self = BY_ROLE[role].id;
      const checks = [
        await c.post('/v1/departments', { code: 'X1', name: 'X', kind: 'support' }),
        await c.patch(`/v1/departments/${DEPT.A}`, { name: 'Renamed' }, { headers: { 'If-Match': '"1"' } }),
        await c.post('/v1/employees', { username: 'x.new', display_name: 'X', roles: ['staff'] }),
        await c.patch(`/v1/employees/${self}`, { display_name: 'Me myself' }, { headers: { 'If-Match': '"1"' } }),
        await c.patch(`/v1/employees/${EMP.staffB1.id}`, { roles: ['admin'] }, { headers: { 'If-Match': '"1"' } }),
        await c.post(`/v1/employees/${EMP.staffB1.id}/deactivate`),
        await c.post(`/v1/employees/${EMP.gone.id}/activate`),
        await c.put(`/v1/employees/${self}/password`, { password: 'a-new-password' }),
        await c.put(`/v1/employees/${EMP.admin.id}/password`, { password: 'a-new-password' }),
      ];
      for (const r of checks) assertProblem(r, 403, 'forbidden');
    }
    const afterState = pg(`SELECT string_agg(id || ':' || version, ',' ORDER BY id) FROM org.employees`, { db: DB })
      + pg(`SELECT string_agg(id || ':' || version, ',' ORDER BY id) FROM org.departments`, { db: DB });
    assert.equal(afterState, before);
  });

  test('a token claiming admin for a staff member is refused by the database (403), not just the route', async () => {
    const c = asEmp(EMP.staffA1, ['staff', 'admin']);
    assertProblem(await c.post('/v1/departments', { code: 'X2', name: 'X', kind: 'support' }), 403, 'forbidden');
    assertProblem(await c.patch(`/v1/employees/${EMP.staffA1.id}`, { roles: ['admin'] }, { headers: { 'If-Match': '"1"' } }), 403, 'forbidden');
    assertProblem(await c.put(`/v1/employees/${EMP.staffA1.id}/password`, { password: 'a-new-password' }), 403, 'forbidden');
    assertProblem(await c.post(`/v1/employees/${EMP.staffA2.id}/deactivate`), 403, 'forbidden');
    // and reads stay those of a staff member
    assertProblem(await c.get(`/v1/employees/${EMP.staffA2.id}`), 404, 'not_found');
  });

  test('without a token: 401 on every org route', async () => {
    for (const [m, p] of [['GET', '/v1/departments'], ['GET', `/v1/departments/${DEPT.A}`], ['POST', '/v1/departments'],
      ['PATCH', `/v1/departments/${DEPT.A}`], ['GET', '/v1/employees'], ['POST', '/v1/employees'],
      ['GET', `/v1/employees/${EMP.admin.id}`], ['PATCH', `/v1/employees/${EMP.admin.id}`],
      ['POST', `/v1/employees/${EMP.admin.id}/deactivate`], ['POST', `/v1/employees/${EMP.admin.id}/activate`]]) {
      assertUnauthorized(await call(svc, m, p, { body: m === 'GET' ? undefined : {} }), { invalid: false });
    }
    assertUnauthorized(await call(svc, 'PUT', `/v1/employees/${EMP.admin.id}/password`, { body: { password: 'a-new-password' } }), { invalid: false });
  });
});

describe('object-level access (BOLA)', () => {
  test('staff A1 cannot read staff A2 (404) nor change them (403 at the route)', async () => {
    const a1 = as.staff;
    assertProblem(await a1.get(`/v1/employees/${EMP.staffA2.id}`), 404, 'not_found');
    assertProblem(await a1.get(`/v1/employees/${EMP.staffB1.id}`), 404, 'not_found');
    assertProblem(await a1.patch(`/v1/employees/${EMP.staffA2.id}`, { display_name: 'Hacked' }, { headers: { 'If-Match': '"1"' } }), 403, 'forbidden');
    const list = ok(await a1.get(`/v1/employees?department_id=${DEPT.A}`));
    assert.deepEqual(list.items.map((e) => e.id), [EMP.staffA1.id], 'a filter does not widen what is visible');
  });

  test('a supervisor reads their department and direct reports, not the other department', async () => {
    const supA = asEmp(EMP.supA);
    const items = await all(supA, '/v1/employees');
    assert.deepEqual(sorted(items.map((e) => e.id)),
      sorted([EMP.supA.id, EMP.staffA1.id, EMP.staffA2.id, EMP.gone.id, EMP.staffX.id]),
      'department A, and staff.x who reports to sup.a from no department');
    ok(await supA.get(`/v1/employees/${EMP.staffA2.id}`));
    ok(await supA.get(`/v1/employees/${EMP.staffX.id}`));
    assertProblem(await supA.get(`/v1/employees/${EMP.staffB1.id}`), 404, 'not_found');
    assertProblem(await supA.get(`/v1/employees/${EMP.supB.id}`), 404, 'not_found');
    assertProblem(await as.supervisor.get(`/v1/employees/${EMP.staffA1.id}`), 404, 'not_found');
    ok(await as.supervisor.get(`/v1/employees/${EMP.staffB1.id}`));
    // the supervisor role is what opens the department: the same employee as staff only sees self
    const supAStaff = asEmp(EMP.supA, ['staff']);
    assertProblem(await supAStaff.get(`/v1/employees/${EMP.staffA1.id}`), 404, 'not_found');
  });

  test('every active employee reads themselves', async () => {
    for (const e of Object.values(EMP).filter((x) => x.active)) {
      const body = ok(await asEmp(e).get(`/v1/employees/${e.id}`));
      assert.equal(body.username, e.username);
      assert.deepEqual(body.roles, e.roles);
      assert.equal(body.department_id, e.dept);
      assert.equal(body.supervisor_id, e.supervisor);
    }
  });
});

describe('creates, updates and validation (admin)', () => {
  test('POST /v1/departments: 201 with Location and ETag; the new department reads back', async () => {
    const r = await as.admin.post('/v1/departments', { code: 'SUP', name: '支持部 Support', kind: 'support' });
    const d = ok(r, 201);
    assert.equal(r.headers.location, `/v1/departments/${d.id}`);
    assert.equal(etagOf(r), '"1"');
    assert.deepEqual({ code: d.code, name: d.name, kind: d.kind, version: d.version }, { code: 'SUP', name: '支持部 Support', kind: 'support', version: 1 });
    assert.deepEqual(ok(await as.staff.get(r.headers.location)), d);
    assertProblem(await as.admin.post('/v1/departments', { code: 'SUP', name: 'Again', kind: 'support' }), 409, 'conflict');
  });

  test('POST /v1/employees: 201 with Location; duplicate username 409', async () => {
    const body = { username: 'new.hire', display_name: '新同事', email: 'new.hire@example.test', department_id: DEPT.B, supervisor_id: EMP.supB.id, roles: ['staff'] };
    const r = await as.admin.post('/v1/employees', body);
    const e = ok(r, 201);
    assert.equal(r.headers.location, `/v1/employees/${e.id}`);
    assert.equal(etagOf(r), '"1"');
    assert.equal(e.active, true);
    assert.equal(e.deactivated_at, null);
    for (const k of Object.keys(body)) assert.deepEqual(e[k], body[k], k);
    // the answer of a create adds the privileged roles waiting for a second admin (none here)
    const { pending_grants: pending, ...plain } = e;
    assert.deepEqual(pending, []);
    assert.deepEqual(ok(await as.admin.get(r.headers.location)), plain);
    // sup.b now sees the new hire (department B), staff.b1 does not
    ok(await as.supervisor.get(`/v1/employees/${e.id}`));
    assertProblem(await asEmp(EMP.staffB1).get(`/v1/employees/${e.id}`), 404, 'not_found');
    const dup = await as.admin.post('/v1/employees', { ...body, display_name: 'Someone else' });
    assertProblem(dup, 409, 'conflict');
    assertProblem(await as.admin.post('/v1/employees', { username: 'staff.a1', display_name: 'X', roles: ['staff'] }), 409, 'conflict');
  });

  test('invalid fields: 422 naming the field', async () => {
    const dept = (b) => as.admin.post('/v1/departments', { code: 'OK1', name: 'Name', kind: 'support', ...b });
    assertFieldError(await dept({ kind: 'space' }), 'kind');
    assertFieldError(await dept({ code: 'bad code!' }), 'code');
    assertFieldError(await dept({ name: undefined }), 'name');
    assertFieldError(await dept({ name: '   ' }), 'name');
    assertFieldError(await dept({ colour: 'red' }), 'colour');
    assertFieldError(await dept({ name: 42 }), 'name');
    const emp = (b) => as.admin.post('/v1/employees', { username: 'ok.user', display_name: 'OK', roles: ['staff'], ...b });
    assertFieldError(await emp({ username: 'Bad Name' }), 'username');
    assertFieldError(await emp({ username: 'x' }), 'username');
    assertFieldError(await emp({ username: undefined }), 'username');
    assertFieldError(await emp({ display_name: undefined }), 'display_name');
    assertFieldError(await emp({ roles: ['god'] }), 'roles');
    assertFieldError(await emp({ roles: [] }), 'roles');
    assertFieldError(await emp({ roles: 'staff' }), 'roles');
    assertFieldError(await emp({ email: 'not-an-address' }), 'email');
    assertFieldError(await emp({ department_id: crypto.randomUUID() }), 'department_id');
    assertFieldError(await emp({ department_id: 'A' }), 'department_id');
    assertFieldError(await emp({ supervisor_id: crypto.randomUUID() }), 'supervisor_id');
    assertFieldError(await emp({ supervisor_id: EMP.gone.id }), 'supervisor_id');
    assertFieldError(await emp({ password: 'secret-pass' }), 'password');
    assertProblem(await as.admin.post('/v1/employees', ['staff']), 400, 'bad_request');
    assert.equal(pg(`SELECT count(*) FROM org.employees WHERE username = 'ok.user'`, { db: DB }), '0');
  });

  test('PATCH: 428 without If-Match or with *, 412 when stale or malformed, 200 with the new ETag', async () => {
    const url = `/v1/departments/${DEPT.B}`;
    const r0 = await as.admin.get(url);
    const v = ok(r0).version;
    assert.equal(etagOf(r0), `"${v}"`);
    assertProblem(await as.admin.patch(url, { name: 'B renamed' }), 428, 'precondition_required');
    assertProblem(await as.admin.patch(url, { name: 'B renamed' }, { headers: { 'If-Match': '*' } }), 428, 'precondition_required');
    assertProblem(await as.admin.patch(url, { name: 'B renamed' }, { headers: { 'If-Match': `"${v + 5}"` } }), 412, 'precondition_failed');
    for (const bad of ['abc', `W/"${v}"`, '"99999999999"', '"2147483648"', `"${v}`]) {
      assertProblem(await as.admin.patch(url, { name: 'B renamed' }, { headers: { 'If-Match': bad } }), 412, 'precondition_failed');
    }
    const r = await as.admin.patch(url, { name: 'B renamed' }, { headers: { 'If-Match': etagOf(r0) } });
    const d = ok(r);
    assert.equal(d.version, v + 1);
    assert.equal(etagOf(r), `"${v + 1}"`);
    assert.equal(d.name, 'B renamed');
    assert.equal(d.code, 'B', 'fields not sent stay');
    assert.equal(etagOf(await as.staff.get(url)), `"${v + 1}"`);
    assertProblem(await as.admin.patch(url, { name: 'Lost update' }, { headers: { 'If-Match': etagOf(r0) } }), 412, 'precondition_failed');
    assertFieldError(await as.admin.patch(url, { kind: 'space' }, { headers: { 'If-Match': etagOf(r) } }), 'kind');
    assertFieldError(await as.admin.patch(url, { name: null }, { headers: { 'If-Match': etagOf(r) } }), 'name');
    assertProblem(await as.admin.patch(url, { code: 'A' }, { headers: { 'If-Match': etagOf(r) } }), 409, 'conflict');
  });

  test('PATCH /v1/employees/{id}: only the fields sent change; version guards it', async () => {
    const url = `/v1/employees/${EMP.staffB1.id}`;
    const r0 = await as.admin.get(url);
    const e0 = ok(r0);
    assertProblem(await as.admin.patch(url, { display_name: 'B1' }), 428, 'precondition_required');
    const r = await as.admin.patch(url, { display_name: 'Staff B1 (renamed)', email: 'b1@example.test' }, { headers: { 'If-Match': etagOf(r0) } });
    const e = ok(r);
    assert.equal(e.version, e0.version + 1);
    assert.equal(etagOf(r), `"${e.version}"`);
    assert.equal(e.display_name, 'Staff B1 (renamed)');
    assert.equal(e.email, 'b1@example.test');
    assert.equal(e.department_id, DEPT.B);
    assert.equal(e.supervisor_id, EMP.supB.id);
    assertProblem(await as.admin.patch(url, { email: null }, { headers: { 'If-Match': etagOf(r0) } }), 412, 'precondition_failed');
    const cleared = ok(await as.admin.patch(url, { email: null }, { headers: { 'If-Match': etagOf(r) } }));
    assert.equal(cleared.email, null);
    const im = { headers: { 'If-Match': `"${cleared.version}"` } };
    assertFieldError(await as.admin.patch(url, { supervisor_id: EMP.staffB1.id }, im), 'supervisor_id');
    assertFieldError(await as.admin.patch(url, { username: 'renamed' }, im), 'username');
    assertFieldError(await as.admin.patch(url, { roles: [] }, im), 'roles');
    // a supervisor cycle: sup.b reporting to staff.b1 who reports to sup.b
    const sb = ok(await as.admin.get(`/v1/employees/${EMP.supB.id}`));
    assertFieldError(await as.admin.patch(`/v1/employees/${EMP.supB.id}`, { supervisor_id: EMP.staffB1.id }, { headers: { 'If-Match': `"${sb.version}"` } }), 'supervisor_id');
  });

  test('a malformed id in the path: 404; a well-formed unknown id: 404', async () => {
    const unknown = crypto.randomUUID();
    for (const bad of ['123', 'not-a-uuid', `${EMP.admin.id}x`, EMP.admin.id.replace(/-/g, ''), '%27%20OR%201=1']) {
      assertProblem(await as.admin.get(`/v1/employees/${bad}`), 404, 'not_found');
      assertProblem(await as.admin.get(`/v1/departments/${bad}`), 404, 'not_found');
      assertProblem(await as.admin.patch(`/v1/employees/${bad}`, { display_name: 'X' }, { headers: { 'If-Match': '"1"' } }), 404, 'not_found');
      assertProblem(await as.admin.patch(`/v1/departments/${bad}`, { name: 'X' }, { headers: { 'If-Match': '"1"' } }), 404, 'not_found');
      assertProblem(await as.admin.post(`/v1/employees/${bad}/deactivate`), 404, 'not_found');
      assertProblem(await as.admin.put(`/v1/employees/${bad}/password`, { password: 'a-new-password' }), 404, 'not_found');
    }
    assertProblem(await as.admin.get(`/v1/employees/${unknown}`), 404, 'not_found');
    assertProblem(await as.admin.get(`/v1/departments/${unknown}`), 404, 'not_found');
    assertProblem(await as.admin.patch(`/v1/employees/${unknown}`, { display_name: 'X' }, { headers: { 'If-Match': '"1"' } }), 404, 'not_found');
    assertProblem(await as.admin.patch(`/v1/departments/${unknown}`, { name: 'X' }, { headers: { 'If-Match': '"1"' } }), 404, 'not_found');
    assertProblem(await as.admin.post(`/v1/employees/${unknown}/deactivate`), 404, 'not_found');
    assertProblem(await as.admin.post(`/v1/employees/${unknown}/activate`), 404, 'not_found');
    assertProblem(await as.admin.put(`/v1/employees/${unknown}/password`, { password: 'a-new-password' }), 404, 'not_found');
  });

  test('list parameters: filters, keyset pages, invalid values 422', async () => {
    const byDept = await all(as.admin, `/v1/employees?department_id=${DEPT.A}`);
    assert.ok(byDept.length >= 4 && byDept.every((e) => e.department_id === DEPT.A));
    const inactive = await all(as.admin, '/v1/employees?active=false');
    assert.ok(inactive.some((e) => e.id === EMP.gone.id) && inactive.every((e) => !e.active));
    const everyone = await all(as.admin, '/v1/employees');
    const paged = await all(as.admin, '/v1/employees', 5);
    assert.deepEqual(paged.map((e) => e.id), everyone.map((e) => e.id), 'pages of 5 = one page of 200');
    const first = ok(await as.admin.get('/v1/employees?limit=5'));
    assert.equal(first.items.length, 5);
    assert.equal(typeof first.next_cursor, 'string');
    assertFieldError(await as.admin.get('/v1/employees?limit=0'), 'limit');
    assertFieldError(await as.admin.get('/v1/employees?limit=201'), 'limit');
    assertFieldError(await as.admin.get('/v1/employees?limit=ten'), 'limit');
    assertFieldError(await as.admin.get('/v1/employees?active=maybe'), 'active');
    assertFieldError(await as.admin.get('/v1/employees?department_id=A'), 'department_id');
    assertFieldError(await as.admin.get('/v1/departments?limit=-1'), 'limit');
  });
});

describe('activation and passwords (admin)', () => {
  test('deactivate and activate: idempotent, effective at once, not oneself', async () => {
    const x = asEmp(EMP.staffX);
    ok(await x.get('/v1/me'));
    const d = ok(await as.admin.post(`/v1/employees/${EMP.staffX.id}/deactivate`));
    assert.equal(d.active, false);
    assert.match(d.deactivated_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const again = ok(await as.admin.post(`/v1/employees/${EMP.staffX.id}/deactivate`));
    assert.equal(again.version, d.version, 'no write when already inactive');
    assertUnauthorized(await x.get('/v1/me'));
    assert.ok((await all(as.admin, '/v1/employees?active=false')).some((e) => e.id === EMP.staffX.id));
    const a = ok(await as.admin.post(`/v1/employees/${EMP.staffX.id}/activate`));
    assert.equal(a.active, true);
    assert.equal(a.deactivated_at, null);
    ok(await x.get('/v1/me'));
    assertProblem(await as.admin.post(`/v1/employees/${EMP.admin.id}/deactivate`), 409, 'conflict');
    ok(await as.admin.get('/v1/me'));
  });

  test('PUT /v1/employees/{id}/password: 204, the employee signs in with it; too short 422', async () => {
    const url = `/v1/employees/${EMP.staffA2.id}/password`;
    const login = (password) => call(svc, 'POST', '/v1/auth/login', { body: { username: 'staff.a2', password } });
    const before = ok(await login(EMP.staffA2.password));
    const r = await as.admin.put(url, { password: 'a-brand-new-passphrase' });
    assert.equal(r.status, 204, r.text);
    assert.equal(r.text, '');
    const after = ok(await login('a-brand-new-passphrase'));
    assert.equal(after.user.id, EMP.staffA2.id);
    assertProblem(await login(EMP.staffA2.password), 401, 'invalid_credentials');
    // setting a password ends the earlier sessions
    assertProblem(await call(svc, 'POST', '/v1/auth/refresh', { body: { refresh_token: before.refresh_token } }), 401, 'invalid_refresh_token');
    assertFieldError(await as.admin.put(url, { password: 'short' }), 'password');
    assertFieldError(await as.admin.put(url, {}), 'password');
    assertFieldError(await as.admin.put(url, { password: 12345678 }), 'password');
    assertFieldError(await as.admin.put(url, { password: 'long-enough-1', extra: 1 }), 'extra');
    // the stored hash is scrypt, never the password
    const stored = pg(`SELECT password_hash FROM auth.credentials WHERE employee_id = ${lit(EMP.staffA2.id)}`, { db: DB });
    assert.match(stored, /^\$scrypt\$ln=10,/);
    assert.ok(!stored.includes('a-brand-new-passphrase'));
    // an employee without credentials gets some
    const nh = ok(await as.admin.post('/v1/employees', { username: 'pw.user', display_name: 'PW', roles: ['staff'] }), 201);
    assertProblem(await call(svc, 'POST', '/v1/auth/login', { body: { username: 'pw.user', password: 'first-password-1' } }), 401, 'invalid_credentials');
    assert.equal((await as.admin.put(`/v1/employees/${nh.id}/password`, { password: 'first-password-1' })).status, 204);
    ok(await call(svc, 'POST', '/v1/auth/login', { body: { username: 'pw.user', password: 'first-password-1' } }));
  });
});

// Issue 10 item 9: one admin could create an hr employee, set their password, sign in as them,
// propose a policy value and approve it themselves. A privileged role now waits for a second
// administrator.
describe('privileged roles need a second administrator (four eyes)', () => {
  test('an hr role granted by one admin alone is not held: the scenario of the issue fails', async () => {
    const admin2 = asEmp(EMP.admin2);
    const made = ok(await as.admin.post('/v1/employees', { username: 'puppet.hr', display_name: 'Puppet', roles: ['hr'] }), 201);
    assert.deepEqual(made.roles, []);
    assert.deepEqual(made.pending_grants.map((g) => [g.role, g.status, g.proposed_by]), [['hr', 'proposed', EMP.admin.id]]);
    assert.equal((await as.admin.put(`/v1/employees/${made.id}/password`, { password: 'puppet-password-1' })).status, 204);
    const login = () => call(svc, 'POST', '/v1/auth/login', { body: { username: 'puppet.hr', password: 'puppet-password-1' } });
    const signed = ok(await login());
    assert.ok(!signed.user.roles.includes('hr'), JSON.stringify(signed.user));
    const puppet = client(svc, signed.access_token);
    const body = { value: 3, effective_from: '2999-01-01', reason: 'one person' };
    assertProblem(await puppet.post('/v1/policy-parameters/login_lock_threshold/proposals', body), 403, 'forbidden');
    assert.equal(pg(`SELECT count(*) FROM org.policy_values WHERE reason = 'one person'`, { db: DB }), '0');
    assert.equal(pg(`SELECT count(*) FROM org.role_grants WHERE status = 'approved'`, { db: DB }), '0');
    // a direct PATCH of roles proposes too; nothing is held
    const cur = ok(await as.admin.get(`/v1/employees/${made.id}`));
    const patched = ok(await as.admin.patch(`/v1/employees/${made.id}`, { roles: ['hr', 'staff'] }, { headers: { 'If-Match': `"${cur.version}"` } }));
    assert.deepEqual(patched.roles, ['staff']);
    assert.equal(patched.pending_grants.length, 1, 'one open proposal per role');
    // the list; the proposer cannot approve; auditors read; staff cannot
    const open = ok(await as.admin.get(`/v1/role-grants?status=proposed&employee_id=${made.id}`)).items;
    assert.equal(open.length, 1);
    const g = open[0];
    ok(await as.auditor.get('/v1/role-grants'));
    assertProblem(await as.staff.get('/v1/role-grants'), 403, 'forbidden');
    assertFieldError(await as.admin.get('/v1/role-grants?status=maybe'), 'status');
    assertProblem(await as.admin.post(`/v1/role-grants/${g.id}/approve`), 403, 'forbidden');
    assertProblem(await as.hr.post(`/v1/role-grants/${g.id}/approve`), 403, 'forbidden');
    assertFieldError(await admin2.post(`/v1/role-grants/${g.id}/reject`, {}), 'reason');
    // a second administrator approves: from then on the role is held and counts
    const a = ok(await admin2.post(`/v1/role-grants/${g.id}/approve`, { reason: 'Confirmed with HR.' }));
    assert.equal(a.status, 'approved');
    assert.equal(a.decided_by, EMP.admin2.id);
    assertProblem(await admin2.post(`/v1/role-grants/${g.id}/approve`), 409, 'conflict');
    assert.deepEqual(ok(await as.admin.get(`/v1/employees/${made.id}`)).roles, ['hr', 'staff']);
    assertProblem(await as.admin.post(`/v1/role-grants/${crypto.randomUUID()}/approve`), 404, 'not_found');
  });

  test('role grants are listed in keyset pages (no silent cap)', async () => {
    // Three more proposals, so that pages of one have somewhere to go.
    for (const n of [1, 2, 3]) {
      ok(await as.admin.post('/v1/employees', { username: `grant.page${n}`, display_name: `Page ${n}`, roles: ['auditor'] }), 201);
    }
    const all = ok(await as.admin.get('/v1/role-grants?limit=200'));
    assert.ok(all.items.length >= 4, `${all.items.length} grants`);
    assert.equal(all.next_cursor, null);
    const seen = [];
    let cursor = null;
    for (let i = 0; i < 50; i++) {
      const page = ok(await as.admin.get(`/v1/role-grants?limit=1${cursor ? `&cursor=${cursor}` : ''}`));
      assert.ok(page.items.length <= 1);
      seen.push(...page.items.map((g) => g.id));
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    assert.deepEqual(seen, all.items.map((g) => g.id), 'the pages, in order, are the whole list');
    assertFieldError(await as.admin.get('/v1/role-grants?cursor=nope'), 'cursor');
    assertFieldError(await as.admin.get(`/v1/role-grants?cursor=${crypto.randomUUID()}`), 'cursor');
    assertFieldError(await as.admin.get('/v1/role-grants?limit=0'), 'limit');
  });

  test('a password an admin set must be changed at first sign-in; until then every other route refuses', async () => {
    const made = ok(await as.admin.post('/v1/employees', { username: 'fresh.hire', display_name: 'Fresh', roles: ['staff'] }), 201);
    assert.equal((await as.admin.put(`/v1/employees/${made.id}/password`, { password: 'given-by-admin-1' })).status, 204);
    const login = (password) => call(svc, 'POST', '/v1/auth/login', { body: { username: 'fresh.hire', password } });
    const first = ok(await login('given-by-admin-1'));
    assert.equal(first.user.must_change_password, true, 'the sign-in says so');
    assert.deepEqual(first.user.roles, ['staff']);
    const fresh = client(svc, first.access_token);
    assert.equal(ok(await fresh.get('/v1/me')).must_change_password, true, '/v1/me says so');
    assertProblem(await fresh.get('/v1/departments'), 403, 'forbidden');
    assertProblem(await fresh.get('/v1/employees'), 403, 'forbidden');
    assertProblem(await fresh.get('/v1/policy-parameters'), 403, 'forbidden');
    assertProblem(await fresh.get(`/v1/employees/${EMP.staffA1.id}`), 404, 'not_found');
    // the change: the current password must be right, the new one different and long enough
    const change = (b) => fresh.post('/v1/me/password', b);
    assertFieldError(await change({ current_password: 'wrong-password', new_password: 'my-own-secret-1' }), 'current_password');
    assertFieldError(await change({ current_password: 'given-by-admin-1', new_password: 'given-by-admin-1' }), 'new_password');
    assertFieldError(await change({ current_password: 'given-by-admin-1', new_password: 'short' }), 'new_password');
    assertFieldError(await change({ current_password: 'given-by-admin-1', new_password: 'my-own-secret-1', x: 1 }), 'x');
    const r = await change({ current_password: 'given-by-admin-1', new_password: 'my-own-secret-1' });
    assert.equal(r.status, 204, r.text);
    // every session ended; the new password signs in and nothing is pending
    assertProblem(await call(svc, 'POST', '/v1/auth/refresh', { body: { refresh_token: first.refresh_token } }), 401, 'invalid_refresh_token');
    assertProblem(await login('given-by-admin-1'), 401, 'invalid_credentials');
    const second = ok(await login('my-own-secret-1'));
    assert.equal(second.user.must_change_password, false);
    const own = client(svc, second.access_token);
    ok(await own.get('/v1/departments'));
    // an employee changing their own password is not asked to change it again
    assert.equal((await own.post('/v1/me/password', { current_password: 'my-own-secret-1', new_password: 'my-own-secret-2' })).status, 204);
    assert.equal(ok(await login('my-own-secret-2')).user.must_change_password, false);
    assertUnauthorized(await call(svc, 'POST', '/v1/me/password', { body: { current_password: 'a', new_password: 'bbbbbbbb' } }), { invalid: false });
  });
});

commonHeadersTest();
