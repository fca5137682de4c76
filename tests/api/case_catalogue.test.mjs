// Module P, the business-type catalogue (P1.2 in scope or not, P2.2 key milestones with standard
// durations, P3.2 the review checklist with accuracy, compliance and completeness, P4.2 the
// documents the archive needs): admin and supervisors maintain it, every signed-in employee reads
// it; a new version of a type's standard becomes current while the earlier ones stay as they
// were, even for the owner role (the triggers of sql/code/cases/020_business_types.sql). Every
// refusal is checked for the data it leaves behind.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { assertProblem, commonHeadersTest, freshDatabase, lit, pg } from './lib/harness.mjs';
import {
  EMP, assertFieldError, call, client, loadFixtures, newSigningKey, ok, ownToken,
  startIdentityService,
} from './lib/identity.mjs';

const DB = 'tx_api_case_catalogue';
const NO_ID = '00000000-0000-4000-8000-000000000000';
let key;
let svc;
const as = {}; // short name -> client
const asEmp = (e, roles) => client(svc, ownToken(key, e, { roles }));
const ifMatch = (etag) => ({ headers: { 'If-Match': etag } });

/** Rows of the catalogue and the sum of the types' versions: a refusal leaves these alone. */
const stored = () => pg(`SELECT (SELECT count(*) FROM cases.business_types) || '/'
  || (SELECT count(*) FROM cases.business_type_versions) || '/' || (SELECT count(*) FROM cases.milestones)
  || '/' || (SELECT count(*) FROM cases.checklist_criteria) || '/' || (SELECT count(*) FROM cases.required_documents)
  || '/' || (SELECT coalesce(sum(version + current_version), 0) FROM cases.business_types)`, { db: DB });

/** SQL as the owner role (what the SECURITY DEFINER functions run as); returns the error text. */
function ownerRefusal(sql) {
  try {
    pg(sql, { db: DB, user: 'tianxing_owner' });
  } catch (e) {
    return e.stderr;
  }
  return null;
}

const CHECKLIST = [
  { code: 'accuracy', name: '準確性 Accuracy' },
  { code: 'compliance', name: '合規性 Compliance' },
  { code: 'completeness', name: '完整性 Completeness' },
];
/** A valid body of a new type. */
const typeBody = (code, over = {}) => ({
  code,
  name: `稅務申報 ${code}`,
  description: '代客戶辦理年度稅務申報。',
  milestones: [
    { code: 'collect', name: '收集資料', standard_days: 3 },
    { code: 'file', name: '申報', standard_days: 2, required: false },
  ],
  checklist: CHECKLIST,
  documents: [{ code: 'tax_return', name: '申報表' }],
  ...over,
});

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startIdentityService(DB, key);
  loadFixtures(DB);
  Object.assign(as, {
    admin: asEmp(EMP.admin), supA: asEmp(EMP.supA), supB: asEmp(EMP.supB), a1: asEmp(EMP.staffA1),
    x: asEmp(EMP.staffX), hr: asEmp(EMP.hr), auditor: asEmp(EMP.auditor), risk: asEmp(EMP.risk),
  });
});

let tax; // the type created by the happy path
let taxEtag;

