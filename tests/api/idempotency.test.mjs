// Idempotency-Key on creates (DESIGN.md; issue 4), and the customer history (C4.2). A retried
// create answers like the first one and creates nothing more, concurrent twins included; a key
// reused for another request is refused; the history shows who changed what, never the PII.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import { assertProblem, freshDatabase, pg } from './lib/harness.mjs';
import { customerKeys, newCreditCode, startCustomerService } from './lib/customers.mjs';
import { EMP, call, loadFixtures, newSigningKey, ownToken } from './lib/identity.mjs';

const DB = 'tx_api_idempotency';
let svc;
let key;
const tok = (e, roles) => ownToken(key, e, { roles });

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, customerKeys());
  loadFixtures(DB);
});

const post = (p, body, token, idemKey) =>
  call(svc, 'POST', p, { token, body, headers: idemKey ? { 'Idempotency-Key': idemKey } : {} });
const count = (sql) => Number(pg(sql, { db: DB }));

test('a retried create with the same key replays the first answer and creates nothing more', async () => {
  const admin = tok(EMP.admin);
  const body = { code: 'IDEM1', name: '冪等部門', kind: 'business' };
  const first = await post('/v1/departments', body, admin, 'dept-1');
  assert.equal(first.status, 201, first.text);
  const again = await post('/v1/departments', body, admin, 'dept-1');
  assert.equal(again.status, 201, again.text);
  assert.equal(again.headers['idempotent-replayed'], 'true');
  assert.equal(again.headers.location, first.headers.location);
  assert.deepEqual(again.json, first.json);
  assert.equal(count("SELECT count(*) FROM org.departments WHERE code = 'IDEM1'"), 1);
  // Without a key, the same body is a new request: a duplicate code, 409.
  assertProblem(await post('/v1/departments', body, admin), 409, 'conflict');
});

test('a key reused for a different request is refused, and keys are per employee', async () => {
  const admin = tok(EMP.admin);
  assert.equal((await post('/v1/departments', { code: 'IDEM2', name: 'x', kind: 'business' }, admin, 'k2')).status, 201);
  assertProblem(await post('/v1/departments', { code: 'IDEM3', name: 'y', kind: 'business' }, admin, 'k2'), 422,
    'idempotency_key_reused');
  assert.equal(count("SELECT count(*) FROM org.departments WHERE code = 'IDEM3'"), 0);
  // Another admin's same key is theirs alone.
  const other = await post('/v1/departments', { code: 'IDEM3', name: 'y', kind: 'business' }, tok(EMP.admin2), 'k2');
  assert.equal(other.status, 201, other.text);
});

test('a malformed Idempotency-Key is a 400 naming the header', async () => {
  const r = await post('/v1/departments', { code: 'IDEM4', name: 'z', kind: 'business' }, tok(EMP.admin), 'bad key');
  const p = assertProblem(r, 400, 'bad_request');
  assert.equal(p.errors[0].field, 'Idempotency-Key');
  assert.equal(count("SELECT count(*) FROM org.departments WHERE code = 'IDEM4'"), 0);
});

test('customers: a replay reads the customer again (no PII kept with the key); concurrent twins make one record', async () => {
  const staff = tok(EMP.staffA1);
  const body = { name: '冪等客戶', contacts: [{ name: '李雷', phone: '13900001111' }] };
  const [a, b] = await Promise.all([
    post('/v1/customers', body, staff, 'cust-1'),
    post('/v1/customers', body, staff, 'cust-1'),
  ]);
  assert.equal(a.status, 201, a.text);
  assert.equal(b.status, 201, b.text);
  assert.equal(a.json.id, b.json.id);
  assert.equal(b.json.contacts[0].phone, '+8613900001111');
  assert.equal(count("SELECT count(*) FROM cust.customers WHERE name = '冪等客戶'"), 1);
  assert.equal(count("SELECT count(*) FROM tx_meta.idempotency WHERE key = 'cust-1' AND body IS NULL"), 1,
    'the stored answer of a customer create holds no body');
});

