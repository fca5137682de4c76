-- Regulations (migration 0004_regulations.sql): the seeded text of REGULATIONS.md, versions
-- (drafts, one published version per code, superseding), S1 (only hr drafts and publishes), G2
-- (every employee acknowledges the published version), and the api.regulation_* functions.
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(79);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

\ir lib/session.psql
INSERT INTO ids VALUES ('v1', '5e9a0c1d-0000-4000-8000-000000000001');

-- The seed --------------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT results_eq($$ SELECT code, version, title, status, effective_from FROM org.regulations $$,
  $$ VALUES ('business-management'::text, 1, '天星苑業務五項管理制度'::text, 'published'::text, '2024-01-01'::date) $$,
  'version 1 of business-management is published, effective 2024-01-01');
SELECT is((SELECT array_agg(clause_id ORDER BY position) FROM org.regulation_clauses WHERE regulation_id = pg_temp.id('v1')),
  ARRAY['G1', 'G2', 'G3', 'C1.1', 'C1.2', 'C1.3', 'C2.1', 'C2.2', 'C2.3', 'C3.1', 'C3.2', 'C3.3', 'C4.1', 'C4.2', 'C4.3',
        'P1.1', 'P1.2', 'P1.3', 'P1.4', 'P2.1', 'P2.2', 'P2.3', 'P2.4', 'P3.1', 'P3.2', 'P3.3', 'P3.4', 'P4.1', 'P4.2', 'P4.3',
        'Q1', 'Q2.1', 'Q2.2', 'Q3', 'Q4', 'R1.1', 'R1.2', 'R1.3', 'R2.1', 'R2.2', 'R2.3', 'R2.4', 'R3.1', 'R3.2', 'R3.3',
        'R4.1', 'R4.2', 'R4.3', 'S1'],
  'every clause of REGULATIONS.md, in order');
SELECT is_empty($$ SELECT clause_id FROM org.regulation_clauses WHERE module <> left(clause_id, 1) OR text_zh IS NULL OR text_en IS NULL $$,
  'every clause has its module and both texts');
SELECT results_eq($$ SELECT title, text_zh, text_en FROM org.regulation_clauses WHERE clause_id = 'G1' $$,
  $$ VALUES ('目的 Purpose'::text, '規范業務流程,提高工作效率,確保各項業務有序開展,保障公司和客戶的利益。'::text,
             'Standardize business processes, raise efficiency, keep all business orderly, protect the interests of the company and its customers.'::text) $$,
  'G1 as in REGULATIONS.md');
SELECT results_eq($$ SELECT text_zh, text_en FROM org.regulation_clauses WHERE clause_id = 'S1' $$,
  $$ VALUES ('本制度由天星苑公司人力資源部負責解釋。'::text, 'The HR department interprets these regulations.'::text) $$,
  'S1 as in REGULATIONS.md');
SELECT is((SELECT text_zh FROM org.regulation_clauses WHERE clause_id = 'C1.3'), '在簽訂業務合同前,必須確保客戶信息的完整性和準確性。', 'C1.3 Chinese text');
SELECT is((SELECT title FROM org.regulation_clauses WHERE clause_id = 'Q2.2'), '年度考核 Annual', 'Q2.2 title');
SELECT is((api.regulation_current(NULL)::jsonb - 'clauses' - 'published_at' - 'created_at' - 'updated_at'),
  '{"id": "5e9a0c1d-0000-4000-8000-000000000001", "code": "business-management", "regulation_version": 1,
    "title": "天星苑業務五項管理制度", "status": "published", "effective_from": "2024-01-01", "based_on": null,
    "published_by": null, "superseded_at": null, "created_by": null, "version": 1, "clause_count": 49}'::jsonb,
  'regulation_current: the published version (default code business-management)');
SELECT is(api.regulation_current('business-management')::jsonb -> 'clauses' -> 0,
  jsonb_build_object('clause_id', 'G1', 'module', 'G', 'title', '目的 Purpose',
                     'text_zh', '規范業務流程,提高工作效率,確保各項業務有序開展,保障公司和客戶的利益。',
                     'text_en', 'Standardize business processes, raise efficiency, keep all business orderly, protect the interests of the company and its customers.',
                     'position', 1),
  'regulation_current: clauses in order');
