// Module P, part E: the archive (P4.1-P4.3; sql/code/cases/070_archive.sql, contract/archive).
//   * POST /v1/cases/{id}/archive: who may ask (403 for the wrong role, 404 for a case the caller
//     cannot see), no body;
//   * the archive number's counter: sequential per year without gaps, a rolled-back archiving
//     gives its number back, and two archivings of one year wait for each other;
//   * the index GET /v1/archive: roles, every filter's validation (a 1-character q is 422, as the
//     customer search), keyset cursor; GET /v1/archive/{archive_number} and .../verify: 404 for
//     what does not exist;
//   * the immutability triggers bind every writer, the owner role and the superuser included.
// The whole path of a case to its archive (confirmed case, manifest, immutability through the
// other parts' routes, verification after tampering, an open escalation holding the archive
// back) is driven through parts B-D's api functions: the last describe block.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import { before, describe, test } from 'node:test';

import { CSV, csvOf } from './lib/formats.mjs';
import {
  assertProblem, commonHeadersTest, env, freshDatabase, holdTransaction, lit, pg, sleep,
} from './lib/harness.mjs';
import {
  EMP, ROLES, BY_ROLE, assertFieldError, assertUnauthorized, call, client, loadFixtures,
  newSigningKey, ok, ownToken, startIdentityService,
} from './lib/identity.mjs';

const DB = 'tx_api_archive';
const NO_CASE = '7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f';
let key;
let svc;
const as = {};
const asEmp = (e, roles) => client(svc, ownToken(key, e, { roles }));

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startIdentityService(DB, key);
  loadFixtures(DB);
  for (const r of ROLES) as[r] = asEmp(BY_ROLE[r]);
  as.supA = asEmp(EMP.supA);
});

describe('POST /v1/cases/{id}/archive: who may ask', () => {
  test('hr, risk officers, auditors and admins alone are refused by role (403)', async () => {
    for (const r of ['hr', 'risk_officer', 'auditor', 'admin']) {
      assertProblem(await as[r].post(`/v1/cases/${NO_CASE}/archive`), 403, 'forbidden');
    }
  });
  test('a case that does not exist or is not visible: 404; an id that is no UUID: 404', async () => {
    assertProblem(await as.staff.post(`/v1/cases/${NO_CASE}/archive`), 404, 'not_found');
    assertProblem(await as.supA.post(`/v1/cases/${NO_CASE}/archive`), 404, 'not_found');
    assertProblem(await as.staff.post('/v1/cases/not-a-uuid/archive'), 404, 'not_found');
  });
  test('it takes no body: a member is 422 naming it', async () => {
    const p = assertProblem(await as.staff.post(`/v1/cases/${NO_CASE}/archive`, { archive_number: 'TX-2026-000001' }),
      422, 'validation_failed');
    assert.ok(p.errors.some((e) => e.field === 'archive_number'), JSON.stringify(p));
  });
  test('no token: 401', async () => {
    assertUnauthorized(await call(svc, 'POST', `/v1/cases/${NO_CASE}/archive`), { invalid: false });
  });
  test('nothing was written by the refusals', () => {
    assert.equal(pg('SELECT count(*) FROM cases.archives', { db: DB }), '0');
    assert.equal(pg('SELECT count(*) FROM cases.archive_counters', { db: DB }), '0');
  });
});