describe('creating a business type (P1.2, P2.2, P3.2, P4.2)', () => {
  test('a supervisor creates a type: 201 with its standard in full, ETag and Location', async () => {
    const res = await as.supA.post('/v1/business-types', typeBody('TAX'));
    const t = ok(res, 201);
    assert.equal(res.headers.location, `/v1/business-types/${t.id}`);
    assert.equal(res.headers.etag, '"1"');
    assert.equal(t.code, 'TAX');
    assert.equal(t.in_scope, true);
    assert.equal(t.active, true);
    assert.equal(t.current_version, 1);
    assert.equal(t.version, 1);
    assert.equal(t.created_by, EMP.supA.id);
    assert.equal(t.current_version_id, t.standard.id);
    assert.equal(t.standard.version, 1);
    assert.equal(t.standard.current, true);
    assert.equal(t.standard.retention_years, 10);
    assert.deepEqual(t.standard.milestones.map((m) => [m.seq, m.code, m.required, m.standard_days]),
      [[1, 'collect', true, 3], [2, 'file', false, 2]]);
    assert.deepEqual(t.standard.checklist.map((c) => c.code), ['accuracy', 'compliance', 'completeness']);
    assert.deepEqual(t.standard.documents.map((d) => d.code), ['tax_return']);
    assert.equal(t.standard.required_standard_days, 3);
    tax = t;
    taxEtag = res.headers.etag;
    // the audit trail names the supervisor for the type, its version and each item written
    assert.equal(pg(`SELECT string_agg(table_name || ':' || count, ',' ORDER BY table_name) FROM (
      SELECT table_name, count(*) FROM audit.log
       WHERE op = 'INSERT' AND actor_id = ${lit(EMP.supA.id)} AND table_name LIKE 'cases.%'
       GROUP BY table_name) x`, { db: DB }),
    'cases.business_type_versions:1,cases.business_types:1,cases.checklist_criteria:3,cases.milestones:2,cases.required_documents:1');
  });

  test('an administrator creates one too, out of scope; Idempotency-Key replays the first answer', async () => {
    const body = typeBody('LOAN', { name: '貸款 Loan', in_scope: false, retention_years: 30, documents: undefined });
    const opts = { headers: { 'Idempotency-Key': 'catalogue-loan-1' } };
    const first = await as.admin.post('/v1/business-types', body, opts);
    const t = ok(first, 201);
    assert.equal(t.in_scope, false);
    assert.equal(t.standard.retention_years, 30);
    assert.deepEqual(t.standard.documents, []);
    const before = stored();
    const again = await as.admin.post('/v1/business-types', body, opts);
    assert.equal(again.status, 201);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(again.json.id, t.id);
    assert.equal(stored(), before, 'the replay created nothing');
  });

  test('staff, hr, auditors and risk officers may not create (403), and nothing is written', async () => {
    const before = stored();
    for (const c of [as.a1, as.hr, as.auditor, as.risk]) {
      assertProblem(await c.post('/v1/business-types', typeBody('NOPE')), 403, 'forbidden');
    }
    assert.equal(stored(), before);
  });

  test('without a token: 401', async () => {
    assertProblem(await call(svc, 'POST', '/v1/business-types', { body: typeBody('NOPE') }), 401, 'unauthorized');
    assertProblem(await call(svc, 'GET', '/v1/business-types'), 401, 'unauthorized');
  });

  test('bad input: 422 naming the field, nothing written', async () => {
    const before = stored();
    const cases = [
      [{ code: 'bad code' }, 'code'],
      [{ name: '' }, 'name'],
      [{ colour: 'red' }, 'colour'],
      [{ in_scope: 'yes' }, 'in_scope'],
      [{ retention_years: 0 }, 'retention_years'],
      [{ milestones: undefined }, 'milestones'],
      [{ milestones: [] }, 'milestones'],
      [{ milestones: [{ code: 'a', name: 'A', standard_days: 1, required: false }] }, 'milestones'],
      [{ milestones: [{ code: 'a', name: 'A', standard_days: 366 }] }, 'milestones[0].standard_days'],
      [{ milestones: [{ code: 'a', name: 'A', standard_days: 0 }] }, 'milestones[0].standard_days'],
      [{ milestones: [{ code: 'a', name: 'A', standard_days: 1 }, { code: 'a', name: 'B', standard_days: 1 }] }, 'milestones[1].code'],
      [{ milestones: [{ code: 'a', name: 'A', standard_days: 1, seq: 3 }, { code: 'b', name: 'B', standard_days: 1, seq: 3 }] }, 'milestones[1].seq'],
      [{ milestones: [{ code: 'A!', name: 'A', standard_days: 1 }] }, 'milestones[0].code'],
      [{ milestones: Array.from({ length: 101 }, (_, i) => ({ code: `m${i}`, name: 'M', standard_days: 1 })) }, 'milestones'],
      [{ checklist: CHECKLIST.slice(0, 2) }, 'checklist'],
      [{ checklist: [] }, 'checklist'],
      [{ checklist: [...CHECKLIST, { code: 'accuracy', name: 'again' }] }, 'checklist[3].code'],
      [{ documents: [{ code: 'x' }] }, 'documents[0].name'],
    ];
    for (const [over, field] of cases) {
      const p = assertFieldError(await as.admin.post('/v1/business-types', typeBody('BAD', over)), field);
      if (field === 'checklist' && over.checklist.length === 2) assert.match(p.errors[0].message, /missing: completeness/);
    }
    assert.equal(stored(), before);
  });

  test('a code in use: 409 conflict, nothing written', async () => {
    const before = stored();
    assertProblem(await as.supB.post('/v1/business-types', typeBody('TAX')), 409, 'conflict');
    assert.equal(stored(), before);
  });
});

