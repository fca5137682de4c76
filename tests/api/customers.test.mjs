// Module C, customer information, first slice (docs/customers.md; issue 4): collecting with
// validation and one uniform format (C1.1, C1.2, C2.1), duplicates found by blind index, the
// completeness gate on contracts (C1.3), PII sealed before SQL and shown per role (C2.3), finding
// customers (filters, keyset pages, two-character Chinese search, exact phone/e-mail look-ups),
// keeping them current (If-Match, verification, review queue: C4.1, C4.2), follow-ups, and 503
// without the encryption keys. Every refusal is checked for the data it leaves behind.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, describe, test } from 'node:test';

import { assertProblem, commonHeadersTest, freshDatabase, lit, pg, startService } from './lib/harness.mjs';
import {
  DEPT, EMP, assertFieldError, client, dbDay, loadFixtures, newSigningKey, ok, ownToken,
} from './lib/identity.mjs';
import {
  ageCustomer, assertDuplicate, assertSealed, count, customerKeys, dumpData, newCreditCode,
  newEmail, newMobile, rawCustomer, rows, startCustomerService,
} from './lib/customers.mjs';
import { rateCustomer } from './lib/credit.mjs';

const DB = 'tx_api_customers';
let key;
let keys;
let svc;
const as = {}; // short name -> client
const asEmp = (e, roles) => client(svc, ownToken(key, e, { roles }));
const ifMatch = (etag) => ({ headers: { 'If-Match': etag } });
const sorted = (a) => [...a].sort();

const storedState = () => pg(`SELECT (SELECT count(*) FROM cust.customers) || '/' || (SELECT count(*) FROM cust.contacts)
  || '/' || (SELECT count(*) FROM cust.data_keys) || '/' || (SELECT count(*) FROM cust.contracts)
  || '/' || (SELECT coalesce(sum(version), 0) FROM cust.customers)`, { db: DB });

before(async () => {
  key = newSigningKey();
  keys = customerKeys();
  freshDatabase(DB);
  svc = await startCustomerService(DB, key, keys);
  loadFixtures(DB);
  Object.assign(as, {
    admin: asEmp(EMP.admin), a1: asEmp(EMP.staffA1), a2: asEmp(EMP.staffA2), b1: asEmp(EMP.staffB1),
    supA: asEmp(EMP.supA), supB: asEmp(EMP.supB), auditor: asEmp(EMP.auditor), hr: asEmp(EMP.hr),
    risk: asEmp(EMP.risk),
  });
});

/** POST /v1/customers as `c`; 201 expected; returns { body, etag, res }. */
async function create(c, body) {
  const res = await c.post('/v1/customers', body);
  const b = ok(res, 201);
  assert.equal(res.headers.location, `/v1/customers/${b.id}`);
  assert.equal(res.headers.etag, `"${b.version}"`);
  return { body: b, etag: res.headers.etag, res };
}

/** A complete customer body (every required field of the seeded policy) with fresh identifiers. */
function fullBody(over = {}) {
  const phone = newMobile();
  const email = newEmail();
  return {
    body: {
      name: '黃志明',
      company_name: '福州閩江機械有限公司',
      business_scope: '機械設備製造、銷售及維修。',
      address: '福建省福州市鼓樓區五四路158號環球廣場1801室',
      credit_code: newCreditCode(),
      contacts: [{ name: '黃志明', position: '總經理', phone: phone.input, email: email.input }],
      tags: ['機械'],
      source: '展會',
      ...over,
    },
    phone, email,
  };
}

/** Every item of a paged list, following next_cursor; also returns the pages' sizes. */
async function allPages(c, p, limit) {
  const items = [];
  const sizes = [];
  let cursor = null;
  for (let i = 0; i < 100; i++) {
    const sep = p.includes('?') ? '&' : '?';
    const body = ok(await c.get(`${p}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`));
    items.push(...body.items);
    sizes.push(body.items.length);
    if (body.next_cursor === null) return { items, sizes };
    assert.equal(typeof body.next_cursor, 'string');
    cursor = body.next_cursor;
  }
  throw new Error('too many pages');
}

// ---------------------------------------------------------------------------------------------

