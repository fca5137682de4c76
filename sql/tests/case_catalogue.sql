-- The business-type catalogue of module P (sql/code/cases/020_business_types.sql): who maintains
-- it (admin and supervisors) and who reads it (every signed-in employee, P1.2), the validation of
-- a standard (P2.2 key milestones, P3.2 checklist with accuracy, compliance and completeness, P4.2
-- documents and retention), versions (a new one becomes current, the old ones stay as they were),
-- metadata updates with the expected version, and the rules that hold for every writer (versions
-- frozen, current_version forward only). What the owner role itself is refused is proven in
-- tests/api/case_catalogue.test.mjs, which can connect as the owner.
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(134);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

\ir lib/session.psql

-- A valid body of a new type; p_over replaces members (a member set to null is removed).
CREATE FUNCTION pg_temp.type_body(p_code text, p_over jsonb DEFAULT '{}') RETURNS jsonb
  LANGUAGE sql AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'code', p_code, 'name', '稅務申報 ' || p_code,
    'milestones', jsonb_build_array(
      jsonb_build_object('code', 'collect', 'name', '收集資料', 'standard_days', 3),
      jsonb_build_object('code', 'file', 'name', '申報', 'standard_days', 2, 'required', false)),
    'checklist', jsonb_build_array(
      jsonb_build_object('code', 'accuracy', 'name', '準確性'),
      jsonb_build_object('code', 'compliance', 'name', '合規性'),
      jsonb_build_object('code', 'completeness', 'name', '完整性'))) || p_over)
$$;
-- The standard of a new version, same shape.
CREATE FUNCTION pg_temp.std(p_over jsonb DEFAULT '{}') RETURNS jsonb
  LANGUAGE sql AS $$
  SELECT (pg_temp.type_body('x', p_over) - 'code' - 'name') || jsonb_build_object('note', 'v next') || p_over
$$;
-- Rows of the catalogue, to show a refusal wrote nothing.
CREATE FUNCTION pg_temp.rows() RETURNS text
  LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM cases.business_types) || '/' || (SELECT count(*) FROM cases.business_type_versions)
         || '/' || (SELECT count(*) FROM cases.milestones) || '/' || (SELECT count(*) FROM cases.checklist_criteria)
         || '/' || (SELECT count(*) FROM cases.required_documents)
         || '/' || (SELECT coalesce(sum(version + current_version), 0) FROM cases.business_types)
$$;

-- Functions: definer writes, invoker reads ---------------------------------------------------
SELECT ok((SELECT bool_and(p.prosecdef AND pg_get_userbyid(p.proowner) = 'tianxing_owner'
                           AND p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'])
             FROM pg_proc p
            WHERE p.oid IN ('cases.business_type_create(jsonb)'::regprocedure,
                            'cases.business_type_update(uuid,integer,jsonb)'::regprocedure,
                            'cases.business_type_version_create(uuid,jsonb)'::regprocedure)),
  'the three writers (cases.business_type_*) are SECURITY DEFINER, owned by tianxing_owner, search_path pinned');
SELECT ok(NOT has_function_privilege('public', 'api.business_type_create(jsonb)', 'EXECUTE')
          AND has_function_privilege('tianxing_app', 'api.business_type_create(jsonb)', 'EXECUTE'),
  'only the runtime role (not PUBLIC) may call them');
SELECT ok(NOT has_function_privilege('tianxing_app', 'cases.catalogue_write_version(uuid,integer,jsonb)', 'EXECUTE'),
  'the runtime role cannot call the writer behind them');
SELECT is_empty($$ SELECT t FROM unnest(ARRAY['business_types', 'business_type_versions', 'milestones',
                                             'checklist_criteria', 'required_documents']) t
                   WHERE has_table_privilege('tianxing_app', 'cases.' || t, 'INSERT')
                      OR has_table_privilege('tianxing_app', 'cases.' || t, 'UPDATE')
                      OR has_table_privilege('tianxing_app', 'cases.' || t, 'DELETE')
                      OR has_table_privilege('tianxing_app', 'cases.' || t, 'TRUNCATE') $$,
  'the runtime role only reads the catalogue''s tables');

-- Who writes -------------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT api.business_type_create(pg_temp.type_body('T-STAFF')) $$, '42501', NULL, 'staff cannot create a type');
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok($$ SELECT api.business_type_create(pg_temp.type_body('T-HR')) $$, '42501', NULL, 'hr cannot create a type');
SELECT pg_temp.be('auditor', 'auditor');
SELECT throws_ok($$ SELECT api.business_type_create(pg_temp.type_body('T-AUD')) $$, '42501', NULL, 'an auditor cannot create a type');
SELECT pg_temp.be('risk', 'risk_officer');
SELECT throws_ok($$ SELECT api.business_type_create(pg_temp.type_body('T-RISK')) $$, '42501', NULL, 'a risk officer cannot create a type');
SELECT throws_ok($$ INSERT INTO cases.business_types (code, name) VALUES ('T-DIRECT', 'x') $$, '42501', NULL,
  'a direct INSERT is refused');