describe('reading the catalogue: every signed-in employee', () => {
  test('GET /v1/business-types/{id}: the type with its current standard and ETag, for every role', async () => {
    for (const c of [as.a1, as.x, as.hr, as.auditor, as.risk, as.supB, as.admin]) {
      const res = await c.get(`/v1/business-types/${tax.id}`);
      const t = ok(res);
      assert.equal(res.headers.etag, '"1"');
      assert.deepEqual(t, tax);
    }
  });

  test('unknown or malformed ids: 404', async () => {
    assertProblem(await as.a1.get(`/v1/business-types/${NO_ID}`), 404, 'not_found');
    assertProblem(await as.a1.get('/v1/business-types/not-a-uuid'), 404, 'not_found');
    assertProblem(await as.a1.get(`/v1/business-types/${NO_ID}/versions`), 404, 'not_found');
    assertProblem(await as.a1.get(`/v1/business-types/${NO_ID}/versions/1`), 404, 'not_found');
  });

  test('GET /v1/business-types: by code, filters, q, keyset pages', async () => {
    const codes = async (qs) => ok(await as.a1.get(`/v1/business-types${qs}`)).items.map((t) => t.code);
    assert.deepEqual(await codes(''), ['LOAN', 'TAX']);
    assert.deepEqual(await codes('?in_scope=true'), ['TAX']);
    assert.deepEqual(await codes('?in_scope=false'), ['LOAN']);
    assert.deepEqual(await codes(`?q=${encodeURIComponent('稅務')}`), ['TAX']);
    assert.deepEqual(await codes('?q=loa'), ['LOAN']);
    assert.deepEqual(await codes('?active=false'), []);
    const page = ok(await as.a1.get('/v1/business-types?limit=1'));
    assert.equal(page.items.length, 1);
    assert.equal(page.next_cursor, 'LOAN');
    assert.equal(page.items[0].standard, undefined, 'list items carry no standard');
    const next = ok(await as.a1.get(`/v1/business-types?limit=1&cursor=${page.next_cursor}`));
    assert.deepEqual(next.items.map((t) => t.code), ['TAX']);
    assert.equal(next.next_cursor, null);
    assertFieldError(await as.a1.get('/v1/business-types?in_scope=maybe'), 'in_scope');
    assertFieldError(await as.a1.get('/v1/business-types?limit=0'), 'limit');
    assertFieldError(await as.a1.get('/v1/business-types?cursor=%20bad%20'), 'cursor');
    assertFieldError(await as.a1.get('/v1/business-types?colour=red'), 'colour');
  });
});

