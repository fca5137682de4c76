// Module C, second slice (docs/customers.md, "Second slice"; issue 4): sharing customer
// information only with the customer's consent and the recipient's NDA, every disclosure in an
// append-only ledger (C3.1-C3.3); the end of a relationship: deactivation, legal holds and
// disposal by crypto-shredding with a signed certificate (C4.3); and `tianxingd
// rotate-master-key`, which re-wraps every data key without touching the data.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, describe, test } from 'node:test';

import { assertProblem, freshDatabase, lit, pg, request, runBin } from './lib/harness.mjs';
import {
  EMP, asOwnerAdmin, assertFieldError, assertUnauthorized, call, client, commonHeadersTestExceptJwks,
  dbDay, loadFixtures, newSigningKey, ok, ownToken,
} from './lib/identity.mjs';
import {
  count, customerKeys, keyEnv, newCreditCode, newEmail, newMobile, rawCustomer, rows,
  startCustomerService, verifyEs256,
} from './lib/customers.mjs';
import { rateCustomer } from './lib/credit.mjs';

const DB = 'tx_api_customer_sharing';
let key;
let keys;
let svc;
const as = {};
const asEmp = (e) => client(svc, ownToken(key, e));
const ifMatch = (etag) => ({ headers: { 'If-Match': etag } });
const sha = (text) => crypto.createHash('sha256').update(text).digest('hex');

let cust; // staff A1's customer that is shared
let people; // its contacts' identifiers
const R = {}; // recipients: valid NDA, none, expired NDA, second valid
const PURPOSE = '信用評估 Credit assessment';

const ledger = (id) => count(DB, `SELECT count(*) FROM cust.disclosures WHERE customer_id = ${lit(id)}`);
const piiReads = (id) => count(DB, `SELECT count(*) FROM cust.pii_reads WHERE customer_id = ${lit(id)}`);

async function newCustomer(c, over = {}) {
  const p1 = newMobile();
  const p2 = newMobile();
  const e1 = newEmail('zhang.wei');
  const body = {
    name: '張偉',
    company_name: '福州天宇網絡科技有限公司',
    business_scope: '軟件開發、信息技術諮詢服務。',
    address: '福建省福州市閩侯縣上街鎮高新大道3號海西科技園7號樓',
    credit_code: newCreditCode(),
    contacts: [
      { name: '張偉', position: '總經理', phone: p1.input, email: e1.input },
      { name: '李娜', position: '會計', phone: p2.input },
    ],
    needs: '雲端伺服器擴容',
    concerns: '資料外洩',
    ...over,
  };
  const res = await c.post('/v1/customers', body);
  return { c: ok(res, 201), etag: res.headers.etag, body, p1, p2, e1 };
}

before(async () => {
  key = newSigningKey();
  keys = customerKeys(['k2024-01']);
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, keys);
  loadFixtures(DB);
  Object.assign(as, {
    admin: asEmp(EMP.admin), a1: asEmp(EMP.staffA1), a2: asEmp(EMP.staffA2), b1: asEmp(EMP.staffB1),
    supA: asEmp(EMP.supA), supB: asEmp(EMP.supB), auditor: asEmp(EMP.auditor), hr: asEmp(EMP.hr),
    risk: asEmp(EMP.risk),
  });
  const made = await newCustomer(as.a1);
  cust = made.c;
  people = made;
});

// ---------------------------------------------------------------------------------------------