SELECT is(pg_temp.rows(), '0/0/0/0/0/0', 'nothing was written');

-- admin creates; defaults
SELECT pg_temp.be('admin', 'admin');
SELECT lives_ok($$ INSERT INTO ids SELECT 'tax', (api.business_type_create(pg_temp.type_body('TAX',
  '{"description": "代客戶辦理年度稅務申報", "documents": [{"code": "tax_return", "name": "申報表"}]}')) ->> 'id')::uuid $$,
  'admin creates a type with version 1 of its standard');
SELECT is(api.business_type_get(pg_temp.id('tax'))::jsonb - 'id' - 'created_at' - 'updated_at' - 'current_version_id' - 'standard',
  jsonb_build_object('code', 'TAX', 'name', '稅務申報 TAX', 'description', '代客戶辦理年度稅務申報', 'in_scope', true,
                     'active', true, 'current_version', 1, 'version', 1, 'created_by', '20000000-0000-4000-8000-000000000001'),
  'the type: in scope and active by default, current version 1, row version 1');
SELECT is((SELECT jsonb_agg(m - 'id') FROM jsonb_array_elements(api.business_type_get(pg_temp.id('tax'))::jsonb #> '{standard,milestones}') m),
  '[{"seq": 1, "code": "collect", "name": "收集資料", "required": true, "standard_days": 3},
    {"seq": 2, "code": "file", "name": "申報", "required": false, "standard_days": 2}]'::jsonb,
  'milestones in order: seq from the array, required by default, standard durations (P2.2)');
SELECT is((SELECT jsonb_agg(c ->> 'code') FROM jsonb_array_elements(api.business_type_get(pg_temp.id('tax'))::jsonb #> '{standard,checklist}') c),
  '["accuracy", "compliance", "completeness"]'::jsonb, 'the checklist (P3.2)');
SELECT is((api.business_type_get(pg_temp.id('tax'))::jsonb #> '{standard,documents,0}') - 'id',
  '{"seq": 1, "code": "tax_return", "name": "申報表"}'::jsonb, 'the documents the archive needs (P4.2)');
SELECT is((api.business_type_get(pg_temp.id('tax'))::jsonb -> 'standard')
            - 'id' - 'business_type_id' - 'created_at' - 'milestones' - 'checklist' - 'documents',
  '{"business_type_code": "TAX", "version": 1, "current": true, "note": null, "retention_years": 10,
    "created_by": "20000000-0000-4000-8000-000000000001", "milestone_count": 2, "required_milestone_count": 1,
    "required_standard_days": 3}'::jsonb,
  'version 1: current, retention 10 years by default, counts');
SELECT is(api.business_type_get(pg_temp.id('tax'))::jsonb ->> 'current_version_id',
  (SELECT id::text FROM cases.business_type_versions WHERE business_type_id = pg_temp.id('tax')),
  'current_version_id names version 1');
SELECT lives_ok($$ SET CONSTRAINTS cases.business_types_have_standard, cases.business_type_versions_complete IMMEDIATE $$,
  'the deferred checks (complete standard, current version exists) pass');
-- the functions keep their checks deferred while they write, whatever the caller set
SET CONSTRAINTS ALL IMMEDIATE;

-- a supervisor creates too; explicit seq, out of scope, no documents
SELECT pg_temp.be('sup.b', 'supervisor');
SELECT lives_ok($$ INSERT INTO ids SELECT 'loan', (api.business_type_create(pg_temp.type_body('LOAN', '{
  "name": "貸款申請 Loan application", "in_scope": false, "retention_years": 30, "note": "首版",
  "milestones": [{"seq": 20, "code": "sign", "name": "簽約", "standard_days": 1},
                 {"seq": 10, "code": "assess", "name": "評估", "standard_days": 5}],
  "checklist": [{"code": "compliance", "name": "合規性"}, {"code": "completeness", "name": "完整性"},
                {"code": "accuracy", "name": "準確性"}, {"code": "risk", "name": "風險"}]}')) ->> 'id')::uuid $$,
  'a supervisor creates a type');
SELECT is((SELECT jsonb_agg(m ->> 'code') FROM jsonb_array_elements(api.business_type_get(pg_temp.id('loan'))::jsonb #> '{standard,milestones}') m),
  '["assess", "sign"]'::jsonb, 'milestones come out in the order of seq');
SELECT is(api.business_type_get(pg_temp.id('loan'))::jsonb #> '{standard,documents}', '[]'::jsonb, 'documents default to none');
SELECT is((SELECT concat_ws('/', t ->> 'in_scope', t #>> '{standard,retention_years}', t #>> '{standard,note}')
             FROM (SELECT api.business_type_get(pg_temp.id('loan'))::jsonb AS t) x),
  'false/30/首版', 'in_scope, retention and note as given');
SELECT is((SELECT count(*)::int FROM jsonb_array_elements(api.business_type_get(pg_temp.id('loan'))::jsonb #> '{standard,checklist}')), 4,
  'more criteria than the three may be added');

-- Validation: 422 naming the field, nothing written ------------------------------------------
SELECT pg_temp.be('admin', 'admin');
CREATE TEMP TABLE before_rows AS SELECT pg_temp.rows() AS r;
CREATE FUNCTION pg_temp.bad(p_body jsonb, p_message text, p_what text) RETURNS text
  LANGUAGE sql AS $$ SELECT throws_ok(format('SELECT api.business_type_create(%L)', p_body), 'TXVAL', p_message, p_what) $$;
SELECT pg_temp.bad(pg_temp.type_body('X1') - 'code', 'code: is required', 'code required');
SELECT pg_temp.bad(pg_temp.type_body('X 1'), 'code: must be a letter or digit, then up to 31 letters, digits, _ or -', 'code format');
SELECT pg_temp.bad(pg_temp.type_body(repeat('X', 33)), 'code: must be at most 32 characters', 'code length');
SELECT pg_temp.bad(pg_temp.type_body('X1') - 'name', 'name: is required', 'name required');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"name": "  "}'), 'name: must not be empty', 'name not blank');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"colour": "red"}'), 'colour: unknown field', 'unknown member');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"in_scope": "yes"}'), 'in_scope: must be true or false', 'in_scope boolean');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"retention_years": 0}'), 'retention_years: must be between 1 and 100', 'retention at least 1 year');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"retention_years": 101}'), 'retention_years: must be between 1 and 100', 'retention at most 100 years');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"retention_years": 2.5}'), 'retention_years: must be an integer', 'retention an integer');
SELECT pg_temp.bad(pg_temp.type_body('X1') - 'milestones', 'milestones: is required', 'milestones required');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"milestones": {}}'), 'milestones: must be an array', 'milestones an array');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"milestones": []}'), 'milestones: must hold at least one key milestone', 'at least one milestone (P2.2)');
SELECT pg_temp.bad(pg_temp.type_body('X1', jsonb_build_object('milestones',
                     (SELECT jsonb_agg(jsonb_build_object('code', 'm' || i, 'name', 'M', 'standard_days', 1)) FROM generate_series(1, 101) i))),
  'milestones: at most 100 items', 'at most 100 milestones');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"milestones": [{"code": "a", "name": "A", "standard_days": 1, "required": false}]}'),
  'milestones: at least one key milestone must be required', 'at least one required milestone');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"milestones": [{"code": "a", "name": "A", "standard_days": 1}, "b"]}'),
  'milestones[1]: must be an object', 'an item must be an object');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"milestones": [{"code": "a", "name": "A", "standard_days": 1, "hours": 2}]}'),
  'milestones[0].hours: unknown field', 'unknown member of an item');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"milestones": [{"code": "A-1", "name": "A", "standard_days": 1}]}'),
  'milestones[0].code: must be a lower-case letter, then up to 31 lower-case letters, digits or _', 'milestone code format');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"milestones": [{"name": "A", "standard_days": 1}]}'),
  'milestones[0].code: is required', 'milestone code required');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"milestones": [{"code": "a", "standard_days": 1}]}'),
  'milestones[0].name: is required', 'milestone name required');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"milestones": [{"code": "a", "name": "A", "standard_days": 1}, {"code": "a", "name": "B", "standard_days": 1}]}'),
  'milestones[1].code: is repeated', 'milestone codes unique');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"milestones": [{"code": "a", "name": "A", "standard_days": 1, "seq": 2}, {"code": "b", "name": "B", "standard_days": 1}]}'),
  'milestones[1].seq: 2 is repeated: the order must be unambiguous', 'milestone order unique');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"milestones": [{"code": "a", "name": "A", "standard_days": 1, "seq": 0}]}'),
  'milestones[0].seq: must be between 1 and 100', 'seq within 1..100');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"milestones": [{"code": "a", "name": "A"}]}'),
  'milestones[0].standard_days: is required', 'standard duration required');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"milestones": [{"code": "a", "name": "A", "standard_days": 0}]}'),
  'milestones[0].standard_days: must be between 1 and 365', 'standard duration at least 1 working day');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"milestones": [{"code": "a", "name": "A", "standard_days": 366}]}'),
  'milestones[0].standard_days: must be between 1 and 365', 'standard duration at most 365 working days');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"milestones": [{"code": "a", "name": "A", "standard_days": "3"}]}'),
  'milestones[0].standard_days: must be an integer', 'standard duration a number');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"milestones": [{"code": "a", "name": "A", "standard_days": 1, "required": 1}]}'),
  'milestones[0].required: must be true or false', 'required a boolean');