SELECT is(api.regulation_current('no-such-code')::jsonb, NULL, 'regulation_current: NULL when none');
SELECT is(json_array_length(api.regulation_get(pg_temp.id('v1')) -> 'clauses'), 49, 'regulation_get: with its 49 clauses');

-- S1: only hr writes ----------------------------------------------------------------------
SELECT throws_ok($$ SELECT api.regulation_create('{"based_on": "5e9a0c1d-0000-4000-8000-000000000001"}') $$, '42501', NULL,
  'staff cannot draft');
SELECT throws_ok($$ INSERT INTO org.regulations (code, version, title, created_by)
                    VALUES ('x-reg', 1, 'X', '20000000-0000-4000-8000-000000000007') $$, '42501', NULL,
  'staff: INSERT refused by row-level security');
SELECT is_empty($$ UPDATE org.regulations SET status = 'superseded' RETURNING id $$, 'staff: UPDATE changes nothing');
SELECT pg_temp.be('admin', 'admin');
SELECT throws_ok($$ SELECT api.regulation_create('{"based_on": "5e9a0c1d-0000-4000-8000-000000000001"}') $$, '42501', NULL,
  'admin cannot draft either (HR interprets the regulations)');
SELECT throws_ok($$ SELECT api.regulation_publish('5e9a0c1d-0000-4000-8000-000000000001', NULL) $$, '42501', NULL,
  'admin cannot publish');
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok($$ INSERT INTO org.regulations (code, version, title, created_by)
                    VALUES ('x-reg', 1, 'X', '20000000-0000-4000-8000-000000000007') $$, '42501', NULL,
  'hr cannot create a draft in someone else''s name');
SELECT throws_ok($$ INSERT INTO org.regulations (code, version, title, status, effective_from, published_at, created_by)
                    VALUES ('x-reg', 1, 'X', 'published', '2024-01-01', now(), '20000000-0000-4000-8000-000000000002') $$,
  '55000', NULL, 'hr cannot insert a published version directly (0014: the state machine refuses it before row-level security)');

-- Validation of a new draft
SELECT throws_ok($$ SELECT api.regulation_create('{"code": "x-reg", "title": "X"}') $$, 'TXVAL', 'clauses: is required', 'clauses required');
SELECT throws_ok($$ SELECT api.regulation_create('{"code": "x-reg", "title": "X", "clauses": []}') $$, 'TXVAL', NULL, 'clauses non-empty');
SELECT throws_ok($$ SELECT api.regulation_create('{"code": "X Reg", "title": "X", "clauses": [{"clause_id": "G1", "text_zh": "z"}]}') $$,
  'TXVAL', NULL, 'code format');
SELECT throws_ok($$ SELECT api.regulation_create('{"title": "X", "clauses": [{"clause_id": "G1", "text_zh": "z"}]}') $$,
  'TXVAL', 'code: is required', 'code required');
SELECT throws_ok($$ SELECT api.regulation_create('{"code": "x-reg", "title": "X", "clauses": [{"clause_id": "G1", "text_zh": "z"}, {"clause_id": "Z9", "text_zh": "z"}]}') $$,
  'TXVAL', 'clauses[1].clause_id: must look like G1 or C1.3', 'a bad clause id is named with its index');
SELECT throws_ok($$ SELECT api.regulation_create('{"code": "x-reg", "title": "X", "clauses": [{"clause_id": "G1"}]}') $$,
  'TXVAL', 'clauses[0].text_zh: is required', 'text_zh required');
SELECT throws_ok($$ SELECT api.regulation_create('{"code": "x-reg", "title": "X", "clauses": [{"clause_id": "G1", "text_zh": "a"}, {"clause_id": "G1", "text_zh": "b"}]}') $$,
  'TXVAL', 'clauses[1].clause_id: is repeated', 'clause ids unique');
SELECT throws_ok($$ SELECT api.regulation_create('{"code": "x-reg", "title": "X", "clauses": [{"clause_id": "G1", "module": "C", "text_zh": "a"}]}') $$,
  'TXVAL', 'clauses[0].module: must be the first letter of clause_id', 'module matches the clause id');
SELECT throws_ok($$ SELECT api.regulation_create('{"code": "x-reg", "title": "X", "clauses": [{"clause_id": "G1", "text_zh": "a", "extra": 1}]}') $$,
  'TXVAL', 'clauses[0].extra: unknown field', 'unknown clause fields refused');
