-- Module R, part A (sql/code/risk/020_register.sql, 030_responses.sql): the risk register as the
-- runtime role. Reporting (R1.1, R1.3) by anyone signed in with links they may see, the code,
-- who sees what; assessments (R1.2) keeping the risk's level, never overwritten; responses
-- (R2.1) with the second person of an acceptance, the level that needs a response, the risk's
-- moves; rounds (R1.1) and their job; market records (R2.2). Run by tests/sql/run as
-- tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(100);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');
\ir lib/session.psql

-- Definitions ------------------------------------------------------------------------------------
SELECT ok(NOT has_table_privilege('tianxing_app', t, 'INSERT,UPDATE,DELETE,TRUNCATE'),
          format('the runtime role writes %s only through the api functions', t))
  FROM unnest(ARRAY['risk.risks', 'risk.assessments', 'risk.responses', 'risk.rounds',
                    'risk.market_records']) t;
SELECT is((SELECT p.prosecdef FROM pg_proc p WHERE p.oid = f::regprocedure), false,
          format('%s runs as its caller', f))
  FROM unnest(ARRAY['api.risk_create(jsonb)', 'api.risk_json(uuid)', 'api.risk_assess(uuid,jsonb)',
                    'api.risk_assessments(uuid)']) f;
SELECT is((SELECT p.prosecdef FROM pg_proc p WHERE p.oid = f::regprocedure), true,
          format('%s is a writer (SECURITY DEFINER)', f))
  FROM unnest(ARRAY['risk.report(jsonb,uuid)', 'risk.assess(uuid,jsonb)']) f;

-- Reporting (R1.1, R1.3) -------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
INSERT INTO ids SELECT 'r1', (api.risk_create(
  '{"category": "operational", "title": "One person knows the filing", "description": "Only staff.a1 can file form 7", "cause": "no procedure"}') ->> 'id')::uuid;
SELECT is(api.risk_json(pg_temp.id('r1')) ->> 'status', 'identified', 'a staff member reports a risk: identified');
SELECT ok(api.risk_json(pg_temp.id('r1')) ->> 'code' ~ ('^R-' || to_char(org.company_date(), 'YYYY') || '-[0-9]{4}$'),
          'its code is R-YYYY-NNNN of the company year');
-- risk.report is granted to the runtime role: citing a warning (R3.3, its handling) is not for
-- whoever reports, and only an open warning can be cited
SELECT is(pg_temp.err(format('SELECT risk.report(%L, %L)',
            '{"category": "other", "title": "t", "description": "d"}', gen_random_uuid())) ->> 'state',
          '42501', 'staff cannot tie their risk to a warning');
SELECT pg_temp.be('risk', 'risk_officer');
SELECT is(pg_temp.err(format('SELECT risk.report(%L, %L)',
            '{"category": "other", "title": "t", "description": "d"}', gen_random_uuid())) ->> 'column',
          'warning_id', 'a risk officer cites only an open warning');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((api.risk_json(pg_temp.id('r1')) ->> 'owner_id')::uuid, pg_temp.emp('staff.a1'),
          'the reporter owns it by default');
SELECT is((api.risk_json(pg_temp.id('r1')) ->> 'department_id')::uuid,
          '10000000-0000-4000-8000-00000000000a'::uuid, 'in the reporter''s department by default');
SELECT is(api.risk_json(pg_temp.id('r1')) ->> 'level', NULL, 'no level before an assessment');
SELECT is(pg_temp.err($$SELECT api.risk_create('{"category": "weather", "title": "x", "description": "y"}')$$) ->> 'column',
          'category', 'an unknown category: 422 naming category');
SELECT is(pg_temp.err($$SELECT api.risk_create('{"category": "other", "title": "x"}')$$) ->> 'column',
          'description', 'a description is required');
SELECT is(pg_temp.err($$SELECT api.risk_create('{"category": "other", "title": "x", "description": "y", "colour": "red"}')$$) ->> 'column',
          'colour', 'an unknown member is refused');
SELECT is(pg_temp.err($$SELECT api.risk_create('{"category": "other", "title": "x", "description": "y", "owner_id": "20000000-0000-4000-8000-000000000008"}')$$) ->> 'state',
          '42501', 'staff name nobody but themselves as the owner');