SELECT pg_temp.bad(pg_temp.type_body('X1') - 'checklist', 'checklist: is required', 'checklist required');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"checklist": []}'),
  'checklist: must hold the criteria accuracy (準確性), compliance (合規性) and completeness (完整性); missing: accuracy, compliance, completeness',
  'an empty checklist (P3.2)');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"checklist": [{"code": "accuracy", "name": "準確性"}, {"code": "completeness", "name": "完整性"}]}'),
  'checklist: must hold the criteria accuracy (準確性), compliance (合規性) and completeness (完整性); missing: compliance',
  'a checklist without compliance (P3.2)');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"checklist": [{"code": "accuracy", "name": "A"}, {"code": "accuracy", "name": "B"}, {"code": "compliance", "name": "C"}, {"code": "completeness", "name": "D"}]}'),
  'checklist[1].code: is repeated', 'criterion codes unique');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"checklist": [{"code": "accuracy", "name": "A", "standard_days": 1}]}'),
  'checklist[0].standard_days: unknown field', 'criteria have no duration');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"documents": [{"code": "a", "name": "A"}, {"code": "b", "name": "B", "seq": 1}]}'),
  'documents[1].seq: 1 is repeated: the order must be unambiguous', 'document order unique');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"documents": "intake_form"}'), 'documents: must be an array', 'documents an array');