describe('recipients and their NDAs (C3.3)', () => {
  test('supervisors and admins record recipients and NDAs; everyone reads them', async () => {
    assertProblem(await as.a1.post('/v1/recipients', { name: '越權公司', kind: 'company' }), 403, 'forbidden');
    assertFieldError(await as.supA.post('/v1/recipients', { name: '某銀行', kind: 'bank' }), 'kind');
    assertFieldError(await as.supA.post('/v1/recipients', { kind: 'company' }), 'name');
    assertFieldError(await as.supA.post('/v1/recipients', { name: '某公司', kind: 'company', fax: '0591-1234567' }), 'fax');
    assert.equal(count(DB, 'SELECT count(*) FROM cust.recipients'), 0);

    const mk = async (c, body) => {
      const r = await c.post('/v1/recipients', body);
      const x = ok(r, 201);
      assert.equal(r.headers.location, `/v1/recipients/${x.id}`);
      assert.equal(x.nda_valid, false);
      assert.deepEqual(x.ndas, []);
      return x;
    };
    R.valid = await mk(as.supA, { name: '中誠信徵信有限公司', kind: 'company', contact: 'compliance@ccx-credit.example' });
    R.none = await mk(as.supA, { name: '華夏律師事務所', kind: 'company' });
    R.expired = await mk(as.admin, { name: '福建省稅務局', kind: 'government' });
    R.other = await mk(as.admin, { name: 'Moody Analytics (Shanghai) Ltd.', kind: 'company' });

    const nda = (id, signed, expires, doc = `NDA ${id}`) => ({ signed_on: signed, expires_on: expires, document_sha256: sha(doc) });
    const url = (r) => `/v1/recipients/${r.id}/ndas`;
    assertProblem(await as.a1.post(url(R.valid), nda(R.valid.id, dbDay(DB, -30), dbDay(DB, 335))), 403, 'forbidden');
    assertFieldError(await as.supA.post(url(R.valid), nda(R.valid.id, dbDay(DB, 1), dbDay(DB, 365))), 'signed_on');
    assertFieldError(await as.supA.post(url(R.valid), nda(R.valid.id, dbDay(DB, -30), dbDay(DB, -30))), 'expires_on');
    assertFieldError(await as.supA.post(url(R.valid), { ...nda(R.valid.id, dbDay(DB, -30), dbDay(DB, 335)), document_sha256: 'abc' }), 'document_sha256');
    assertProblem(await as.supA.post(`/v1/recipients/${crypto.randomUUID()}/ndas`, nda(R.valid.id, dbDay(DB, -30), dbDay(DB, 335))), 404, 'not_found');
    assert.equal(count(DB, 'SELECT count(*) FROM cust.ndas'), 0);

    const n1 = ok(await as.supA.post(url(R.valid), nda(R.valid.id, dbDay(DB, -30), dbDay(DB, 335))), 201);
    assert.equal(n1.status, 'valid');
    assert.equal(n1.document_sha256, sha(`NDA ${R.valid.id}`));
    const n3 = ok(await as.admin.post(url(R.expired), nda(R.expired.id, dbDay(DB, -730), dbDay(DB, -365))), 201);
    assert.equal(n3.status, 'expired');
    ok(await as.admin.post(url(R.other), nda(R.other.id, dbDay(DB, -1), dbDay(DB, 364))), 201);

    const list = ok(await as.hr.get('/v1/recipients?limit=200'));
    const byId = Object.fromEntries(list.items.map((x) => [x.id, x]));
    assert.deepEqual(Object.values(R).map((r) => byId[r.id]?.nda_valid), [true, false, false, true]);
    assert.deepEqual(byId[R.valid.id].ndas.map((n) => n.id), [n1.id]);
    const names = list.items.map((x) => x.name);
    const page1 = ok(await as.a1.get('/v1/recipients?limit=2'));
    const page2 = ok(await as.a1.get(`/v1/recipients?limit=2&cursor=${encodeURIComponent(page1.next_cursor)}`));
    assert.deepEqual([...page1.items, ...page2.items].map((x) => x.name), names, 'keyset pages');
    assert.equal(page2.next_cursor, null);
  });
});

// ---------------------------------------------------------------------------------------------

describe('consents (C3.2)', () => {
  const consent = (r, over = {}) => ({
    recipient_id: r.id, purpose: PURPOSE,
    allowed_fields: ['credit_code', 'contacts.phone', 'company_name', 'contacts.name'],
    document_sha256: sha(`consent of ${cust.id} for ${r.id}`),
    valid_from: dbDay(DB, -1), valid_until: dbDay(DB, 365), ...over,
  });
  const url = () => `/v1/customers/${cust.id}/consents`;

  test('whoever may update the customer records its consent; others cannot', async () => {
    for (const [body, field] of [
      [consent(R.valid, { allowed_fields: ['salary'] }), 'allowed_fields'],
      [consent(R.valid, { allowed_fields: [] }), 'allowed_fields'],
      [consent(R.valid, { allowed_fields: 'address' }), 'allowed_fields'],
      [consent(R.valid, { recipient_id: crypto.randomUUID() }), 'recipient_id'],
      [consent(R.valid, { valid_until: dbDay(DB, -2) }), 'valid_until'],
      [consent(R.valid, { document_sha256: undefined }), 'document_sha256'],
      [consent(R.valid, { purpose: ' ' }), 'purpose'],
      [consent(R.valid, { scope: 'all' }), 'scope'],
    ]) {
      assertFieldError(await as.a1.post(url(), body), field);
    }
    assertProblem(await as.b1.post(url(), consent(R.valid)), 404, 'not_found');
    assertProblem(await as.supB.post(url(), consent(R.valid)), 404, 'not_found');
    assertProblem(await as.auditor.post(url(), consent(R.valid)), 403, 'forbidden');
    assertProblem(await as.hr.post(url(), consent(R.valid)), 403, 'forbidden');
    assert.equal(count(DB, 'SELECT count(*) FROM cust.consents'), 0);

    const k = ok(await as.a1.post(url(), consent(R.valid)), 201);
    assert.equal(k.status, 'active');
    assert.equal(k.purpose, PURPOSE);
    assert.deepEqual(k.allowed_fields, ['company_name', 'credit_code', 'contacts.name', 'contacts.phone'], 'in the canonical order');
    assert.deepEqual(k.recipient, { id: R.valid.id, name: R.valid.name });
    R.valid.consent = k;
    // consents for the recipient without an NDA, the one whose NDA expired, an expired and a
    // future consent for the valid recipient
    R.none.consent = ok(await as.a1.post(url(), consent(R.none)), 201);
    R.expired.consent = ok(await as.supA.post(url(), consent(R.expired)), 201);
    ok(await as.a1.post(url(), consent(R.valid, { purpose: '年度審計 Annual audit', valid_from: dbDay(DB, -400), valid_until: dbDay(DB, -30) })), 201);
    ok(await as.a1.post(url(), consent(R.valid, { purpose: '併購盡調 M&A due diligence', valid_from: dbDay(DB, 10), valid_until: dbDay(DB, 40) })), 201);

    const list = ok(await as.auditor.get(url()));
    assert.equal(list.items.length, 5);
    assert.deepEqual(list.items.map((x) => x.status).sort(), ['active', 'active', 'active', 'expired', 'pending']);
    assertProblem(await as.b1.get(url()), 404, 'not_found');
  });
});