SELECT throws_ok($$ SELECT api.regulation_create('{"based_on": "5e9a0c1d-0000-4000-8000-000000000001", "clauses": []}') $$,
  'TXVAL', 'clauses: give either clauses or based_on', 'based_on and clauses exclude each other');
SELECT throws_ok($$ SELECT api.regulation_create('{"based_on": "5e9a0c1d-0000-4000-8000-0000000000ff"}') $$,
  'TXVAL', 'based_on: no such regulation', 'based_on must exist');
SELECT throws_ok($$ SELECT api.regulation_create('{"based_on": "5e9a0c1d-0000-4000-8000-000000000001", "code": "other"}') $$,
  'TXVAL', NULL, 'based_on keeps the code');

-- Drafts
INSERT INTO ids SELECT 'v2', (api.regulation_create('{"based_on": "5e9a0c1d-0000-4000-8000-000000000001", "title": "天星苑業務五項管理制度 (2025)"}')::jsonb ->> 'id')::uuid;
SELECT results_eq($$ SELECT code, version, status, based_on, created_by FROM org.regulations WHERE id = pg_temp.id('v2') $$,
  $$ VALUES ('business-management'::text, 2, 'draft'::text, '5e9a0c1d-0000-4000-8000-000000000001'::uuid,
             '20000000-0000-4000-8000-000000000002'::uuid) $$,
  'a draft based on version 1: version 2, by hr');
SELECT is((SELECT count(*)::int FROM org.regulation_clauses WHERE regulation_id = pg_temp.id('v2')), 49, '... with a copy of the clauses');
INSERT INTO ids SELECT 'v3', (api.regulation_create('{"code": "business-management", "title": "Short", "clauses": [{"clause_id": "G1", "title": "目的", "text_zh": "目的。", "text_en": "Purpose."}, {"clause_id": "S1", "text_zh": "解釋。"}]}')::jsonb ->> 'id')::uuid;
SELECT is((api.regulation_get(pg_temp.id('v3'))::jsonb -> 'clauses'),
  '[{"clause_id": "G1", "module": "G", "title": "目的", "text_zh": "目的。", "text_en": "Purpose.", "position": 1},
    {"clause_id": "S1", "module": "S", "title": null, "text_zh": "解釋。", "text_en": null, "position": 2}]'::jsonb,
  'a draft with its own clauses: version 3, positions in order');
INSERT INTO ids SELECT 'other1', (api.regulation_create('{"code": "other-rules", "title": "Other", "clauses": [{"clause_id": "G1", "text_zh": "其他。"}]}')::jsonb ->> 'id')::uuid;
SELECT is((SELECT version FROM org.regulations WHERE id = pg_temp.id('other1')), 1, 'a new code starts at version 1');
SELECT lives_ok(format($$ INSERT INTO org.regulation_clauses (regulation_id, clause_id, module, text_zh, position) VALUES (%L, 'G2', 'G', '範圍。', 3) $$, pg_temp.id('v3')),
  'hr may add clauses to a draft');
SELECT throws_ok($$ INSERT INTO org.regulation_clauses (regulation_id, clause_id, module, text_zh, position)
                    VALUES ('5e9a0c1d-0000-4000-8000-000000000001', 'G9', 'G', 'x', 99) $$, 'TXCON', NULL,
  'clauses of a published version are frozen');
SELECT throws_ok($$ UPDATE org.regulation_clauses SET text_zh = 'x' WHERE regulation_id = '5e9a0c1d-0000-4000-8000-000000000001' $$, '42501', NULL,
  'nobody updates clauses (no privilege)');
SELECT throws_ok($$ UPDATE org.regulations SET title = 'x' WHERE id = '5e9a0c1d-0000-4000-8000-000000000001' $$, 'TXCON', NULL,
  'a published version cannot change');

-- Visibility of drafts
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((SELECT array_agg(version ORDER BY version) FROM org.regulations WHERE code = 'business-management'), ARRAY[1],
  'staff: drafts invisible');
SELECT is(api.regulation_get(pg_temp.id('v2'))::jsonb, NULL, 'staff: regulation_get of a draft is NULL (404)');
SELECT is_empty(format($$ SELECT 1 FROM org.regulation_clauses WHERE regulation_id = %L $$, pg_temp.id('v2')),
  'staff: a draft''s clauses are invisible');