SELECT pg_temp.bad(pg_temp.type_body('X1', '{"documents": [{"code": "a", "name": ""}]}'), 'documents[0].name: must not be empty', 'document name not empty');
SELECT pg_temp.bad(pg_temp.type_body('X1', jsonb_build_object('note', repeat('n', 2001))), 'note: must be at most 2000 characters', 'note length');
SELECT throws_ok($$ SELECT api.business_type_create('[]') $$, 'TXVAL', 'body: must be a JSON object', 'the body must be an object');
SELECT throws_ok($$ SELECT api.business_type_create(pg_temp.type_body('TAX')) $$, 'TXCON', 'code: a business type with this code exists',
  'a code in use: 409');
SELECT throws_ok($$ SELECT api.business_type_create(pg_temp.type_body('TAX', '{"milestones": []}')) $$, 'TXVAL', NULL,
  'a bad standard is 422 even when the code is in use (checked first)');
SELECT is(pg_temp.rows(), (SELECT r FROM before_rows), 'the refusals wrote nothing');
SELECT lives_ok(format('SELECT api.business_type_create(%L)', pg_temp.type_body('X100', jsonb_build_object('milestones',
                     (SELECT jsonb_agg(jsonb_build_object('code', 'm' || i, 'name', 'M', 'standard_days', 1)) FROM generate_series(1, 100) i)))),
  '100 milestones are fine');