describe('collect: validation and one uniform format (C1.1, C1.2, C2.1)', () => {
  test('each invalid field is refused with 422 naming it (and its code); nothing is stored', async () => {
    const before = storedState();
    const base = { name: '林美玲', company_name: '廈門海滄物流有限公司' };
    const contact = { name: '林美玲' };
    const cases = [
      [{ company_name: '無名公司' }, 'name', 'required'],
      [{ ...base, name: '' }, 'name', 'too_short'],
      [{ ...base, name: ' \u3000 ' }, 'name', 'too_short'],
      [{ ...base, name: '林'.repeat(101) }, 'name', 'too_long'],
      [{ ...base, name: 'x'.repeat(101) }, 'name', 'too_long'],
      [{ ...base, name: '林美玲\u0007' }, 'name', 'control_characters'],
      [{ ...base, name: '林美\u2028玲' }, 'name', 'control_characters'],
      [{ ...base, name: 42 }, 'name', 'type'],
      [{ ...base, company_name: '廈'.repeat(201) }, 'company_name', 'too_long'],
      [{ ...base, address: '福建省廈門市\u001b[31m海滄區' }, 'address', 'control_characters'],
      [{ ...base, contacts: [{ ...contact, phone: '12345' }] }, 'contacts[0].phone', 'format'],
      [{ ...base, contacts: [{ ...contact, phone: '1-800-FLOWERS' }] }, 'contacts[0].phone', 'format'],
      [{ ...base, contacts: [{ ...contact, phone: '12812345678' }] }, 'contacts[0].phone', 'format'],
      [{ ...base, contacts: [{ ...contact, email: 'meiling.lin' }] }, 'contacts[0].email', 'format'],
      [{ ...base, contacts: [{ ...contact, email: 'meiling@localhost' }] }, 'contacts[0].email', 'format'],
      [{ ...base, contacts: [{ ...contact, email: 'mei ling@example.com' }] }, 'contacts[0].email', 'format'],
      [{ ...base, credit_code: '91350100M000100Y44' }, 'credit_code', 'check_digit'],
      [{ ...base, credit_code: '9135010OM000100Y43' }, 'credit_code', 'format'], // O is not in GB 32100
      [{ ...base, credit_code: '91350100M000I00Y43' }, 'credit_code', 'format'], // nor I
      [{ ...base, credit_code: '91350100M000100Y4' }, 'credit_code', 'format'],
      [{ ...base, contacts: ['林美玲 13812345678'] }, 'contacts[0]', 'type'],
      [{ ...base, contacts: { name: '林美玲' } }, 'contacts', 'type'],
      [{ ...base, contacts: [{ ...contact, wechat: 'meiling_lin' }] }, 'contacts[0].wechat', 'unknown_field'],
      [{ ...base, contacts: [{ position: '經理' }] }, 'contacts[0].name', 'required'],
      [{ ...base, tags: 'VIP' }, 'tags', 'type'],
      [{ ...base, tags: [''] }, 'tags[0]', 'too_short'],
      [{ ...base, tags: [7] }, 'tags[0]', 'format'],
      [{ ...base, tags: ['標'.repeat(51)] }, 'tags[0]', 'too_long'],
      [{ ...base, tags: Array.from({ length: 21 }, (_, i) => `tag${i}`) }, 'tags', 'too_long'],
      [{ ...base, status: 'vip' }, 'status', 'not_allowed'],
      [{ ...base, status: 'disposed' }, 'status', 'not_allowed'],
      [{ ...base, owner_id: 'staff.a1' }, 'owner_id', 'format'],
      [{ ...base, wechat: 'meiling_lin' }, 'wechat', 'unknown_field'],
      [{ ...base, address_enc: '\\x00' }, 'address_enc', 'unknown_field'],
      [{ ...base, verified: true }, 'verified', 'unknown_field'],
    ];
    for (const [body, field, code] of cases) {
      const p = assertFieldError(await as.a1.post('/v1/customers', body), field);
      assert.ok(p.errors.some((e) => e.field === field && e.code === code), `${field}: code ${code} in ${JSON.stringify(p.errors)}`);
    }
    assertProblem(await as.a1.post('/v1/customers', ['林美玲']), 400, 'bad_request');
    // several errors at once: every one is named
    const many = assertFieldError(await as.a1.post('/v1/customers', { ...base, name: '\u3000', credit_code: 'X', contacts: [{ ...contact, phone: '123' }] }), 'credit_code');
    assert.deepEqual(sorted(many.errors.map((e) => e.field)), ['contacts[0].phone', 'credit_code', 'name']);
    assert.equal(storedState(), before, 'no customer, contact, data key or contract was stored');
  });

  test('one uniform format: E.164 phones, lower-case e-mails, NFC text trimmed of every white space', async () => {
    const { body: c } = await create(as.a1, {
      name: '\u3000 Ame\u0301lie 王 \u00a0',
      company_name: '  Cafe\u0301 Lumière 咖啡有限公司\u3000',
      address: '\u3000福建省廈門市思明區鷺江道8號國際銀行大廈12樓 ',
      credit_code: ' 91350100m000100y43 ',
      needs: '  需要每月供應咖啡豆,約200公斤\u3000',
      tags: [' 咖啡\u3000', 'Cafe\u0301'],
      contacts: [
        { name: '王小明', position: ' 採購經理 ', phone: '138 1234 5678', email: '  Wang.XiaoMing@Example.COM ' },
        { name: 'Li Na', phone: '＋８６ １３９－２０００－０００１', email: 'LI.NA@EXAMPLE.COM' },
        { name: 'Zhang Wei', phone: '0086-139 2000 0002' },
      ],
    });
    assert.equal(c.name, 'Am\u00e9lie 王');
    assert.equal(c.company_name, 'Caf\u00e9 Lumière 咖啡有限公司');
    assert.equal(c.address, '福建省廈門市思明區鷺江道8號國際銀行大廈12樓');
    assert.equal(c.credit_code, '91350100M000100Y43');
    assert.equal(c.needs, '需要每月供應咖啡豆,約200公斤');
    assert.deepEqual(c.tags, ['咖啡', 'Caf\u00e9']);
    assert.deepEqual(c.contacts.map((k) => [k.name, k.position, k.phone, k.email]), [
      ['王小明', '採購經理', '+8613812345678', 'wang.xiaoming@example.com'],
      ['Li Na', null, '+8613920000001', 'li.na@example.com'],
      ['Zhang Wei', null, '+8613920000002', null],
    ]);
    assert.equal(c.status, 'prospect');
    assert.equal(c.owner_id, EMP.staffA1.id);
    assert.equal(c.department_id, EMP.staffA1.dept);
    assert.equal(c.pii_access, 'full');
    assert.equal(c.last_verified_at, null);
    // stored like that (plain columns read raw; sealed ones read back through the service)
    assert.deepEqual(rows(DB, `SELECT name, company_name, array_to_string(tags, ',') FROM cust.customers WHERE id = ${lit(c.id)}`),
      [['Am\u00e9lie 王', 'Caf\u00e9 Lumière 咖啡有限公司', '咖啡,Caf\u00e9']]);
    const got = ok(await as.a1.get(`/v1/customers/${c.id}`));
    assert.deepEqual(got.contacts, c.contacts);
    assert.equal(got.address, c.address);
    assert.equal(got.credit_code, c.credit_code);
    // PATCH normalizes the same way
    const r = await as.a1.patch(`/v1/customers/${c.id}`, { name: 'Ame\u0301lie Wang\u3000' }, ifMatch(`"${got.version}"`));
    assert.equal(ok(r).name, 'Am\u00e9lie Wang');
  });

  // Regression: business_scope, address, needs and concerns are multi-line in customer_spec
  // (pii.c); without it the field spec refused line breaks before the normalizer folded CR LF.
  test('multi-line fields take line breaks: CR LF is stored as LF (needs, concerns)', async () => {
    const res = await as.a1.post('/v1/customers', {
      name: '鄭雅文', company_name: '廈門鷺島咖啡有限公司',
      needs: '需要每月供應咖啡豆\r\n約200公斤', concerns: '價格波動\n交貨延誤',
    });
    const c = ok(res, 201);
    assert.equal(c.needs, '需要每月供應咖啡豆\n約200公斤');
    assert.equal(c.concerns, '價格波動\n交貨延誤');
  });
});

// ---------------------------------------------------------------------------------------------

describe('duplicates: one customer per credit code, phone and e-mail', () => {
  let first; // staff A1's customer
  let f;
  before(async () => {
    f = fullBody({ name: '鄭國強', company_name: '泉州晉江鞋業有限公司' });
    first = (await create(as.a1, f.body)).body;
  });

  // Issue 10 item 7: the id of a customer the caller cannot see is not given; the department
  // that owns it is (whom to ask). Who can see it gets the id.
  const assertHidden = (res, field) => {
    const p = assertDuplicate(res, field, undefined);
    assert.ok(!('existing_id' in p), res.text);
    assert.deepEqual(p.owner_department, { id: DEPT.A, name: '業務一部 Business A' }, res.text);
    assert.match(p.detail, /業務一部 Business A/);
    assert.ok(!res.text.includes(first.id), 'the id appears nowhere');
  };

  test('staff B1 creating a duplicate gets 409 naming the owning department, not the id it cannot read', async () => {
    const before = storedState();
    const other = { name: '鄭國強', company_name: '晉江鞋業(另一筆)' };
    assertHidden(await as.b1.post('/v1/customers', { ...other, credit_code: f.body.credit_code.toLowerCase() }), 'credit_code');
    // the same phone typed differently, as the second contact
    const samePhone = `+86-${f.phone.e164.slice(3, 6)}-${f.phone.e164.slice(6, 10)}-${f.phone.e164.slice(10)}`;
    assertHidden(await as.b1.post('/v1/customers', { ...other, contacts: [{ name: '甲' }, { name: '鄭國強', phone: samePhone }] }), 'contacts[1].phone');
    assertHidden(await as.b1.post('/v1/customers', { ...other, contacts: [{ name: '鄭國強', email: f.email.stored.toUpperCase() }] }), 'contacts[0].email');
    // who can see the customer gets its id: the owner's supervisor, an administrator
    assertDuplicate(await as.supA.post('/v1/customers', { ...other, credit_code: f.body.credit_code }), 'credit_code', first.id);
    assertDuplicate(await as.admin.post('/v1/customers', { ...other, owner_id: EMP.staffB1.id, contacts: [{ name: '鄭國強', phone: samePhone }] }), 'contacts[0].phone', first.id);
    assert.equal(storedState(), before, 'nothing stored by the refused creates');
    // B1 still cannot read or change it
    assertProblem(await as.b1.get(`/v1/customers/${first.id}`), 404, 'not_found');
    assertProblem(await as.b1.patch(`/v1/customers/${first.id}`, { name: 'x' }, ifMatch(`"${first.version}"`)), 404, 'not_found');
  });

  test('the same holds for an update that takes another customer\'s phone or credit code', async () => {
    const { body: mine, etag } = await create(as.b1, { name: '蔡文華', company_name: '石獅服裝貿易行' });
    assertHidden(await as.b1.patch(`/v1/customers/${mine.id}`, { contacts: [{ name: '蔡文華', phone: f.phone.input }] }, ifMatch(etag)), 'contacts[0].phone');
    assertHidden(await as.b1.patch(`/v1/customers/${mine.id}`, { credit_code: f.body.credit_code }, ifMatch(etag)), 'credit_code');
    const after = rawCustomer(DB, mine.id);
    assert.equal(after.contacts.length, 0);
    assert.equal(after.credit_code_enc, null);
    assert.equal(ok(await as.b1.get(`/v1/customers/${mine.id}`)).version, mine.version, 'version unchanged');
    // a customer may keep its own values (no duplicate of itself)
    const again = await as.a1.patch(`/v1/customers/${first.id}`, { credit_code: f.body.credit_code, contacts: f.body.contacts }, ifMatch(`"${first.version}"`));
    assert.equal(ok(again).credit_code, f.body.credit_code);
  });
});

