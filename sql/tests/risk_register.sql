-- Module R, part A (sql/code/risk/020_register.sql, 030_responses.sql): the risk register as the
-- runtime role. Reporting (R1.1, R1.3) by anyone signed in with links they may see, the code,
-- who sees what; assessments (R1.2) keeping the risk's level, never overwritten; responses
-- (R2.1) with the second person of an acceptance, the level that needs a response, the risk's
-- moves; rounds (R1.1) and their job; market records (R2.2). Run by tests/sql/run as
-- tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(45);

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
SELECT ok(api.risk_json(pg_temp.id('r1')) ->> 'code' ~ ('^R-' || to_char(risk.today(), 'YYYY') || '-[0-9]{4}$'),
          'its code is R-YYYY-NNNN of the company year');
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

SELECT * FROM finish();
ROLLBACK;