-- Reads: every signed-in employee -----------------------------------------------------------
SELECT pg_temp.be('staff.b1', 'staff');
SELECT is((SELECT array_agg(i ->> 'code') FROM json_array_elements(api.business_type_list(NULL, NULL, NULL, NULL, NULL) -> 'items') i),
  ARRAY['LOAN', 'TAX', 'X100'], 'staff list the catalogue, by code');
SELECT is(api.business_type_list(NULL, NULL, NULL, NULL, NULL)::jsonb -> 'items' -> 0 -> 'standard', NULL, 'list items have no standard');
SELECT is(api.business_type_get(pg_temp.id('tax')) ->> 'code', 'TAX', 'staff read a type');
SELECT is((SELECT array_agg(i ->> 'code') FROM json_array_elements(api.business_type_list(true, NULL, NULL, NULL, NULL) -> 'items') i),
  ARRAY['TAX', 'X100'], 'filter in_scope = true');
SELECT is((SELECT array_agg(i ->> 'code') FROM json_array_elements(api.business_type_list(false, NULL, NULL, NULL, NULL) -> 'items') i),
  ARRAY['LOAN'], 'filter in_scope = false');
SELECT is((SELECT array_agg(i ->> 'code') FROM json_array_elements(api.business_type_list(NULL, NULL, '稅務', NULL, NULL) -> 'items') i),
  ARRAY['TAX', 'X100'], 'q: a two-character piece of the name');
SELECT is((SELECT array_agg(i ->> 'code') FROM json_array_elements(api.business_type_list(NULL, NULL, 'loa', NULL, NULL) -> 'items') i),
  ARRAY['LOAN'], 'q: a piece of the code, case-insensitive');
SELECT is(api.business_type_list(NULL, NULL, 'nothing-like-it', NULL, NULL)::jsonb, '{"items": [], "next_cursor": null}'::jsonb, 'q: no match');
SELECT is((api.business_type_list(NULL, NULL, NULL, 2, NULL) ->> 'next_cursor'), 'TAX', 'a page of 2: the cursor is the last code');
SELECT is((SELECT array_agg(i ->> 'code') FROM json_array_elements(api.business_type_list(NULL, NULL, NULL, 2, 'TAX') -> 'items') i),
  ARRAY['X100'], 'the next page');
SELECT is(api.business_type_list(NULL, NULL, NULL, 2, 'TAX') ->> 'next_cursor', NULL, 'the last page has no cursor');
SELECT throws_ok($$ SELECT api.business_type_list(NULL, NULL, NULL, NULL, 'not a code!') $$, 'TXVAL', 'cursor: is not a cursor of this list', 'malformed cursor');
SELECT throws_ok($$ SELECT api.business_type_list(NULL, NULL, NULL, 0, NULL) $$, 'TXVAL', 'limit: must be between 1 and 200', 'limit 0');
SELECT throws_ok($$ SELECT api.business_type_list(NULL, NULL, ' ', NULL, NULL) $$, 'TXVAL', 'q: must not be empty', 'empty q');
SELECT is((api.business_type_get('00000000-0000-4000-8000-000000000000'))::jsonb, NULL, 'an unknown type: NULL (404)');

-- Without a signed-in employee the catalogue is not visible
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', '', true);
SELECT is_empty($$ SELECT FROM cases.business_types $$, 'no employee: no types');
SELECT is_empty($$ SELECT FROM cases.milestones $$, 'no employee: no milestones');
SELECT is((api.business_type_get(pg_temp.id('tax')))::jsonb, NULL, 'no employee: get finds nothing');
SELECT throws_ok($$ SELECT api.business_type_list(NULL, NULL, NULL, NULL, NULL) $$, 'TXAUT', NULL, 'no employee: the list is refused');

