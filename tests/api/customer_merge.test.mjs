// The team that works on a customer (GET/PUT /v1/customers/{id}/team, C2.3) and merging two
// records of one customer (POST /v1/customers/{id}/merge, C2.1): the source's PII is re-sealed
// under the target's key, its records move, it stays as a `merged` tombstone without data key.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, describe, test } from 'node:test';

import { assertProblem, freshDatabase, lit, pg } from './lib/harness.mjs';
import {
  EMP, assertFieldError, call, dbDay, loadFixtures, newSigningKey, ok, ownToken,
} from './lib/identity.mjs';
import { customerKeys, newCreditCode, newEmail, newMobile, rawCustomer, startCustomerService } from './lib/customers.mjs';

const DB = 'tx_api_customer_merge';
let svc;
let key;
const tok = (e, roles) => ownToken(key, e, { roles });

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, customerKeys());
  loadFixtures(DB);
});

const as = (e) => ({
  get: (p) => call(svc, 'GET', p, { token: tok(e) }),
  post: (p, body, headers = {}) => call(svc, 'POST', p, { token: tok(e), body, headers }),
  put: (p, body) => call(svc, 'PUT', p, { token: tok(e), body }),
});
const count = (sql) => Number(pg(sql, { db: DB }));

describe('team (C2.3)', () => {
  test('the owner adds a colleague, who then sees the customer; others cannot change the team', async () => {
    const a1 = as(EMP.staffA1);
    const a2 = as(EMP.staffA2);
    const b1 = as(EMP.staffB1);
    const c = ok(await a1.post('/v1/customers', { name: '團隊客戶' }), 201);
    const url = `/v1/customers/${c.id}/team`;
    assertProblem(await a2.get(`/v1/customers/${c.id}`), 404, 'not_found');
    assert.deepEqual(ok(await a1.get(url)), { customer_id: c.id, members: [] });

    assertFieldError(await a1.put(url, { members: ['not-a-uuid'] }), 'members[0]');
    assertFieldError(await a1.put(url, { members: [crypto.randomUUID()] }), 'members[0]');
    assertFieldError(await a1.put(url, { members: 'x' }), 'members');
    const refused = await b1.put(url, { members: [EMP.staffB1.id] });
    assert.ok([403, 404].includes(refused.status), refused.text);
    assert.equal(count(`SELECT count(*) FROM cust.team WHERE customer_id = ${lit(c.id)}`), 0);

    // Regression: staff read only themselves in org.employees, so the member check and the member
    // list go through SECURITY DEFINER helpers (cust.team_candidate, cust.team_members).
    const team = ok(await a1.put(url, { members: [EMP.staffA2.id, EMP.staffA2.id] }));
    assert.equal(team.customer_id, c.id);
    assert.deepEqual(team.members.map((m) => [m.id, m.username, m.display_name]),
      [[EMP.staffA2.id, EMP.staffA2.username, EMP.staffA2.name]]);
    assert.equal(ok(await a2.get(`/v1/customers/${c.id}`)).pii_access, 'full');
    assert.deepEqual(ok(await a1.get(url)), team, 'the owner sees the whole team');
  });

  test('the department supervisor adds a colleague, who then sees the customer', async () => {
    const a1 = as(EMP.staffA1);
    const a2 = as(EMP.staffA2);
    const c = ok(await a1.post('/v1/customers', { name: '主管團隊客戶' }), 201);
    const url = `/v1/customers/${c.id}/team`;
    assertProblem(await a2.get(`/v1/customers/${c.id}`), 404, 'not_found');
    assertProblem(await a2.get(url), 404, 'not_found');
    const team = ok(await as(EMP.supA).put(url, { members: [EMP.staffA2.id, EMP.staffA2.id] }));
    assert.deepEqual(team.members.map((m) => [m.id, m.username, m.display_name]),
      [[EMP.staffA2.id, EMP.staffA2.username, EMP.staffA2.name]]);
    assert.equal(ok(await a2.get(`/v1/customers/${c.id}`)).pii_access, 'full');
    assert.deepEqual(ok(await a2.get(url)), team);
    assertProblem(await as(EMP.staffB1).get(url), 404, 'not_found');
    // A team member may not change the team; the owner cannot be a member.
    assertProblem(await a2.put(url, { members: [] }), 403, 'forbidden');
    assertFieldError(await as(EMP.supA).put(url, { members: [EMP.staffA1.id] }), 'members[0]');
    assert.deepEqual(ok(await as(EMP.supA).put(url, { members: [] })).members, []);
    assertProblem(await a2.get(`/v1/customers/${c.id}`), 404, 'not_found');
  });
});