describe('PATCH /v1/business-types/{id}: metadata, with If-Match', () => {
  test('staff may not change a type (403)', async () => {
    assertProblem(await as.a1.patch(`/v1/business-types/${tax.id}`, { name: 'x' }, ifMatch(taxEtag)), 403, 'forbidden');
  });

  test('428 without If-Match or with *, 412 when stale or malformed, 404 unknown, 422 bad members', async () => {
    const url = `/v1/business-types/${tax.id}`;
    const before = stored();
    assertProblem(await as.supB.patch(url, { name: 'x' }), 428, 'precondition_required');
    assertProblem(await as.supB.patch(url, { name: 'x' }, ifMatch('*')), 428, 'precondition_required');
    assertProblem(await as.supB.patch(url, { name: 'x' }, ifMatch('"7"')), 412, 'precondition_failed');
    assertProblem(await as.supB.patch(url, { name: 'x' }, ifMatch('1')), 412, 'precondition_failed');
    assertProblem(await as.supB.patch(`/v1/business-types/${NO_ID}`, { name: 'x' }, ifMatch('"1"')), 404, 'not_found');
    assertFieldError(await as.supB.patch(url, { name: null }, ifMatch(taxEtag)), 'name');
    assertFieldError(await as.supB.patch(url, { code: 'TAX2' }, ifMatch(taxEtag)), 'code');
    assertFieldError(await as.supB.patch(url, { milestones: [] }, ifMatch(taxEtag)), 'milestones');
    assertFieldError(await as.supB.patch(url, { active: 'no' }, ifMatch(taxEtag)), 'active');
    assertFieldError(await as.supB.patch(url, {}, ifMatch(taxEtag)), 'body');
    assert.equal(stored(), before);
  });

  test('a supervisor of another department changes the metadata: 200 and a new ETag', async () => {
    const url = `/v1/business-types/${tax.id}`;
    const res = await as.supB.patch(url, { name: '稅務申報（年度）', description: null, active: false }, ifMatch(taxEtag));
    const t = ok(res);
    assert.equal(res.headers.etag, '"2"');
    assert.equal(t.name, '稅務申報（年度）');
    assert.equal(t.description, null);
    assert.equal(t.active, false);
    assert.equal(t.code, 'TAX');
    assert.deepEqual(t.standard, tax.standard, 'the standard is untouched');
    assertProblem(await as.supB.patch(url, { active: true }, ifMatch(taxEtag)), 412, 'precondition_failed');
    const back = await as.admin.patch(url, { active: true }, ifMatch(res.headers.etag));
    assert.equal(ok(back).active, true);
    taxEtag = back.headers.etag;
    assert.equal(taxEtag, '"3"');
  });
});