SELECT is((SELECT array_agg(r ->> 'regulation_version') FROM json_array_elements(api.regulation_list(50, NULL) -> 'items') r),
  ARRAY['1'], 'staff: regulation_list shows the published version only');
SELECT pg_temp.be('auditor', 'auditor');
SELECT is((SELECT count(*)::int FROM org.regulations), 1, 'auditor: drafts invisible');
SELECT pg_temp.be('admin', 'admin');
SELECT is((SELECT count(*)::int FROM org.regulations), 4, 'admin: drafts visible');
SELECT is((SELECT array_agg((r ->> 'code') || ':' || (r ->> 'regulation_version')) FROM json_array_elements(api.regulation_list(2, NULL) -> 'items') r),
  ARRAY['business-management:3', 'business-management:2'], 'regulation_list: by code, newest version first');
SELECT is(api.regulation_list(2, NULL)::jsonb ->> 'next_cursor', 'business-management:2', 'regulation_list: cursor code:version');
SELECT is((SELECT array_agg((r ->> 'code') || ':' || (r ->> 'regulation_version')) FROM json_array_elements(api.regulation_list(2, 'business-management:2') -> 'items') r),
  ARRAY['business-management:1', 'other-rules:1'], 'regulation_list: next page');
SELECT throws_ok($$ SELECT api.regulation_list(2, 'garbage') $$, 'TXVAL', 'cursor: is not a cursor of this list', 'regulation_list: bad cursor');
SELECT is((api.regulation_list(1, NULL) -> 'items' -> 0 -> 'clauses')::jsonb, 'null'::jsonb, 'lists carry no clauses');

-- G2: acknowledgements --------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok(format($$ SELECT api.regulation_acknowledge(%L) $$, pg_temp.id('v2')), 'P0002', NULL,
  'staff: acknowledging an invisible draft is P0002');
SELECT is((api.regulation_acknowledge(pg_temp.id('v1'))::jsonb - 'acknowledged_at'),
  '{"regulation_id": "5e9a0c1d-0000-4000-8000-000000000001", "employee_id": "20000000-0000-4000-8000-000000000007", "created": true}'::jsonb,
  'staff acknowledges the published version');
SELECT is((api.regulation_acknowledge(pg_temp.id('v1'))::jsonb - 'acknowledged_at'),
  '{"regulation_id": "5e9a0c1d-0000-4000-8000-000000000001", "employee_id": "20000000-0000-4000-8000-000000000007", "created": false}'::jsonb,
  'acknowledging again returns the existing acknowledgement');
SELECT throws_ok($$ INSERT INTO org.regulation_acknowledgements (regulation_id, employee_id)
                    VALUES ('5e9a0c1d-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000008') $$, '42501', NULL,
  'nobody acknowledges for someone else');
SELECT throws_ok($$ SELECT api.regulation_acknowledgements('5e9a0c1d-0000-4000-8000-000000000001', false, NULL, NULL) $$, '42501', NULL,
  'staff cannot list acknowledgements');
SELECT pg_temp.be('staff.a2', 'staff');
SELECT is_empty('SELECT * FROM org.regulation_acknowledgements', 'others'' acknowledgements are invisible to staff');
SELECT api.regulation_acknowledge(pg_temp.id('v1'));
SELECT pg_temp.be('auditor', 'auditor');
SELECT is((SELECT count(*)::int FROM org.regulation_acknowledgements), 2, 'auditor reads all acknowledgements');
SELECT pg_temp.be('hr', 'hr');
SELECT is((SELECT array_agg(a ->> 'username') FROM json_array_elements(api.regulation_acknowledgements(pg_temp.id('v1'), false, NULL, NULL) -> 'items') a),
  ARRAY['staff.a1', 'staff.a2'], 'hr: who acknowledged');
SELECT is((SELECT array_agg(a ->> 'username') FROM json_array_elements(api.regulation_acknowledgements(pg_temp.id('v1'), true, NULL, NULL) -> 'items') a),
  ARRAY['admin', 'admin2', 'auditor', 'hr', 'risk', 'staff.b1', 'staff.x', 'sup.a', 'sup.b'],
  'hr: who has not (active employees only: gone is left out)');
SELECT is((api.regulation_acknowledgements(pg_temp.id('v1'), true, 3, NULL)::jsonb ->> 'next_cursor'), 'auditor',
  'pending: paged by username');
