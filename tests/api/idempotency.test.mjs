// Idempotency-Key on creates (DESIGN.md; issue 4), and the customer history (C4.2). A retried
// create answers like the first one and creates nothing more, concurrent twins included; a key
// reused for another request is refused; the history shows who changed what, never the PII.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';

import { assertProblem, freshDatabase, pg, tempDir } from './lib/harness.mjs';
import { EMP, call, loadFixtures, newSigningKey, ownToken, startIdentityService } from './lib/identity.mjs';

const DB = 'tx_api_idempotency';
let svc;
let key;
const tok = (e, roles) => ownToken(key, e, { roles });

before(async () => {
  key = newSigningKey();
  const dir = tempDir('tx-pii-keys-');
  writeFileSync(path.join(dir, 'master'), `k1=${crypto.randomBytes(32).toString('base64')}\n`);
  writeFileSync(path.join(dir, 'index'), `${crypto.randomBytes(32).toString('base64')}\n`);
  freshDatabase(DB);
  svc = await startIdentityService(DB, key, {
    TIANXING_MASTER_KEYS_FILE: path.join(dir, 'master'),
    TIANXING_BLIND_INDEX_KEY_FILE: path.join(dir, 'index'),
  });
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
