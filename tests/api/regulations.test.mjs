// Module G, the regulations themselves: the seeded version in force (G1: the text the service
// implements, clause by clause), HR's drafts and publication (S1: the HR department interprets
// the regulations), every employee's acknowledgement (G2: they apply to all employees), and the
// policy parameters the regulations leave to the company, under four-eyes control (G3).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';

import { assertProblem, commonHeadersTest, env, freshDatabase, lit, pg } from './lib/harness.mjs';
import {
  EMP, ROLES, BY_ROLE, assertFieldError, client, dbDay, loadFixtures, newSigningKey, ok, ownToken,
  startIdentityService,
} from './lib/identity.mjs';

const DB = 'tx_api_regulations';
const SEED_ID = '5e9a0c1d-0000-4000-8000-000000000001';
// REGULATIONS.md, in order (Q2 is published as Q2.1 monthly and Q2.2 annual).
const CLAUSES = [
  'G1', 'G2', 'G3',
  'C1.1', 'C1.2', 'C1.3', 'C2.1', 'C2.2', 'C2.3', 'C3.1', 'C3.2', 'C3.3', 'C4.1', 'C4.2', 'C4.3',
  'P1.1', 'P1.2', 'P1.3', 'P1.4', 'P2.1', 'P2.2', 'P2.3', 'P2.4', 'P3.1', 'P3.2', 'P3.3', 'P3.4',
  'P4.1', 'P4.2', 'P4.3',
  'Q1', 'Q2.1', 'Q2.2', 'Q3', 'Q4',
  'R1.1', 'R1.2', 'R1.3', 'R2.1', 'R2.2', 'R2.3', 'R2.4', 'R3.1', 'R3.2', 'R3.3', 'R4.1', 'R4.2',
  'R4.3',
  'S1',
];

let key;
let svc;
const as = {}; // role -> client
const asEmp = (e) => client(svc, ownToken(key, e));
const ACTIVE = Object.values(EMP).filter((e) => e.active);

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startIdentityService(DB, key);
  loadFixtures(DB);
  for (const r of ROLES) as[r] = asEmp(BY_ROLE[r]);
  as.admin2 = asEmp(EMP.admin2); // holds admin and hr
});

describe('the regulations in force', () => {
  test('the clause list of this test is REGULATIONS.md\'s (when the shared folder is there)', (t) => {
    const file = path.join(env.sourceDir, '..', 'shared', 'regulations', 'REGULATIONS.md');
    if (!fs.existsSync(file)) {
      t.skip(`${file} not present`);
      return;
    }
    const ids = [...fs.readFileSync(file, 'utf8').matchAll(/^- \*\*([GCPQRS]\d+(?:\.\d+)?)\b/gm)].map((m) => m[1]);
    assert.deepEqual(ids, CLAUSES);
  });

  test('GET /v1/regulations/current: the seeded version, with every clause, for every role', async () => {
    for (const role of ROLES) {
      const r = await as[role].get('/v1/regulations/current');
      const reg = ok(r);
      assert.equal(reg.id, SEED_ID);
      assert.equal(reg.code, 'business-management');
      assert.equal(reg.regulation_version, 1);
      assert.equal(reg.status, 'published');
      assert.equal(reg.effective_from, '2024-01-01');
      assert.equal(r.headers.etag, `"${reg.version}"`);
      assert.deepEqual(reg.clauses.map((c) => c.clause_id), CLAUSES, role);
      assert.equal(reg.clause_count, CLAUSES.length);
      for (const [i, c] of reg.clauses.entries()) {
        assert.equal(c.position, i + 1);
        assert.equal(c.module, c.clause_id[0]);
        assert.ok(c.text_zh.length > 0 && c.text_en.length > 0, c.clause_id);
      }
    }
    const s1 = ok(await as.staff.get('/v1/regulations/current')).clauses.find((c) => c.clause_id === 'S1');
    assert.match(s1.text_zh, /人力資源部/);
    assertProblem(await as.staff.get('/v1/regulations/current?code=no-such-code'), 404, 'not_found');
  });

  test('GET /v1/regulations and /v1/regulations/{id}', async () => {
    const list = ok(await as.staff.get('/v1/regulations'));
    assert.deepEqual(list.items.map((x) => x.id), [SEED_ID]);
    assert.equal(list.items[0].clauses, null, 'lists carry the clause count, not the clauses');
    assert.equal(list.items[0].clause_count, CLAUSES.length);
    assert.equal(list.next_cursor, null);
    const one = ok(await as.auditor.get(`/v1/regulations/${SEED_ID}`));
    assert.equal(one.clauses.length, CLAUSES.length);
    assertProblem(await as.staff.get(`/v1/regulations/${crypto.randomUUID()}`), 404, 'not_found');
    assertProblem(await as.staff.get('/v1/regulations/not-an-id'), 404, 'not_found');
    assertFieldError(await as.staff.get('/v1/regulations?cursor=bad'), 'cursor');
  });
});