test('customer history: who changed what and when, sealed values never shown, invisible to others', async () => {
  const staff = tok(EMP.staffA1);
  const created = await post('/v1/customers', { name: '歷史客戶', address: '北京市海淀區', contacts: [{ name: '韓梅', email: 'han@example.com' }] }, staff);
  assert.equal(created.status, 201, created.text);
  const id = created.json.id;
  const upd = await call(svc, 'PATCH', `/v1/customers/${id}`, {
    token: staff, body: { address: '上海市浦東新區', status: 'active' },
    headers: { 'If-Match': created.headers.etag, 'X-Request-Id': 'hist-update' },
  });
  assert.equal(upd.status, 200, upd.text);
  const h = await call(svc, 'GET', `/v1/customers/${id}/history`, { token: staff });
  assert.equal(h.status, 200, h.text);
  const update = h.json.items.find((e) => e.request_id === 'hist-update' && e.table_name === 'cust.customers');
  assert.ok(update, 'the update is in the history');
  assert.equal(update.actor_id, EMP.staffA1.id);
  assert.deepEqual(update.changes.status, ['prospect', 'active']);
  assert.equal(update.changes.address_enc, '[encrypted]');
  const text = JSON.stringify(h.json);
  for (const secret of ['北京', '上海', 'han@example.com', '歷史客戶', '韓梅']) assert.ok(!text.includes(secret), secret);
  assert.ok(h.json.items.some((e) => e.table_name === 'cust.contacts' && e.op === 'INSERT'));
  // Keyset pages.
  const p1 = await call(svc, 'GET', `/v1/customers/${id}/history?limit=1`, { token: staff });
  assert.equal(p1.json.items.length, 1);
  const p2 = await call(svc, 'GET', `/v1/customers/${id}/history?limit=1&cursor=${p1.json.next_cursor}`, { token: staff });
  assert.ok(p2.json.items[0].id < p1.json.items[0].id);
  // Staff B cannot see the customer, nor its history.
  assertProblem(await call(svc, 'GET', `/v1/customers/${id}/history`, { token: tok(EMP.staffB1) }), 404, 'not_found');
});

// Issue 10 item 15: a key with a byte that is not UTF-8 used to be left out of the header map, so
// two creates made two records; it is refused, naming the header, and creates nothing.
test('an Idempotency-Key that is not UTF-8 is 400 naming the header, and creates nothing', async () => {
  const admin = tok(EMP.admin);
  const body = { code: 'IDEMU8', name: 'x', kind: 'business' };
  // '\xff' goes on the wire as the single byte 0xFF (Node writes header strings as latin1).
  for (let i = 0; i < 2; i++) {
    const p = assertProblem(await post('/v1/departments', body, admin, 'key-\xff'), 400, 'bad_request');
    assert.ok(p.errors.some((e) => e.field === 'Idempotency-Key'), JSON.stringify(p));
  }
  assert.equal(count("SELECT count(*) FROM org.departments WHERE code = 'IDEMU8'"), 0);
});

// Issue 10 item 16: refuse what is not understood, naming it.
test('bidirectional overrides and isolates in names are 422 naming the field; marks pass', async () => {
  const admin = tok(EMP.admin);
  for (const [i, ch] of ['\u202e', '\u202a', '\u2066', '\u2069'].entries()) {
    const r = await post('/v1/departments', { code: `BIDI${i}`, name: `Acme${ch}fdp.exe`, kind: 'business' }, admin);
    const p = assertProblem(r, 422, 'validation_failed');
    assert.ok(p.errors.some((e) => e.field === 'name'), JSON.stringify(p));
  }
  assert.equal(count("SELECT count(*) FROM org.departments WHERE code LIKE 'BIDI%'"), 0);
  // A right-to-left mark is one position's direction, not a reordering: allowed.
  assert.equal((await post('/v1/departments', { code: 'BIDIOK', name: 'שלום\u200f', kind: 'business' }, admin)).status, 201);
  // Bodies checked in C (core/json_spec.c): the legal-hold reason.
  const p = assertProblem(await call(svc, 'POST', '/v1/policy-proposals/00000000-0000-4000-8000-000000000000/reject',
    { token: admin, body: { reason: 'no\u202e' } }), 422, 'validation_failed');
  assert.deepEqual(p.errors.map((e) => [e.field, e.code]), [['reason', 'bidi_control']]);
});

test('a body in a charset other than UTF-8 is 415', async () => {
  const admin = tok(EMP.admin);
  for (const ct of ['application/json; charset=latin1', 'application/json;charset="ISO-8859-1"', 'application/json; charset=utf-16']) {
    const r = await call(svc, 'POST', '/v1/departments', { token: admin, headers: { 'Content-Type': ct },
      body: JSON.stringify({ code: 'CS1', name: 'x', kind: 'business' }) });
    assertProblem(r, 415, 'unsupported_media_type');
  }
  const ok = await call(svc, 'POST', '/v1/departments', { token: admin, headers: { 'Content-Type': 'application/json; charset="UTF-8"' },
    body: JSON.stringify({ code: 'CS2', name: 'x', kind: 'business' }) });
  assert.equal(ok.status, 201, ok.text);
  assert.equal(count("SELECT count(*) FROM org.departments WHERE code = 'CS1'"), 0);
});

test('unknown query parameters are 422 naming them, on call and handler routes', async () => {
  const admin = tok(EMP.admin);
  let p = assertProblem(await call(svc, 'GET', '/v1/departments?limit=5&colour=red', { token: admin }), 422, 'validation_failed');
  assert.deepEqual(p.errors.map((e) => [e.field, e.code]), [['colour', 'unknown_parameter']]);
  p = assertProblem(await call(svc, 'GET', '/v1/customers?limit=5&credit=x', { token: admin }), 422, 'validation_failed');
  assert.deepEqual(p.errors.map((e) => e.field), ['credit']);
  // A name that is not UTF-8 is still seen (repaired), not dropped.
  p = assertProblem(await call(svc, 'GET', '/v1/departments?st%FFatus=x', { token: admin }), 422, 'validation_failed');
  assert.equal(p.errors.length, 1);
  // Declared ones pass.
  assert.equal((await call(svc, 'GET', '/v1/departments?limit=5', { token: admin })).status, 200);
  assert.equal((await call(svc, 'GET', '/v1/customers?limit=5&sort=name', { token: admin })).status, 200);
});