describe('archive numbers: sequential per year without gaps (P4.2)', () => {
  // The counter is the owner's (api.case_archive calls it in the archiving transaction); these
  // checks run it as the owner role, in a year no test archives in.
  const seq = (year) => `SELECT cases.next_archive_seq(${year})`;
  test('a rolled-back archiving gives its number back', () => {
    const owner = (sql) => pg(sql, { db: DB, user: 'tianxing_owner' });
    assert.equal(owner(`BEGIN; ${seq(2091)}; ROLLBACK;`), '1');
    assert.equal(pg('SELECT count(*) FROM cases.archive_counters WHERE year = 2091', { db: DB }), '0');
    assert.equal(owner(seq(2091)), '1');
    assert.equal(owner(`BEGIN; ${seq(2091)}; ROLLBACK;`), '2');
    assert.equal(owner(seq(2091)), '2', 'after the rollback the next number is 2 again, not 3');
    assert.equal(owner(seq(2092)), '1', 'each year counts from 1');
    assert.equal(pg('SELECT cases.archive_number(2091, 2)', { db: DB }), 'TX-2091-000002');
  });
  test('two archivings of one year take their numbers one after the other', async () => {
    // A holds the year's counter row (its number 3) in an open transaction ...
    const held = await holdTransaction(DB, `${seq(2091)};`,
      `EXISTS (SELECT FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                WHERE c.relname = 'archive_counters' AND l.mode = 'RowExclusiveLock' AND l.granted)`);
    // ... B asks for the next and waits for A's row lock ...
    const b = spawn('psql', ['-h', env.pghost, '-p', String(env.pgport), '-U', 'tianxing_owner', '-d', DB,
      '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-c', seq(2091)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    b.stdout.on('data', (d) => { out += d; });
    const done = new Promise((r) => b.on('exit', r));
    let waited = false;
    for (let i = 0; i < 100 && !waited; i++) {
      waited = pg(`SELECT count(*) FROM pg_stat_activity WHERE datname = '${DB}'
                     AND wait_event_type = 'Lock' AND query LIKE '%next_archive_seq%'`, { db: DB }) === '1';
      if (!waited) await sleep(50);
    }
    assert.ok(waited, 'the second archiving waits for the first');
    await held.release();
    assert.equal(await done, 0);
    assert.equal(out.trim(), '4', 'and takes the number after it');
  });
});

describe('GET /v1/archive: the index (P4.3)', () => {
  test('staff, supervisors, auditors and admins read it; hr and risk officers are refused', async () => {
    for (const r of ['staff', 'supervisor', 'auditor', 'admin']) {
      assert.deepEqual(ok(await as[r].get('/v1/archive')), { items: [], next_cursor: null }, r);
    }
    for (const r of ['hr', 'risk_officer']) assertProblem(await as[r].get('/v1/archive'), 403, 'forbidden');
    assertUnauthorized(await call(svc, 'GET', '/v1/archive'), { invalid: false });
  });
  test('every filter is accepted', async () => {
    const q = new URLSearchParams({
      number: 'TX-2026-000001', customer_id: NO_CASE, business_type_id: NO_CASE, staff_id: EMP.staffA1.id,
      from: '2026-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z', q: '審計', limit: '10',
    });
    assert.deepEqual(ok(await as.staff.get(`/v1/archive?${q}`)), { items: [], next_cursor: null });
  });
  test('bad input: 422 naming the parameter', async () => {
    assertFieldError(await as.staff.get(`/v1/archive?q=${encodeURIComponent('審')}`), 'q');
    assertFieldError(await as.staff.get(`/v1/archive?q=${encodeURIComponent(' 審 ')}`), 'q');
    assertFieldError(await as.staff.get(`/v1/archive?q=${encodeURIComponent('a b')}`), 'q');
    assertFieldError(await as.staff.get(`/v1/archive?q=${encodeURIComponent('審'.repeat(101))}`), 'q');
    assertFieldError(await as.staff.get('/v1/archive?number=TX-26-1'), 'number');
    assertFieldError(await as.staff.get('/v1/archive?cursor=garbage!'), 'cursor');
    assertFieldError(await as.staff.get('/v1/archive?cursor=WyJjdXN0b21lcnMiLCJ4IiwieSJd'), 'cursor');
    assertFieldError(await as.staff.get('/v1/archive?limit=0'), 'limit');
    assertFieldError(await as.staff.get('/v1/archive?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z'), 'from');
    assertFieldError(await as.staff.get('/v1/archive?customer_id=nope'), 'customer_id');
    assertFieldError(await as.staff.get('/v1/archive?from=yesterday'), 'from');
    const p = assertProblem(await as.staff.get('/v1/archive?keyword=x'), 422, 'validation_failed');
    assert.deepEqual(p.errors.map((e) => [e.field, e.code]), [['keyword', 'unknown_parameter']]);
  });
});

describe('GET /v1/archive/{archive_number} and .../verify', () => {
  test('a number that does not exist, or no number at all: 404', async () => {
    for (const r of ['staff', 'supervisor', 'auditor', 'admin']) {
      assertProblem(await as[r].get('/v1/archive/TX-2026-000001'), 404, 'not_found');
      assertProblem(await as[r].get('/v1/archive/TX-2026-000001/verify'), 404, 'not_found');
    }
    assertProblem(await as.staff.get('/v1/archive/nonsense'), 404, 'not_found');
  });
  test('hr and risk officers are refused (403)', async () => {
    for (const r of ['hr', 'risk_officer']) {
      assertProblem(await as[r].get('/v1/archive/TX-2026-000001'), 403, 'forbidden');
      assertProblem(await as[r].get('/v1/archive/TX-2026-000001/verify'), 403, 'forbidden');
    }
  });
});

describe('immutability: the triggers bind every writer (P4.2)', () => {
  const TABLES = ['cases', 'approvals', 'assignments', 'work_records', 'escalations', 'reviews',
    'review_verdicts', 'files', 'deliveries', 'confirmation_links', 'confirmations', 'deadlines', 'archives',
    'queue_entries'];
  test('every table of a case carries them, enabled ALWAYS (even under session_replication_role = replica)', () => {
    const got = pg(`SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_trigger g
                      JOIN pg_class c ON c.oid = g.tgrelid
                     WHERE c.relnamespace = 'cases'::regnamespace AND g.tgname = 'aa_archived_immutable'
                       AND g.tgenabled = 'A'`, { db: DB });
    assert.deepEqual(got.split(','), [...TABLES].sort());
  });
  test('the runtime role writes none of these tables directly', () => {
    for (const t of TABLES) {
      assert.throws(() => pg(`DELETE FROM cases.${t}`, { db: DB, user: 'tianxing_app' }), /permission denied/, t);
    }
  });
  test('an archive row cannot be made by hand, even by the owner: only by archiving the case', () => {
    assert.throws(() => pg(`INSERT INTO cases.archives (case_id, archive_number, year, seq, manifest,
                                manifest_sha256, retain_until, customer_id, business_type_id, department_id,
                                title, archived_by)
                              SELECT gen_random_uuid(), 'TX-2026-000001', 2026, 1, '{}', sha256(''), '2036-01-01',
                                     gen_random_uuid(), gen_random_uuid(), '${EMP.supA.dept}', 'x', '${EMP.supA.id}'`,
    { db: DB, user: 'tianxing_owner' }), /archiving the case/);
  });
});

describe('a case from confirmation to archive (through parts B-D)', () => {
  // Parts B (intake, approval, assignment), C (work records, submission for review) and D
  // (review, files, delivery, confirmation) bring the case to `confirmed`, through their api
  // functions as the runtime role with each user's claims (as their routes call them); the
  // archive and the index are then driven over HTTP.
  /** Runs `sql` as the runtime role with the claims of `user`; returns the last output line. */
  const asUser = (user, roles, sql) => pg(`BEGIN; SELECT tx.begin_request('${user}', '${roles}', 'archive-test');
    ${sql}; COMMIT;`, { db: DB, user: 'tianxing_app' }).split('\n').at(-1);
  const CU = '4c000000-0000-4000-8000-0000000000e2';
  const S = {};

  function confirmedCase(need, docs) {
    const id = asUser('staff.a2', 'staff', `SELECT api.case_create(jsonb_build_object('customer_id', '${CU}',
      'raised_at', api.ts(now() - interval '1 hour'), 'channel', 'visit', 'need', '${need}')) ->> 'id'`);
    asUser('staff.a2', 'staff', `SELECT api.case_assess('${id}', '{"in_scope": true, "business_type_id": "${S.bt}"}')`);
    asUser('staff.a2', 'staff', `SELECT api.case_intake('${id}', (api.case_json('${id}') ->> 'version')::int,
      '{"requirements": "2025 年度財務報表審計,${need}"}')`);
    asUser('staff.a2', 'staff', `SELECT api.case_submit('${id}')`);
    asUser('sup.a', 'staff,supervisor', `SELECT api.case_decide('${id}', 'approve', '{"comment": "同意"}')`);
    asUser('sup.a', 'staff,supervisor', `SELECT api.case_assign('${id}', '{"lead": "${EMP.staffA1.id}"}')`);
    asUser('staff.a1', 'staff', `SELECT api.case_work_record_add('${id}', jsonb_build_object('milestone_code', 'collect',
      'content', '收集了財務資料', 'result', '完成', 'started_at', api.ts(now()), 'finished_at', api.ts(now()), 'hours', 2.5))`);
    asUser('staff.a1', 'staff', `SELECT api.case_submit_review('${id}', '{}')`);
    asUser('sup.a', 'staff,supervisor', `SELECT api.case_review_decide('${id}', '{"verdicts": [{"criterion": "accuracy", "verdict": "pass"},
      {"criterion": "compliance", "verdict": "pass"}, {"criterion": "completeness", "verdict": "pass"}]}')`);
    const file = asUser('staff.a1', 'staff', `SELECT api.case_file_add('${id}', jsonb_build_object('name', '審計報告.pdf',
      'media_type', 'application/pdf', 'purpose', 'deliverable', 'content', encode('report', 'base64'))) ->> 'id'`);
    asUser('staff.a1', 'staff', `SELECT api.case_deliver('${id}', '{"method": "email", "file_ids": ["${file}"]}')`);
    asUser('staff.a1', 'staff', `SELECT api.case_confirmation_record('${id}', '{"outcome": "confirmed", "rating": 5, "evidence": "電話確認"}')`);
    if (docs) addDocs(id);
    return id;
  }
  function addDocs(id) {
    asUser('staff.a1', 'staff', `SELECT api.case_file_add('${id}', '{"name": "合同原件", "purpose": "document",
      "document_code": "contract", "location": "檔案室 A-03-12"}')`);
    asUser('staff.a1', 'staff', `SELECT api.case_file_add('${id}', jsonb_build_object('name', '報告副本.txt',
      'media_type', 'text/plain', 'purpose', 'document', 'document_code', 'report', 'content', encode('abc', 'base64')))`);
  }

  test('setup: a business type requiring two documents, a customer, a confirmed case', async () => {
    S.bt = ok(await as.admin.post('/v1/business-types', {
      code: 'ARC-API', name: '年度審計',
      milestones: [{ code: 'collect', name: '收集資料', standard_days: 3 }],
      checklist: [{ code: 'accuracy', name: '準確性' }, { code: 'compliance', name: '合規性' },
        { code: 'completeness', name: '完整性' }],
      documents: [{ code: 'contract', name: '合同' }, { code: 'report', name: '報告' }],
    }), 201).id;
    asUser('staff.a2', 'staff', `SELECT api.customer_create(jsonb_build_object('id', '${CU}', 'name', '林志遠',
      'company_name', '閩江貿易有限公司', 'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', '\\x01' || repeat('ab', 59))))`);
    S.c1 = confirmedCase('一號', false);
    assert.equal(pg(`SELECT status FROM cases.cases WHERE id = '${S.c1}'`, { db: DB }), 'confirmed');
  });

  test('409 while a required document is missing, naming the guard and the documents; nothing written', async () => {
    assert.ok(S.c1, 'the setup made a confirmed case');
    const p = assertProblem(await as.staff.post(`/v1/cases/${S.c1}/archive`), 409, 'invalid_transition');
    assert.equal(p.guard, 'cases.archive_complete');
    assert.equal(p.state, 'confirmed');
    assert.match(p.detail, /missing documents: contract, report/);
    assert.equal(pg('SELECT count(*) FROM cases.archives', { db: DB }), '0');
    assert.equal(pg(`SELECT count(*) FROM cases.archive_counters WHERE year < 2090`, { db: DB }), '0');
  });

  test('the wrong person: 403 for the preparer not assigned, 404 for another department, 403 for an auditor', async () => {
    assert.ok(S.c1, 'the setup made a confirmed case');
    addDocs(S.c1);
    assertProblem(await asEmp(EMP.staffA2).post(`/v1/cases/${S.c1}/archive`), 403, 'forbidden');
    assertProblem(await asEmp(EMP.staffB1).post(`/v1/cases/${S.c1}/archive`), 404, 'not_found');
    assertProblem(await as.supervisor.post(`/v1/cases/${S.c1}/archive`), 404, 'not_found');
    assertProblem(await as.auditor.post(`/v1/cases/${S.c1}/archive`), 403, 'forbidden');
    assert.equal(pg('SELECT count(*) FROM cases.archives', { db: DB }), '0');
  });

  test('archived by its assignee: the number, the manifest and its hashes, the case archived', async () => {
    assert.ok(S.c1, 'the setup made a confirmed case');
    const a = ok(await as.staff.post(`/v1/cases/${S.c1}/archive`));
    const year = pg(`SELECT cases.archive_year(now())`, { db: DB });
    assert.equal(a.archive_number, `TX-${year}-000001`);
    assert.equal(a.case_status, 'archived');
    assert.deepEqual(a.staff_ids, [EMP.staffA1.id]);
    assert.equal(a.title, '年度審計 · 林志遠(閩江貿易有限公司)');
    const sha = (v) => crypto.createHash('sha256').update(v, 'utf8').digest('hex');
    // The canonical text is PostgreSQL's jsonb output: recomputed here by the database from the
    // answer, and the manifest's hash equals the stored one.
    assert.equal(pg(`SELECT encode(sha256(convert_to(${lit(JSON.stringify(a.manifest))}::jsonb::text, 'UTF8')), 'hex')`, { db: DB }),
      a.manifest_sha256);
    for (const [name, part] of Object.entries(a.manifest.parts)) {
      assert.equal(pg(`SELECT cases.json_sha256(${lit(JSON.stringify(part.content))})`, { db: DB }), part.sha256, name);
    }
    const paper = a.manifest.parts.files.content.find((f) => f.medium === 'paper');
    assert.equal(paper.location, '檔案室 A-03-12');
    const report = a.manifest.parts.files.content.find((f) => f.document_code === 'report');
    assert.equal(report.sha256, sha('abc'));
    assert.equal(pg(`SELECT status || ' ' || (archived_at IS NOT NULL) FROM cases.cases WHERE id = '${S.c1}'`, { db: DB }), 'archived true');
    S.number = a.archive_number;
    S.manifest = a.manifest;
    const again = assertProblem(await as.staff.post(`/v1/cases/${S.c1}/archive`), 409, 'invalid_transition');
    assert.deepEqual(again.allowed_actions, []);
  });

  test('the index finds it by number, keywords, customer, staff; the entry and its verification', async () => {
    assert.ok(S.number, 'the case was archived');
    const q = (s) => as.staff.get(`/v1/archive?${s}`);
    assert.equal(ok(await q(`q=${encodeURIComponent('審計')}`)).items[0].archive_number, S.number);
    assert.equal(ok(await q(`q=${encodeURIComponent('閩江')}`)).items.length, 1);
    assert.equal(ok(await q(`q=${encodeURIComponent('稅務')}`)).items.length, 0);
    assert.equal(ok(await q(`number=${S.number}&customer_id=${CU}&staff_id=${EMP.staffA1.id}`)).items.length, 1);
    assert.equal(ok(await asEmp(EMP.staffB1).get(`/v1/archive?q=${encodeURIComponent('審計')}`)).items.length, 0);
    assertProblem(await asEmp(EMP.staffB1).get(`/v1/archive/${S.number}`), 404, 'not_found');
    assert.deepEqual(ok(await as.auditor.get(`/v1/archive/${S.number}`)).manifest, S.manifest);
    const v = ok(await as.auditor.get(`/v1/archive/${S.number}/verify`));
    assert.equal(v.ok, true);
    assert.deepEqual(v.mismatches, []);
    assert.equal(v.parts.length, 9);
  });

  test('the index as CSV (issue 16): BOM, the entry with its Chinese title, the same as the JSON', async () => {
    const json = ok(await as.auditor.get(`/v1/archive?number=${S.number}`)).items;
    const rows = csvOf(await as.auditor.get(`/v1/archive?number=${S.number}`, { headers: { Accept: CSV } }));
    assert.equal(rows.length, 2);
    assert.deepEqual(rows[1].slice(0, 4), [json[0].archive_number, json[0].case_id, String(json[0].year), json[0].title]);
    assert.match(rows[1][3], /審計/, 'the title as stored, Chinese intact');
  });

  test('immutable for everyone: the routes of the other parts, the owner role and the superuser', async () => {
    assert.ok(S.number, 'the case was archived');
    const r = await as.staff.post(`/v1/cases/${S.c1}/files`, { name: 'x', purpose: 'evidence', location: 'shelf 1' });
    assert.equal(r.status, 409, r.text);
    for (const user of ['tianxing_owner', undefined]) {
      for (const sql of [`UPDATE cases.cases SET need = 'x' WHERE id = '${S.c1}'`,
        `UPDATE cases.work_records SET hours = 9 WHERE case_id = '${S.c1}'`,
        `DELETE FROM cases.confirmations WHERE case_id = '${S.c1}'`,
        `INSERT INTO cases.approvals (case_id, decision, decided_by) VALUES ('${S.c1}', 'approve', '${EMP.supA.id}')`,
        `UPDATE cases.archives SET title = 'x'`,
        `DELETE FROM cases.archives`]) {
        assert.throws(() => pg(sql, { db: DB, user }), /is archived/, `${user || 'superuser'}: ${sql}`);
      }
    }
    assert.throws(() => pg(`SET session_replication_role = replica; UPDATE cases.files SET name = 'x' WHERE case_id = '${S.c1}'`,
      { db: DB }), /is archived/, 'replication role does not skip the triggers');
    assert.throws(() => pg('TRUNCATE cases.files CASCADE', { db: DB }), /TRUNCATE would remove archived cases/);
    assert.equal(ok(await as.auditor.get(`/v1/archive/${S.number}/verify`)).ok, true);
  });

  test('a change behind the triggers\' back (superuser, triggers off) is found by the verification', async () => {
    assert.ok(S.number, 'the case was archived');
    // As the superuser: replication role (skips the other parts' ordinary triggers, e.g. work
    // records' append-only rule) and this part's triggers off, for these two statements only.
    pg(`SET session_replication_role = replica;
        ALTER TABLE cases.work_records DISABLE TRIGGER aa_archived_immutable;
        UPDATE cases.work_records SET hours = 7 WHERE case_id = '${S.c1}';
        ALTER TABLE cases.work_records ENABLE ALWAYS TRIGGER aa_archived_immutable;
        ALTER TABLE cases.files DISABLE TRIGGER aa_archived_immutable;
        UPDATE cases.files SET content = 'abd' WHERE case_id = '${S.c1}' AND document_code = 'report';
        ALTER TABLE cases.files ENABLE ALWAYS TRIGGER aa_archived_immutable;`, { db: DB });
    const v = ok(await as.auditor.get(`/v1/archive/${S.number}/verify`));
    assert.equal(v.ok, false);
    assert.deepEqual(v.mismatches.map((m) => m.part).sort(), ['files', 'work_records']);
    assert.equal(v.parts.find((p) => p.part === 'work_records').ok, false);
    assert.equal(v.manifest_recomputed_sha256, v.manifest_sha256, 'the manifest itself is intact');
  });

  test('the second archive of the year takes the next number', async () => {
    assert.ok(S.number, 'the case was archived');
    const c2 = confirmedCase('二號', true);
    const a = ok(await as.supA.post(`/v1/cases/${c2}/archive`));
    assert.equal(a.seq, 2, 'a supervisor of the department archives it');
    assert.equal(a.archived_by, EMP.supA.id);
  });

  test('an open escalation holds the archive back: 409 naming it; answered, the case archives', async () => {
    const c3 = confirmedCase('三號', true);
    const e = ok(await as.staff.post(`/v1/cases/${c3}/escalations`, { problem: '客戶要求補充說明' }), 201);
    assert.equal(e.addressed_to, EMP.supA.id);
    const p = assertProblem(await as.staff.post(`/v1/cases/${c3}/archive`), 409, 'invalid_transition');
    assert.equal(p.guard, 'cases.archive_complete');
    assert.match(p.detail, new RegExp(`open escalations: ${e.id}`));
    assert.doesNotMatch(p.detail, /missing documents/);
    assert.equal(pg(`SELECT count(*) FROM cases.archives WHERE case_id = '${c3}'`, { db: DB }), '0');
    assert.equal(pg(`SELECT status FROM cases.cases WHERE id = '${c3}'`, { db: DB }), 'confirmed');
    ok(await as.supA.post(`/v1/escalations/${e.id}/resolve`, { solution: '已補充說明' }));
    const a = ok(await as.staff.post(`/v1/cases/${c3}/archive`));
    assert.equal(a.seq, 3);
    assert.equal(a.manifest.parts.escalations.content[0].status, 'resolved');
  });
});

commonHeadersTest();