// ---------------------------------------------------------------------------------------------

describe('completeness and the contract gate (C1.3)', () => {
  const contract = () => ({ amount: '128000.00', currency: 'CNY', prepayment_ratio: 0.3, term_months: 12, signed_on: dbDay(DB) });

  test('missing fields follow customer_required_fields; a contract is refused until complete and verified', async () => {
    const required = ok(await as.a1.get('/v1/policy-parameters/customer_required_fields')).value;
    assert.deepEqual(required, ['name', 'company_name', 'business_scope', 'contacts', 'credit_code'], 'the seeded policy');
    const { body: c } = await create(as.a1, { name: '吳建國', company_name: '漳州龍海食品有限公司', contacts: [{ name: '吳建國' }] });
    const comp = ok(await as.a1.get(`/v1/customers/${c.id}/completeness`));
    // a contact without a phone or an e-mail does not count
    assert.deepEqual(comp, { score: 40, missing: ['business_scope', 'contacts', 'credit_code'], unverified: ['last_verified_at'] });
    assert.deepEqual(c.completeness, comp, 'the customer document carries the same');

    const refused = await as.a1.post(`/v1/customers/${c.id}/contracts`, contract());
    const p = assertProblem(refused, 422, 'customer_incomplete');
    // one 422 names what completeness (C1.3) and credit (R2.3: no credit assessment yet) miss
    assert.deepEqual(p.errors.map((e) => e.field), ['business_scope', 'contacts', 'credit_code', 'last_verified_at', 'credit_assessment']);
    assert.equal(count(DB, `SELECT count(*) FROM cust.contracts WHERE customer_id = ${lit(c.id)}`), 0);
    await rateCustomer(as.risk, c.id);

    // completed but not verified: only the verification is missing
    const phone = newMobile();
    let r = await as.a1.patch(`/v1/customers/${c.id}`, {
      business_scope: '罐頭食品、飲料的生產與銷售。', credit_code: '9144030071526726XG',
      contacts: [{ name: '吳建國', position: '董事長', phone: phone.input }],
    }, ifMatch(`"${c.version}"`));
    const c2 = ok(r);
    assert.deepEqual(c2.completeness, { score: 100, missing: [], unverified: ['last_verified_at'] });
    const p2 = assertProblem(await as.a1.post(`/v1/customers/${c.id}/contracts`, contract()), 422, 'customer_incomplete');
    assert.deepEqual(p2.errors.map((e) => e.field), ['last_verified_at']);
    assert.equal(count(DB, `SELECT count(*) FROM cust.contracts WHERE customer_id = ${lit(c.id)}`), 0);

    r = await as.a1.patch(`/v1/customers/${c.id}`, { verified: true }, ifMatch(r.headers.etag));
    const c3 = ok(r);
    assert.ok(c3.last_verified_at, 'verified: true sets last_verified_at');
    assert.deepEqual(ok(await as.a1.get(`/v1/customers/${c.id}/completeness`)), { score: 100, missing: [], unverified: [] });
    const k = ok(await as.a1.post(`/v1/customers/${c.id}/contracts`, contract()), 201);
    assert.equal(k.customer_id, c.id);
    assert.equal(k.amount, '128000.00');
    assert.equal(k.status, 'open');
    assert.equal(k.created_by, EMP.staffA1.id);
    assert.deepEqual(rows(DB, `SELECT amount::text, currency, status FROM cust.contracts WHERE customer_id = ${lit(c.id)}`), [['128000.00', 'CNY', 'open']]);
    // staff B1 neither reads the completeness nor signs for this customer
    assertProblem(await as.b1.get(`/v1/customers/${c.id}/completeness`), 404, 'not_found');
    assertProblem(await as.b1.post(`/v1/customers/${c.id}/contracts`, contract()), 404, 'not_found');
    assertFieldError(await as.a1.post(`/v1/customers/${c.id}/contracts`, { ...contract(), amount: '12.345' }), 'amount');
    assertFieldError(await as.a1.post(`/v1/customers/${c.id}/contracts`, { ...contract(), signed_on: dbDay(DB, 1) }), 'signed_on');
    assert.equal(count(DB, `SELECT count(*) FROM cust.contracts WHERE customer_id = ${lit(c.id)}`), 1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('PII sealed before SQL (C2.3)', () => {
  let c;
  let f;
  const address = '福建省福州市倉山區金山大道618號橘園洲工業園23號樓';
  before(async () => {
    f = fullBody({ name: '陳淑芬', company_name: '福州金山包裝材料有限公司', address });
    c = (await create(as.a1, f.body)).body;
  });

  const plaintexts = () => [address, f.body.credit_code, f.phone.e164, f.phone.e164.slice(3), f.email.stored];

  test('the sealed columns hold none of the plaintext; blind indexes are 32 bytes', () => {
    const raw = rawCustomer(DB, c.id);
    assertSealed(raw.address_enc, address, 'address_enc');
    assertSealed(raw.credit_code_enc, f.body.credit_code, 'credit_code_enc');
    assert.equal(raw.credit_code_bidx.length, 32);
    assert.equal(raw.contacts.length, 1);
    assertSealed(raw.contacts[0].phone_enc, f.phone.e164, 'phone_enc');
    assertSealed(raw.contacts[0].email_enc, f.email.stored, 'email_enc');
    assert.equal(raw.contacts[0].phone_bidx.length, 32);
    assert.equal(raw.contacts[0].email_bidx.length, 32);
    assert.equal(raw.data_key.wrapped.length, 60);
    assert.equal(raw.data_key.key_id, keys.lines.at(-1)[0]);
    // the same, asked of the database itself
    const pos = (col, table, where, s) => count(DB, `SELECT coalesce(position(convert_to(${lit(s)}, 'UTF8') IN ${col}), 0) FROM ${table} WHERE ${where}`);
    for (const s of plaintexts()) {
      assert.equal(pos('address_enc', 'cust.customers', `id = ${lit(c.id)}`, s), 0, s);
      assert.equal(pos('credit_code_enc', 'cust.customers', `id = ${lit(c.id)}`, s), 0, s);
      assert.equal(pos('phone_enc', 'cust.contacts', `customer_id = ${lit(c.id)}`, s), 0, s);
      assert.equal(pos('email_enc', 'cust.contacts', `customer_id = ${lit(c.id)}`, s), 0, s);
    }
  });

  test('the stored bytes are docs/customers.md\'s envelope: the wrapped key opens every field, the indexes are the HMACs', () => {
    const raw = rawCustomer(DB, c.id);
    const gcmOpen = (k, sealed, aad) => {
      const d = crypto.createDecipheriv('aes-256-gcm', k, sealed.subarray(0, 12));
      d.setAAD(Buffer.from(aad));
      d.setAuthTag(sealed.subarray(sealed.length - 16));
      return Buffer.concat([d.update(sealed.subarray(12, sealed.length - 16)), d.final()]);
    };
    const master = Buffer.from(keys.lines.at(-1)[1], 'base64');
    const dek = gcmOpen(master, raw.data_key.wrapped, `tianxing-dek:${c.id}`);
    assert.equal(dek.length, 32);
    const field = (sealed, name) => gcmOpen(dek, sealed.subarray(1), `${c.id}|${name}`).toString('utf8');
    assert.equal(field(raw.address_enc, 'address'), address);
    assert.equal(field(raw.credit_code_enc, 'credit_code'), f.body.credit_code);
    const k = raw.contacts[0];
    assert.equal(field(k.phone_enc, `contact:${k.id}:phone`), f.phone.e164);
    assert.equal(field(k.email_enc, `contact:${k.id}:email`), f.email.stored);
    // bound to the field: the address ciphertext does not open as the credit code
    assert.throws(() => field(raw.address_enc, 'credit_code'));
    const ikey = Buffer.from(keys.indexKey, 'base64');
    const hmac = (kind, v) => crypto.createHmac('sha256', ikey).update(`${kind}:${v}`).digest();
    assert.deepEqual(k.phone_bidx, hmac('phone', f.phone.e164));
    assert.deepEqual(k.email_bidx, hmac('email', f.email.stored));
    assert.deepEqual(raw.credit_code_bidx, hmac('credit_code', f.body.credit_code));
  });

  test('no plaintext PII anywhere in the database: a data dump and the audit trail', () => {
    const dump = dumpData(DB);
    assert.ok(dump.includes(c.id), 'the dump holds the customer');
    assert.ok(dump.includes('福州金山包裝材料有限公司'), 'and its plain business fields');
    for (const s of plaintexts()) {
      assert.ok(!dump.includes(s), `the dump holds ${s}`);
      assert.ok(!dump.includes(Buffer.from(s).toString('hex')), `the dump holds ${s} as bytes`);
    }
    const trail = rows(DB, `SELECT table_name, op, changes::text FROM audit.log WHERE table_name LIKE 'cust.%' ORDER BY id`);
    assert.ok(trail.some(([t, op, ch]) => t === 'cust.customers' && op === 'INSERT' && ch.includes(c.id)), 'the creation is in the trail');
    const text = trail.map((r) => r[2]).join('\n');
    for (const s of plaintexts()) {
      assert.ok(!text.includes(s), `audit.log holds ${s}`);
      assert.ok(!text.includes(Buffer.from(s).toString('hex')), `audit.log holds ${s} as bytes`);
    }
    // the wrapped data key never enters the trail (crypto-shredding must reach it too)
    assert.equal(count(DB, `SELECT count(*) FROM audit.log WHERE table_name = 'cust.data_keys' AND changes ? 'wrapped' AND changes->>'wrapped' <> '[redacted]'`), 0);
    assert.ok(count(DB, `SELECT count(*) FROM audit.log WHERE table_name = 'cust.data_keys'`) > 0);
  });

});

// ---------------------------------------------------------------------------------------------

describe('who sees what: masking per role, the PII read log, object-level access (C2.3)', () => {
  let m; // staff A1's customer, department A
  let f;
  const address = '福建省福州市鼓樓區五四路158號環球廣場1801室';
  before(async () => {
    const email = newEmail('wang.fang');
    f = fullBody({ name: '王芳', company_name: '福州榕城電子科技有限公司', address });
    f.email = email;
    f.body.contacts = [{ name: '王芳', position: '財務總監', phone: f.phone.input, email: email.input }];
    m = (await create(as.a1, f.body)).body;
  });

  const url = () => `/v1/customers/${m.id}`;
  const full = () => ({ address, credit_code: f.body.credit_code, phone: f.phone.e164, email: f.email.stored });

  test('owner, department supervisor and admin read in full; the auditor masked; hr and risk officers no PII', async () => {
    assert.equal(count(DB, `SELECT count(*) FROM cust.pii_reads WHERE customer_id = ${lit(m.id)}`), 0, 'creating is not reading');
    for (const who of ['a1', 'supA', 'admin']) {
      const c = ok(await as[who].get(url()));
      assert.equal(c.pii_access, 'full', who);
      assert.deepEqual({ address: c.address, credit_code: c.credit_code, phone: c.contacts[0].phone, email: c.contacts[0].email }, full(), who);
    }
    const a = ok(await as.auditor.get(url()));
    assert.equal(a.pii_access, 'masked');
    assert.equal(a.address, '福建省福州市***');
    assert.equal(a.credit_code, `${f.body.credit_code.slice(0, 4)}************${f.body.credit_code.slice(16)}`);
    assert.match(a.credit_code, /^9135\*{12}[0-9A-Z]{2}$/);
    assert.equal(a.contacts[0].phone, f.phone.masked);
    assert.match(a.contacts[0].phone, /^139\*{4}\d{4}$/);
    assert.equal(a.contacts[0].email, 'w***@tianxing-trade.cn');
    assert.equal(a.contacts[0].name, '王芳', 'contact names are not sealed');
    for (const who of ['hr', 'risk']) {
      const c = ok(await as[who].get(url()));
      assert.equal(c.pii_access, 'none', who);
      assert.equal(c.address, null, who);
      assert.equal(c.credit_code, null, who);
      assert.deepEqual(c.contacts.map((k) => [k.name, k.phone, k.email]), [['王芳', null, null]], who);
      assert.equal(c.company_name, '福州榕城電子科技有限公司', `${who}: the business record`);
    }
    // no answer carries ciphertext, indexes or the data key
    for (const who of ['a1', 'auditor', 'hr']) {
      const r = await as[who].get(url());
      assert.doesNotMatch(r.text, /_enc|_bidx|"dek"|wrapped|\\\\x[0-9a-f]{20}/, who);
    }
  });

  test('a full read writes a cust.pii_reads row (reader, request id); masked and none reads do not', async () => {
    const reads = (emp) => rows(DB, `SELECT request_id FROM cust.pii_reads WHERE customer_id = ${lit(m.id)} AND reader_id = ${lit(emp.id)} ORDER BY at`);
    for (const [who, emp] of [['a1', EMP.staffA1], ['supA', EMP.supA], ['admin', EMP.admin]]) {
      const before = reads(emp).length;
      const r = await as[who].get(url());
      ok(r);
      const after = reads(emp);
      assert.equal(after.length, before + 1, who);
      assert.equal(after.at(-1)[0], r.headers['x-request-id'], `${who}: the request id`);
    }
    for (const [who, emp] of [['auditor', EMP.auditor], ['hr', EMP.hr], ['risk', EMP.risk]]) {
      ok(await as[who].get(url()));
      assert.deepEqual(reads(emp), [], `${who} read no PII`);
    }
    // a list shows no PII and logs nothing
    const total = count(DB, 'SELECT count(*) FROM cust.pii_reads');
    ok(await as.a1.get('/v1/customers'));
    assert.equal(count(DB, 'SELECT count(*) FROM cust.pii_reads'), total);
  });

  // Regression: the PATCH answer shows the whole customer, so api.customer_update logs it as a
  // full-PII read like api.customer_get does (docs/customers.md, cust.pii_reads).
  test('a PATCH answer that opens the PII is logged like a read', async () => {
    const r0 = await as.a1.get(url());
    const before = count(DB, `SELECT count(*) FROM cust.pii_reads WHERE customer_id = ${lit(m.id)} AND reader_id = ${lit(EMP.staffA1.id)}`);
    const r = await as.a1.patch(url(), { tags: ['機械', '電子'] }, ifMatch(r0.headers.etag));
    assert.equal(ok(r).address, address, 'the answer shows the address, which was not sent');
    const after = rows(DB, `SELECT request_id FROM cust.pii_reads WHERE customer_id = ${lit(m.id)} AND reader_id = ${lit(EMP.staffA1.id)} ORDER BY at`);
    assert.equal(after.length, before + 1, 'a pii_reads row for the PATCH answer');
    assert.equal(after.at(-1)[0], r.headers['x-request-id']);
  });

  test('staff A2 and B1 and supervisor B neither read nor change it (404); supervisor A does', async () => {
    const etag = `"${ok(await as.a1.get(url())).version}"`;
    for (const who of ['a2', 'b1', 'supB']) {
      assertProblem(await as[who].get(url()), 404, 'not_found');
      assertProblem(await as[who].patch(url(), { needs: '改單' }, ifMatch(etag)), 404, 'not_found');
      assertProblem(await as[who].get(`${url()}/completeness`), 404, 'not_found');
      assertProblem(await as[who].get(`${url()}/follow-ups`), 404, 'not_found');
      assertProblem(await as[who].post(`${url()}/follow-ups`, { on: dbDay(DB), channel: 'phone', summary: '電話' }), 404, 'not_found');
    }
    assert.equal(`"${ok(await as.a1.get(url())).version}"`, etag, 'nothing changed');
    const r = await as.supA.patch(url(), { needs: '年底前更換全部生產線設備' }, ifMatch(etag));
    assert.equal(ok(r).needs, '年底前更換全部生產線設備');
    // roles outside the route: 403 before any database work
    assertProblem(await as.hr.post('/v1/customers', { name: '人事部建的客戶' }), 403, 'forbidden');
    assertProblem(await as.auditor.patch(url(), { needs: 'x' }, ifMatch(r.headers.etag)), 403, 'forbidden');
    assertProblem(await as.risk.patch(url(), { needs: 'x' }, ifMatch(r.headers.etag)), 403, 'forbidden');
  });

  test('lists hold exactly the visible customers: own, department (supervisor), all (admin, auditor, hr, risk)', async () => {
    const ids = async (c) => sorted((await allPages(c, '/v1/customers', 200)).items.map((x) => x.id));
    const dbIds = (where) => sorted(rows(DB, `SELECT id FROM cust.customers WHERE ${where}`).map((x) => x[0]));
    assert.deepEqual(await ids(as.a1), dbIds(`owner_id = ${lit(EMP.staffA1.id)}`));
    assert.deepEqual(await ids(as.b1), dbIds(`owner_id = ${lit(EMP.staffB1.id)}`));
    assert.deepEqual(await ids(as.supA), dbIds(`department_id = ${lit(EMP.supA.dept)} OR owner_id = ${lit(EMP.supA.id)}`));
    assert.deepEqual(await ids(as.supB), dbIds(`department_id = ${lit(EMP.supB.dept)} OR owner_id = ${lit(EMP.supB.id)}`));
    assert.ok((await ids(as.supA)).includes(m.id));
    assert.ok(!(await ids(as.supB)).includes(m.id));
    for (const who of ['admin', 'auditor', 'hr', 'risk']) assert.deepEqual(await ids(as[who]), dbIds('true'), who);
    const item = (await allPages(as.hr, '/v1/customers', 200)).items.find((x) => x.id === m.id);
    assert.deepEqual(sorted(Object.keys(item)), ['company_name', 'created_at', 'department_id', 'id', 'last_verified_at', 'name',
      'owner_id', 'review_due_at', 'source', 'stale', 'status', 'tags', 'updated_at', 'version']);
  });

  test('owners: staff create for themselves only; a supervisor assigns within the department', async () => {
    const before = storedState();
    assertProblem(await as.a1.post('/v1/customers', { name: '代建客戶', owner_id: EMP.staffA2.id }), 403, 'forbidden');
    // the owner must be an employee the supervisor sees (cust.check_owner): department B is not
    assertFieldError(await as.supA.post('/v1/customers', { name: '跨部門客戶', owner_id: EMP.staffB1.id }), 'owner_id');
    assertFieldError(await as.admin.post('/v1/customers', { name: '離職員工的客戶', owner_id: EMP.gone.id }), 'owner_id');
    assertFieldError(await as.admin.post('/v1/customers', { name: '人事的客戶', owner_id: EMP.hr.id }), 'owner_id');
    assert.equal(storedState(), before);
    const { body: c } = await create(as.supA, { name: '蘇州園林設計院', owner_id: EMP.staffA2.id });
    assert.equal(c.owner_id, EMP.staffA2.id);
    assert.equal(c.department_id, EMP.staffA2.dept);
    ok(await as.a2.get(`/v1/customers/${c.id}`));
    assertProblem(await as.a1.get(`/v1/customers/${c.id}`), 404, 'not_found');
  });
});

// ---------------------------------------------------------------------------------------------

describe('find: filters, sort, keyset pages, search (C2.1)', () => {
  const TAG = '閩南-展會2024';
  const made = {};
  before(async () => {
    made.f1 = (await create(as.a1, { name: '許家豪', company_name: '泉州豐澤陶瓷廠', tags: [TAG] })).body;
    made.f2 = (await create(as.a1, { name: '洪美華', company_name: '廈門同安茶業', tags: [TAG, '茶'], status: 'active' })).body;
    made.f3 = (await create(as.a2, { name: '施振宇', company_name: '漳州薌城五金行', tags: [TAG], status: 'active' })).body;
    made.f4 = (await create(as.a1, { name: '莊雅婷', company_name: '莆田鞋材貿易', tags: [TAG], status: 'inactive' })).body;
    ageCustomer(DB, made.f4.id, 400);
  });
  const q = (s) => encodeURIComponent(s);
  const idsOf = async (c, p) => sorted((await allPages(c, p, 200)).items.map((x) => x.id));
  const want = (...keys) => sorted(keys.map((k) => made[k].id));

  test('filters: tag, owner_id, status, stale (alone and together), within what the caller sees', async () => {
    assert.deepEqual(await idsOf(as.admin, `/v1/customers?tag=${q(TAG)}`), want('f1', 'f2', 'f3', 'f4'));
    assert.deepEqual(await idsOf(as.admin, `/v1/customers?tag=${q(TAG)}&owner_id=${EMP.staffA1.id}`), want('f1', 'f2', 'f4'));
    assert.deepEqual(await idsOf(as.admin, `/v1/customers?tag=${q(TAG)}&status=active`), want('f2', 'f3'));
    assert.deepEqual(await idsOf(as.admin, `/v1/customers?tag=${q(TAG)}&stale=true`), want('f4'));
    assert.deepEqual(await idsOf(as.admin, `/v1/customers?tag=${q(TAG)}&stale=false`), want('f1', 'f2', 'f3'));
    assert.deepEqual(await idsOf(as.admin, `/v1/customers?tag=${q('茶')}`), want('f2'));
    assert.deepEqual(await idsOf(as.admin, `/v1/customers?tag=${q(TAG)}&owner_id=${EMP.staffA1.id}&status=inactive&stale=true`), want('f4'));
    assert.deepEqual(await idsOf(as.a1, `/v1/customers?tag=${q(TAG)}`), want('f1', 'f2', 'f4'));
    assert.deepEqual(await idsOf(as.a1, `/v1/customers?owner_id=${EMP.staffA2.id}`), [], 'a filter does not widen what is visible');
    assert.deepEqual(await idsOf(as.supA, `/v1/customers?tag=${q(TAG)}&department_id=${EMP.staffA1.dept}`), want('f1', 'f2', 'f3', 'f4'));
    const f4 = (await allPages(as.admin, `/v1/customers?tag=${q(TAG)}&stale=true`, 10)).items[0];
    assert.equal(f4.stale, true);
    for (const [p, field] of [['status=vip', 'status'], ['owner_id=staff.a1', 'owner_id'], ['stale=yes', 'stale'],
      ['sort=created_at', 'sort'], ['limit=ten', 'limit'], ['cursor=bm90LWEtY3Vyc29y', 'cursor'], ['department_id=A', 'department_id']]) {
      assertFieldError(await as.admin.get(`/v1/customers?${p}`), field);
    }
  });

  test('sort and keyset pages: every customer once, in the order asked, next_cursor null at the end', async () => {
    const orders = {
      '-updated_at': 'updated_at DESC, id DESC', updated_at: 'updated_at, id', name: 'name, id',
    };
    for (const [sort, order] of Object.entries(orders)) {
      const expected = rows(DB, `SELECT id FROM cust.customers ORDER BY ${order}`).map((x) => x[0]);
      assert.ok(expected.length > 7, 'enough customers for several pages');
      const { items, sizes } = await allPages(as.admin, `/v1/customers?sort=${q(sort)}`, 3);
      assert.deepEqual(items.map((x) => x.id), expected, sort);
      assert.equal(new Set(items.map((x) => x.id)).size, items.length, `${sort}: no duplicates`);
      assert.ok(sizes.slice(0, -1).every((n) => n === 3), `${sort}: full pages before the last (${sizes})`);
    }
    const { items } = await allPages(as.admin, '/v1/customers', 200);
    assert.deepEqual(items.map((x) => x.id), rows(DB, 'SELECT id FROM cust.customers ORDER BY updated_at DESC, id DESC').map((x) => x[0]), 'default: -updated_at');
    // a cursor belongs to its sort
    const page = ok(await as.admin.get('/v1/customers?sort=name&limit=2'));
    assertFieldError(await as.admin.get(`/v1/customers?sort=updated_at&cursor=${q(page.next_cursor)}`), 'cursor');
    // staff A1 pages through its own only
    const mine = await allPages(as.a1, '/v1/customers?sort=name', 2);
    assert.deepEqual(mine.items.map((x) => x.id), rows(DB, `SELECT id FROM cust.customers WHERE owner_id = ${lit(EMP.staffA1.id)} ORDER BY name, id`).map((x) => x[0]));
  });

  test('search by name or company: 天星 finds exactly the customers that contain it (2+ characters)', async () => {
    const s = {};
    s.s1 = (await create(as.a1, { name: '陳大文', company_name: '福州天星貿易有限公司' })).body;
    s.s2 = (await create(as.a1, { name: '天星 Chen', company_name: 'Northwind Traders' })).body;
    s.s3 = (await create(as.a1, { name: '林小星', company_name: '天馬星辰科技' })).body; // 天 and 星, apart
    s.s4 = (await create(as.b1, { name: '周杰', company_name: '星天物流' })).body; // 星天, reversed
    s.s5 = (await create(as.b1, { name: '周潤', company_name: '天星星科科技有限公司' })).body; // every bigram of 天星科技, not in a row
    s.s6 = (await create(as.b1, { name: '鄧麗', company_name: '天星科技股份有限公司' })).body;
    const ids = (...k) => sorted(k.map((x) => s[x].id));
    const search = async (c, text) => sorted((await allPages(c, `/v1/customers?q=${q(text)}`, 200)).items.map((x) => x.id));
    assert.deepEqual(await search(as.admin, '天星'), ids('s1', 's2', 's5', 's6'));
    assert.deepEqual(await search(as.admin, ' 天星 '), ids('s1', 's2', 's5', 's6'), 'trimmed');
    assert.deepEqual(await search(as.admin, '天星科技'), ids('s6'));
    assert.deepEqual(await search(as.admin, '星天'), ids('s4'));
    assert.deepEqual(await search(as.admin, 'NORTHWIND'), ids('s2'), 'case-insensitive');
    assert.deepEqual(await search(as.admin, '天星 chen'), ids('s2'));
    assert.deepEqual(await search(as.a1, '天星'), ids('s1', 's2'), 'staff A1: its own only');
    assert.deepEqual(await search(as.b1, '天星'), ids('s5', 's6'), 'staff B1: its own only');
    assert.deepEqual(await search(as.admin, '天星飛船'), []);
    assertFieldError(await as.admin.get(`/v1/customers?q=${q('天')}`), 'q');
    assertFieldError(await as.admin.get(`/v1/customers?q=${q(' 天 ')}`), 'q');
    assertFieldError(await as.admin.get(`/v1/customers?q=${q('天'.repeat(101))}`), 'q');
    assertFieldError(await as.admin.get(`/v1/customers?q=${q('天 星')}`), 'q'); // no two characters in a row
    // search combines with the filters
    assert.deepEqual(sorted((await allPages(as.admin, `/v1/customers?q=${q('天星')}&owner_id=${EMP.staffB1.id}`, 200)).items.map((x) => x.id)), ids('s5', 's6'));
  });

  test('?phone= and ?email= take any way of writing the value and find by blind index', async () => {
    const f = fullBody({ name: '郭靜', company_name: '福清融僑建材' });
    const c = (await create(as.a1, f.body)).body;
    const nat = f.phone.e164.slice(3);
    for (const phone of [f.phone.e164, nat, `+86 ${nat.slice(0, 3)}-${nat.slice(3, 7)}-${nat.slice(7)}`, `0086${nat}`, `（＋86）${nat}`]) {
      assert.deepEqual((await allPages(as.a1, `/v1/customers?phone=${q(phone)}`, 10)).items.map((x) => x.id), [c.id], phone);
    }
    for (const email of [f.email.stored, f.email.input, ` ${f.email.stored.toUpperCase()} `]) {
      assert.deepEqual((await allPages(as.a1, `/v1/customers?email=${q(email)}`, 10)).items.map((x) => x.id), [c.id], email);
    }
    assert.deepEqual((await allPages(as.a1, `/v1/customers?phone=${q('+8613900000000')}`, 10)).items, []);
    assert.deepEqual((await allPages(as.b1, `/v1/customers?phone=${q(f.phone.e164)}`, 10)).items, [], 'B1 does not see it');
    assertFieldError(await as.a1.get(`/v1/customers?phone=${q('12345')}`), 'phone');
    assertFieldError(await as.a1.get(`/v1/customers?email=${q('guo.jing')}`), 'email');
  });

  // Issue 10 item 6: a phone number or e-mail address ties a person to a named customer, so the
  // filters need full access to personal data, which hr, risk officers and auditors lack.
  test('?phone= and ?email= need full PII access: hr, risk_officer and auditor get 403 naming the filter', async () => {
    const f = fullBody({ name: '黃蓉', company_name: '長樂紡織' });
    const c = (await create(as.a1, f.body)).body;
    for (const who of ['hr', 'risk', 'auditor']) {
      let p = assertProblem(await as[who].get(`/v1/customers?phone=${q(f.phone.e164)}`), 403, 'forbidden');
      assert.match(p.detail, /\bphone\b/, who);
      p = assertProblem(await as[who].get(`/v1/customers?email=${q(f.email.stored)}`), 403, 'forbidden');
      assert.match(p.detail, /\bemail\b/, who);
      // the list without these filters stays theirs
      assert.ok(ok(await as[who].get(`/v1/customers?q=${q('長樂紡織')}`)).items.some((x) => x.id === c.id), who);
    }
    for (const who of ['a1', 'supA', 'admin']) {
      assert.deepEqual(ok(await as[who].get(`/v1/customers?phone=${q(f.phone.e164)}`)).items.map((x) => x.id), [c.id], who);
    }
    // auditor and staff at once: the role check passes, but only customers with full access are found
    const both = asEmp(EMP.staffB1, ['staff', 'auditor']);
    pg(`UPDATE org.employees SET roles = '{staff,auditor}' WHERE id = ${lit(EMP.staffB1.id)}`, { db: DB });
    try {
      assert.ok(ok(await both.get(`/v1/customers?q=${q('長樂紡織')}`)).items.some((x) => x.id === c.id), 'B1 as auditor sees it');
      assert.deepEqual(ok(await both.get(`/v1/customers?phone=${q(f.phone.e164)}`)).items, []);
      assert.deepEqual(ok(await both.get(`/v1/customers?email=${q(f.email.stored)}`)).items, []);
    } finally {
      pg(`UPDATE org.employees SET roles = '{staff}' WHERE id = ${lit(EMP.staffB1.id)}`, { db: DB });
    }
  });
});


// ---------------------------------------------------------------------------------------------

describe('keep current: If-Match, verification, the review queue (C4.1, C4.2)', () => {
  test('PATCH: 428 without If-Match or with *, 412 stale or malformed, 200 with the new ETag; only sent fields change', async () => {
    const { body: c, etag } = await create(as.a1, { name: '謝文傑', company_name: '南平竹木製品廠', needs: '竹地板出口' });
    const url = `/v1/customers/${c.id}`;
    assertProblem(await as.a1.patch(url, { needs: '竹地板內銷' }), 428, 'precondition_required');
    for (const star of ['*', ' * ']) {
      assertProblem(await as.a1.patch(url, { needs: '竹地板內銷' }, ifMatch(star)), 428, 'precondition_required');
    }
    assertProblem(await as.a1.patch(url, { needs: '竹地板內銷' }, ifMatch(`"${c.version + 1}"`)), 412, 'precondition_failed');
    for (const bad of ['abc', `W/"${c.version}"`, '"99999999999"', `"${c.version}`]) {
      assertProblem(await as.a1.patch(url, { needs: '竹地板內銷' }, ifMatch(bad)), 412, 'precondition_failed');
    }
    assert.equal(count(DB, `SELECT version FROM cust.customers WHERE id = ${lit(c.id)}`), c.version, 'unchanged');
    const r = await as.a1.patch(url, { needs: '竹地板內銷', status: 'active' }, ifMatch(etag));
    const c2 = ok(r);
    assert.equal(c2.version, c.version + 1);
    assert.equal(r.headers.etag, `"${c.version + 1}"`);
    assert.equal(c2.needs, '竹地板內銷');
    assert.equal(c2.status, 'active');
    assert.equal(c2.company_name, '南平竹木製品廠', 'fields not sent stay');
    assert.equal(c2.last_verified_at, null, 'an update is not a verification');
    assertProblem(await as.a1.patch(url, { needs: '遺失的更新' }, ifMatch(etag)), 412, 'precondition_failed');
    assertFieldError(await as.a1.patch(url, { status: 'prospect' }, ifMatch(r.headers.etag)), 'status');
    assertFieldError(await as.a1.patch(url, { name: null }, ifMatch(r.headers.etag)), 'name');
    assertFieldError(await as.a1.patch(url, { verified: false }, ifMatch(r.headers.etag)), 'verified');
    assertFieldError(await as.a1.patch(url, { colour: 'red' }, ifMatch(r.headers.etag)), 'colour');
    assertProblem(await as.a1.patch(`/v1/customers/${crypto.randomUUID()}`, { needs: 'x' }, ifMatch('"1"')), 404, 'not_found');
    assertProblem(await as.a1.get('/v1/customers/not-a-uuid'), 404, 'not_found');
    assert.equal(count(DB, `SELECT version FROM cust.customers WHERE id = ${lit(c.id)}`), c2.version);
  });

  test('a stale customer is in the review queue until its owner verifies it', async () => {
    const { body: c } = await create(as.a1, { name: '葉志偉', company_name: '寧德水產冷凍廠' });
    const url = `/v1/customers/${c.id}`;
    const queue = async (who) => (await allPages(as[who], '/v1/customers/review-queue', 200)).items;
    assert.ok(!(await queue('a1')).some((x) => x.id === c.id), 'new customers are current');
    ageCustomer(DB, c.id, 200); // never verified: counts from created_at (180 days by the policy)
    for (const who of ['a1', 'supA', 'admin']) {
      const item = (await queue(who)).find((x) => x.id === c.id);
      assert.ok(item, `${who} sees it in the queue`);
      assert.equal(item.stale, true);
      assert.equal(item.last_verified_at, null);
    }
    for (const who of ['a2', 'b1', 'supB']) assert.ok(!(await queue(who)).some((x) => x.id === c.id), who);
    for (const who of ['auditor', 'hr', 'risk']) assertProblem(await as[who].get('/v1/customers/review-queue'), 403, 'forbidden');
    const q1 = await queue('admin');
    const since = (x) => Date.parse(x.last_verified_at ?? x.created_at);
    assert.ok(q1.every((x, i) => i === 0 || since(q1[i - 1]) <= since(x)), 'longest overdue first');
    assert.ok(ok(await as.a1.get(url)).stale);
    assert.deepEqual(ok(await as.a1.get(`${url}/completeness`)).unverified, ['last_verified_at']);

    const etag = `"${ok(await as.a1.get(url)).version}"`;
    const v = ok(await as.a1.patch(url, { verified: true }, ifMatch(etag)));
    const dbNow = Date.parse(pg('SELECT to_json(now())::text', { db: DB }).replace(/"/g, ''));
    assert.ok(Math.abs(Date.parse(v.last_verified_at) - dbNow) < 60000, `last_verified_at ${v.last_verified_at} is now`);
    assert.equal(v.stale, false);
    assert.ok(!(await queue('a1')).some((x) => x.id === c.id), 'verified: out of the queue');
    assert.ok(!(await queue('admin')).some((x) => x.id === c.id));
    assert.ok((await allPages(as.a1, '/v1/customers?stale=false', 200)).items.some((x) => x.id === c.id));
    // verified long ago counts from last_verified_at
    ageCustomer(DB, c.id, 181);
    assert.ok((await queue('a1')).some((x) => x.id === c.id), 'due again 181 days after the verification');
  });
});

// ---------------------------------------------------------------------------------------------

describe('follow-ups (C1.2)', () => {
  test('the owner records follow-ups; they list newest first, in pages; others get 404', async () => {
    const { body: c } = await create(as.a1, { name: '劉德華', company_name: '三明鋼鐵貿易', status: 'prospect' });
    const url = `/v1/customers/${c.id}/follow-ups`;
    const f1 = ok(await as.a1.post(url, { on: dbDay(DB, -14), channel: 'visit', summary: '首次拜訪,介紹公司產品線。' }), 201);
    const f2 = ok(await as.a1.post(url, { on: dbDay(DB, -7), channel: 'phone', summary: '電話跟進報價,客戶關心交期。', next_on: dbDay(DB, 3) }), 201);
    const f3 = ok(await as.supA.post(url, { on: dbDay(DB), channel: 'meeting', summary: 'Met the purchasing team;\nthey want a trial order.' }), 201);
    assert.equal(f2.on, dbDay(DB, -7));
    assert.equal(f2.next_on, dbDay(DB, 3));
    assert.equal(f2.author_id, EMP.staffA1.id);
    assert.equal(f3.author_id, EMP.supA.id);
    const { items, sizes } = await allPages(as.a1, url, 2);
    assert.deepEqual(items.map((x) => x.id), [f3.id, f2.id, f1.id]);
    assert.deepEqual(sizes, [2, 1]);
    assert.deepEqual((await allPages(as.auditor, url, 10)).items.map((x) => x.id), [f3.id, f2.id, f1.id], 'auditors read them');
    assertFieldError(await as.a1.post(url, { on: dbDay(DB), channel: 'carrier pigeon', summary: '飛鴿傳書' }), 'channel');
    assertFieldError(await as.a1.post(url, { on: dbDay(DB), channel: 'email', summary: '郵件', next_on: dbDay(DB, -1) }), 'next_on');
    assertFieldError(await as.a1.post(url, { channel: 'email', summary: '郵件' }), 'on');
    assertProblem(await as.b1.post(url, { on: dbDay(DB), channel: 'email', summary: '越權' }), 404, 'not_found');
    assertProblem(await as.hr.post(url, { on: dbDay(DB), channel: 'email', summary: '越權' }), 403, 'forbidden');
    assert.equal(count(DB, `SELECT count(*) FROM cust.follow_ups WHERE customer_id = ${lit(c.id)}`), 3);
  });

  // Issue 10 item 19: next_on had no use; each staff member now has a queue of follow-ups due.
  test('GET /v1/follow-ups/due: the caller\'s follow-ups due by a date, oldest first, in pages', async () => {
    const due = (c, qs = '') => c.get(`/v1/follow-ups/due${qs}`);
    const mk = async (name) => (await create(as.a1, { name, company_name: `${name}有限公司` })).body;
    const [c1, c2, c3, c4] = [await mk('陳一'), await mk('陳二'), await mk('陳三'), await mk('陳四')];
    const fu = (c, who, on, next) => who.post(`/v1/customers/${c.id}/follow-ups`, { on: dbDay(DB, on), channel: 'phone', summary: '跟進', ...(next === undefined ? {} : { next_on: dbDay(DB, next) }) });
    const f1 = ok(await fu(c1, as.a1, -10, -2), 201); // due two days ago
    const f2 = ok(await fu(c2, as.a1, -5, 0), 201); // due today
    const f3 = ok(await fu(c3, as.a1, -3, 5), 201); // due in five days
    ok(await fu(c4, as.a1, -9, -4), 201); // was due, but a later contact happened:
    ok(await fu(c4, as.a1, -1), 201); // not in the queue
    const f5 = ok(await fu(c1, as.supA, -8, -1), 201); // supA wrote it on a1's customer: a1 owns c1
    // f5 is later than f1 on c1, so f1 is done: the queue holds c1's f5, then c2's f2
    const mine = (x) => x.items.map((i) => i.id);
    const today = ok(await due(as.a1));
    assert.equal(today.by, dbDay(DB));
    assert.deepEqual(mine(today), [f5.id, f2.id]);
    assert.equal(today.items[0].customer_name, '陳一');
    assert.equal(today.items[0].next_on, dbDay(DB, -1));
    assert.equal(today.items[0].author_id, EMP.supA.id);
    assert.deepEqual(mine(ok(await due(as.a1, `?by=${dbDay(DB, 7)}`))), [f5.id, f2.id, f3.id]);
    assert.deepEqual(mine(ok(await due(as.a1, `?by=${dbDay(DB, -3)}`))), []);
    const { items, sizes } = await allPages(as.a1, `/v1/follow-ups/due?by=${dbDay(DB, 7)}`, 2);
    assert.deepEqual(items.map((i) => i.id), [f5.id, f2.id, f3.id]);
    assert.deepEqual(sizes, [2, 1]);
    assert.ok(!mine(today).includes(f1.id));
    // supA wrote f5: it is in supA's queue too; B1 sees none of these
    assert.ok(mine(ok(await due(as.supA))).includes(f5.id));
    assert.deepEqual(mine(ok(await due(as.b1, `?by=${dbDay(DB, 7)}`))), []);
    // a customer that is no longer worked on leaves the queue
    const c2v = ok(await as.a1.get(`/v1/customers/${c2.id}`));
    ok(await as.a1.patch(`/v1/customers/${c2.id}`, { status: 'inactive' }, ifMatch(`"${c2v.version}"`)));
    assert.deepEqual(mine(ok(await due(as.a1))), [f5.id]);
    assertFieldError(await due(as.a1, '?by=yesterday'), 'by');
    assertFieldError(await due(as.a1, '?cursor=nope'), 'cursor');
    assertProblem(await due(as.auditor), 403, 'forbidden');
  });
});

// ---------------------------------------------------------------------------------------------

describe('without the encryption keys', () => {
  test('the customer routes answer 503 encryption_unavailable, and nothing is stored', async () => {
    const noKeys = await startService({ db: DB, env: { TIANXING_SIGNING_KEY_FILE: key.file, TIANXING_PASSWORD_SCRYPT_LN: 10 } });
    try {
      const c = client(noKeys, ownToken(key, EMP.staffA1));
      const mine = rows(DB, `SELECT id, version FROM cust.customers WHERE owner_id = ${lit(EMP.staffA1.id)} LIMIT 1`)[0];
      const before = storedState();
      for (const r of [
        await c.get('/v1/customers'),
        await c.get(`/v1/customers?phone=${encodeURIComponent('+8613812345678')}`),
        await c.post('/v1/customers', { name: '無鑰匙客戶', address: '福建省福州市' }),
        await c.get(`/v1/customers/${mine[0]}`),
        await c.patch(`/v1/customers/${mine[0]}`, { needs: '無鑰匙' }, ifMatch(`"${mine[1]}"`)),
      ]) {
        assertProblem(r, 503, 'encryption_unavailable');
      }
      assert.equal(storedState(), before);
      // the service itself is up: other routes answer
      ok(await c.get('/v1/me'));
    } finally {
      await noKeys.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('the policy parameter decides what is complete (C1.3)', () => {
  test('after hr proposes and an admin approves new required fields, completeness and the gate follow them', async () => {
    const hr = as.hr;
    const value = ['name', 'company_name', 'address', 'tags', 'needs'];
    const prop = ok(await hr.post('/v1/policy-parameters/customer_required_fields/proposals',
      { value, effective_from: dbDay(DB), reason: '簽約前須有地址與需求記錄。' }), 201);
    ok(await as.admin.post(`/v1/policy-proposals/${prop.id}/approve`, { reason: '同意。' }));
    assert.deepEqual(ok(await as.a1.get('/v1/policy-parameters/customer_required_fields')).value, value);
    const { body: c } = await create(as.a1, { name: '林志玲', company_name: '台商投資(福州)有限公司', tags: ['台商'] });
    await rateCustomer(as.risk, c.id);
    assert.deepEqual(ok(await as.a1.get(`/v1/customers/${c.id}/completeness`)),
      { score: 60, missing: ['address', 'needs'], unverified: ['last_verified_at'] });
    const p = assertProblem(await as.a1.post(`/v1/customers/${c.id}/contracts`, { amount: '5000.00', currency: 'CNY', signed_on: dbDay(DB) }), 422, 'customer_incomplete');
    assert.deepEqual(p.errors.map((e) => e.field), ['address', 'needs', 'last_verified_at']);
  });
});

describe('logs', () => {
  test('the service log (access log included) holds no plaintext PII of this file', () => {
    const log = svc.stdoutLines().join('\n') + svc.stderrText();
    assert.ok(log.includes('/v1/customers'), 'the access log is on');
    for (const s of ['13812345678', 'wang.xiaoming@example.com', '91350100M000100Y43', '鼓樓區五四路158號', 'tianxing-trade.cn']) {
      assert.ok(!log.includes(s), `the service log holds ${s}`);
    }
  });
});

test('the service survived every request of this file', () => {
  assert.equal(svc.proc.exitCode, null, `tianxingd exited; its stderr:\n${svc.stderrText().slice(-6000)}`);
  assert.equal(svc.proc.signalCode, null, `tianxingd was killed; its stderr:\n${svc.stderrText().slice(-6000)}`);
});

commonHeadersTest();