SELECT is(pg_temp.err($$SELECT api.risk_create('{"category": "other", "title": "x", "description": "y", "case_id": "00000000-0000-4000-8000-0000000000ff"}')$$) ->> 'column',
          'case_id', 'a case the caller may not see is not a link');
SELECT is((SELECT count(*) FROM risk.risks)::int, 1, 'refused reports wrote nothing');

SELECT pg_temp.be('staff.b1', 'staff');
SELECT is(pg_temp.err(format('SELECT api.risk_json(%L)', pg_temp.id('r1'))) ->> 'state', 'P0002',
          'another department''s staff do not see it (404)');
SELECT pg_temp.be('sup.b', 'supervisor');
SELECT is(pg_temp.err(format('SELECT api.risk_json(%L)', pg_temp.id('r1'))) ->> 'state', 'P0002',
          'nor does another department''s supervisor');
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT is(api.risk_json(pg_temp.id('r1')) ->> 'id', pg_temp.id('r1')::text, 'the department''s supervisor does');
SELECT pg_temp.be('auditor', 'auditor');
SELECT is(api.risk_json(pg_temp.id('r1')) ->> 'id', pg_temp.id('r1')::text, 'the auditor reads it');
SELECT is(pg_temp.err($$SELECT api.risk_create('{"category": "other", "title": "x", "description": "y"}')$$) ->> 'state',
          '42501', 'the auditor reports nothing');

-- Assessments keep the level (R1.2) --------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(pg_temp.err(format($$SELECT api.risk_assess(%L, '{"likelihood": 4, "impact": 4, "exposure": "12000.00", "currency": "TWD", "probability": 0.25, "method": "w"}')$$,
                             pg_temp.id('r1'))) ->> 'state', '42501', 'the reporter does not assess (42501)');
SELECT pg_temp.be('risk', 'risk_officer');
SELECT is(pg_temp.err(format($$SELECT api.risk_assess(%L, '{"likelihood": 4, "impact": 4, "currency": "TWD", "probability": 0.25, "method": "w"}')$$,
                             pg_temp.id('r1'))) ->> 'column', 'exposure', 'both halves: the exposure is required');
SELECT is(pg_temp.err(format($$SELECT api.risk_assess(%L, '{"likelihood": 4, "impact": 4, "exposure": 12000, "currency": "TWD", "probability": 0.25, "method": "w"}')$$,
                             pg_temp.id('r1'))) ->> 'column', 'exposure', 'an exposure is a decimal string, not a number');
SELECT is(pg_temp.err(format($$SELECT api.risk_assess(%L, '{"likelihood": 6, "impact": 4, "exposure": "1.00", "currency": "TWD", "probability": 0.25, "method": "w"}')$$,
                             pg_temp.id('r1'))) ->> 'column', 'likelihood', 'likelihood is 1-5');
SELECT is(pg_temp.err(format($$SELECT api.risk_assess(%L, '{"likelihood": 4, "impact": 4, "exposure": "1.00", "currency": "TWD", "probability": 1.5, "method": "w"}')$$,
                             pg_temp.id('r1'))) ->> 'column', 'probability', 'probability is 0-1');
SELECT is(pg_temp.err(format($$SELECT api.risk_assess(%L, '{"kind": "residual", "likelihood": 1, "impact": 1, "exposure": "1.00", "currency": "TWD", "probability": 0.1, "method": "w"}')$$,
                             pg_temp.id('r1'))) ->> 'column', 'kind', 'no residual assessment before an inherent one');
SELECT is((SELECT count(*) FROM risk.assessments)::int, 0, 'refused assessments wrote nothing');
SELECT is(api.risk_assess(pg_temp.id('r1'), '{"likelihood": 4, "impact": 4, "exposure": "12000.00", "currency": "TWD", "probability": 0.25, "method": "workshop"}')::jsonb
            - 'id' - 'risk_id' - 'assessed_by' - 'assessed_at',
          '{"kind": "inherent", "likelihood": 4, "impact": 4, "level": "high", "exposure": "12000.00", "currency": "TWD",
            "probability": 0.25, "expected_loss": "3000.00", "method": "workshop", "note": null}'::jsonb,
          'an assessment: the matrix gives 4 x 4 = high; expected loss = exposure x probability');
