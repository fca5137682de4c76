// State machines as data (issue 9, item 4; migration 0014), seen from a client through the one
// machine on it so far: a regulation version (S1: HR publishes; publishing the next version
// supersedes the one in force). An illegal move answers 409 invalid_transition with the version's
// state and the actions the caller may take from there; a refusing guard is named; every move is
// in GET /v1/regulations/{id}/transitions and in the audited, append-only fsm.log.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';

import { assertProblem, commonHeadersTest, env, freshDatabase, lit, pg, sleep } from './lib/harness.mjs';
import {
  EMP, ROLES, BY_ROLE, assertFieldError, client, loadFixtures, newSigningKey, ok, ownToken,
  startIdentityService,
} from './lib/identity.mjs';

const DB = 'tx_api_state_machines';
const SEED_ID = '5e9a0c1d-0000-4000-8000-000000000001';

let key;
let svc;
const as = {};

/** Runs SQL as the owner with hr's claims (the owner is subject to the same policies). */
function asHr(sql) {
  return pg(`BEGIN;
SELECT set_config('tx.user_id', ${lit(EMP.hr.id)}, true), set_config('tx.roles', 'hr', true),
       set_config('tx.request_id', 'api-test', true);
${sql}
COMMIT;`, { db: DB, user: 'tianxing_owner' });
}
/** asHr's SQL in a psql of its own, not waiting for it: resolves to {code, stdout, stderr}. */
function asHrAsync(sql) {
  const args = ['-h', env.pghost, '-p', String(env.pgport), '-U', 'tianxing_owner', '-d', DB,
    '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose', '-c', `BEGIN;
SELECT set_config('tx.user_id', ${lit(EMP.hr.id)}, true), set_config('tx.roles', 'hr', true),
       set_config('tx.request_id', 'api-test', true);
${sql}
COMMIT;`];
  return new Promise((resolve) => {
    execFile('psql', args, { encoding: 'utf8', timeout: 30000 }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code ?? 1 : 0, stdout, stderr }));
  });
}
const logCount = () => Number(pg('SELECT count(*) FROM fsm.log', { db: DB }));

before(async () => {
  key = newSigningKey();
  freshDatabase(DB);
  svc = await startIdentityService(DB, key);
  loadFixtures(DB);
  for (const r of ROLES) as[r] = client(svc, ownToken(key, BY_ROLE[r]));
});

describe('the state machines\' code is re-runnable (sql/code, re-applied when changed)', () => {
  test('applying it again to a migrated database changes nothing; the tests below run on it', () => {
    const code = ['kit/050_state_machines.sql', 'org/030_regulations.sql']
      .map((f) => fs.readFileSync(path.join(env.sourceDir, 'sql', 'code', f), 'utf8')).join('\n');
    const shape = () => pg(`SELECT (SELECT count(*) FROM pg_policy WHERE polrelid::regclass::text LIKE 'fsm.%')
        || '/' || (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal
                    AND tgrelid IN ('fsm.log'::regclass, 'org.regulations'::regclass))
        || '/' || (SELECT count(*) FROM pg_proc WHERE pronamespace = 'fsm'::regnamespace)
        || '/' || (SELECT count(*) FROM fsm.transitions)`, { db: DB });
    const before = shape();
    for (let i = 0; i < 2; i++) pg(code, { db: DB, user: 'tianxing_owner' });
    assert.equal(shape(), before);
    assert.equal(pg('SELECT count(*) FROM fsm.lint()', { db: DB }), '0');
  });
});