// ---------------------------------------------------------------------------------------------

describe('disclosures (C3.1-C3.3)', () => {
  const url = () => `/v1/customers/${cust.id}/disclosures`;

  test('refused (403 forbidden, the reason in detail) without consent, NDA, for another purpose or recipient; nothing recorded', async () => {
    const before = { ledger: ledger(cust.id), reads: piiReads(cust.id) };
    const cases = [
      [{ recipient_id: R.valid.id, purpose: '市場推廣 Marketing' }, /no valid consent for this recipient and purpose/],
      [{ recipient_id: R.other.id, purpose: PURPOSE }, /no valid consent for this recipient and purpose/], // NDA, no consent
      [{ recipient_id: R.none.id, purpose: PURPOSE }, /signed no NDA/],
      [{ recipient_id: R.expired.id, purpose: PURPOSE }, /NDA has expired/],
      [{ recipient_id: R.valid.id, purpose: '年度審計 Annual audit' }, /consent .* expired on/],
      [{ recipient_id: R.valid.id, purpose: '併購盡調 M&A due diligence' }, /consent .* is valid from/],
    ];
    for (const [body, reason] of cases) {
      const p = assertProblem(await as.a1.post(url(), body), 403, 'forbidden');
      assert.match(p.detail, reason, JSON.stringify(body));
    }
    assertFieldError(await as.a1.post(url(), { recipient_id: crypto.randomUUID(), purpose: PURPOSE }), 'recipient_id');
    assertFieldError(await as.a1.post(url(), { recipient_id: R.valid.id }), 'purpose');
    assertFieldError(await as.a1.post(url(), { recipient_id: 'R1', purpose: PURPOSE }), 'recipient_id');
    // who: full access only
    assertProblem(await as.b1.post(url(), { recipient_id: R.valid.id, purpose: PURPOSE }), 404, 'not_found');
    assertProblem(await as.auditor.post(url(), { recipient_id: R.valid.id, purpose: PURPOSE }), 403, 'forbidden');
    assertProblem(await as.risk.post(url(), { recipient_id: R.valid.id, purpose: PURPOSE }), 403, 'forbidden');
    assert.deepEqual({ ledger: ledger(cust.id), reads: piiReads(cust.id) }, before, 'no ledger row, no PII read');
  });

  test('allowed within scope: only the allowed fields leave, opened; the ledger lists it', async () => {
    const reads = piiReads(cust.id);
    const res = await as.a1.post(url(), { recipient_id: R.valid.id, purpose: '  信用評估 CREDIT ASSESSMENT ' });
    const d = ok(res, 201);
    assert.deepEqual(d.data, {
      company_name: '福州天宇網絡科技有限公司',
      credit_code: people.body.credit_code,
      contacts: [{ name: '張偉', phone: people.p1.e164 }, { name: '李娜', phone: people.p2.e164 }],
    });
    assert.equal(d.consent_id, R.valid.consent.id);
    assert.deepEqual(d.recipient, { id: R.valid.id, name: R.valid.name });
    assert.equal(d.purpose, PURPOSE, 'the consent\'s purpose');
    assert.deepEqual(d.allowed_fields, R.valid.consent.allowed_fields);
    assert.equal(d.customer, undefined, 'the sealed document stays inside');
    assert.doesNotMatch(res.text, /閩侯縣|zhang\.wei|總經理|_enc|"dek"/, 'no other field leaves');

    const list = ok(await as.a1.get(url()));
    assert.equal(list.items.length, 1);
    const e = list.items[0];
    assert.equal(e.id, d.disclosure_id);
    assert.deepEqual(e.recipient, { id: R.valid.id, name: R.valid.name });
    assert.deepEqual(e.fields, R.valid.consent.allowed_fields);
    assert.equal(e.consent_id, R.valid.consent.id);
    assert.equal(e.nda_id, d.nda_id);
    assert.equal(e.disclosed_by, EMP.staffA1.id);
    assert.equal(e.request_id, res.headers['x-request-id']);
    assert.equal(e.purpose, PURPOSE);
    assert.deepEqual(ok(await as.auditor.get(url())).items.map((x) => x.id), [d.disclosure_id], 'auditors read the ledger');
    assertProblem(await as.b1.get(url()), 404, 'not_found');
    assert.equal(ledger(cust.id), 1);
    assert.equal(piiReads(cust.id), reads + 1, 'the disclosure read the PII, logged');
    // supervisor A (full access through the department) may disclose too
    ok(await as.supA.post(url(), { recipient_id: R.valid.id, purpose: PURPOSE }), 201);
    assert.equal(ledger(cust.id), 2);
  });

  test('the ledger is append-only, even for the database superuser', () => {
    assert.throws(() => pg(`UPDATE cust.disclosures SET purpose = 'rewritten' WHERE customer_id = ${lit(cust.id)}`, { db: DB }), /append-only/);
    assert.throws(() => pg(`DELETE FROM cust.disclosures WHERE customer_id = ${lit(cust.id)}`, { db: DB }), /append-only/);
    assert.throws(() => pg('TRUNCATE cust.disclosures CASCADE', { db: DB }), /append-only/);
    assert.equal(ledger(cust.id), 2);
  });

  test('after the consent is revoked, disclosures stop at once', async () => {
    const k = R.valid.consent;
    assertProblem(await as.b1.post(`/v1/consents/${k.id}/revoke`), 404, 'not_found');
    assertProblem(await as.auditor.post(`/v1/consents/${k.id}/revoke`), 403, 'forbidden');
    const r = ok(await as.a1.post(`/v1/consents/${k.id}/revoke`));
    assert.equal(r.status, 'revoked');
    assert.equal(r.revoked_by, EMP.staffA1.id);
    assertProblem(await as.a1.post(`/v1/consents/${k.id}/revoke`), 409, 'conflict');
    const p = assertProblem(await as.a1.post(url(), { recipient_id: R.valid.id, purpose: PURPOSE }), 403, 'forbidden');
    assert.match(p.detail, /revoked/);
    assert.equal(ledger(cust.id), 2, 'no new ledger row');
    assert.equal(ok(await as.a1.get(url())).items.length, 2);
  });

  // Issue 10 item 19: api.nda_revoke had no route.
  test('POST /v1/ndas/{id}/revoke: supervisors and admins revoke an NDA; disclosures to the recipient stop at once', async () => {
    const r = ok(await as.supA.post('/v1/recipients', { name: '閩江資信評估有限公司', kind: 'company' }), 201);
    const n = ok(await as.supA.post(`/v1/recipients/${r.id}/ndas`, { signed_on: dbDay(DB, -5), expires_on: dbDay(DB, 200), document_sha256: sha('閩江 NDA') }), 201);
    ok(await as.a1.post(`/v1/customers/${cust.id}/consents`, {
      recipient_id: r.id, purpose: PURPOSE, allowed_fields: ['company_name'], document_sha256: sha('閩江 consent'),
      valid_from: dbDay(DB), valid_until: dbDay(DB, 30),
    }), 201);
    const before = ledger(cust.id);
    ok(await as.a1.post(url(), { recipient_id: r.id, purpose: PURPOSE }), 201);
    assert.equal(ledger(cust.id), before + 1);

    const rev = `/v1/ndas/${n.id}/revoke`;
    assertProblem(await as.a1.post(rev), 403, 'forbidden');
    assertProblem(await as.auditor.post(rev), 403, 'forbidden');
    assertProblem(await as.supA.post(`/v1/ndas/${crypto.randomUUID()}/revoke`), 404, 'not_found');
    assertProblem(await as.supA.post('/v1/ndas/not-a-uuid/revoke'), 404, 'not_found');
    assert.equal(count(DB, `SELECT count(*) FROM cust.ndas WHERE id = ${lit(n.id)} AND revoked_at IS NOT NULL`), 0);
    const x = ok(await as.supB.post(rev));
    assert.equal(x.id, n.id);
    assert.equal(x.status, 'revoked');
    assert.equal(x.revoked_by, EMP.supB.id);
    assertProblem(await as.admin.post(rev), 409, 'conflict');
    const p = assertProblem(await as.a1.post(url(), { recipient_id: r.id, purpose: PURPOSE }), 403, 'forbidden');
    assert.match(p.detail, /NDA has been revoked/);
    assert.equal(ledger(cust.id), before + 1, 'no new ledger row');
    const listed = ok(await as.a1.get('/v1/recipients?limit=100')).items.find((y) => y.id === r.id);
    assert.equal(listed.nda_valid, false);
  });
});