-- Metadata: PATCH with the expected version ------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok(format('SELECT api.business_type_update(%L, 1, %L)', pg_temp.id('tax'), '{"name": "x"}'), '42501', NULL,
  'staff cannot change a type');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT throws_ok($$ SELECT api.business_type_update('00000000-0000-4000-8000-000000000000', 1, '{"name": "x"}') $$, 'P0002', NULL,
  'an unknown type: 404');
SELECT throws_ok(format('SELECT api.business_type_update(%L, 7, %L)', pg_temp.id('tax'), '{"name": "x"}'), 'TXPRE', NULL,
  'a stale version: 412');
SELECT throws_ok(format('SELECT api.business_type_update(%L, NULL, %L)', pg_temp.id('tax'), '{"name": "x"}'), 'TXVAL',
  'version: the expected version (If-Match) is required', 'no expected version');
SELECT throws_ok(format('SELECT api.business_type_update(%L, 1, %L)', pg_temp.id('tax'), '{"code": "TAX2"}'), 'TXVAL',
  'code: unknown field', 'the code never changes');
SELECT throws_ok(format('SELECT api.business_type_update(%L, 1, %L)', pg_temp.id('tax'), '{"milestones": []}'), 'TXVAL',
  'milestones: unknown field', 'the standard changes only by a new version');
SELECT throws_ok(format('SELECT api.business_type_update(%L, 1, %L)', pg_temp.id('tax'), '{"name": null}'), 'TXVAL',
  'name: must not be null', 'name may not be null');
SELECT throws_ok(format('SELECT api.business_type_update(%L, 1, %L)', pg_temp.id('tax'), '{"active": null}'), 'TXVAL',
  'active: must not be null', 'active may not be null');
SELECT throws_ok(format('SELECT api.business_type_update(%L, 1, %L)', pg_temp.id('tax'), '{"in_scope": "no"}'), 'TXVAL',
  'in_scope: must be true or false', 'in_scope a boolean');
SELECT throws_ok(format('SELECT api.business_type_update(%L, 1, %L)', pg_temp.id('tax'), '{}'), 'TXVAL',
  'body: must name at least one of name, description, in_scope, active', 'an empty body');
SELECT is((SELECT version FROM cases.business_types WHERE id = pg_temp.id('tax')), 1, 'the refused updates changed nothing');
SELECT is(api.business_type_update(pg_temp.id('tax'), 1, '{"name": "稅務申報（年度）", "in_scope": false, "description": null}')::jsonb
            - 'id' - 'created_at' - 'updated_at' - 'current_version_id' - 'standard' - 'created_by',
  '{"code": "TAX", "name": "稅務申報（年度）", "description": null, "in_scope": false, "active": true,
    "current_version": 1, "version": 2}'::jsonb,
  'a supervisor updates name, in_scope and clears description; the version grows');
SELECT is(api.business_type_update(pg_temp.id('tax'), 2, '{"in_scope": true, "active": false}')::jsonb ->> 'active', 'false',
  'deactivated');
SELECT is((SELECT array_agg(i ->> 'code') FROM json_array_elements(api.business_type_list(NULL, true, NULL, NULL, NULL) -> 'items') i),
  ARRAY['LOAN', 'X100'], 'filter active = true');
SELECT is(api.business_type_update(pg_temp.id('tax'), 3, '{"active": true}')::jsonb ->> 'version', '4', 'reactivated');

-- New versions of the standard --------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok(format('SELECT api.business_type_version_create(%L, pg_temp.std())', pg_temp.id('tax')), '42501', NULL,
  'staff cannot write a version');
SELECT pg_temp.be('admin', 'admin');
SELECT throws_ok($$ SELECT api.business_type_version_create('00000000-0000-4000-8000-000000000000', pg_temp.std()) $$, 'P0002', NULL,
  'a version of an unknown type: 404');
SELECT throws_ok(format('SELECT api.business_type_version_create(%L, %L)', pg_temp.id('tax'), pg_temp.std() - 'note'), 'TXVAL',
  'note: is required', 'a new version says why (note required)');