describe('publishing a regulation version moves it through its state machine', () => {
  let draft;
  let pubRes;

  test('publish: the move is recorded with who, when and the request', async () => {
    draft = ok(await as.hr.post('/v1/regulations', { based_on: SEED_ID, title: 'Revision' }), 201);
    assert.deepEqual(ok(await as.hr.get(`/v1/regulations/${draft.id}/transitions`)),
      { items: [], next_cursor: null }, 'a new draft has no moves');
    pubRes = await as.hr.post(`/v1/regulations/${draft.id}/publish`, {});
    assert.equal(ok(pubRes).status, 'published');
    const moves = ok(await as.staff.get(`/v1/regulations/${draft.id}/transitions`)).items;
    assert.equal(moves.length, 1);
    const [m] = moves;
    assert.deepEqual({ ...m, id: undefined, at: undefined }, {
      id: undefined, at: undefined, from_state: 'draft', action: 'publish', to_state: 'published',
      actor_id: EMP.hr.id, reason: null, request_id: pubRes.headers['x-request-id'],
    });
    assert.match(m.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // the version it replaced moved too, with the reason
    const old = ok(await as.auditor.get(`/v1/regulations/${SEED_ID}/transitions`)).items;
    assert.deepEqual(old.map((x) => [x.from_state, x.action, x.to_state, x.actor_id, x.reason]),
      [['published', 'supersede', 'superseded', EMP.hr.id, 'version 2 was published']]);
    assert.ok(old[0].id < m.id, 'superseded before the new version was published');
  });

  test('publishing twice: 409 invalid_transition with the state and no allowed action', async () => {
    const before = logCount();
    const p = assertProblem(await as.hr.post(`/v1/regulations/${draft.id}/publish`), 409, 'invalid_transition');
    assert.equal(p.state, 'published');
    assert.deepEqual(p.allowed_actions, []);
    assert.equal(p.guard, undefined);
    assert.match(p.detail, /publish is not possible: the regulation is published/);
    // the state is refused before the body's date is looked at (as before: 409, not 422)
    const q = assertProblem(await as.hr.post(`/v1/regulations/${draft.id}/publish`, { effective_from: '2000-01-01' }),
      409, 'invalid_transition');
    assert.equal(q.state, 'published');
    const zh = assertProblem(await as.hr.post(`/v1/regulations/${draft.id}/publish`, {}, { headers: { 'Accept-Language': 'zh' } }),
      409, 'invalid_transition', { zh: true });
    assert.equal(zh.title, '當前狀態不允許此操作');
    assert.equal(logCount(), before, 'refusals leave no move');
  });

  test('publishing a superseded version: 409 invalid_transition, state superseded', async () => {
    const p = assertProblem(await as.hr.post(`/v1/regulations/${SEED_ID}/publish`), 409, 'invalid_transition');
    assert.equal(p.state, 'superseded');
    assert.deepEqual(p.allowed_actions, [], 'supersede is internal: never offered');
    assert.equal(ok(await as.staff.get(`/v1/regulations/${SEED_ID}`)).status, 'superseded', 'unchanged');
  });

  test('a draft without clauses: 409 naming the guard; hr may still publish it once it has one', async () => {
    const id = crypto.randomUUID();
    asHr(`INSERT INTO org.regulations (id, code, version, title, created_by)
          VALUES (${lit(id)}, 'empty-rules', 1, 'Empty', ${lit(EMP.hr.id)});`);
    const p = assertProblem(await as.hr.post(`/v1/regulations/${id}/publish`), 409, 'invalid_transition');
    assert.equal(p.state, 'draft');
    assert.deepEqual(p.allowed_actions, ['publish']);
    assert.equal(p.guard, 'org.regulation_has_clauses');
    assert.match(p.detail, /without clauses/);
    asHr(`INSERT INTO org.regulation_clauses (regulation_id, clause_id, module, text_zh, position)
          VALUES (${lit(id)}, 'G1', 'G', '條文。', 1);`);
    assert.equal(ok(await as.hr.post(`/v1/regulations/${id}/publish`)).status, 'published');
  });

  test('roles before state: other roles get 403 whatever the state; unknown ids 404', async () => {
    for (const role of ROLES.filter((r) => r !== 'hr')) {
      assertProblem(await as[role].post(`/v1/regulations/${draft.id}/publish`), 403, 'forbidden');
    }
    assertProblem(await as.hr.post(`/v1/regulations/${crypto.randomUUID()}/publish`), 404, 'not_found');
  });

  test('two moves at once: the second decides on the state the first left (409)', async () => {
    const id = crypto.randomUUID();
    asHr(`INSERT INTO org.regulations (id, code, version, title, created_by)
          VALUES (${lit(id)}, 'race-rules', 1, 'Race', ${lit(EMP.hr.id)});
          INSERT INTO org.regulation_clauses (regulation_id, clause_id, module, text_zh, position)
          VALUES (${lit(id)}, 'G1', 'G', '條文。', 1);`);
    const publish = `SELECT fsm.move('regulation', ${lit(id)}, 'publish', NULL,
      jsonb_build_object('effective_from', current_date, 'published_at', now(), 'published_by', ${lit(EMP.hr.id)}));`;
    // the first holds the row (moved, uncommitted) for a while; the second reads 'draft' (the
    // first has not committed), then waits for the row's lock
    const first = asHrAsync(`${publish} SELECT pg_sleep(1.5);`);
    await sleep(500);
    const second = asHrAsync(publish);
    const [a, b] = await Promise.all([first, second]);
    assert.equal(a.code, 0, a.stderr);
    assert.notEqual(b.code, 0, 'the second move failed');
    assert.match(b.stderr, /ERROR: +TXTRN: publish is not possible: the regulation is published\n/, b.stderr);
    assert.equal(pg(`SELECT count(*) FROM fsm.log WHERE entity_id = ${lit(id)}`, { db: DB }), '1', 'one move logged');
  });

  test('the state column cannot be changed around the machine, even by the owner', () => {
    assert.throws(() => asHr(`UPDATE org.regulations SET status = 'draft' WHERE id = ${lit(draft.id)};`),
      /changes only through fsm\.move/);
    assert.equal(pg(`SELECT status FROM org.regulations WHERE id = ${lit(draft.id)}`, { db: DB }), 'published');
  });
});

describe('GET /v1/regulations/{id}/transitions', () => {
  test('who may read: whoever may read the version (drafts: hr and admin)', async () => {
    const d = ok(await as.hr.post('/v1/regulations', { code: 'hidden-rules', title: 'Hidden', clauses: [{ clause_id: 'G1', text_zh: '隱。' }] }), 201);
    for (const role of ['staff', 'supervisor', 'risk_officer', 'auditor']) {
      assertProblem(await as[role].get(`/v1/regulations/${d.id}/transitions`), 404, 'not_found');
    }
    ok(await as.admin.get(`/v1/regulations/${d.id}/transitions`));
    assertProblem(await as.staff.get(`/v1/regulations/${crypto.randomUUID()}/transitions`), 404, 'not_found');
    assertProblem(await as.staff.get('/v1/regulations/not-a-uuid/transitions'), 404, 'not_found');
  });

  test('pages: limit and cursor; malformed ones are named', async () => {
    // a code with three versions: v1 published then superseded, v2 published
    const v1 = ok(await as.hr.post('/v1/regulations', { code: 'paged-rules', title: 'P', clauses: [{ clause_id: 'G1', text_zh: '一。' }] }), 201);
    ok(await as.hr.post(`/v1/regulations/${v1.id}/publish`));
    const v2 = ok(await as.hr.post('/v1/regulations', { based_on: v1.id }), 201);
    ok(await as.hr.post(`/v1/regulations/${v2.id}/publish`));
    const first = ok(await as.staff.get(`/v1/regulations/${v1.id}/transitions?limit=1`));
    assert.deepEqual(first.items.map((x) => x.action), ['publish']);
    assert.equal(first.next_cursor, String(first.items[0].id));
    const second = ok(await as.staff.get(`/v1/regulations/${v1.id}/transitions?limit=1&cursor=${first.next_cursor}`));
    assert.deepEqual(second.items.map((x) => x.action), ['supersede']);
    assert.equal(second.next_cursor, null);
    assertFieldError(await as.staff.get(`/v1/regulations/${v1.id}/transitions?cursor=abc`), 'cursor');
    assertFieldError(await as.staff.get(`/v1/regulations/${v1.id}/transitions?limit=0`), 'limit');
  });
});

describe('the transition log', () => {
  test('every move is in the audit trail, with its actor and request', () => {
    const rows = pg(`SELECT count(*) FROM fsm.log`, { db: DB });
    const audited = pg(`SELECT count(*) FROM audit.log WHERE table_name = 'fsm.log' AND op = 'INSERT'`, { db: DB });
    assert.ok(Number(rows) >= 5, rows);
    assert.equal(audited, rows);
    assert.equal(pg(`SELECT count(*) FROM fsm.log l JOIN audit.log a ON a.table_name = 'fsm.log' AND a.row_key = l.id::text
                     WHERE a.actor_id IS DISTINCT FROM l.actor_id OR a.request_id IS DISTINCT FROM l.request_id`, { db: DB }), '0');
    assert.equal(pg(`SELECT (audit.verify()).first_broken_id IS NULL`, { db: DB }), 't', 'the chain is intact');
  });

  test('append-only, even for a superuser (whom row-level security does not stop)', () => {
    const rows = logCount();
    assert.throws(() => pg(`UPDATE fsm.log SET reason = 'rewritten'`, { db: DB }), /append-only/);
    assert.throws(() => pg('DELETE FROM fsm.log', { db: DB }), /append-only/);
    assert.throws(() => pg('TRUNCATE fsm.log', { db: DB }), /append-only/);
    assert.throws(() => pg('TRUNCATE fsm.log', { db: DB, user: 'tianxing_owner' }), /append-only/);
    assert.equal(logCount(), rows);
  });
});

commonHeadersTest();