describe('drafts and publication (S1: only hr)', () => {
  let draft;

  test('only hr creates drafts: staff, supervisor, risk_officer, auditor and admin get 403', async () => {
    const body = { based_on: SEED_ID, title: '天星苑業務五項管理制度 (2)' };
    for (const role of ROLES.filter((r) => r !== 'hr')) {
      assertProblem(await as[role].post('/v1/regulations', body), 403, 'forbidden');
    }
    assert.equal(pg(`SELECT count(*) FROM org.regulations`, { db: DB }), '1');
    const r = await as.hr.post('/v1/regulations', body);
    draft = ok(r, 201);
    assert.equal(r.headers.location, `/v1/regulations/${draft.id}`);
    assert.equal(draft.status, 'draft');
    assert.equal(draft.regulation_version, 2);
    assert.equal(draft.based_on, SEED_ID);
    assert.equal(draft.created_by, EMP.hr.id);
    assert.equal(draft.published_at, null);
    assert.deepEqual(draft.clauses.map((c) => c.clause_id), CLAUSES, 'copied from based_on');
  });

  test('a draft with its own clauses; invalid clauses are named', async () => {
    const r = await as.hr.post('/v1/regulations', {
      code: 'onboarding', title: 'Onboarding', clauses: [{ clause_id: 'G1', text_zh: '新員工須閱讀本制度。' }],
    });
    const d = ok(r, 201);
    assert.equal(d.regulation_version, 1);
    assert.deepEqual(d.clauses.map((c) => [c.clause_id, c.module, c.position]), [['G1', 'G', 1]]);
    const bad = (clauses) => as.hr.post('/v1/regulations', { code: 'bad-one', title: 'Bad', clauses });
    assertFieldError(await bad([{ clause_id: 'X1', text_zh: '文' }]), 'clauses[0].clause_id');
    assertFieldError(await bad([{ clause_id: 'G1', text_zh: '文' }, { clause_id: 'G2' }]), 'clauses[1].text_zh');
    assertFieldError(await bad([{ clause_id: 'G1', text_zh: '文' }, { clause_id: 'G1', text_zh: '文' }]), 'clauses[1].clause_id');
    assertFieldError(await bad([]), 'clauses');
    assertFieldError(await as.hr.post('/v1/regulations', { title: 'No code', clauses: [{ clause_id: 'G1', text_zh: '文' }] }), 'code');
    assertFieldError(await as.hr.post('/v1/regulations', { based_on: crypto.randomUUID() }), 'based_on');
    assertFieldError(await as.hr.post('/v1/regulations', { based_on: SEED_ID, colour: 'red' }), 'colour');
    assert.equal(pg(`SELECT count(*) FROM org.regulations WHERE code = 'bad-one'`, { db: DB }), '0');
  });

  test('a draft is invisible to everyone but hr and admin (404, not in lists)', async () => {
    for (const role of ['staff', 'supervisor', 'risk_officer', 'auditor']) {
      assertProblem(await as[role].get(`/v1/regulations/${draft.id}`), 404, 'not_found');
      const ids = ok(await as[role].get('/v1/regulations')).items.map((x) => x.id);
      assert.ok(!ids.includes(draft.id), role);
      assertProblem(await as[role].post(`/v1/regulations/${draft.id}/acknowledge`), 404, 'not_found');
    }
    for (const role of ['hr', 'admin']) {
      assert.equal(ok(await as[role].get(`/v1/regulations/${draft.id}`)).status, 'draft');
    }
    assert.equal(ok(await as.staff.get('/v1/regulations/current')).id, SEED_ID, 'the draft is not in force');
  });

  test('hr acknowledging a draft: 409 (only the published version is acknowledged)', async () => {
    assertProblem(await as.hr.post(`/v1/regulations/${draft.id}/acknowledge`), 409, 'conflict');
  });

  test('only hr publishes: others 403; publishing supersedes the version in force', async () => {
    for (const role of ROLES.filter((r) => r !== 'hr')) {
      assertProblem(await as[role].post(`/v1/regulations/${draft.id}/publish`, {}), 403, 'forbidden');
    }
    assertFieldError(await as.hr.post(`/v1/regulations/${draft.id}/publish`, { effective_from: '2024-02-30' }), 'effective_from');
    assertFieldError(await as.hr.post(`/v1/regulations/${draft.id}/publish`, { effective_from: '2023-12-31' }), 'effective_from');
    assert.equal(ok(await as.hr.get(`/v1/regulations/${draft.id}`)).status, 'draft', 'refusals changed nothing');
    const today = dbDay(DB);
    const pub = ok(await as.hr.post(`/v1/regulations/${draft.id}/publish`));
    assert.equal(pub.status, 'published');
    assert.equal(pub.effective_from, today);
    assert.equal(pub.published_by, EMP.hr.id);
    const old = ok(await as.staff.get(`/v1/regulations/${SEED_ID}`));
    assert.equal(old.status, 'superseded');
    assert.match(old.superseded_at, /^\d{4}-\d\d-\d\dT/);
    const cur = ok(await as.staff.get('/v1/regulations/current'));
    assert.equal(cur.id, draft.id);
    assert.equal(cur.regulation_version, 2);
    // now visible to everyone
    ok(await as.risk_officer.get(`/v1/regulations/${draft.id}`));
    const list = ok(await as.staff.get('/v1/regulations')).items;
    assert.deepEqual(list.filter((x) => x.code === 'business-management').map((x) => x.regulation_version), [2, 1]);
    // Since issue 9 (state machines, 0014) the code is invalid_transition (was conflict), with
    // the version's state and the actions the caller may take from there.
    const twice = assertProblem(await as.hr.post(`/v1/regulations/${draft.id}/publish`), 409, 'invalid_transition');
    assert.equal(twice.state, 'published');
    assert.deepEqual(twice.allowed_actions, []);
    const old2 = assertProblem(await as.hr.post(`/v1/regulations/${SEED_ID}/publish`), 409, 'invalid_transition');
    assert.equal(old2.state, 'superseded');
    assert.deepEqual(old2.allowed_actions, []);
    assertProblem(await as.hr.post(`/v1/regulations/${crypto.randomUUID()}/publish`), 404, 'not_found');
  });

  describe('acknowledgements (G2: every employee)', () => {
    const pending = async (c = as.hr) => (await allPages(c, `/v1/regulations/${draft.id}/acknowledgements?pending=true`)).map((x) => x.employee_id);
    const done = async (c = as.hr) => (await allPages(c, `/v1/regulations/${draft.id}/acknowledgements`)).map((x) => x.employee_id);

    test('hr lists who has not acknowledged: every active employee at first', async () => {
      const p = await pending();
      assert.deepEqual([...p].sort(), ACTIVE.map((e) => e.id).sort(), 'active employees only (not gone)');
      assert.deepEqual(await done(), []);
      ok(await as.admin.get(`/v1/regulations/${draft.id}/acknowledgements?pending=true`));
    });

    test('who may read the acknowledgement lists', async () => {
      for (const role of ['staff', 'supervisor', 'risk_officer']) {
        assertProblem(await as[role].get(`/v1/regulations/${draft.id}/acknowledgements`), 403, 'forbidden');
      }
      // auditors read them too (route table, RLS policy regulation_acks_read and
      // api.regulation_acknowledgements agree since 5221411; before, the function refused them)
      ok(await as.auditor.get(`/v1/regulations/${draft.id}/acknowledgements?pending=true`));
    });

    test('an acknowledgement shrinks the pending list; twice is idempotent', async () => {
      const before = await pending();
      const first = ok(await as.staff.post(`/v1/regulations/${draft.id}/acknowledge`));
      assert.equal(first.employee_id, EMP.staffA1.id);
      assert.equal(first.regulation_id, draft.id);
      assert.equal(first.created, true);
      const again = ok(await as.staff.post(`/v1/regulations/${draft.id}/acknowledge`));
      assert.equal(again.created, false);
      assert.equal(again.acknowledged_at, first.acknowledged_at);
      const after = await pending();
      assert.equal(after.length, before.length - 1);
      assert.ok(!after.includes(EMP.staffA1.id));
      const d = await allPages(as.hr, `/v1/regulations/${draft.id}/acknowledgements`);
      assert.deepEqual(d.map((x) => [x.employee_id, x.acknowledged_at]), [[EMP.staffA1.id, first.acknowledged_at]]);
    });

    test('every active employee acknowledges; then nobody is pending', async () => {
      for (const e of ACTIVE) {
        const a = ok(await asEmp(e).post(`/v1/regulations/${draft.id}/acknowledge`));
        assert.equal(a.employee_id, e.id);
      }
      assert.deepEqual(await pending(), []);
      assert.equal((await done()).length, ACTIVE.length);
      // pages: 2 at a time, same rows
      const paged = await allPages(as.hr, `/v1/regulations/${draft.id}/acknowledgements`, 2);
      assert.deepEqual(paged.map((x) => x.employee_id), await done());
    });

    test('the superseded version cannot be acknowledged (409); unknown ids 404', async () => {
      assertProblem(await as.staff.post(`/v1/regulations/${SEED_ID}/acknowledge`), 409, 'conflict');
      assertProblem(await as.staff.post(`/v1/regulations/${crypto.randomUUID()}/acknowledge`), 404, 'not_found');
      assertProblem(await as.hr.get(`/v1/regulations/${crypto.randomUUID()}/acknowledgements`), 404, 'not_found');
    });
  });
});