SELECT is(api.risk_json(pg_temp.id('r1'))::jsonb #>> '{level}', 'high', 'the risk keeps the level of its assessment');
SELECT is(api.risk_json(pg_temp.id('r1'))::jsonb #>> '{status}', 'assessed', 'the first assessment moves it to assessed');
SELECT is((api.risk_json(pg_temp.id('r1'))::jsonb -> 'response_required')::text, 'true',
          'high is at or above risk_response_rules.required_from_level: a response is required (R2.1)');
SELECT is((api.risk_json(pg_temp.id('r1'))::jsonb -> 'response_missing')::text, 'true', 'and none is in place yet');
SELECT api.risk_assess(pg_temp.id('r1'), '{"likelihood": 2, "impact": 2, "exposure": "500.00", "currency": "TWD", "probability": 0.1, "method": "review"}');
SELECT is(api.risk_json(pg_temp.id('r1'))::jsonb #>> '{level}', 'low', 'a new assessment gives the new level (2 x 2 = low)');
SELECT is((api.risk_json(pg_temp.id('r1'))::jsonb -> 'response_required')::text, 'false', 'low needs no response');
SELECT is(json_array_length(api.risk_assessments(pg_temp.id('r1')) -> 'items'), 2, 'the history keeps both assessments');
SELECT is(api.risk_assessments(pg_temp.id('r1')) -> 'items' -> 1 ->> 'level', 'high', 'the first one unchanged (oldest last)');
SELECT is(pg_temp.err(format('UPDATE risk.assessments SET level = %L WHERE risk_id = %L', 'low', pg_temp.id('r1'))) ->> 'state',
          '42501', 'the runtime role cannot change an assessment');

-- Responses (R2.1) and the risk's moves ----------------------------------------------------------
-- Back to high: the level that must have a response.
SELECT api.risk_assess(pg_temp.id('r1'), '{"likelihood": 5, "impact": 3, "exposure": "20000.00", "currency": "TWD", "probability": 0.3, "method": "review"}');
SELECT is(api.risk_json(pg_temp.id('r1'))::jsonb #>> '{level}', 'high', '5 x 3 = high again');
SELECT is(pg_temp.err(format('SELECT api.risk_move(%L, %L, %L)', pg_temp.id('r1'), 'treat', '{}')) #>> '{detail,guard}',
          'risk.responses_in_place', 'a high risk is not treated without a response (409 naming the guard)');
SELECT is(pg_temp.err(format('SELECT api.risk_move(%L, %L, %L)', pg_temp.id('r1'), 'close', '{"reason": "gone"}')) #>> '{detail,guard}',
          'risk.closable', 'nor closed without a reviewed response');
SELECT is(api.risk_json(pg_temp.id('r1')) ->> 'closed_reason', NULL, 'the refused close left no reason behind');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(pg_temp.err(format($$SELECT api.risk_response_create(%L, '{"strategy": "reduce", "description": "write it down"}')$$, pg_temp.id('r1'))) ->> 'state',
          '42501', 'staff do not plan responses');
SELECT pg_temp.be('risk', 'risk_officer');
SELECT is(pg_temp.err(format($$SELECT api.risk_response_create(%L, '{"strategy": "ignore", "description": "x"}')$$, pg_temp.id('r1'))) ->> 'column',
          'strategy', 'a strategy is avoid, reduce, transfer or accept');
SELECT is(pg_temp.err(format($$SELECT api.risk_response_create(%L, '{"strategy": "reduce", "description": "x", "due_on": "2000-01-01"}')$$, pg_temp.id('r1'))) ->> 'column',
          'due_on', 'a due date in the past is refused');
INSERT INTO ids SELECT 'acc', (api.risk_response_create(pg_temp.id('r1'), '{"strategy": "accept", "description": "live with it"}') ->> 'id')::uuid;
SELECT is(api.risk_response_get(pg_temp.id('acc')) ->> 'status', 'proposed', 'accepting starts proposed');
SELECT is(api.risk_response_get(pg_temp.id('acc')) ->> 'due_on',
          to_char(org.company_date() + (org.policy_value('risk_response_rules') ->> 'due_days')::int, 'YYYY-MM-DD'),
          'due within risk_response_rules.due_days by default');
SELECT is(pg_temp.err(format('SELECT api.risk_response_move(%L, %L, %L)', pg_temp.id('acc'), 'approve', '{}')) #>> '{detail,guard}',
          'risk.response_second_person', 'the proposer does not approve an acceptance (R2.1)');
SELECT is(pg_temp.err(format('SELECT api.risk_move(%L, %L, %L)', pg_temp.id('r1'), 'treat', '{}')) #>> '{detail,guard}',
          'risk.responses_in_place', 'an acceptance waiting for approval does not treat the risk');
SELECT pg_temp.be('admin', 'admin');
SELECT is(api.risk_response_move(pg_temp.id('acc'), 'approve', '{}') ->> 'status', 'planned', 'a second person approves it');
SELECT is(api.risk_move(pg_temp.id('r1'), 'treat', '{}') ->> 'status', 'treated', 'then the risk is treated');
SELECT is((api.risk_json(pg_temp.id('r1'))::jsonb -> 'response_missing')::text, 'false', 'and no response is missing');
SELECT pg_temp.be('risk', 'risk_officer');
INSERT INTO ids SELECT 'red', (api.risk_response_create(pg_temp.id('r1'),
  format('{"strategy": "reduce", "description": "write the procedure", "owner_id": "%s"}', pg_temp.emp('staff.a2'))::jsonb) ->> 'id')::uuid;
SELECT pg_temp.be('staff.a2', 'staff');
SELECT is(api.risk_response_get(pg_temp.id('red')) ->> 'owner_id', pg_temp.emp('staff.a2')::text, 'the owner reads their response');
SELECT is(api.risk_response_move(pg_temp.id('red'), 'start', '{}') ->> 'status', 'in_progress', 'the owner starts it');
SELECT is(pg_temp.err(format('SELECT api.risk_response_move(%L, %L, %L)', pg_temp.id('red'), 'complete', '{}')) ->> 'column',
          'note', 'completing says what was done');
SELECT is(api.risk_response_move(pg_temp.id('red'), 'complete', '{"note": "procedure P-7 written"}') ->> 'status', 'done', 'the owner completes it');
SELECT pg_temp.be('sup.b', 'supervisor');
SELECT is(pg_temp.err(format('SELECT api.risk_response_move(%L, %L, %L)', pg_temp.id('red'), 'review', '{"effectiveness": "effective"}')) ->> 'state',
          'P0002', 'another department''s supervisor does not see it');
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT is(api.risk_response_move(pg_temp.id('red'), 'review', '{"effectiveness": "effective", "note": "checked"}') ->> 'status',
          'reviewed', 'the department''s supervisor reviews its effectiveness');
SELECT pg_temp.be('risk', 'risk_officer');
SELECT is(pg_temp.err(format('SELECT api.risk_move(%L, %L, %L)', pg_temp.id('r1'), 'close', '{"reason": "done"}')) #>> '{detail,guard}',
          'risk.closable', 'the approved acceptance is still open: not closable');
SELECT is(api.risk_response_move(pg_temp.id('acc'), 'cancel', '{"reason": "the procedure is enough"}') ->> 'status', 'cancelled', 'cancelled with a reason');
SELECT is(api.risk_move(pg_temp.id('r1'), 'close', '{"reason": "procedure in place"}') ->> 'status', 'closed', 'now the risk closes');
SELECT is(pg_temp.err(format($$SELECT api.risk_assess(%L, '{"likelihood": 1, "impact": 1, "exposure": "1.00", "currency": "TWD", "probability": 0.1, "method": "w"}')$$,
                             pg_temp.id('r1'))) #>> '{detail,allowed_actions}', '["reopen"]', 'a closed risk is not assessed (409, reopen)');
SELECT is(api.risk_move(pg_temp.id('r1'), 'reopen', '{"reason": "it came back"}') ->> 'closed_reason', NULL, 'reopening clears the reason');
SELECT is(json_array_length(api.risk_transitions(pg_temp.id('r1'), NULL, NULL) -> 'items'), 4,
          'the log: assess, treat, close, reopen');

-- R2.4: a training plan made for the risk, cited by a response ------------------------------------
INSERT INTO ids SELECT 'tp', (api.risk_training_plan_create(pg_temp.id('r1'),
  format('{"employee_id": "%s", "topic": "filing form 7", "goal": "two people can file it", "due_on": "%s"}',
         pg_temp.emp('staff.a2'), org.company_date() + 30)::jsonb) ->> 'id')::uuid;
SELECT is((SELECT t.source || ' ' || t.risk_id FROM assessment.training_plans t WHERE t.id = pg_temp.id('tp')),
          'risk ' || pg_temp.id('r1'), 'the plan is made for the risk (source risk)');
SELECT is(api.risk_response_create(pg_temp.id('r1'), format('{"strategy": "reduce", "description": "train a second person", "training_plan_id": "%s"}',
                                                            pg_temp.id('tp'))::jsonb) ->> 'training_plan_id',
          pg_temp.id('tp')::text, 'a response cites it');

SELECT is(api.risk_assess(pg_temp.id('r1'), '{"kind": "residual", "likelihood": 2, "impact": 3, "exposure": "20000.00", "currency": "TWD", "probability": 0.05, "method": "after training"}') ->> 'level',
          'medium', 'a residual assessment once a response is planned (2 x 3 = medium)');
SELECT is(api.risk_json(pg_temp.id('r1'))::jsonb - 'id' - 'code' - 'title' - 'description' - 'cause' - 'customer_id' - 'case_id' - 'business_type_id' - 'department_id'
            - 'round_id' - 'warning_id' - 'owner_id' - 'reported_by' - 'assessed_at' - 'closed_reason' - 'allowed_actions' - 'version' - 'created_at' - 'updated_at'
            - 'category' - 'status',
          '{"likelihood": 5, "impact": 3, "level": "high", "residual_level": "medium", "response_required": true, "response_missing": false}'::jsonb,
          'the risk keeps its inherent level and the residual one; the duty to respond stays (it is met)');

-- Rounds (R1.1) and the job ------------------------------------------------------------------------
SELECT is(pg_temp.err($$SELECT risk.rounds_job('{"today": "not a date"}')$$) ->> 'state', '22023', 'the job refuses a bad today');
SELECT is(risk.rounds_job(jsonb_build_object('today', org.company_date())) ->> 'opened' IS NOT NULL, true,
          'no regular round yet: the job opens one');
SELECT is(risk.rounds_job(jsonb_build_object('today', org.company_date())) ->> 'opened', NULL, 'a second run opens nothing');
SELECT is(risk.rounds_job(jsonb_build_object('today', org.company_date() + 20)) ->> 'rounds_overdue', '1',
          'past identification_grace_days the open round is flagged overdue');
SELECT is(risk.rounds_job(jsonb_build_object('today', (org.company_date() + interval '3 months')::date)) ->> 'opened' IS NOT NULL, true,
          'identification_every_months later the next regular round opens');
SELECT isnt((SELECT s.overdue_at FROM risk.responses s WHERE s.training_plan_id = pg_temp.id('tp')), NULL,
            'and a response not done by its due date is flagged');
INSERT INTO ids SELECT 'rd', (api.risk_round_create(format('{"label": "ad hoc %s", "due_on": "%s"}', org.company_date(), org.company_date() + 7)::jsonb) ->> 'id')::uuid;
SELECT is(pg_temp.err(format('SELECT api.risk_round_create(%L)', format('{"label": "ad hoc %s", "due_on": "%s"}', org.company_date(), org.company_date() + 7))) ->> 'state',
          'TXDUP', 'a label is unique');
SELECT is(pg_temp.err(format('SELECT api.risk_round_move(%L, %L, %L)', pg_temp.id('rd'), 'complete', '{}')) ->> 'column',
          'summary', 'a round completes with a summary');
SELECT is(api.risk_round_move(pg_temp.id('rd'), 'complete', '{"summary": "two risks found"}') ->> 'status', 'completed', 'completed');
SELECT is(pg_temp.err(format('SELECT api.risk_round_move(%L, %L, %L)',
                             (SELECT o.id FROM risk.rounds o WHERE o.kind = 'regular' LIMIT 1), 'cancel', '{"reason": "busy"}')) #>> '{detail,guard}',
          'risk.round_cancellable', 'a regular round is not cancelled');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(pg_temp.err($$SELECT api.risk_round_create('{"label": "mine", "due_on": "2099-01-01"}')$$) ->> 'state', '42501', 'staff open no rounds');

-- Market records (R2.2) ------------------------------------------------------------------------------
SELECT is(pg_temp.err($$SELECT api.market_record_create('{"kind": "trend", "title": "t", "summary": "s"}')$$) ->> 'state',
          '42501', 'staff write no market records');
SELECT pg_temp.be('risk', 'risk_officer');
INSERT INTO ids SELECT 'mr', (api.market_record_create(format('{"kind": "trend", "title": "Rates rise", "summary": "rates up 1%%", "preparation": "fix prices for a year", "risk_ids": ["%s"]}',
                                                              pg_temp.id('r1'))::jsonb) ->> 'id')::uuid;
SELECT is(api.market_record_get(pg_temp.id('mr')) -> 'risk_ids' ->> 0, pg_temp.id('r1')::text, 'a trend record linked to the risk');
SELECT is(json_array_length(api.market_record_list(NULL, pg_temp.id('r1'), NULL, NULL) -> 'items'), 1, 'listed by the risk');
SELECT is(pg_temp.err($$SELECT api.market_record_create('{"kind": "trend", "title": "t", "summary": "s", "risk_ids": ["00000000-0000-4000-8000-0000000000ff"]}')$$) ->> 'column',
          'risk_ids', 'an unknown risk is refused');
SELECT is(pg_temp.err(format('DELETE FROM risk.market_records WHERE id = %L', pg_temp.id('mr'))) ->> 'state', '42501',
          'the runtime role deletes no record');

-- The list ---------------------------------------------------------------------------------------------
SELECT is(json_array_length(api.risk_list(NULL, 'assessed', 'high', NULL, NULL, NULL, NULL, NULL, NULL, NULL) -> 'items'), 1,
          'the register filters by status and level');
SELECT is(pg_temp.err($$SELECT api.risk_list(NULL, NULL, 'extreme', NULL, NULL, NULL, NULL, NULL, NULL, NULL)$$) ->> 'column', 'level',
          'an unknown level is 422');
SELECT is(pg_temp.err($$SELECT api.risk_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'zzz')$$) ->> 'column', 'cursor',
          'a malformed cursor is 422 cursor');

-- PATCH: a supervisor keeps the risk and its owner in the department -------------------------------
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT is(pg_temp.err(format('SELECT api.risk_update(%L, %s, %L)', pg_temp.id('r1'), (api.risk_json(pg_temp.id('r1')) ->> 'version'),
                             '{"owner_id": "20000000-0000-4000-8000-000000000009"}')) ->> 'column',
          'owner_id', 'a supervisor names no owner of another department');
SELECT is(pg_temp.err(format('SELECT api.risk_update(%L, %s, %L)', pg_temp.id('r1'), (api.risk_json(pg_temp.id('r1')) ->> 'version'),
                             '{"department_id": "10000000-0000-4000-8000-00000000000b"}')) ->> 'column',
          'department_id', 'nor moves the risk to another department');
SELECT is(api.risk_update(pg_temp.id('r1'), (api.risk_json(pg_temp.id('r1')) ->> 'version')::int,
                          '{"owner_id": "20000000-0000-4000-8000-000000000008"}') ->> 'owner_id',
          '20000000-0000-4000-8000-000000000008', 'but names staff.a2 of the department');
SELECT is(pg_temp.err(format('SELECT api.risk_update(%L, %s, %L)', pg_temp.id('r1'), 1, '{"title": "x"}')) ->> 'state',
          'TXPRE', 'a stale version is refused');

SELECT * FROM finish();
ROLLBACK;