SELECT throws_ok(format('SELECT api.business_type_version_create(%L, %L)', pg_temp.id('tax'), pg_temp.std('{"code": "X"}')), 'TXVAL',
  'code: unknown field', 'a version has no code');
SELECT throws_ok(format('SELECT api.business_type_version_create(%L, %L)', pg_temp.id('tax'),
                        pg_temp.std('{"checklist": [{"code": "accuracy", "name": "A"}, {"code": "compliance", "name": "C"}]}')), 'TXVAL',
  'checklist: must hold the criteria accuracy (準確性), compliance (合規性) and completeness (完整性); missing: completeness',
  'a new version keeps the three criteria (P3.2)');
SELECT throws_ok(format('SELECT api.business_type_version_create(%L, %L)', pg_temp.id('tax'),
                        pg_temp.std('{"milestones": [{"code": "a", "name": "A", "standard_days": 1, "required": false}]}')), 'TXVAL',
  'milestones: at least one key milestone must be required', 'a new version keeps a required milestone (P2.2)');
SELECT is((SELECT current_version FROM cases.business_types WHERE id = pg_temp.id('tax')), 1, 'the refused versions changed nothing');
SELECT lives_ok(format($$ INSERT INTO ids SELECT 'tax.v2', (api.business_type_version_create(%L, pg_temp.std(%L)) ->> 'id')::uuid $$,
                       pg_temp.id('tax'), '{"note": "申報前加一道覆核", "retention_years": 15,
                         "milestones": [{"code": "collect", "name": "收集資料", "standard_days": 4},
                                        {"code": "check", "name": "覆核", "standard_days": 1},
                                        {"code": "file", "name": "申報", "standard_days": 2}]}'),
  'admin writes version 2');
SELECT is((SELECT concat_ws('/', version, note, retention_years) FROM cases.business_type_versions WHERE id = pg_temp.id('tax.v2')),
  '2/申報前加一道覆核/15', 'version 2, with its note and retention');
SELECT is((SELECT concat_ws('/', t ->> 'current_version', t ->> 'current_version_id', t ->> 'version')
             FROM (SELECT api.business_type_get(pg_temp.id('tax'))::jsonb AS t) x),
  concat_ws('/', 2, pg_temp.id('tax.v2'), 5), 'it is current; the type''s row version grew');