/** Every item of a paged list. */
async function allPages(c, p, limit = 200) {
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

describe('policy parameters (G3: hr proposes, another admin approves)', () => {
  const P = 'customer_review_period_days';
  const valueAt = async (name, at, c = as.staff) => ok(await c.get(`/v1/policy-parameters/${name}${at ? `?at=${at}` : ''}`)).value;

  test('every role reads the parameters and the value in force at a date', async () => {
    for (const role of ROLES) {
      const list = ok(await as[role].get('/v1/policy-parameters'));
      const names = list.items.map((x) => x.name);
      assert.deepEqual(names, [...names].sort());
      assert.ok(names.includes(P) && names.includes('assessment_weights'), names.join());
      assert.equal(list.items.find((x) => x.name === P).value, 180);
    }
    const p = ok(await as.staff.get(`/v1/policy-parameters/${P}`));
    assert.equal(p.type, 'integer');
    assert.equal(p.clause, 'C4.1');
    assert.equal(p.value, 180);
    assert.equal(p.effective_from, '2024-01-01');
    assert.equal(p.history.length, 1);
    assert.equal(await valueAt(P, '2023-12-31'), null, 'nothing in force before 2024-01-01');
    assert.equal(await valueAt(P, '2024-01-01'), 180);
    const old = ok(await as.staff.get('/v1/policy-parameters?at=2023-06-01'));
    assert.ok(old.items.every((x) => x.value === null));
    assertProblem(await as.staff.get('/v1/policy-parameters/no_such_parameter'), 404, 'not_found');
    assertProblem(await as.staff.get('/v1/policy-parameters/bad%20name'), 404, 'not_found');
    assertFieldError(await as.staff.get(`/v1/policy-parameters/${P}?at=2024-13-01`), 'at');
    assertFieldError(await as.staff.get('/v1/policy-parameters?at=yesterday'), 'at');
  });

  let proposal; // hr's: 90 days from today + 30
  let own; // admin2's: 120 days from today + 60

  test('only hr proposes (staff and admin 403); the value must have the type; not in the past', async () => {
    const body = { value: 90, effective_from: dbDay(DB, 30), reason: 'Quarterly reviews catch changes sooner (C4.1).' };
    for (const role of ROLES.filter((r) => r !== 'hr')) {
      assertProblem(await as[role].post(`/v1/policy-parameters/${P}/proposals`, body), 403, 'forbidden');
    }
    assertFieldError(await as.hr.post(`/v1/policy-parameters/${P}/proposals`, { ...body, value: 'ninety' }), 'value');
    assertFieldError(await as.hr.post(`/v1/policy-parameters/${P}/proposals`, { ...body, value: 90.5 }), 'value');
    assertFieldError(await as.hr.post(`/v1/policy-parameters/${P}/proposals`, { ...body, effective_from: dbDay(DB, -1) }), 'effective_from');
    assertFieldError(await as.hr.post(`/v1/policy-parameters/${P}/proposals`, { ...body, reason: undefined }), 'reason');
    assertFieldError(await as.hr.post(`/v1/policy-parameters/${P}/proposals`, { value: 90, reason: 'x' }), 'effective_from');
    assertFieldError(await as.hr.post(`/v1/policy-parameters/${P}/proposals`, { ...body, value: undefined }), 'value');
    assertProblem(await as.hr.post('/v1/policy-parameters/no_such_parameter/proposals', body), 404, 'not_found');
    const r = await as.hr.post(`/v1/policy-parameters/${P}/proposals`, body);
    proposal = ok(r, 201);
    assert.equal(proposal.status, 'proposed');
    assert.equal(proposal.value, 90);
    assert.equal(proposal.proposed_by, EMP.hr.id);
    assert.equal(proposal.decided_by, null);
    // a proposal is not a value: staff do not see it, hr and admin do
    assert.equal(ok(await as.staff.get(`/v1/policy-parameters/${P}`)).history.length, 1);
    assert.ok(ok(await as.hr.get(`/v1/policy-parameters/${P}`)).history.some((v) => v.id === proposal.id));
    assert.ok(ok(await as.admin.get(`/v1/policy-parameters/${P}`)).history.some((v) => v.id === proposal.id));
    assert.equal(await valueAt(P, dbDay(DB, 30)), 180, 'not in force before approval');
  });

  test('four eyes: an admin holding hr cannot approve their own proposal', async () => {
    own = ok(await as.admin2.post(`/v1/policy-parameters/${P}/proposals`, { value: 120, effective_from: dbDay(DB, 60), reason: 'Half-yearly is enough for dormant customers.' }), 201);
    assert.equal(own.proposed_by, EMP.admin2.id);
    assertProblem(await as.admin2.post(`/v1/policy-proposals/${own.id}/approve`, {}), 403, 'forbidden');
    assertProblem(await as.admin2.post(`/v1/policy-proposals/${own.id}/reject`, { reason: 'changed my mind' }), 403, 'forbidden');
    assert.equal(pg(`SELECT status FROM org.policy_values WHERE id = '${own.id}'`, { db: DB }), 'proposed');
    // hr (not admin) cannot decide at all
    assertProblem(await as.hr.post(`/v1/policy-proposals/${own.id}/approve`, {}), 403, 'forbidden');
    assertProblem(await as.staff.post(`/v1/policy-proposals/${own.id}/approve`, {}), 403, 'forbidden');
  });

  test('approval: the value changes from its effective date, not before', async () => {
    const a = ok(await as.admin.post(`/v1/policy-proposals/${proposal.id}/approve`, { reason: 'Agreed with the business departments.' }));
    assert.equal(a.status, 'approved');
    assert.equal(a.decided_by, EMP.admin.id);
    assert.equal(a.decision_reason, 'Agreed with the business departments.');
    const b = ok(await as.admin.post(`/v1/policy-proposals/${own.id}/approve`));
    assert.equal(b.decided_by, EMP.admin.id);
    assert.equal(await valueAt(P), 180, 'today');
    assert.equal(await valueAt(P, dbDay(DB, 29)), 180);
    assert.equal(await valueAt(P, dbDay(DB, 30)), 90);
    assert.equal(await valueAt(P, dbDay(DB, 59)), 90);
    assert.equal(await valueAt(P, dbDay(DB, 60)), 120);
    assert.equal(await valueAt(P, '2099-01-01'), 120);
    const h = ok(await as.staff.get(`/v1/policy-parameters/${P}`)).history;
    assert.deepEqual(h.map((v) => v.value), [120, 90, 180], 'approved values, newest first');
    assertProblem(await as.admin.post(`/v1/policy-proposals/${proposal.id}/approve`), 409, 'conflict');
    assertProblem(await as.admin.post(`/v1/policy-proposals/${proposal.id}/reject`, { reason: 'too late' }), 409, 'conflict');
  });

  test('a value in force from today changes the current value', async () => {
    const name = 'risk_warning_thresholds';
    const value = { credit_overdue_days: 45, prepayment_ratio_min: 0.2 };
    const pr = await as.hr.post(`/v1/policy-parameters/${name}/proposals`, { value, effective_from: dbDay(DB), reason: 'R3.2 review' });
    const p = ok(pr, 201);
    assert.doesNotMatch(pr.text, /0\.2000000/, 'decimals reach the database as written');
    assert.deepEqual(await valueAt(name), { credit_overdue_days: 30, prepayment_ratio_min: 0.3 });
    ok(await as.admin2.post(`/v1/policy-proposals/${p.id}/approve`));
    assert.deepEqual(await valueAt(name), value);
    const list = ok(await as.staff.get('/v1/policy-parameters'));
    assert.deepEqual(list.items.find((x) => x.name === name).value, value);
    // a second approved value for the same date: conflict
    const dup = ok(await as.hr.post(`/v1/policy-parameters/${name}/proposals`, { value, effective_from: dbDay(DB), reason: 'again' }), 201);
    assertProblem(await as.admin.post(`/v1/policy-proposals/${dup.id}/approve`), 409, 'conflict');
  });

  test('rejection: needs a reason; the value never comes into force', async () => {
    const p = ok(await as.hr.post(`/v1/policy-parameters/${P}/proposals`, { value: 7, effective_from: dbDay(DB, 10), reason: 'Weekly reviews' }), 201);
    assertFieldError(await as.admin.post(`/v1/policy-proposals/${p.id}/reject`, {}), 'reason');
    assertFieldError(await as.admin.post(`/v1/policy-proposals/${p.id}/reject`, { reason: '' }), 'reason');
    assertFieldError(await as.admin.post(`/v1/policy-proposals/${p.id}/reject`, { reason: 'no', extra: true }), 'extra');
    const r = ok(await as.admin.post(`/v1/policy-proposals/${p.id}/reject`, { reason: 'Too costly for the business department.' }));
    assert.equal(r.status, 'rejected');
    assert.equal(r.decided_by, EMP.admin.id);
    assert.equal(await valueAt(P, dbDay(DB, 10)), 180);
    assertProblem(await as.admin.post(`/v1/policy-proposals/${p.id}/approve`), 409, 'conflict');
    assert.ok(!ok(await as.staff.get(`/v1/policy-parameters/${P}`)).history.some((v) => v.id === p.id), 'rejections are hidden from staff');
    assert.ok(ok(await as.hr.get(`/v1/policy-parameters/${P}`)).history.some((v) => v.id === p.id && v.status === 'rejected'));
    assertProblem(await as.admin.post(`/v1/policy-proposals/${crypto.randomUUID()}/approve`), 404, 'not_found');
    assertProblem(await as.admin.post('/v1/policy-proposals/not-a-uuid/reject', { reason: 'x' }), 404, 'not_found');
  });

  // Issue 10 item 11: each parameter has a JSON Schema of its own, checked on propose and approve.
  test('values outside their parameter\'s schema are refused with 422 naming the problem', async () => {
    const propose = (name, value) => as.hr.post(`/v1/policy-parameters/${name}/proposals`,
      { value, effective_from: dbDay(DB, 5), reason: 'schema check' });
    const refused = async (name, value, field, message) => {
      const p = assertFieldError(await propose(name, value), field);
      const e = p.errors.find((x) => x.field === field);
      assert.match(e.message, message, `${name} = ${JSON.stringify(value)}: ${JSON.stringify(p)}`);
    };
    await refused('login_lock_threshold', -1, 'value', /at least 3/);
    await refused('login_lock_threshold', 0, 'value', /at least 3/);
    await refused('login_lock_threshold', 10 ** 12, 'value', /at most 100/);
    await refused('login_lock_seconds', -900, 'value', /at least 60/);
    await refused('customer_review_period_days', 0, 'value', /at least 1/);
    await refused('customer_required_fields', [], 'value', /at least 1 item/);
    await refused('customer_required_fields', ['password_hash'], 'value[0]', /must be one of name, company_name/);
    await refused('customer_required_fields', ['name', 'name'], 'value', /twice/);
    await refused('customer_required_fields', ['name', 7], 'value[1]', /must be a string/);
    const w = { completion_rate: 0.3, satisfaction: 0.25, accuracy: 0.2, efficiency: 0.15, teamwork: 0.1 };
    await refused('assessment_weights', { ...w, teamwork: 0.2 }, 'value', /sum to 1/);
    await refused('assessment_weights', { ...w, teamwork: undefined }, 'value.teamwork', /required/);
    await refused('assessment_weights', { ...w, luck: 0 }, 'value.luck', /not a known member/);
    await refused('assessment_weights', { ...w, accuracy: -0.2, teamwork: 0.5 }, 'value.accuracy', /at least 0/);
    await refused('assessment_grade_bands', [{ grade: 'A', min: 60 }, { grade: 'B', min: 80 }], 'value[1].min', /highest first/);
    await refused('assessment_grade_bands', [{ grade: 'A', min: 190 }], 'value[0].min', /at most 100/);
    await refused('risk_warning_thresholds', { credit_overdue_days: 30, prepayment_ratio_min: 1.5 }, 'value.prepayment_ratio_min', /at most 1/);
    assert.equal(pg(`SELECT count(*) FROM org.policy_values WHERE reason = 'schema check'`, { db: DB }), '0', 'nothing written');
    // values inside the schemas are proposals (and the schema is published with the parameter)
    ok(await propose('login_lock_threshold', 10), 201);
    ok(await propose('assessment_weights', { ...w, completion_rate: 0.2, teamwork: 0.2 }), 201);
    ok(await propose('customer_required_fields', ['name', 'credit_code']), 201);
    const def = ok(await as.staff.get('/v1/policy-parameters/login_lock_threshold'));
    assert.deepEqual(def.schema, { type: 'integer', minimum: 3, maximum: 100 });
  });

  test('a proposal made before its schema (or under an older one) is checked again on approval', async () => {
    // written as the database owner without triggers: a proposal from before migration 0017
    const id = pg(`SET session_replication_role = replica;
      INSERT INTO org.policy_values (name, value, effective_from, status, reason, proposed_by)
      VALUES ('login_lock_threshold', '-1', current_date + 3, 'proposed', 'old proposal', ${lit(EMP.hr.id)})
      RETURNING id`, { db: DB }).split('\n').pop().trim();
    assertFieldError(await as.admin.post(`/v1/policy-proposals/${id}/approve`), 'value');
    assert.equal(pg(`SELECT status FROM org.policy_values WHERE id = ${lit(id)}`, { db: DB }), 'proposed');
    // it can still be rejected
    ok(await as.admin.post(`/v1/policy-proposals/${id}/reject`, { reason: 'Outside the schema.' }));
  });
});

commonHeadersTest();
