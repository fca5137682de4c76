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
// other parts' routes, verification after tampering) needs parts B-D's routes: see the last
// describe block.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { before, describe, test } from 'node:test';

import {
  assertProblem, commonHeadersTest, env, freshDatabase, holdTransaction, pg, sleep,
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
    'review_verdicts', 'files', 'deliveries', 'confirmation_links', 'confirmations', 'deadlines', 'archives'];
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

describe('a case from confirmation to archive (needs parts B-D)', () => {
  // The path of a case to `confirmed` goes through the routes of parts B (intake, approval,
  // assignment), C (work records, submission for review) and D (review, files, delivery,
  // confirmation). Until they are merged this block has nothing to drive; it is completed on
  // the merge (see the part E report).
  test('the routes of parts B-D are there', async (t) => {
    const spec = (await call(svc, 'GET', '/openapi.yaml')).text;
    const needed = ['/v1/cases:', '/v1/cases/{id}/deliver:', '/v1/cases/{id}/confirmations:'];
    const missing = needed.filter((p) => !spec.includes(p));
    if (missing.length) t.skip(`not merged yet: ${missing.join(', ')}`);
  });
});

commonHeadersTest();