// ---------------------------------------------------------------------------------------------

describe('disposal by crypto-shredding (C4.3)', () => {
  let d; // the customer to dispose of
  let contractId;
  let cert;
  let sig;
  let deactivation; // the answer to POST .../deactivate
  before(async () => {
    d = await newCustomer(as.a1, { name: '黃淑華', company_name: '莆田木雕工藝品有限公司' });
    const v = await as.a1.patch(`/v1/customers/${d.c.id}`, { verified: true, status: 'active' }, ifMatch(d.etag));
    ok(v);
    await rateCustomer(as.risk, d.c.id);
    contractId = ok(await as.a1.post(`/v1/customers/${d.c.id}/contracts`, { amount: '86000.00', currency: 'CNY', signed_on: dbDay(DB) }), 201).id;
    ok(await as.a1.post(`/v1/customers/${d.c.id}/follow-ups`, { on: dbDay(DB), channel: 'visit', summary: '簽約後回訪,客戶滿意。' }), 201);
    ok(await as.a1.post(`/v1/customers/${d.c.id}/consents`, {
      recipient_id: R.valid.id, purpose: PURPOSE, allowed_fields: ['company_name'], document_sha256: sha('d'),
      valid_from: dbDay(DB), valid_until: dbDay(DB, 30),
    }), 201);
  });
  const url = (s = '') => `/v1/customers/${d.c.id}${s}`;
  const sealedState = () => {
    const raw = rawCustomer(DB, d.c.id);
    return [raw.status, !!raw.data_key, !!raw.address_enc, !!raw.credit_code_enc, !!raw.contacts[0].phone_enc].join(',');
  };

  test('refused with an open contract, a legal hold, while not inactive; by anyone but an admin', async () => {
    const intact = sealedState();
    assert.equal(intact, 'active,true,true,true,true');
    let p = assertProblem(await as.admin.post(url('/dispose')), 409, 'conflict');
    assert.match(p.detail, /open contract/);
    p = assertProblem(await as.a1.post(url('/deactivate')), 409, 'conflict');
    assert.match(p.detail, /open contract/);
    assertProblem(await as.a1.post(url('/dispose')), 403, 'forbidden'); // route: supervisor, admin
    assertProblem(await as.supA.post(url('/dispose')), 403, 'forbidden'); // SQL: admin only
    assert.equal(sealedState(), intact);

    // the contract ends (issue 10 item 19: through the API, as whoever may change the customer)
    const close = `/v1/contracts/${contractId}/close`;
    assertProblem(await as.b1.post(close), 404, 'not_found');
    assertProblem(await as.auditor.post(close), 403, 'forbidden');
    assertProblem(await as.risk.post(close), 403, 'forbidden');
    assertProblem(await as.a1.post(`/v1/contracts/${crypto.randomUUID()}/close`), 404, 'not_found');
    assert.deepEqual(rows(DB, `SELECT status FROM cust.contracts WHERE id = ${lit(contractId)}`), [['open']]);
    const closeRes = await as.a1.post(close);
    const closed = ok(closeRes);
    assert.equal(closed.id, contractId);
    assert.equal(closed.status, 'closed');
    assert.equal(closed.customer_id, d.c.id);
    assert.equal(closeRes.headers.etag, `"${closed.version}"`);
    assert.deepEqual(rows(DB, `SELECT status FROM cust.contracts WHERE id = ${lit(contractId)}`), [['closed']]);
    assertProblem(await as.a1.post(close), 409, 'conflict');

    assertProblem(await as.a1.put(url('/legal-hold'), { reason: '訴訟保全' }), 403, 'forbidden');
    assertFieldError(await as.risk.put(url('/legal-hold'), { reason: ' ' }), 'reason');
    assertFieldError(await as.risk.put(url('/legal-hold'), {}), 'reason');
    const h = ok(await as.risk.put(url('/legal-hold'), { reason: '涉及合同糾紛訴訟((2024)閩01民初123號),保全證據' }));
    assert.equal(h.legal_hold, true);
    assert.equal(h.customer_id, d.c.id);
    p = assertProblem(await as.admin.post(url('/dispose')), 409, 'conflict');
    assert.match(p.detail, /legal hold/);
    assert.equal(sealedState(), intact);

    // issue 10 item 9: an administrator cannot clear the hold (and dispose at once): a risk officer does
    p = assertProblem(await as.admin.put(url('/legal-hold'), { reason: null }), 403, 'forbidden');
    assert.match(p.detail, /risk_officer/);
    assert.equal(count(DB, `SELECT count(*) FROM cust.customers WHERE id = ${lit(d.c.id)} AND legal_hold_reason IS NOT NULL`), 1, 'the hold stays');
    assert.equal(ok(await as.risk.put(url('/legal-hold'), { reason: null })).legal_hold, false);
    p = assertProblem(await as.admin.post(url('/dispose')), 409, 'conflict');
    assert.match(p.detail, /inactive/);
    assert.equal(sealedState(), intact);
  });

  test('after deactivation and with no hold: 200 with a certificate signed ES256, verifiable with the JWKS', async () => {
    const dr = await as.a1.post(url('/deactivate'));
    deactivation = dr;
    assert.equal(ok(dr).status, 'inactive');
    assert.equal(rawCustomer(DB, d.c.id).status, 'inactive');
    assert.equal(ok(await as.a1.get(url())).address, d.body.address, 'deactivation leaves the data');
    const res = await as.admin.post(url('/dispose'));
    const body = ok(res);
    cert = body.certificate;
    sig = body.signature;
    assert.equal(cert.customer_id, d.c.id);
    assert.equal(cert.disposed_by, EMP.admin.id);
    assert.ok(!Number.isNaN(Date.parse(cert.disposed_at)));
    assert.ok(Array.isArray(cert.destroyed) && cert.destroyed.includes('data_key'), JSON.stringify(cert));
    assert.equal(typeof sig, 'string');
    const jwks = ok(await request(svc, { path: '/.well-known/jwks.json' }));
    const { header, payload } = verifyEs256(sig, jwks);
    assert.equal(header.kid, key.kid);
    // issue 10 item 17: signed with the access-token key, but of its own type (never "JWT")
    assert.equal(header.typ, 'tianxing-disposal+jwt');
    for (const [k, v] of Object.entries(cert)) assert.deepEqual(payload[k], v, `payload.${k}`);
    // a changed certificate does not verify
    const [h, , s] = sig.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, customer_id: cust.id })).toString('base64url')}.${s}`;
    assert.throws(() => verifyEs256(forged, jwks));
  });

  // Regression: the deactivation answer went out sealed (ciphertext and the wrapped data key);
  // lifecycle.c now opens it like a read.
  test('the deactivation answer is the customer as GET shows it: opened, no ciphertext, no data key', async () => {
    assert.ok(deactivation, 'deactivated by the previous test');
    const body = ok(deactivation);
    assert.doesNotMatch(deactivation.text, /_enc"|"dek"|"wrapped"|_bidx/, `sealed material in the answer: ${deactivation.text.slice(0, 600)}`);
    assert.equal(body.address, d.body.address);
    assert.equal(body.credit_code, d.body.credit_code);
    assert.deepEqual(body.contacts.map((k) => k.phone), [d.p1.e164, d.p2.e164]);
  });

  // Regression (src/core/jwt.c, tx_jwt_sign): the signed payload once had iss and iat that the
  // answered certificate lacked; now both carry them.
  test('the signature\'s payload is exactly the certificate', () => {
    assert.ok(cert && sig, 'disposed by the previous test');
    assert.deepEqual(JSON.parse(Buffer.from(sig.split('.')[1], 'base64url').toString('utf8')), cert);
  });

  // Issue 10 item 17: the certificate is signed with the key that signs access tokens; no
  // verifier may take it for one, even with the claims a token would need added.
  test('the certificate sent as a bearer token is 401, and so is one re-signed with a token\'s claims', async () => {
    assert.ok(sig, 'disposed by the previous test');
    assertUnauthorized(await call(svc, 'GET', '/v1/me', { token: sig }));
    assertUnauthorized(await call(svc, 'GET', `/v1/customers/${cust.id}`, { token: sig }));
    // a document with typ tianxing-disposal+jwt and every claim of a valid admin token, signed
    // with the service key: refused for its type alone
    const t = Math.floor(Date.now() / 1000);
    const claims = { iss: 'tianxingd', sub: EMP.admin.id, iat: t, nbf: t, exp: t + 300, roles: ['admin'] };
    const data = `${Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'tianxing-disposal+jwt', kid: key.kid })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const s = crypto.sign('sha256', Buffer.from(data), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    assertUnauthorized(await call(svc, 'GET', '/v1/me', { token: `${data}.${s.toString('base64url')}` }));
    // the same claims with typ JWT are a valid token: the refusal above is the type's
    const data2 = `${Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: key.kid })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const s2 = crypto.sign('sha256', Buffer.from(data2), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    ok(await call(svc, 'GET', '/v1/me', { token: `${data2}.${s2.toString('base64url')}` }));
  });

  test('afterwards: PII null, data key and sealed columns gone, the business record kept', async () => {
    assert.ok(cert, 'disposed by the previous test');
    for (const who of ['admin', 'a1', 'auditor']) {
      const c = ok(await as[who].get(url()));
      assert.equal(c.status, 'disposed', who);
      assert.equal(c.address, null, who);
      assert.equal(c.credit_code, null, who);
      assert.deepEqual(c.contacts.map((k) => [k.name, k.position, k.phone, k.email]), [['disposed', null, null, null], ['disposed', null, null, null]], who);
      assert.equal(c.name, 'disposed customer', who);
      assert.equal(c.needs, null);
      assert.equal(c.concerns, null);
      assert.equal(c.company_name, '莆田木雕工藝品有限公司', `${who}: the company stays`);
      assert.equal(c.business_scope, d.body.business_scope);
    }
    const raw = rawCustomer(DB, d.c.id);
    assert.equal(raw.data_key, null, 'the data key row is gone');
    assert.equal(count(DB, `SELECT count(*) FROM cust.data_keys WHERE customer_id = ${lit(d.c.id)}`), 0);
    assert.deepEqual([raw.address_enc, raw.credit_code_enc, raw.credit_code_bidx], [null, null, null]);
    for (const k of raw.contacts) assert.deepEqual([k.phone_enc, k.phone_bidx, k.email_enc, k.email_bidx], [null, null, null, null]);
    assert.equal(raw.company_name, '莆田木雕工藝品有限公司');
    assert.deepEqual(rows(DB, `SELECT id, status FROM cust.contracts WHERE customer_id = ${lit(d.c.id)}`), [[contractId, 'closed']]);
    assert.equal(count(DB, `SELECT count(*) FROM cust.follow_ups WHERE customer_id = ${lit(d.c.id)}`), 1);
    assert.equal(count(DB, `SELECT count(*) FROM cust.consents WHERE customer_id = ${lit(d.c.id)} AND revoked_at IS NULL`), 0, 'consents end with the customer');
    assert.equal(count(DB, `SELECT count(*) FROM audit.log WHERE table_name = 'cust.data_keys' AND op = 'DELETE' AND row_key LIKE ${lit(`%${d.c.id}%`)}`), 1, 'the destruction is in the audit trail');
    // its identifiers are free again: the credit code is unique among customers not disposed of
    ok(await as.b1.post('/v1/customers', { name: '黃淑華', company_name: '莆田木雕(新設)', credit_code: d.body.credit_code, contacts: [{ name: '黃淑華', phone: d.p1.input }] }), 201);
  });

  test('a disposed customer cannot be updated, disclosed, held or disposed again (409)', async () => {
    const c = ok(await as.a1.get(url()));
    const before = pg(`SELECT to_jsonb(c)::text FROM cust.customers c WHERE id = ${lit(d.c.id)}`, { db: DB });
    assertProblem(await as.a1.patch(url(), { needs: '重新合作' }, ifMatch(`"${c.version}"`)), 409, 'conflict');
    assertProblem(await as.admin.patch(url(), { company_name: '改名' }, ifMatch(`"${c.version}"`)), 409, 'conflict');
    assertProblem(await as.a1.post(url('/disclosures'), { recipient_id: R.valid.id, purpose: PURPOSE }), 409, 'conflict');
    assertProblem(await as.a1.post(url('/follow-ups'), { on: dbDay(DB), channel: 'phone', summary: '再聯絡' }), 409, 'conflict');
    assertProblem(await as.a1.post(url('/contracts'), { amount: '100.00', currency: 'CNY', signed_on: dbDay(DB) }), 409, 'conflict');
    assertProblem(await as.a1.post(url('/consents'), {
      recipient_id: R.valid.id, purpose: PURPOSE, allowed_fields: ['company_name'], document_sha256: sha('again'),
      valid_from: dbDay(DB), valid_until: dbDay(DB, 30),
    }), 409, 'conflict');
    assertProblem(await as.risk.put(url('/legal-hold'), { reason: '事後保全' }), 409, 'conflict');
    assertProblem(await as.admin.post(url('/dispose')), 409, 'conflict');
    assert.equal(pg(`SELECT to_jsonb(c)::text FROM cust.customers c WHERE id = ${lit(d.c.id)}`, { db: DB }), before, 'unchanged');
  });
});

// ---------------------------------------------------------------------------------------------

// Issue 10 item 9: a legal hold is cleared only by a risk officer other than the administrator who
// disposes. An employee holding both roles may clear a hold, but then someone else disposes.
describe('legal holds: four eyes between clearing and disposal', () => {
  const both = { id: '20000000-0000-4000-8000-0000000000f1', username: 'admin.risk', roles: ['admin', 'risk_officer'] };
  before(() => {
    asOwnerAdmin(DB, `INSERT INTO org.employees (id, username, display_name, roles)
      VALUES (${lit(both.id)}, ${lit(both.username)}, 'Admin and Risk', '{admin,risk_officer}');`);
  });

  test('whoever cleared the hold cannot dispose (403); another administrator can', async () => {
    const ar = asEmp(both);
    const x = await newCustomer(as.a1, { name: '吳淑芬', company_name: '漳州水仙花茶業' });
    const url = (s = '') => `/v1/customers/${x.c.id}${s}`;
    ok(await as.a1.post(url('/deactivate')));
    ok(await as.risk.put(url('/legal-hold'), { reason: '稅務稽查' }));
    assertProblem(await as.admin.put(url('/legal-hold'), { reason: null }), 403, 'forbidden');
    assert.equal(ok(await ar.put(url('/legal-hold'), { reason: null })).legal_hold, false);
    const p = assertProblem(await ar.post(url('/dispose')), 403, 'forbidden');
    assert.match(p.detail, /cleared/);
    assert.equal(rawCustomer(DB, x.c.id).status, 'inactive');
    const cert = ok(await as.admin.post(url('/dispose'))).certificate;
    assert.equal(cert.disposed_by, EMP.admin.id);
    assert.equal(rawCustomer(DB, x.c.id).status, 'disposed');
  });

  test('the latest clearing counts: after a hold set again and cleared by another, the earlier clearer may dispose', async () => {
    const ar = asEmp(both);
    const x = await newCustomer(as.a1, { name: '許志明', company_name: '龍岩礦業' });
    const url = (s = '') => `/v1/customers/${x.c.id}${s}`;
    ok(await as.a1.post(url('/deactivate')));
    ok(await ar.put(url('/legal-hold'), { reason: '內部調查' }));
    ok(await ar.put(url('/legal-hold'), { reason: null }));
    ok(await as.admin.put(url('/legal-hold'), { reason: '再次保全' }));
    ok(await as.risk.put(url('/legal-hold'), { reason: null }));
    assert.equal(ok(await ar.post(url('/dispose'))).certificate.disposed_by, both.id);
  });
});

// ---------------------------------------------------------------------------------------------

describe('tianxingd rotate-master-key', () => {
  test('re-wraps every data key with the new master key; the data reads back through a service holding only it', async () => {
    const oldId = keys.lines[0][0];
    const keyIds = () => rows(DB, 'SELECT DISTINCT key_id FROM cust.data_keys').map((r) => r[0]);
    const total = count(DB, 'SELECT count(*) FROM cust.data_keys');
    assert.ok(total >= 2, `data keys: ${total}`);
    assert.deepEqual(keyIds(), [oldId]);
    const sealedBefore = pg(`SELECT string_agg(encode(address_enc, 'hex'), ',' ORDER BY id) FROM cust.customers`, { db: DB });
    const wrappedBefore = rows(DB, 'SELECT customer_id, encode(wrapped, \'hex\') FROM cust.data_keys ORDER BY customer_id');

    const both = keys.withKey('k2025-06'); // the old key and the new one, new last
    const run = await runBin(['rotate-master-key'], { db: DB, env: keyEnv(keys, both) });
    assert.equal(run.code, 0, `exit code; stderr: ${run.stderr}`);
    // What the command's connection (the owner, acting as admin, as main.c sets it up) sees of
    // cust.data_keys, plainly and FOR UPDATE: shown when the count is not the one expected.
    const seen = pg(`BEGIN; SELECT set_config('tx.roles', 'admin', true);
SELECT 'select=' || (SELECT count(*) FROM cust.data_keys) || ' for_update=' || (SELECT count(*) FROM (SELECT 1 FROM cust.data_keys FOR UPDATE) s);
ROLLBACK;`, { db: DB, user: 'tianxing_owner' }).split('\n').pop();
    // Regression: cust.data_keys had no UPDATE policy for the owner, so FOR UPDATE saw no row
    // and the command re-wrapped nothing yet reported success; it now has one, and the command
    // fails when the keys needing re-wrap cannot be locked or an UPDATE changes no row.
    assert.deepEqual(JSON.parse(run.stdout), { rewrapped: total }, `the owner-as-admin sees ${seen}`);
    assert.deepEqual(keyIds(), ['k2025-06'], 'every data key is wrapped by the new master key');
    const wrappedAfter = rows(DB, 'SELECT customer_id, encode(wrapped, \'hex\') FROM cust.data_keys ORDER BY customer_id');
    assert.deepEqual(wrappedAfter.map((r) => r[0]), wrappedBefore.map((r) => r[0]));
    wrappedAfter.forEach((r, i) => assert.notEqual(r[1], wrappedBefore[i][1], 'wrapped anew'));
    assert.equal(pg(`SELECT string_agg(encode(address_enc, 'hex'), ',' ORDER BY id) FROM cust.customers`, { db: DB }), sealedBefore, 'the data is untouched');
    assert.equal(count(DB, `SELECT count(*) FROM audit.log WHERE table_name = 'cust.data_keys' AND op = 'UPDATE' AND changes ? 'wrapped' AND changes->>'wrapped' NOT LIKE '%[redacted]%'`), 0, 'no wrapped key in the trail');
    // nothing left to do the second time
    const again = await runBin(['rotate-master-key'], { db: DB, env: keyEnv(keys, both) });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), { rewrapped: 0 });

    // the old key line removed: a service with the new key alone reads everything
    const svc2 = await startCustomerService(DB, key, keys, { masterFile: keys.only('k2025-06') });
    try {
      const a1 = client(svc2, ownToken(key, EMP.staffA1));
      const c = ok(await a1.get(`/v1/customers/${cust.id}`));
      assert.equal(c.address, people.body.address);
      assert.equal(c.credit_code, people.body.credit_code);
      assert.deepEqual(c.contacts.map((k) => [k.phone, k.email]), [[people.p1.e164, people.e1.stored], [people.p2.e164, null]]);
      assert.deepEqual(ok(await a1.get(`/v1/customers?phone=${encodeURIComponent(people.p2.input)}`)).items.map((x) => x.id), [cust.id], 'blind indexes are untouched by rotation');
      const fresh = ok(await a1.post('/v1/customers', { name: '新客戶', address: '福建省寧德市蕉城區' }), 201);
      assert.equal(rawCustomer(DB, fresh.id).data_key.key_id, 'k2025-06');
    } finally {
      await svc2.stop();
    }
  });

  // Fails for the same reason as the previous test while it does (cust.data_keys invisible to
  // the command's SELECT ... FOR UPDATE): it finds nothing to unwrap and exits 0 with
  // {"rewrapped":0}. Expected: exit 1 naming the customer whose key cannot be unwrapped.
  test('a data key no master key in the file can unwrap stops the rotation (exit 1), changing nothing', async () => {
    const before = rows(DB, 'SELECT customer_id, key_id, encode(wrapped, \'hex\') FROM cust.data_keys ORDER BY customer_id');
    // the file holds one new key only: every data key is wrapped by a key the file lacks
    const run = await runBin(['rotate-master-key'], { db: DB, env: keyEnv(keys, keys.unrelated('k-lost')) });
    assert.notEqual(run.code, 0, run.stdout);
    assert.match(run.stderr, /cannot be unwrapped/);
    assert.deepEqual(rows(DB, 'SELECT customer_id, key_id, encode(wrapped, \'hex\') FROM cust.data_keys ORDER BY customer_id'), before);
  });
});

test('the service survived every request of this file', () => {
  assert.equal(svc.proc.exitCode, null, `tianxingd exited; its stderr:\n${svc.stderrText().slice(-6000)}`);
  assert.equal(svc.proc.signalCode, null, `tianxingd was killed; its stderr:\n${svc.stderrText().slice(-6000)}`);
});

commonHeadersTestExceptJwks();
