-- State machines as data (migration 0014_state_machines.sql, sql/code/kit/050_state_machines.sql): the transition table, fsm.move and
-- the generic trigger fsm.enforce(), shown on the regulations' machine. Legal and illegal moves,
-- roles, the guard, the log (its rows, append-only, audited, visible with the entity), and that
-- the state column cannot change without the mechanism.
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(60);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

\ir lib/session.psql
-- The SQLSTATE and DETAIL (jsonb) of a statement that fails; NULLs when it does not.
CREATE FUNCTION pg_temp.move_err(p_sql text) RETURNS TABLE (state text, detail jsonb) LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
  EXECUTE p_sql;
  state := NULL; detail := NULL; RETURN NEXT;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, d = PG_EXCEPTION_DETAIL;
  detail := NULLIF(d, '')::jsonb;
  RETURN NEXT;
END
$$;
-- An UPDATE after announcing a move by hand, as fsm.move does.
CREATE FUNCTION pg_temp.armed_update(p_armed text, p_sql text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('fsm.armed', p_armed, true);
  EXECUTE p_sql;
END
$$;
INSERT INTO ids VALUES ('v1', '5e9a0c1d-0000-4000-8000-000000000001'),
                       ('hr', '20000000-0000-4000-8000-000000000002');

-- The definitions -------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is_empty('SELECT * FROM fsm.lint()', 'fsm.lint: every definition resolves (tables, trigger, guards)');
SELECT results_eq($$ SELECT machine, entity::text, state_column, initial_states FROM fsm.machines WHERE machine = 'regulation' $$,
  $$ VALUES ('regulation'::text, 'org.regulations'::text, 'status'::text, '{draft}'::text[]) $$,
  'the regulation machine: org.regulations.status, starting as draft');
SELECT results_eq($$ SELECT from_state, action, to_state, roles, guard, internal FROM fsm.transitions
                      WHERE machine = 'regulation' ORDER BY from_state $$,
  $$ VALUES ('draft'::text, 'publish'::text, 'published'::text, '{hr}'::text[], 'org.regulation_has_clauses(uuid)'::text, false),
            ('published', 'supersede', 'superseded', '{hr}', NULL, true) $$,
  'its moves: publish (hr, guarded), supersede (internal)');
SELECT trigger_is('org', 'regulations', 'zz_state_machine', 'fsm', 'enforce', 'org.regulations runs fsm.enforce()');
SELECT throws_ok($$ INSERT INTO fsm.transitions (machine, from_state, action, to_state, roles)
                    VALUES ('regulation', 'superseded', 'revive', 'published', '{staff}') $$, '42501', NULL,
  'the runtime role cannot add moves');
SELECT throws_ok($$ UPDATE fsm.transitions SET roles = '{staff}' $$, '42501', NULL, 'nor change them');
SELECT is(fsm.allowed_actions('regulation', 'draft'), '{}'::text[], 'staff: no action on a draft');
SELECT pg_temp.be('hr', 'hr');
SELECT is(fsm.allowed_actions('regulation', 'draft'), '{publish}'::text[], 'hr: publish a draft');
SELECT is(fsm.allowed_actions('regulation', 'published'), '{}'::text[], 'hr: nothing to ask for on a published version (supersede is internal)');

-- Creation: only in an initial state ----------------------------------------------------
SELECT throws_ok($$ INSERT INTO org.regulations (code, version, title, status, effective_from, published_at, created_by)
                    VALUES ('sm-test', 1, 'SM', 'superseded', '2024-01-01', now(), '20000000-0000-4000-8000-000000000002') $$,
  '55000', 'fsm: a new regulation starts as draft, not superseded', 'a row cannot start in a later state');
WITH x AS (INSERT INTO org.regulations (code, version, title, created_by)
           VALUES ('sm-test', 1, 'State machine test', '20000000-0000-4000-8000-000000000002') RETURNING id)
INSERT INTO ids SELECT 'd1', id FROM x;
SELECT is((SELECT status FROM org.regulations WHERE id = pg_temp.id('d1')), 'draft', 'a draft without clauses');

-- The guard -------------------------------------------------------------------------------
SELECT throws_ok(format($$ SELECT fsm.move('regulation', %L, 'publish') $$, pg_temp.id('d1')), 'TXTRN',
  'publish is not possible: the guard org.regulation_has_clauses refused (a regulation without clauses cannot be published)',
  'the guard refuses a draft without clauses, saying which guard and why');
SELECT is((SELECT detail FROM pg_temp.move_err(format($$ SELECT fsm.move('regulation', %L, 'publish') $$, pg_temp.id('d1')))),
  '{"state": "draft", "allowed_actions": ["publish"], "guard": "org.regulation_has_clauses"}'::jsonb,
  '... DETAIL: the state, the allowed actions, the guard');
SELECT throws_ok(format($$ SELECT fsm.check('regulation', %L, 'publish') $$, pg_temp.id('d1')), 'TXTRN', NULL,
  'fsm.check refuses it too');
SELECT is((SELECT status FROM org.regulations WHERE id = pg_temp.id('d1')), 'draft', 'still a draft');
INSERT INTO org.regulation_clauses (regulation_id, clause_id, module, text_zh, position)
VALUES (pg_temp.id('d1'), 'G1', 'G', '測試。', 1);
SELECT is(fsm.check('regulation', pg_temp.id('d1'), 'publish'), 'published', 'with a clause the move is possible');

-- The state column changes through fsm.move only ------------------------------------------
SELECT throws_ok(format($$ UPDATE org.regulations SET status = 'published', effective_from = current_date,
                           published_at = now() WHERE id = %L $$, pg_temp.id('d1')),
  '55000', format('fsm: the status of regulation %s changes only through fsm.move', pg_temp.id('d1')),
  'a direct UPDATE of the state column is refused');
SELECT lives_ok(format($$ UPDATE org.regulations SET title = 'Renamed draft' WHERE id = %L $$, pg_temp.id('d1')),
  'other columns of a draft still change directly');
-- Announcing a move by hand does not skip the rules: the trigger checks the move itself.
SELECT throws_ok(format($$ SELECT pg_temp.armed_update('{"machine": "regulation", "id": "%s", "from": "draft", "action": "publish"}',
                             'UPDATE org.regulations SET status = ''superseded'', superseded_at = now(), effective_from = current_date,
                                     published_at = now() WHERE id = ''%s''') $$, pg_temp.id('d1'), pg_temp.id('d1')),
  '55000', 'fsm: publish of regulation leads to published, not superseded', 'an announced move must lead where the table says');
SELECT throws_ok(format($$ SELECT pg_temp.armed_update('{"machine": "regulation", "id": "%s", "from": "published", "action": "supersede"}',
                             'UPDATE org.regulations SET status = ''superseded'', superseded_at = now(), effective_from = current_date,
                                     published_at = now() WHERE id = ''%s''') $$, pg_temp.id('d1'), pg_temp.id('d1')),
  'TXTRN', 'supersede is not possible: the regulation is draft now (it was published)',
  'an announced move from another state than the row''s is refused');
SELECT is((SELECT count(*)::int FROM fsm.log WHERE entity_id = pg_temp.id('d1')), 0, 'refused moves leave no log row');

-- Roles -------------------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok(format($$ SELECT fsm.move('regulation', %L, 'publish') $$, pg_temp.id('d1')), 'P0002', 'no such regulation',
  'staff: a draft they cannot see is not found');
SELECT throws_ok($$ SELECT fsm.move('regulation', '5e9a0c1d-0000-4000-8000-000000000001', 'publish') $$, '42501',
  'publish needs the role hr', 'staff: publish needs hr');
SELECT pg_temp.be('admin', 'admin');
SELECT throws_ok(format($$ SELECT fsm.move('regulation', %L, 'publish') $$, pg_temp.id('d1')), '42501',
  'publish needs the role hr', 'admin sees the draft but may not publish it');
SELECT throws_ok(format($$ SELECT fsm.move('regulation', %L, 'archive') $$, pg_temp.id('d1')), '42704', NULL,
  'an action the machine does not have is a bug (42704)');
SELECT throws_ok(format($$ SELECT fsm.move('no_machine', %L, 'publish') $$, pg_temp.id('d1')), '42704', NULL,
  'so is an unknown machine');

-- A legal move, and its log row ---------------------------------------------------------
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok(format($$ SELECT fsm.move('regulation', %L, 'publish', NULL, '{"nope": 1}') $$, pg_temp.id('d1')), '42703', NULL,
  'fsm.move sets existing columns only');
SELECT throws_ok(format($$ SELECT fsm.move('regulation', %L, 'publish', NULL, '{"status": "superseded"}') $$, pg_temp.id('d1')), '42703', NULL,
  '... never the state column itself');
SELECT is(fsm.move('regulation', pg_temp.id('d1'), 'publish', 'ready for everyone',
                   jsonb_build_object('effective_from', current_date, 'published_at', now(), 'published_by', pg_temp.id('hr'))),
  'published', 'hr publishes the draft through fsm.move');
SELECT results_eq(format($$ SELECT status, effective_from, published_by FROM org.regulations WHERE id = %L $$, pg_temp.id('d1')),
  $$ VALUES ('published'::text, current_date, '20000000-0000-4000-8000-000000000002'::uuid) $$,
  'the state and the columns of p_set changed in one UPDATE');
SELECT results_eq(format($$ SELECT machine, from_state, action, to_state, actor_id, actor_roles, reason, request_id, at = now()
                            FROM fsm.log WHERE entity_id = %L $$, pg_temp.id('d1')),
  $$ VALUES ('regulation'::text, 'draft'::text, 'publish'::text, 'published'::text,
             '20000000-0000-4000-8000-000000000002'::uuid, '{hr}'::text[], 'ready for everyone'::text, 'req-hr'::text, true) $$,
  'the move is logged: machine, from, action, to, who, roles, why, request, when');
SELECT is(current_setting('fsm.armed', true), '', 'the announcement was consumed');

-- Illegal moves: 409 with the allowed actions -------------------------------------------
SELECT throws_ok(format($$ SELECT fsm.move('regulation', %L, 'publish') $$, pg_temp.id('d1')), 'TXTRN',
  'publish is not possible: the regulation is published', 'publishing twice: TXTRN');
SELECT is((SELECT detail FROM pg_temp.move_err(format($$ SELECT fsm.move('regulation', %L, 'publish') $$, pg_temp.id('d1')))),
  '{"state": "published", "allowed_actions": []}'::jsonb, '... DETAIL: the state and no allowed action (an empty array)');
SELECT is(fsm.move('regulation', pg_temp.id('d1'), 'supersede', NULL, jsonb_build_object('superseded_at', now())),
  'superseded', 'an internal move is made through fsm.move like any other');
SELECT is((SELECT detail FROM pg_temp.move_err(format($$ SELECT fsm.move('regulation', %L, 'publish') $$, pg_temp.id('d1')))),
  '{"state": "superseded", "allowed_actions": []}'::jsonb, 'nothing leaves superseded');
SELECT is((SELECT array_agg(action || ':' || from_state || '>' || to_state ORDER BY id) FROM fsm.log WHERE entity_id = pg_temp.id('d1')),
  ARRAY['publish:draft>published', 'supersede:published>superseded'], 'two moves, two log rows, in order');

-- Through the API function ------------------------------------------------------------------
INSERT INTO ids SELECT 'v2', (api.regulation_create('{"based_on": "5e9a0c1d-0000-4000-8000-000000000001"}')::jsonb ->> 'id')::uuid;
SELECT is((api.regulation_publish(pg_temp.id('v2'), NULL)::jsonb ->> 'status'), 'published', 'api.regulation_publish moves v2');
SELECT results_eq(format($$ SELECT entity_id, action, reason FROM fsm.log WHERE entity_id IN (%L, %L) ORDER BY id $$, pg_temp.id('v1'), pg_temp.id('v2')),
  format($$ VALUES (%L::uuid, 'supersede'::text, 'version 2 was published'::text), (%L::uuid, 'publish', NULL) $$, pg_temp.id('v1'), pg_temp.id('v2')),
  'publishing v2 superseded v1 first; both moves logged');
SELECT is((SELECT detail FROM pg_temp.move_err(format($$ SELECT api.regulation_publish(%L, '2000-01-01') $$, pg_temp.id('v2')))),
  '{"state": "published", "allowed_actions": []}'::jsonb, 'publishing it again: TXTRN before the date is looked at');
SELECT is((SELECT state FROM pg_temp.move_err(format($$ SELECT api.regulation_publish(%L, NULL) $$, pg_temp.id('v1')))),
  'TXTRN', 'publishing the superseded v1: TXTRN');

-- History -----------------------------------------------------------------------------------
SELECT is((SELECT array_agg(i ->> 'action') FROM json_array_elements(api.regulation_transitions(pg_temp.id('d1'), NULL, NULL) -> 'items') i),
  ARRAY['publish', 'supersede'], 'regulation_transitions: the moves, oldest first');
SELECT is((api.regulation_transitions(pg_temp.id('d1'), NULL, NULL) -> 'items' -> 0)::jsonb - 'id' - 'at',
  '{"from_state": "draft", "action": "publish", "to_state": "published", "actor_id": "20000000-0000-4000-8000-000000000002",
    "reason": "ready for everyone", "request_id": "req-hr"}'::jsonb, '... each with who, why and the request');
SELECT is(api.regulation_transitions(pg_temp.id('d1'), 1, NULL)::jsonb ->> 'next_cursor',
  (SELECT min(id)::text FROM fsm.log WHERE entity_id = pg_temp.id('d1')), 'paged: the cursor is the id of the last move');
SELECT is((SELECT array_agg(i ->> 'action') FROM json_array_elements(api.regulation_transitions(pg_temp.id('d1'), 1,
             (SELECT min(id)::text FROM fsm.log WHERE entity_id = pg_temp.id('d1'))) -> 'items') i),
  ARRAY['supersede'], '... the next page');
SELECT is((api.regulation_transitions(pg_temp.id('v1'), NULL, NULL) -> 'items' -> 0 ->> 'action'), 'supersede',
  'the seeded version has one move: its supersession');
SELECT throws_ok($$ SELECT api.regulation_transitions('5e9a0c1d-0000-4000-8000-0000000000ff', NULL, NULL) $$, 'P0002', NULL,
  'regulation_transitions: missing is P0002');
SELECT throws_ok(format($$ SELECT api.regulation_transitions(%L, NULL, 'x') $$, pg_temp.id('d1')), 'TXVAL', 'cursor: is not a cursor of this list',
  'regulation_transitions: bad cursor');

-- Who sees the log --------------------------------------------------------------------------
INSERT INTO ids SELECT 'd2', (api.regulation_create('{"code": "sm-hidden", "title": "Hidden", "clauses": [{"clause_id": "G1", "text_zh": "隱。"}]}')::jsonb ->> 'id')::uuid;
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((SELECT count(*)::int FROM fsm.log WHERE entity_id = pg_temp.id('d1')), 2, 'staff see the moves of a version they can read');
SELECT is(fsm.visible('regulation', pg_temp.id('d2')), false, 'staff cannot see a draft, so neither its moves');
SELECT is(fsm.visible('regulation', pg_temp.id('d1')), true, '... but a published or superseded version');

-- The log is append-only and audited ------------------------------------------------------
SELECT throws_ok($$ INSERT INTO fsm.log (machine, entity_id, from_state, action, to_state)
                    VALUES ('regulation', '5e9a0c1d-0000-4000-8000-000000000001', 'superseded', 'publish', 'published') $$,
  '42501', NULL, 'the runtime role cannot write log rows (fsm.enforce does)');
SELECT throws_ok($$ UPDATE fsm.log SET reason = 'rewritten' $$, '42501', NULL, 'nor change them');
SELECT throws_ok($$ DELETE FROM fsm.log $$, '42501', NULL, 'nor delete them');
SELECT trigger_is('fsm', 'log', 'log_append_only', 'fsm', 'refuse_change', 'owners are refused UPDATE and DELETE by a trigger');
SELECT trigger_is('fsm', 'log', 'log_no_truncate', 'fsm', 'refuse_change', '... and TRUNCATE');
SELECT pg_temp.be('auditor', 'auditor');
SELECT is((SELECT count(*)::int FROM audit.log WHERE table_name = 'fsm.log' AND op = 'INSERT'
             AND changes ->> 'entity_id' = pg_temp.id('d1')::text AND actor_id = pg_temp.id('hr')), 2,
  'every log row is in the audit trail, with its actor');
SELECT is((SELECT first_broken_id FROM audit.verify()), NULL, 'the audit chain is intact');
SELECT policies_are('fsm', 'log', ARRAY['log_read', 'log_definer_insert'], 'fsm.log: read with the entity, written by the owner only');

SELECT * FROM finish();
ROLLBACK;