describe('versions of the standard', () => {
  const v2Body = {
    note: '申報前加一道覆核',
    retention_years: 15,
    milestones: [
      { code: 'collect', name: '收集資料', standard_days: 4 },
      { code: 'check', name: '覆核', standard_days: 1 },
      { code: 'file', name: '申報', standard_days: 2 },
    ],
    checklist: [...CHECKLIST, { code: 'timeliness', name: '及時性' }],
    documents: [{ code: 'tax_return', name: '申報表' }, { code: 'receipt', name: '回執' }],
  };

  test('staff may not write a version (403); bad input 422; unknown type 404; nothing written', async () => {
    const url = `/v1/business-types/${tax.id}/versions`;
    const before = stored();
    assertProblem(await as.a1.post(url, v2Body), 403, 'forbidden');
    assertFieldError(await as.admin.post(url, { ...v2Body, note: undefined }), 'note');
    assertFieldError(await as.admin.post(url, { ...v2Body, checklist: CHECKLIST.slice(1) }), 'checklist');
    assertFieldError(await as.admin.post(url, { ...v2Body, milestones: [{ code: 'a', name: 'A', standard_days: 400 }] }),
      'milestones[0].standard_days');
    assertFieldError(await as.admin.post(url, { ...v2Body, in_scope: false }), 'in_scope');
    assertProblem(await as.admin.post(`/v1/business-types/${NO_ID}/versions`, v2Body), 404, 'not_found');
    assert.equal(stored(), before);
  });

  test('a new version becomes current; version 1 stays as it was', async () => {
    const res = await as.supA.post(`/v1/business-types/${tax.id}/versions`, v2Body);
    const v = ok(res, 201);
    assert.equal(res.headers.location, `/v1/business-types/${tax.id}/versions/2`);
    assert.equal(res.headers.etag, undefined, 'a version has no ETag');
    assert.equal(v.version, 2);
    assert.equal(v.current, true);
    assert.equal(v.note, '申報前加一道覆核');
    assert.equal(v.retention_years, 15);
    assert.equal(v.business_type_code, 'TAX');
    assert.deepEqual(v.milestones.map((m) => [m.seq, m.code, m.standard_days]), [[1, 'collect', 4], [2, 'check', 1], [3, 'file', 2]]);
    assert.equal(v.required_standard_days, 7);

    const t = await as.a1.get(`/v1/business-types/${tax.id}`);
    assert.equal(ok(t).current_version, 2);
    assert.equal(t.json.current_version_id, v.id);
    assert.deepEqual(t.json.standard, v);
    assert.equal(t.headers.etag, '"4"', 'the type changed: a new ETag');
    assertProblem(await as.admin.patch(`/v1/business-types/${tax.id}`, { name: 'x' }, ifMatch(taxEtag)), 412, 'precondition_failed');

    const old = ok(await as.a1.get(`/v1/business-types/${tax.id}/versions/1`));
    assert.deepEqual({ ...old, current: true }, tax.standard, 'version 1 is unchanged (only no longer current)');
    assert.equal(old.current, false);
    assert.equal(ok(await as.a1.get(`/v1/business-types/${tax.id}/versions/2`)).id, v.id);
    assertProblem(await as.a1.get(`/v1/business-types/${tax.id}/versions/3`), 404, 'not_found');
    assertProblem(await as.a1.get(`/v1/business-types/${tax.id}/versions/one`), 404, 'not_found');
    assertProblem(await as.a1.get(`/v1/business-types/${tax.id}/versions/0`), 404, 'not_found');

    const list = ok(await as.auditor.get(`/v1/business-types/${tax.id}/versions`));
    assert.deepEqual(list.items.map((i) => [i.version, i.current]), [[2, true], [1, false]]);
    assert.equal(list.items[0].milestones, undefined, 'the list carries no lists');
    assert.equal(list.next_cursor, null);
    const page = ok(await as.auditor.get(`/v1/business-types/${tax.id}/versions?limit=1`));
    assert.equal(page.next_cursor, '2');
    const next = ok(await as.auditor.get(`/v1/business-types/${tax.id}/versions?limit=1&cursor=2`));
    assert.deepEqual(next.items.map((i) => i.version), [1]);
    assertFieldError(await as.auditor.get(`/v1/business-types/${tax.id}/versions?cursor=x`), 'cursor');
  });

  test('a version never changes, even for the owner role the functions run as', () => {
    const before = stored();
    const v1 = tax.standard.id;
    const frozen = /a version never changes/;
    assert.match(ownerRefusal(`UPDATE cases.milestones SET standard_days = 9 WHERE type_version_id = ${lit(v1)}`), frozen);
    assert.match(ownerRefusal(`UPDATE cases.business_type_versions SET retention_years = 1 WHERE id = ${lit(v1)}`), frozen);
    assert.match(ownerRefusal(`DELETE FROM cases.checklist_criteria WHERE type_version_id = ${lit(v1)}`), frozen);
    assert.match(ownerRefusal(`DELETE FROM cases.required_documents WHERE type_version_id = ${lit(v1)}`), frozen);
    assert.match(ownerRefusal('TRUNCATE cases.milestones, cases.business_type_versions CASCADE'), frozen);
    assert.match(ownerRefusal(`INSERT INTO cases.milestones (type_version_id, seq, code, name, standard_days)
                               VALUES (${lit(v1)}, 9, 'extra', 'Extra', 1)`), /cannot grow/);
    assert.match(ownerRefusal(`UPDATE cases.business_types SET current_version = 1 WHERE id = ${lit(tax.id)}`),
      /moves only forward/);
    assert.match(ownerRefusal(`UPDATE cases.business_types SET current_version = 9 WHERE id = ${lit(tax.id)}`),
      /moves only forward/);
    assert.match(ownerRefusal(`UPDATE cases.business_types SET code = 'TAX9' WHERE id = ${lit(tax.id)}`), /never change/);
    assert.match(ownerRefusal(`DELETE FROM cases.business_types WHERE id = ${lit(tax.id)}`), /never deleted/);
    assert.match(ownerRefusal(`INSERT INTO cases.business_type_versions (business_type_id, version, note)
                               VALUES (${lit(tax.id)}, 7, 'skip')`), /the next version .* is 3, not 7/);
    // a version without a required milestone or the three criteria is refused at commit
    assert.match(ownerRefusal(`INSERT INTO cases.business_type_versions (business_type_id, version, note)
                               VALUES (${lit(tax.id)}, 3, 'empty')`), /no required key milestone/);
    assert.equal(stored(), before, 'nothing changed');
  });
});

commonHeadersTest();