test('a body member on a route that takes no body is 422 naming it, and nothing is written', async () => {
  const staff = tok(EMP.staffA1);
  const reg = (await call(svc, 'GET', '/v1/regulations/current', { token: staff })).json;
  const before = count(`SELECT count(*) FROM org.regulation_acknowledgements WHERE regulation_id = '${reg.id}'`);
  const p = assertProblem(await call(svc, 'POST', `/v1/regulations/${reg.id}/acknowledge`,
    { token: staff, body: { employee_id: EMP.staffA2.id } }), 422, 'validation_failed');
  assert.deepEqual(p.errors.map((e) => [e.field, e.code]), [['employee_id', 'unknown_field']]);
  assert.equal(count(`SELECT count(*) FROM org.regulation_acknowledgements WHERE regulation_id = '${reg.id}'`), before);
  assertProblem(await call(svc, 'POST', `/v1/regulations/${reg.id}/acknowledge`, { token: staff, body: [1] }), 400, 'bad_request');
  // No body, or an empty object, is fine.
  assert.equal((await call(svc, 'POST', `/v1/regulations/${reg.id}/acknowledge`, { token: staff })).status, 200);
  assert.equal((await call(svc, 'POST', `/v1/regulations/${reg.id}/acknowledge`, { token: staff, body: {} })).status, 200);
});

test('If-Match with a list matches when any tag is the current version (RFC 9110 13.1.1)', async () => {
  const admin = tok(EMP.admin);
  const created = await post('/v1/departments', { code: 'IFM1', name: 'x', kind: 'business' }, admin);
  assert.equal(created.status, 201, created.text);
  const loc = created.headers.location;
  const etag = created.headers.etag;
  assert.match(etag, /^"\d+"$/);
  const stale = `"${Number(etag.slice(1, -1)) + 40}"`;
  const patch = (ifMatch, name) => call(svc, 'PATCH', loc, { token: admin, headers: { 'If-Match': ifMatch }, body: { name } });
  // The current tag second, after a stale one and a weak one.
  const r = await patch(`${stale}, W/${etag}, ${etag}`, 'y');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.name, 'y');
  // A list of stale tags is 412, and writes nothing.
  assertProblem(await patch(`"999998", ${etag}`, 'z'), 412, 'precondition_failed');
  assert.equal(pg("SELECT name FROM org.departments WHERE code = 'IFM1'", { db: DB }), 'y');
});

// README's ?credit_code= (issue 10 item 16) used to be ignored: the whole list came back.
test('GET /v1/customers?credit_code= finds the one customer by blind index; it needs full PII access', async () => {
  const staff = tok(EMP.staffA1);
  const code = newCreditCode();
  const mine = await post('/v1/customers', { name: '信用代碼客戶', company_name: '福州信用有限公司', credit_code: code }, staff);
  assert.equal(mine.status, 201, mine.text);
  const other = await post('/v1/customers', { name: '另一客戶', credit_code: newCreditCode() }, staff);
  assert.equal(other.status, 201, other.text);
  const find = (c, token = staff, extra = '') => call(svc, 'GET', `/v1/customers?credit_code=${encodeURIComponent(c)}${extra}`, { token });
  let r = await find(code);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.items.map((c) => c.id), [mine.json.id]);
  assert.equal(r.json.next_cursor, null);
  r = await find(code.toLowerCase(), tok(EMP.admin), '&limit=10');
  assert.deepEqual(r.json.items.map((c) => c.id), [mine.json.id], 'normalized like stored codes');
  // Not visible to staff of another department: an empty page, not the customer.
  r = await find(code, tok(EMP.staffB1));
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.items, []);
  // A code nobody holds: an empty page.
  assert.deepEqual((await find(newCreditCode())).json.items, []);
  // A wrong check digit or shape: 422 naming it; combined with another filter: 422.
  const bad = code.slice(0, 17) + (code[17] === '0' ? '1' : '0');
  assert.deepEqual(assertProblem(await find(bad), 422, 'validation_failed').errors.map((e) => e.field), ['credit_code']);
  assert.deepEqual(assertProblem(await find(code, staff, '&status=active'), 422, 'validation_failed').errors.map((e) => e.field), ['credit_code']);
  // Without full PII access the lookup is refused (it would tie a PII value to a named customer).
  for (const e of [EMP.hr, EMP.risk, EMP.auditor]) assertProblem(await find(code, tok(e)), 403, 'forbidden');
});