describe('merge (C2.1)', () => {
  test('the source moves into the target: contacts re-sealed, records moved, the source a tombstone', async () => {
    const a1 = as(EMP.staffA1);
    const p1 = newMobile();
    const e = newEmail('merge');
    const cc = newCreditCode();
    const ADDRESS = '福建省福州市倉山區金山大道618號';
    const target = await a1.post('/v1/customers', { name: '合併目標', contacts: [{ name: '王芳', phone: p1.input }] });
    const t = ok(target, 201);
    const s = ok(await a1.post('/v1/customers', {
      name: '合併來源', address: ADDRESS, credit_code: cc, contacts: [{ name: '王芳', position: '財務', email: e.input }],
    }), 201);
    const fu = ok(await a1.post(`/v1/customers/${s.id}/follow-ups`, { on: dbDay(DB), channel: 'phone', summary: '合併前的電話' }), 201);

    // Bad bodies, the same record.
    assertFieldError(await a1.post(`/v1/customers/${t.id}/merge`, {}), 'source_id');
    assertFieldError(await a1.post(`/v1/customers/${t.id}/merge`, { source_id: 'x' }), 'source_id');
    assertFieldError(await a1.post(`/v1/customers/${t.id}/merge`, { source_id: t.id }), 'source_id');

    const res = await a1.post(`/v1/customers/${t.id}/merge`, { source_id: s.id });
    const m = ok(res);
    assert.equal(m.id, t.id);
    assert.equal(res.headers.etag, `"${m.version}"`);
    assert.ok(m.version > t.version);
    assert.deepEqual(m.contacts.map((k) => [k.name, k.phone, k.email]).sort(),
      [['王芳', p1.e164, null], ['王芳', null, e.stored]].sort());
    assert.equal(m.address, ADDRESS);
    assert.equal(m.credit_code, cc);

    const src = ok(await a1.get(`/v1/customers/${s.id}`));
    assert.equal(src.status, 'merged');
    assert.deepEqual(src.contacts, []);
    assert.equal(src.address, null);
    assert.equal(src.credit_code, null);

    const fus = ok(await a1.get(`/v1/customers/${t.id}/follow-ups`));
    assert.ok(fus.items.some((x) => x.id === fu.id), 'the follow-up moved to the target');

    const h = ok(await a1.get(`/v1/customers/${t.id}/history?limit=200`));
    assert.ok(h.items.some((x) => x.row_key === s.id), 'the target history shows the source entries');

    // Raw storage (superuser).
    assert.equal(count(`SELECT count(*) FROM cust.data_keys WHERE customer_id = ${lit(s.id)}`), 0);
    const raw = rawCustomer(DB, s.id);
    assert.equal(raw.address_enc, null);
    assert.equal(raw.credit_code_enc, null);
    assert.equal(raw.credit_code_bidx, null);
    assert.deepEqual(raw.contacts, []);
    const rt = rawCustomer(DB, t.id);
    assert.equal(rt.contacts.length, 2);
    for (const plain of [p1.e164, e.stored, ADDRESS, cc]) {
      const b = Buffer.from(plain, 'utf8');
      for (const k of rt.contacts) {
        for (const f of ['phone_enc', 'email_enc']) if (k[f]) assert.equal(k[f].indexOf(b), -1, `${f} holds ${plain}`);
      }
      assert.equal(rt.address_enc.indexOf(b), -1);
      assert.equal(rt.credit_code_enc.indexOf(b), -1);
    }
    const dump = pg(`SELECT string_agg(coalesce(encode(phone_enc, 'escape'), '') || coalesce(encode(email_enc, 'escape'), ''), '')
      FROM cust.contacts WHERE customer_id = ${lit(t.id)}`, { db: DB });
    assert.ok(!dump.includes(e.stored) && !dump.includes(p1.e164), 'no plaintext in the target contacts');

    // Again: the source is merged already.
    assertProblem(await a1.post(`/v1/customers/${t.id}/merge`, { source_id: s.id }), 409, 'conflict');
    // The source can no longer change; the e-mail search finds the target.
    const q = encodeURIComponent(e.input);
    const found = ok(await a1.get(`/v1/customers?email=${q}`));
    assert.deepEqual(found.items.map((x) => x.id), [t.id]);
  });

  test('a customer of staff B cannot be merged by A1 (404), nor by B1 into A1\'s (404)', async () => {
    const a1 = as(EMP.staffA1);
    const b1 = as(EMP.staffB1);
    const t = ok(await a1.post('/v1/customers', { name: '甲方目標' }), 201);
    const s = ok(await b1.post('/v1/customers', { name: '乙方客戶' }), 201);
    assertProblem(await a1.post(`/v1/customers/${t.id}/merge`, { source_id: s.id }), 404, 'not_found');
    assertProblem(await b1.post(`/v1/customers/${t.id}/merge`, { source_id: s.id }), 404, 'not_found');
    assertProblem(await a1.post(`/v1/customers/${t.id}/merge`, { source_id: crypto.randomUUID() }), 404, 'not_found');
    assert.equal(ok(await b1.get(`/v1/customers/${s.id}`)).status, 'prospect');
    // An auditor may read both but not merge (403 by role).
    assertProblem(await as(EMP.auditor).post(`/v1/customers/${t.id}/merge`, { source_id: s.id }), 403, 'forbidden');
  });

  // Issue 10 item 4: a merge hands the source to the target's owner; staff cannot change an owner,
  // so a team member (above all one of another department) cannot merge a customer away.
  test('a team member cannot merge a colleague\'s customer into their own (403); within a department the owner or supervisor can', async () => {
    const a1 = as(EMP.staffA1);
    const b1 = as(EMP.staffB1);
    const a2 = as(EMP.staffA2);
    const s = ok(await a1.post('/v1/customers', { name: '甲一的客戶', contacts: [{ name: '林志玲', phone: newMobile().input }] }), 201);
    ok(await a1.put(`/v1/customers/${s.id}/team`, { members: [EMP.staffB1.id, EMP.staffA2.id] }));
    const tb = ok(await b1.post('/v1/customers', { name: '乙一的客戶' }), 201);
    const ta = ok(await a2.post('/v1/customers', { name: '甲二的客戶' }), 201);
    const before = pg(`SELECT to_jsonb(c) - 'search_bigrams' FROM cust.customers c WHERE id = ${lit(s.id)}`, { db: DB });
    const contactsBefore = count(`SELECT count(*) FROM cust.contacts WHERE customer_id = ${lit(s.id)}`);

    let p = assertProblem(await b1.post(`/v1/customers/${tb.id}/merge`, { source_id: s.id }), 403, 'forbidden');
    assert.match(p.detail, /owner|supervisor|administrator/);
    assertProblem(await a2.post(`/v1/customers/${ta.id}/merge`, { source_id: s.id }), 403, 'forbidden');
    // the owner cannot move it into another department's record either (B1's, on whose team A1 is)
    ok(await b1.put(`/v1/customers/${tb.id}/team`, { members: [EMP.staffA1.id] }));
    p = assertProblem(await a1.post(`/v1/customers/${tb.id}/merge`, { source_id: s.id }), 403, 'forbidden');
    assert.match(p.detail, /department/);
    assert.equal(pg(`SELECT to_jsonb(c) - 'search_bigrams' FROM cust.customers c WHERE id = ${lit(s.id)}`, { db: DB }), before, 'the source is untouched');
    assert.equal(count(`SELECT count(*) FROM cust.contacts WHERE customer_id = ${lit(s.id)}`), contactsBefore);
    for (const e of [EMP.staffA1, EMP.supA]) assert.equal(ok(await as(e).get(`/v1/customers/${s.id}`)).status, 'prospect');

    // the department's supervisor merges it into A2's record: it stays in department A
    const m = ok(await as(EMP.supA).post(`/v1/customers/${ta.id}/merge`, { source_id: s.id }));
    assert.equal(m.id, ta.id);
    assert.equal(m.contacts.length, 1);
    assert.equal(ok(await a1.get(`/v1/customers/${s.id}`)).status, 'merged');
  });

  // Issue 10 item 5: the merge updated cust.consents.customer_id, which the revoke-only trigger
  // refused (409), and the ledger's foreign key named the consent's customer.
  test('a customer with consents and disclosures merges: they survive with their history readable', async () => {
    const a1 = as(EMP.staffA1);
    const supA = as(EMP.supA);
    const sha = (x) => crypto.createHash('sha256').update(x).digest('hex');
    const PURPOSE = '授信審查';
    const r = ok(await supA.post('/v1/recipients', { name: `合併測試徵信${crypto.randomUUID().slice(0, 8)}`, kind: 'company' }), 201);
    const nda = ok(await supA.post(`/v1/recipients/${r.id}/ndas`, { signed_on: dbDay(DB, -10), expires_on: dbDay(DB, 300), document_sha256: sha('nda') }), 201);
    const t = ok(await a1.post('/v1/customers', { name: '合併目標(同意書)', company_name: '目標公司' }), 201);
    const s = ok(await a1.post('/v1/customers', { name: '合併來源(同意書)', company_name: '來源公司' }), 201);
    const consent = (fields, doc) => a1.post(`/v1/customers/${s.id}/consents`, {
      recipient_id: r.id, purpose: PURPOSE, allowed_fields: fields, document_sha256: sha(doc),
      valid_from: dbDay(DB, -1), valid_until: dbDay(DB, 60),
    });
    const kOld = ok(await consent(['name'], 'old'), 201);
    const revoked = ok(await a1.post(`/v1/consents/${kOld.id}/revoke`));
    const k = ok(await consent(['name', 'company_name'], 'current'), 201);
    const d = ok(await a1.post(`/v1/customers/${s.id}/disclosures`, { recipient_id: r.id, purpose: PURPOSE }), 201);
    assert.equal(d.consent_id, k.id);

    const m = ok(await a1.post(`/v1/customers/${t.id}/merge`, { source_id: s.id }));
    assert.equal(m.id, t.id);

    // the consents moved with their ids, dates and revocation
    const ks = ok(await a1.get(`/v1/customers/${t.id}/consents`)).items;
    const byId = Object.fromEntries(ks.map((x) => [x.id, x]));
    assert.deepEqual(Object.keys(byId).sort(), [k.id, kOld.id].sort());
    assert.equal(byId[kOld.id].status, 'revoked');
    assert.equal(byId[kOld.id].revoked_at, revoked.revoked_at);
    assert.equal(byId[kOld.id].revoked_by, EMP.staffA1.id);
    assert.equal(byId[k.id].status, 'active');
    assert.equal(byId[k.id].created_at, k.created_at);
    assert.equal(byId[k.id].customer_id, t.id);
    // the ledger row stays what it was (written for the source), and the target shows it
    for (const e of [EMP.staffA1, EMP.supA, EMP.auditor]) {
      const items = ok(await as(e).get(`/v1/customers/${t.id}/disclosures`)).items;
      assert.deepEqual(items.map((x) => [x.id, x.customer_id, x.consent_id, x.nda_id]), [[d.disclosure_id, s.id, k.id, nda.id]], e.username);
    }
    assert.equal(count(`SELECT count(*) FROM cust.disclosures WHERE customer_id = ${lit(s.id)}`), 1);
    // the moved consent goes on serving the merged customer
    const d2 = ok(await a1.post(`/v1/customers/${t.id}/disclosures`, { recipient_id: r.id, purpose: PURPOSE }), 201);
    assert.equal(d2.consent_id, k.id);
    assert.deepEqual(ok(await a1.get(`/v1/customers/${t.id}/disclosures`)).items.map((x) => x.id), [d2.disclosure_id, d.disclosure_id]);
    // and is revoked like any other; a consent moves only with a merge
    assert.equal(ok(await a1.post(`/v1/consents/${k.id}/revoke`)).status, 'revoked');
    assert.throws(() => pg(`UPDATE cust.consents SET customer_id = ${lit(s.id)} WHERE id = ${lit(k.id)}`, { db: DB }), /moves only with a merge/);
    // the audit trail has the move
    assert.ok(count(`SELECT count(*) FROM audit.log WHERE table_name = 'cust.consents' AND op = 'UPDATE' AND row_key LIKE ${lit(`%${k.id}%`)}`) >= 2);
  });
});