SELECT is((SELECT jsonb_agg(m ->> 'code') FROM jsonb_array_elements(api.business_type_get(pg_temp.id('tax'))::jsonb #> '{standard,milestones}') m),
  '["collect", "check", "file"]'::jsonb, 'the type shows the new standard');
SELECT is((SELECT jsonb_agg(m ->> 'standard_days') FROM jsonb_array_elements(api.business_type_version_get(pg_temp.id('tax'), '1')::jsonb -> 'milestones') m),
  '["3", "2"]'::jsonb, 'version 1 is as it was');
SELECT is(api.business_type_version_get(pg_temp.id('tax'), '1') ->> 'current', 'false', 'version 1 is no longer current');
SELECT is((api.business_type_version_get(pg_temp.id('tax'), '3'))::jsonb, NULL, 'no version 3');
SELECT is((api.business_type_version_get(pg_temp.id('tax'), 'one'))::jsonb, NULL, 'a version that is no number');
SELECT is((api.business_type_version_get(pg_temp.id('loan'), '2'))::jsonb, NULL, 'another type''s version number');
SELECT pg_temp.be('sup.b', 'supervisor');
SELECT is(api.business_type_version_create(pg_temp.id('tax'), pg_temp.std('{"note": "v3"}')) ->> 'version', '3', 'a supervisor writes version 3');
SELECT pg_temp.be('staff.x', 'staff');
SELECT is((SELECT array_agg((i ->> 'version')::int) FROM json_array_elements(api.business_type_versions(pg_temp.id('tax'), NULL, NULL) -> 'items') i),
  ARRAY[3, 2, 1], 'staff list the versions, newest first');
SELECT is(api.business_type_versions(pg_temp.id('tax'), NULL, NULL)::jsonb -> 'items' -> 0 -> 'milestones', NULL, 'without their lists');
SELECT is(api.business_type_versions(pg_temp.id('tax'), 2, NULL) ->> 'next_cursor', '2', 'a page of 2: the cursor is the last number');
SELECT is((SELECT array_agg((i ->> 'version')::int) FROM json_array_elements(api.business_type_versions(pg_temp.id('tax'), 2, '2') -> 'items') i),
  ARRAY[1], 'the next page');
SELECT throws_ok(format('SELECT api.business_type_versions(%L, NULL, %L)', pg_temp.id('tax'), 'x'), 'TXVAL', 'cursor: is not a cursor of this list',
  'malformed cursor');
SELECT throws_ok($$ SELECT api.business_type_versions('00000000-0000-4000-8000-000000000000', NULL, NULL) $$, 'P0002', NULL,
  'versions of an unknown type: 404');
SELECT is(api.business_type_version_get(pg_temp.id('tax'), '2') ->> 'retention_years', '15', 'staff read version 2 in full');

-- The rules for every writer: triggers on the tables -----------------------------------------
SELECT is((SELECT count(*)::int FROM pg_trigger t
            WHERE t.tgfoid = 'cases.catalogue_version_frozen()'::regprocedure AND t.tgenabled = 'O'
              AND (t.tgtype & 24) = 24 -- UPDATE and DELETE
              AND (t.tgtype & 2) = 2   -- BEFORE
              AND t.tgrelid IN ('cases.business_type_versions'::regclass, 'cases.milestones'::regclass,
                                'cases.checklist_criteria'::regclass, 'cases.required_documents'::regclass)),
  4, 'versions, milestones, criteria and documents refuse UPDATE and DELETE for every writer (owner included)');
SELECT is((SELECT count(*)::int FROM pg_trigger t
            WHERE t.tgfoid = 'cases.catalogue_version_frozen()'::regprocedure AND t.tgenabled = 'O'
              AND (t.tgtype & 32) = 32), 5, '... and TRUNCATE, business types too');
SELECT is((SELECT count(*)::int FROM pg_trigger t
            WHERE t.tgfoid = 'cases.catalogue_item_insert()'::regprocedure AND t.tgenabled = 'O'), 3,
  'milestones, criteria and documents join a version only in the transaction that wrote it');
SELECT ok(EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = 'cases.business_types'::regclass AND t.tgenabled = 'O'
                    AND t.tgfoid = 'cases.business_types_rules()'::regprocedure AND (t.tgtype & 28) = 28),
  'business types: code fixed, current_version forward only, never deleted (INSERT, UPDATE, DELETE)');
SELECT ok((SELECT bool_and(t.tgdeferrable AND t.tginitdeferred AND t.tgenabled = 'O') FROM pg_trigger t
            WHERE t.tgname IN ('business_types_have_standard', 'business_type_versions_complete'))
          AND (SELECT count(*) FROM pg_trigger t WHERE t.tgname IN ('business_types_have_standard', 'business_type_versions_complete')) = 2,
  'at commit: each version written has a complete standard, each type its current version');
SELECT ok(NOT (SELECT bool_or(p.prosecdef) FROM pg_proc p
                WHERE p.oid IN ('cases.catalogue_version_frozen()'::regprocedure, 'cases.catalogue_item_insert()'::regprocedure,
                                'cases.business_types_rules()'::regprocedure)),
  'the trigger functions run as the writer (no definer rights to lend)');
-- the runtime role itself is refused by privilege before any trigger
SELECT pg_temp.be('admin', 'admin');
SELECT throws_ok(format('UPDATE cases.milestones SET standard_days = 9 WHERE type_version_id = %L', pg_temp.id('tax.v2')), '42501', NULL,
  'admin (runtime role): a direct UPDATE of a milestone is refused');
SELECT throws_ok(format('DELETE FROM cases.business_type_versions WHERE id = %L', pg_temp.id('tax.v2')), '42501', NULL,
  'admin (runtime role): a direct DELETE of a version is refused');
SELECT throws_ok(format('UPDATE cases.business_types SET current_version = 1 WHERE id = %L', pg_temp.id('tax')), '42501', NULL,
  'admin (runtime role): current_version cannot be moved directly');
SELECT lives_ok($$ SET CONSTRAINTS cases.business_types_have_standard, cases.business_type_versions_complete IMMEDIATE $$,
  'everything written through the functions passes the checks at commit');

SELECT * FROM finish();
ROLLBACK;