SELECT is((SELECT array_agg(a ->> 'username') FROM json_array_elements(api.regulation_acknowledgements(pg_temp.id('v1'), true, 3, 'auditor') -> 'items') a),
  ARRAY['hr', 'risk', 'staff.b1'], 'pending: the next page');
SELECT is((api.regulation_acknowledgements(pg_temp.id('v1'), false, NULL, NULL) -> 'items' -> 0 ->> 'acknowledged_at') IS NOT NULL, true,
  'acknowledged_at is given');
SELECT throws_ok($$ SELECT api.regulation_acknowledgements('5e9a0c1d-0000-4000-8000-0000000000ff', false, NULL, NULL) $$, 'P0002', NULL,
  'acknowledgements of a missing regulation: P0002');
SELECT throws_ok(format($$ SELECT api.regulation_acknowledge(%L) $$, pg_temp.id('v2')), 'TXCON', NULL,
  'a draft cannot be acknowledged');

-- Publishing --------------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok(format($$ SELECT api.regulation_publish(%L, NULL) $$, pg_temp.id('v2')), '42501', NULL, 'staff cannot publish');
SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok(format($$ SELECT api.regulation_publish(%L, '2023-12-31') $$, pg_temp.id('v2')), 'TXVAL', NULL,
  'publishing before the current version''s effective date is refused');
SELECT throws_ok(format($$ SELECT api.regulation_publish(%L, current_date + 30) $$, pg_temp.id('v2')), 'TXVAL', NULL,
  'publishing to take effect in the future is refused (it would supersede at once)');
SELECT is((api.regulation_publish(pg_temp.id('v2'), current_date)::jsonb - 'clauses' - 'created_at' - 'updated_at' - 'published_at' - 'id'),
  jsonb_build_object('code', 'business-management', 'regulation_version', 2, 'title', '天星苑業務五項管理制度 (2025)',
                     'status', 'published', 'effective_from', current_date, 'based_on', pg_temp.id('v1'),
                     'published_by', '20000000-0000-4000-8000-000000000002', 'superseded_at', NULL,
                     'created_by', '20000000-0000-4000-8000-000000000002', 'version', 2, 'clause_count', 49),
  'hr publishes version 2');
SELECT results_eq($$ SELECT version, status FROM org.regulations WHERE code = 'business-management' ORDER BY version $$,
  $$ VALUES (1, 'superseded'::text), (2, 'published'::text), (3, 'draft'::text) $$, 'version 1 is superseded');
SELECT is((SELECT count(*)::int FROM org.regulations WHERE code = 'business-management' AND status = 'published'), 1,
  'exactly one published version per code');
SELECT throws_ok(format($$ SELECT api.regulation_publish(%L, NULL) $$, pg_temp.id('v2')), 'TXTRN', NULL, 'publishing twice is an invalid transition (0014)');
SELECT throws_ok(format($$ SELECT api.regulation_publish(%L, NULL) $$, pg_temp.id('v1')), 'TXTRN', NULL,
  'a superseded version cannot be published again');
SELECT throws_ok($$ SELECT api.regulation_publish('5e9a0c1d-0000-4000-8000-0000000000ff', NULL) $$, 'P0002', NULL, 'publish: missing is P0002');
-- (0014: the status changes through fsm.move only; sql/tests/state_machines.sql)
SELECT throws_ok($$ UPDATE org.regulations SET status = 'published' WHERE version = 1 AND code = 'business-management' $$, '55000', NULL,
  'superseded cannot go back to published');
SELECT throws_ok($$ UPDATE org.regulations SET status = 'draft' WHERE version = 1 AND code = 'business-management' $$, '55000', NULL,
  'nor to draft');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT is((api.regulation_current(NULL)::jsonb ->> 'regulation_version'), '2', 'everyone sees version 2 as current');
SELECT is((SELECT count(*)::int FROM org.regulations), 2, 'staff see the published and the superseded versions');
SELECT throws_ok(format($$ SELECT api.regulation_acknowledge(%L) $$, pg_temp.id('v1')), 'TXCON', NULL,
  'a superseded version cannot be acknowledged');
SELECT is((api.regulation_acknowledge(pg_temp.id('v2'))::jsonb ->> 'created'), 'true', 'the new version is acknowledged anew');

SELECT * FROM finish();
ROLLBACK;
