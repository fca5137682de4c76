-- Policy parameters (migration 0005_policy_parameters.sql): seeded definitions and values, the
-- value in force at a date, hr proposals, four-eyes decisions by admin, type checks, and the
-- api.policy_* functions.
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(75);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

\ir lib/session.psql

-- Seed ----------------------------------------------------------------------------------------
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', '', true);
SELECT is_empty('SELECT * FROM org.policy_parameters', 'anonymous: no parameter visible');
SELECT is_empty('SELECT * FROM org.policy_values', 'anonymous: no value visible');
SELECT pg_temp.be('staff.a1', 'staff');
-- (module P's parameters, clauses P*, are tested with their part: sql/tests/case_time.sql)
SELECT results_eq($$ SELECT name, type, clause FROM org.policy_parameters
                      WHERE clause IS NULL OR clause !~ '^P' ORDER BY name $$,
  $$ VALUES ('assessment_annual_weights'::text, 'json'::text, 'Q2.2'::text),
            ('assessment_bonus_coefficients', 'json', 'Q4'), ('assessment_grade_bands', 'json', 'Q2.2'),
            ('assessment_promotion_rule', 'json', 'Q4'), ('assessment_training_thresholds', 'json', 'Q4'),
            ('assessment_weights', 'json', 'Q1'), ('backup_max_age_hours', 'integer', 'C2.2'),
            ('credit_rating_policy', 'json', 'R2.3'),
            ('customer_required_fields', 'json', 'C1.3'), ('customer_review_period_days', 'integer', 'C4.1'),
            ('kri_thresholds', 'json', 'R3.2'),
            ('login_lock_seconds', 'integer', NULL), ('login_lock_threshold', 'integer', NULL),
            ('risk_matrix', 'json', 'R1.2'), ('risk_response_rules', 'json', 'R2.1'),
            ('risk_schedules', 'json', 'R1.1'),
            ('risk_warning_thresholds', 'json', 'R3.2'), ('survey_schedule', 'json', 'Q3') $$,
  'the eighteen parameters (module Q''s five: migration 0022; module R''s five: 0029; backups: 0040)');
SELECT is(org.policy_value('customer_review_period_days', '2024-06-01'), '180'::jsonb, 'customer_review_period_days = 180');
SELECT is(org.policy_value('customer_required_fields'), '["name", "company_name", "business_scope", "contacts", "credit_code"]'::jsonb,
  'customer_required_fields');
SELECT is(org.policy_value('assessment_weights'),
  '{"completion_rate": 0.3, "satisfaction": 0.25, "accuracy": 0.2, "efficiency": 0.15, "teamwork": 0.1}'::jsonb, 'assessment_weights');
SELECT is(org.policy_value('assessment_grade_bands'),
  '[{"grade": "A", "min": 90}, {"grade": "B", "min": 80}, {"grade": "C", "min": 70}, {"grade": "D", "min": 60}, {"grade": "E", "min": 0}]'::jsonb,
  'assessment_grade_bands');
SELECT is(org.policy_value('risk_warning_thresholds'), '{"credit_overdue_days": 30, "prepayment_ratio_min": 0.3}'::jsonb,
  'risk_warning_thresholds');
SELECT is(org.policy_value('login_lock_threshold'), '5'::jsonb, 'login_lock_threshold = 5');
SELECT is(org.policy_value('login_lock_seconds'), '900'::jsonb, 'login_lock_seconds = 900');
SELECT is(org.policy_value('customer_review_period_days', '2023-12-31'), NULL, 'nothing in force before 2024-01-01');
SELECT is((SELECT sum(value::numeric) FROM jsonb_each_text(org.policy_value('assessment_weights'))), 1.00, 'the weights sum to 1');

-- The API: reading ------------------------------------------------------------------------
SELECT is(json_array_length(api.policy_parameter_list(NULL) -> 'items'), (SELECT count(*)::int FROM org.policy_parameters),
  'policy_parameter_list: all parameters');
SELECT is((SELECT x::jsonb - 'value_id' - 'schema' FROM json_array_elements(api.policy_parameter_list('2024-02-01') -> 'items') x
            WHERE x ->> 'name' = 'customer_review_period_days'),
  jsonb_build_object('name', 'customer_review_period_days', 'type', 'integer',
                     'description', 'Customer information is reviewed and updated at least this often (C4.1).',
                     'unit', 'days', 'clause', 'C4.1', 'at', '2024-02-01', 'value', 180, 'effective_from', '2024-01-01',
                     'version', 1),
  'policy_parameter_list: a parameter with its value in force');
SELECT is((SELECT (x -> 'value')::jsonb FROM json_array_elements(api.policy_parameter_list('2023-01-01') -> 'items') x
            WHERE x ->> 'name' = 'customer_review_period_days'), 'null'::jsonb, 'no value before the first one');
SELECT is(api.policy_parameter_get('nope', NULL)::jsonb, NULL, 'policy_parameter_get: NULL when unknown');
SELECT is(jsonb_array_length(api.policy_parameter_get('login_lock_threshold', NULL)::jsonb -> 'history'), 1,
  'policy_parameter_get: the history');

-- Schemas (issue 10 item 11) -----------------------------------------------------------------
SELECT is((SELECT count(*) FROM org.policy_parameters WHERE schema IS NULL), 0::bigint, 'every parameter has a schema');
SELECT is((SELECT array_agg(p.name ORDER BY p.name) FROM org.policy_parameters p
            WHERE org.json_schema_problem(p.schema, org.policy_value(p.name)) IS NOT NULL),
  NULL, 'the seeded values fit their schemas');
SELECT is((api.policy_parameter_get('login_lock_seconds', NULL)::jsonb -> 'schema'),
  '{"type": "integer", "minimum": 60, "maximum": 86400}'::jsonb, 'the schema is published with the parameter');
SELECT throws_ok($$ SELECT org.json_schema_problem('{"type": "integer", "exclusiveMinimum": 0}', '1') $$,
  '22023', 'JSON Schema keyword exclusiveMinimum is not supported', 'an unknown keyword is an error, not ignored');
SELECT throws_ok($$ SELECT org.json_schema_problem('{"type": "object", "additionalProperties": true}', '{}') $$,
  '22023', NULL, 'additionalProperties: false or a schema, never true');
-- maps keyed by a code (kri_thresholds, R3.2): names, member schema, size
SELECT results_eq($$ SELECT org.json_schema_problem(p.schema, v.x)
                       FROM org.policy_parameters p,
                            (VALUES ('{"Bad": {"warning": 1, "critical": 2, "rearm": 0, "frequency": "daily"}}'::jsonb),
                                    ('{"ok_code": {"warning": 1, "critical": 2, "rearm": -1, "frequency": "daily"}}'),
                                    ('{"ok_code": {"warning": 1, "critical": 2, "rearm": 0, "frequency": "hourly"}}'),
                                    ('{"ok_code": {"warning": 1, "critical": 2, "rearm": 0, "frequency": "daily"}}')) v(x)
                      WHERE p.name = 'kri_thresholds' $$,
  $$ VALUES (ARRAY['value.Bad (name)', 'must match ^[a-z][a-z0-9_]{1,47}$']),
            (ARRAY['value.ok_code.rearm', 'must be at least 0']),
            (ARRAY['value.ok_code.frequency', 'must be one of daily, weekly, monthly']),
            (NULL::text[]) $$,
  'kri_thresholds: a code''s name, each member''s schema');
SELECT is(org.json_schema_problem('{"type": "number", "minimum": 0, "maximum": 1}', '0.5'), NULL, 'validator: a fitting number');
SELECT is(org.json_schema_problem('{"type": "integer"}', '1.5'), ARRAY['value', 'must be an integer'], 'validator: type integer');
SELECT is(org.json_schema_problem('{"type": "object", "x-sum": 1}', '{"a": 0.7, "b": 0.3}'), NULL, 'validator: x-sum exact in numeric');
SELECT is(org.json_schema_problem('{"type": "array", "items": {"type": "object", "properties": {"m": {"maximum": 5}}}}', '[{"m": 1}, {"m": 6}]'),
  ARRAY['value[1].m', 'must be at most 5'], 'validator: the path of a nested problem');
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok($$ SELECT api.policy_propose('login_lock_threshold', '{"value": -1, "effective_from": "2999-01-01", "reason": "r"}') $$,
  'TXVAL', 'value: must be at least 3', 'login_lock_threshold -1 refused');
SELECT throws_ok($$ SELECT api.policy_propose('login_lock_threshold', '{"value": 0, "effective_from": "2999-01-01", "reason": "r"}') $$,
  'TXVAL', 'value: must be at least 3', 'login_lock_threshold 0 refused');
SELECT throws_ok($$ SELECT api.policy_propose('login_lock_threshold', '{"value": 1000000000000, "effective_from": "2999-01-01", "reason": "r"}') $$,
  'TXVAL', 'value: must be at most 100', 'login_lock_threshold 10^12 refused');
SELECT throws_ok($$ SELECT api.policy_propose('login_lock_seconds', '{"value": -5, "effective_from": "2999-01-01", "reason": "r"}') $$,
  'TXVAL', 'value: must be at least 60', 'negative lock seconds refused');
SELECT throws_ok($$ SELECT api.policy_propose('customer_required_fields', '{"value": [], "effective_from": "2999-01-01", "reason": "r"}') $$,
  'TXVAL', 'value: must have at least 1 item(s)', 'customer_required_fields [] refused (it would switch C1.3 off)');
SELECT throws_ok($$ SELECT api.policy_propose('customer_required_fields', '{"value": ["password_hash"], "effective_from": "2999-01-01", "reason": "r"}') $$,
  'TXVAL', NULL, 'customer_required_fields ["password_hash"] refused');
SELECT throws_like($$ SELECT api.policy_propose('customer_required_fields', '{"value": ["name", "password_hash"], "effective_from": "2999-01-01", "reason": "r"}') $$,
  'value[1]: must be one of name, company_name, %', '... naming the item and the known fields');
SELECT throws_ok($$ SELECT api.policy_propose('assessment_weights', '{"value": {"completion_rate": 0.3, "satisfaction": 0.3, "accuracy": 0.2, "efficiency": 0.15, "teamwork": 0.1}, "effective_from": "2999-01-01", "reason": "r"}') $$,
  'TXVAL', 'value: the values must sum to 1', 'weights that do not sum to 1 refused');
SELECT throws_ok($$ SELECT api.policy_propose('assessment_weights', '{"value": {"completion_rate": 0.3, "satisfaction": 0.25, "accuracy": 0.2, "efficiency": 0.25}, "effective_from": "2999-01-01", "reason": "r"}') $$,
  'TXVAL', 'value.teamwork: is required', 'every indicator has a weight');
SELECT throws_like($$ SELECT api.policy_propose('risk_warning_thresholds', '{"value": {"credit_overdue_days": 30, "prepayment_ratio_min": 0.3, "x": 1}, "effective_from": "2999-01-01", "reason": "r"}') $$,
  'value.x: is not a known member%', 'unknown members refused');
SELECT lives_ok($$ SELECT api.policy_propose('assessment_grade_bands', '{"value": [{"grade": "A", "min": 85}, {"grade": "B", "min": 70}, {"grade": "C", "min": 0}], "effective_from": "2999-01-01", "reason": "r"}') $$,
  'a value inside its schema is a proposal');
SELECT pg_temp.be('staff.a1', 'staff');

-- Proposals: hr ----------------------------------------------------------------------------
SELECT throws_ok($$ SELECT api.policy_propose('login_lock_threshold', '{"value": 3, "effective_from": "2999-01-01", "reason": "r"}') $$,
  '42501', NULL, 'staff cannot propose');
SELECT throws_ok($$ INSERT INTO org.policy_values (name, value, effective_from, proposed_by)
                    VALUES ('login_lock_threshold', '3', '2999-01-01', '20000000-0000-4000-8000-000000000007') $$,
  '42501', NULL, 'staff: INSERT refused by row-level security');
SELECT pg_temp.be('admin', 'admin');
SELECT throws_ok($$ SELECT api.policy_propose('login_lock_threshold', '{"value": 3, "effective_from": "2999-01-01", "reason": "r"}') $$,
  '42501', NULL, 'admin cannot propose (hr does)');
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok($$ SELECT api.policy_propose('nope', '{"value": 3, "effective_from": "2999-01-01", "reason": "r"}') $$,
  'P0002', NULL, 'unknown parameter: P0002');
SELECT throws_ok($$ SELECT api.policy_propose('login_lock_threshold', '{"value": 3.5, "effective_from": "2999-01-01", "reason": "r"}') $$,
  'TXVAL', 'value: must be an integer (the type of login_lock_threshold)', 'an integer parameter takes integers');
SELECT throws_ok($$ SELECT api.policy_propose('login_lock_threshold', '{"value": "3", "effective_from": "2999-01-01", "reason": "r"}') $$,
  'TXVAL', NULL, '... not strings');
SELECT throws_ok($$ SELECT api.policy_propose('assessment_weights', '{"value": 1, "effective_from": "2999-01-01", "reason": "r"}') $$,
  'TXVAL', NULL, 'a json parameter takes an object or array');
SELECT throws_ok($$ SELECT api.policy_propose('login_lock_threshold', '{"effective_from": "2999-01-01", "reason": "r"}') $$,
  'TXVAL', 'value: is required', 'value required');
SELECT throws_ok($$ SELECT api.policy_propose('login_lock_threshold', '{"value": 3, "effective_from": "2000-01-01", "reason": "r"}') $$,
  'TXVAL', 'effective_from: must not be in the past', 'no proposals for the past');
SELECT throws_ok($$ SELECT api.policy_propose('login_lock_threshold', '{"value": 3, "effective_from": "2999-02-30", "reason": "r"}') $$,
  'TXVAL', 'effective_from: must be a date YYYY-MM-DD', 'a real date');
SELECT throws_ok($$ SELECT api.policy_propose('login_lock_threshold', '{"value": 3, "effective_from": "2999-01-01"}') $$,
  'TXVAL', 'reason: is required', 'a reason is required');
INSERT INTO ids SELECT 'p1', (api.policy_propose('login_lock_threshold',
  format('{"value": 3, "effective_from": "%s", "reason": "tighter"}', current_date + 10)::jsonb)::jsonb ->> 'id')::uuid;
SELECT results_eq(format($$ SELECT name, value, effective_from, status, reason, proposed_by, decided_by FROM org.policy_values WHERE id = %L $$, pg_temp.id('p1')),
  format($$ VALUES ('login_lock_threshold'::text, '3'::jsonb, %L::date, 'proposed'::text, 'tighter'::text,
                    '20000000-0000-4000-8000-000000000002'::uuid, NULL::uuid) $$, current_date + 10),
  'hr proposes: status proposed, by hr');
SELECT is_empty(format($$ UPDATE org.policy_values SET status = 'approved' WHERE id = %L RETURNING id $$, pg_temp.id('p1')),
  'hr cannot approve');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is_empty(format($$ SELECT 1 FROM org.policy_values WHERE id = %L $$, pg_temp.id('p1')), 'staff: proposals invisible');
SELECT is(jsonb_array_length(api.policy_parameter_get('login_lock_threshold', NULL)::jsonb -> 'history'), 1,
  'staff: history without proposals');
SELECT throws_ok(format($$ SELECT api.policy_decide(%L, true, NULL) $$, pg_temp.id('p1')), '42501', NULL, 'staff cannot decide');
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok(format($$ SELECT api.policy_decide(%L, true, NULL) $$, pg_temp.id('p1')), '42501', NULL, 'hr cannot decide');
SELECT is(jsonb_array_length(api.policy_parameter_get('login_lock_threshold', NULL)::jsonb -> 'history'), 2,
  'hr: history with proposals');

-- Decisions: admin, four eyes -----------------------------------------------------------------
SELECT pg_temp.be('admin2', 'admin,hr');
INSERT INTO ids SELECT 'p2', (api.policy_propose('login_lock_seconds',
  format('{"value": 1800, "effective_from": "%s", "reason": "longer"}', current_date + 10)::jsonb)::jsonb ->> 'id')::uuid;
SELECT throws_ok(format($$ SELECT api.policy_decide(%L, true, NULL) $$, pg_temp.id('p2')), '42501', NULL,
  'four eyes: the proposer cannot approve their own proposal');
SELECT is_empty(format($$ UPDATE org.policy_values SET status = 'approved', decided_by = tx.user_id(), decided_at = now()
                         WHERE id = %L RETURNING id $$, pg_temp.id('p2')),
  'four eyes in the policy too: a direct UPDATE of one''s own proposal changes nothing');
SELECT throws_ok(format($$ SELECT api.policy_decide(%L, false, NULL) $$, pg_temp.id('p1')), 'TXVAL', 'reason: is required when rejecting',
  'rejecting needs a reason');
SELECT throws_ok($$ SELECT api.policy_decide('50000000-0000-4000-8000-0000000000ff', true, NULL) $$, 'P0002', NULL, 'decide: missing is P0002');
SELECT throws_ok(format($$ UPDATE org.policy_values SET value = '4' WHERE id = %L $$, pg_temp.id('p1')), '42501', NULL,
  'a proposal''s value cannot be edited (no privilege)');
SELECT is((api.policy_decide(pg_temp.id('p1'), true, 'agreed')::jsonb - 'id' - 'proposed_at' - 'decided_at'),
  jsonb_build_object('name', 'login_lock_threshold', 'value', 3, 'effective_from', current_date + 10, 'status', 'approved',
                     'reason', 'tighter', 'proposed_by', '20000000-0000-4000-8000-000000000002',
                     'decided_by', '20000000-0000-4000-8000-000000000011', 'decision_reason', 'agreed', 'version', 2),
  'another admin approves hr''s proposal');
SELECT throws_ok(format($$ SELECT api.policy_decide(%L, false, 'no') $$, pg_temp.id('p1')), 'TXCON', NULL,
  'a decided proposal cannot be decided again');
SELECT is(org.policy_value('login_lock_threshold', current_date + 9), '5'::jsonb, 'the old value holds until the new one takes effect');
SELECT is(org.policy_value('login_lock_threshold', current_date + 10), '3'::jsonb, 'the new value from its effective date');
SELECT is((api.policy_parameter_get('login_lock_threshold', current_date + 11)::jsonb ->> 'value'), '3', 'policy_parameter_get at a date');
SELECT pg_temp.be('admin', 'admin');
SELECT is((api.policy_decide(pg_temp.id('p2'), false, 'not now')::jsonb ->> 'status'), 'rejected', 'the other admin rejects admin2''s proposal');
SELECT is(org.policy_value('login_lock_seconds', current_date + 20), '900'::jsonb, 'a rejected value never takes effect');
SELECT pg_temp.be('hr', 'hr');
INSERT INTO ids SELECT 'p3', (api.policy_propose('login_lock_threshold',
  format('{"value": 4, "effective_from": "%s", "reason": "again"}', current_date + 10)::jsonb)::jsonb ->> 'id')::uuid;
SELECT pg_temp.be('admin', 'admin');
SELECT throws_ok(format($$ SELECT api.policy_decide(%L, true, NULL) $$, pg_temp.id('p3')), 'TXCON', NULL,
  'one approved value per parameter and date');
SELECT is_empty(format($$ UPDATE org.policy_values SET status = 'rejected', decided_by = tx.user_id(), decided_at = now(), decision_reason = 'x' WHERE id = %L RETURNING id $$, pg_temp.id('p1')),
  'an approved value never changes (out of reach of UPDATE)');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((SELECT array_agg(status ORDER BY status) FROM org.policy_values WHERE name IN ('login_lock_threshold', 'login_lock_seconds')),
  ARRAY['approved', 'approved', 'approved'], 'staff see the approved values only');
SELECT results_eq($$ SELECT lock_threshold, lock_seconds FROM auth.login_policy() $$, $$ VALUES (5, 900) $$,
  'auth.login_policy: today''s values');
SELECT throws_ok($$ DELETE FROM org.policy_values $$, '42501', NULL, 'nobody deletes values');
SELECT throws_ok($$ UPDATE org.policy_parameters SET unit = 'x' $$, '42501', NULL, 'definitions change only by migration');

SELECT * FROM finish();
ROLLBACK;
