// Customers and cases (issue 11; sql/code/cases/095_customers.sql): a disposed or merged customer
// gets no new case; a customer with an open case is neither deactivated nor disposed of (409
// naming open_cases); merging customers moves their cases; the customer's history lists its
// cases (`cases`). Customers without cases keep working exactly as before.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';

import { freshDatabase, lit, pg, tempDir } from './lib/harness.mjs';
import { EMP, call, loadFixtures, newSigningKey, ok, ownToken, startIdentityService } from './lib/identity.mjs';

const DB = 'tx_api_case_customers';
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

const as = (e) => ({
  get: (p) => call(svc, 'GET', p, { token: tok(e) }),
  post: (p, body, headers = {}) => call(svc, 'POST', p, { token: tok(e), body, headers }),
});
const count = (sql) => Number(pg(sql, { db: DB }));

describe('customers without cases', () => {
  test('the history lists the cases, none, on every page; auditors see it too', async () => {
    const a1 = as(EMP.staffA1);
    const c = ok(await a1.post('/v1/customers', { name: '沒有案件的客戶' }), 201);
    ok(await a1.post(`/v1/customers/${c.id}/deactivate`));
    const first = ok(await a1.get(`/v1/customers/${c.id}/history?limit=1`));
    assert.deepEqual(first.cases, []);
    assert.equal(first.items.length, 1);
    assert.ok(first.next_cursor, 'two entries at least: the create and the deactivation');
    const second = ok(await a1.get(`/v1/customers/${c.id}/history?limit=1&cursor=${first.next_cursor}`));
    assert.deepEqual(second.cases, [], 'cases is on every page');
    assert.deepEqual(ok(await as(EMP.auditor).get(`/v1/customers/${c.id}/history`)).cases, []);
  });

  test('deactivation and disposal work as before', async () => {
    const a1 = as(EMP.staffA1);
    const c = ok(await a1.post('/v1/customers', { name: '將處置的客戶' }), 201);
    assert.equal(ok(await a1.post(`/v1/customers/${c.id}/deactivate`)).status, 'inactive');
    const cert = ok(await as(EMP.admin).post(`/v1/customers/${c.id}/dispose`));
    assert.equal(cert.certificate.customer_id, c.id);
    assert.equal(count(`SELECT count(*) FROM cust.customers WHERE id = ${lit(c.id)} AND status = 'disposed'`), 1);
  });

  test('a merge moves no case and leaves no move announced', async () => {
    const a1 = as(EMP.staffA1);
    const t = ok(await a1.post('/v1/customers', { name: '合併目標甲' }), 201);
    const s = ok(await a1.post('/v1/customers', { name: '合併來源甲' }), 201);
    const m = ok(await a1.post(`/v1/customers/${t.id}/merge`, { source_id: s.id }));
    assert.equal(m.id, t.id);
    assert.equal(count(`SELECT count(*) FROM cases.events WHERE type = 'customer.merged'`), 0);
    assert.deepEqual(ok(await a1.get(`/v1/customers/${t.id}/history`)).cases, []);
  });
});
