-- Module R, part D (sql/code/risk/070_reports.sql, migration 0033): monitoring reports (R3.1)
-- made by risk.make_report and the job risk.reports, stored, hashed, immutable, chained; who makes
-- and reads them; the heat map. As the runtime role. Run by tests/sql/run as tianxing_app.
-- Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(94);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');
\ir lib/session.psql

-- rd_job(payload): the job's function under the scheduler's claims (no employee, role system).
CREATE FUNCTION pg_temp.rd_job(p jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT risk.reports_job(p)
    FROM (SELECT set_config('tx.user_id', '', true), set_config('tx.roles', 'system', true),
                 set_config('tx.department_id', '', true),
                 set_config('tx.request_id', 'job:rd', true)) s $$;
-- The company's day today.
CREATE FUNCTION pg_temp.rd_today() RETURNS date LANGUAGE sql STABLE AS $$
  SELECT (now() AT TIME ZONE org.company_time_zone())::date $$;

-- Definitions ------------------------------------------------------------------------------------
SELECT ok(NOT has_table_privilege('tianxing_app', 'risk.reports', 'INSERT,UPDATE,DELETE,TRUNCATE'),
          'the runtime role writes reports only through the functions');
SELECT is((SELECT p.prosecdef FROM pg_proc p WHERE p.oid = f::regprocedure), false,
          format('%s runs as its caller', f))
  FROM unnest(ARRAY['api.risk_report_list(text,integer,text)', 'api.risk_report_get(uuid)',
                    'api.risk_report_create(jsonb)', 'api.risk_heatmap()',
                    'api.risk_report_json(uuid,boolean)']) f;
SELECT ok((SELECT p.prosecdef AND p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp']
             FROM pg_proc p WHERE p.oid = f::regprocedure),
          format('%s is a writer of the owner with a pinned search_path', f))
  FROM unnest(ARRAY['risk.make_report(text,timestamp with time zone)',
                    'risk.make_report_on(text,timestamp with time zone,date)',
                    'risk.reports_job(jsonb)', 'risk.report_create(jsonb)']) f;
SELECT ok(EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'risk.reports'::regclass
                     AND tgname = 'append_only' AND tgenabled = 'A'),
          'reports have their append-only trigger, enabled always (R3.1: immutable)');
SELECT ok(NOT has_function_privilege('tianxing_app', 'risk.make_report_on(text,timestamp with time zone,date)', 'EXECUTE'),
          'the day of a regular report is the job''s to set');
SELECT pg_temp.be('admin', 'admin');
SELECT is((SELECT kind || ' ' || calendar FROM jobs.schedules WHERE name = 'risk.reports'),
          'risk.reports daily 03:00', 'the job runs daily (R3.1 定期)');
-- the reporting period in force, read while signed in (the policies of org.policy_values)
CREATE TEMP TABLE rd_months AS
  SELECT (org.policy_value('risk_schedules') ->> 'report_every_months')::int AS n;

-- What a report states (R3.1), with the rows of parts A and C made by their writers ------------------
-- (one transaction: A stamps assessments with clock_timestamp(), so each report here is made at
-- clock_timestamp() to follow them; moves and new risks carry the transaction's now())
SELECT pg_temp.be('risk', 'risk_officer');
CREATE FUNCTION pg_temp.rd_risk(p_name text, p_body jsonb) RETURNS uuid LANGUAGE sql AS $$
  INSERT INTO ids SELECT p_name, (risk.report(p_body)).id RETURNING id $$;
CREATE FUNCTION pg_temp.rd_assess(p_risk uuid, p_kind text, p_l int, p_i int) RETURNS text LANGUAGE sql AS $$
  SELECT (risk.assess(p_risk, jsonb_build_object('kind', p_kind, 'likelihood', p_l, 'impact', p_i,
            'exposure', '100000.00', 'currency', 'TWD', 'probability', 0.25, 'method', 'workshop'))).level $$;
-- the report made now as the caller, its body
CREATE FUNCTION pg_temp.rd_make(p_name text) RETURNS jsonb LANGUAGE sql AS $$
  WITH m AS (SELECT api.risk_report_create(jsonb_build_object('at', clock_timestamp())) j)
  INSERT INTO ids SELECT p_name, (m.j ->> 'id')::uuid FROM m RETURNING (SELECT body FROM risk.reports WHERE id = ids.id) $$;
CREATE FUNCTION pg_temp.rd_body(p_name text) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT body FROM risk.reports WHERE id = pg_temp.id(p_name) $$;
CREATE FUNCTION pg_temp.rd_codes(p jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(string_agg(x ->> 'code', ',' ORDER BY x ->> 'code'), '') FROM jsonb_array_elements(p) x $$;

SELECT pg_temp.rd_risk('credit', '{"category": "credit", "title": "大客戶逾期", "description": "A large customer pays late.",
                                   "department_id": "10000000-0000-4000-8000-00000000000a"}');
SELECT pg_temp.rd_risk('ops', '{"category": "operational", "title": "Rework", "description": "Rework grows."}');
SELECT pg_temp.rd_risk('market', '{"category": "market", "title": "Not a risk", "description": "A rumour."}');
SELECT pg_temp.rd_risk('other', '{"category": "other", "title": "Handled", "description": "Already handled."}');
SELECT is(pg_temp.rd_assess(pg_temp.id('credit'), 'inherent', 4, 5), 'critical', 'credit: likelihood 4, impact 5 is critical');
SELECT is(pg_temp.rd_assess(pg_temp.id('ops'), 'inherent', 2, 2), 'low', 'ops: 2 x 2 is low');
SELECT is(pg_temp.rd_assess(pg_temp.id('other'), 'inherent', 3, 3), 'medium', 'other: 3 x 3 is medium');
SELECT risk.risk_move(pg_temp.id('market'), 'dismiss', '{"reason": "not a risk"}');
SELECT risk.risk_move(pg_temp.id('other'), 'close', '{"reason": "handled"}');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT pg_temp.rd_risk('staff', '{"category": "operational", "title": "Printer", "description": "Reported by staff."}');
-- an indicator reaching its warning threshold, measured by the job (part C, R3.2)
INSERT INTO ids SELECT 'kri', k.id FROM risk.kris k WHERE k.code = 'overdue_milestones';
CREATE TEMP TABLE rd_warn AS
  SELECT (org.policy_value('kri_thresholds') -> 'overdue_milestones' ->> 'warning')::numeric + 2 AS v;
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', 'system', true);
SELECT risk.measure(pg_temp.id('kri'), (SELECT v FROM rd_warn), 'job', NULL);

SELECT pg_temp.be('risk', 'risk_officer');
SELECT pg_temp.rd_make('r1');
SELECT is(pg_temp.rd_body('r1') #> '{register,open}', '3'::jsonb,
          'open: the credit, ops and staff risks (the dismissed and the closed are not)');
SELECT is(pg_temp.rd_body('r1') #> '{register,by_level}',
          '{"low": 1, "medium": 0, "high": 0, "critical": 1, "unassessed": 1}'::jsonb, 'by level, one not assessed yet');
SELECT is(pg_temp.rd_body('r1') #> '{register,by_status}',
          '{"identified": 1, "assessed": 2, "treated": 0, "closed": 1, "dismissed": 1}'::jsonb, 'by status');
SELECT is((SELECT x FROM jsonb_array_elements(pg_temp.rd_body('r1') #> '{register,by_category}') x WHERE x ->> 'category' = 'credit'),
          '{"category": "credit", "open": 1, "low": 0, "medium": 0, "high": 0, "critical": 1, "unassessed": 0}'::jsonb,
          'by category and level');
SELECT is(pg_temp.rd_body('r1') #> '{heatmap,counts}',
          '[[0,0,0,0,0],[0,1,0,0,0],[0,0,0,0,0],[0,0,0,0,1],[0,0,0,0,0]]'::jsonb,
          'the heat map: one at likelihood 2 impact 2, one at likelihood 4 impact 5');
SELECT is(pg_temp.rd_codes(pg_temp.rd_body('r1') #> '{changes,new}'),
          (SELECT string_agg(code, ',' ORDER BY code) FROM risk.risks WHERE id IN (pg_temp.id('credit'), pg_temp.id('ops'),
             pg_temp.id('market'), pg_temp.id('other'), pg_temp.id('staff'))),
          'changes: every risk reported since the previous report is new');
SELECT is(pg_temp.rd_codes(pg_temp.rd_body('r1') #> '{changes,closed}'),
          (SELECT code FROM risk.risks WHERE id = pg_temp.id('other')), 'closed: the handled one');
SELECT is(pg_temp.rd_body('r1') #>> '{changes,closed,0,reason}', 'handled', 'with its reason');
SELECT is(pg_temp.rd_codes(pg_temp.rd_body('r1') #> '{changes,dismissed}'),
          (SELECT code FROM risk.risks WHERE id = pg_temp.id('market')), 'dismissed: the rumour');
SELECT is(pg_temp.rd_codes(pg_temp.rd_body('r1') #> '{responses,missing}'),
          (SELECT code FROM risk.risks WHERE id = pg_temp.id('credit')),
          'the critical risk has no response: listed as missing (R2.1)');
SELECT is((SELECT x ->> 'band' FROM jsonb_array_elements(pg_temp.rd_body('r1') -> 'indicators') x
            WHERE x ->> 'code' = 'overdue_milestones'), 'warning', 'the indicator''s latest value and band (R3.2)');
SELECT is(jsonb_array_length(pg_temp.rd_body('r1') -> 'indicators'),
          (SELECT count(*)::int FROM risk.kris WHERE active), 'every active indicator');
SELECT is((SELECT jsonb_agg(x ->> 'kri_code') FROM jsonb_array_elements(pg_temp.rd_body('r1') #> '{warnings,open}') x),
          '["overdue_milestones"]'::jsonb, 'the warning it raised is open');
SELECT is(jsonb_array_length(pg_temp.rd_body('r1') #> '{warnings,raised}'), 1, 'and was raised since the previous report');

-- then: a response for the critical one and its residual level; the low one reassessed critical
SELECT risk.response_add(pg_temp.id('credit'), '{"strategy": "reduce", "description": "Prepayment and a guarantee."}');
SELECT is(pg_temp.rd_assess(pg_temp.id('credit'), 'residual', 2, 3), 'medium', 'credit: residual 2 x 3 is medium');
SELECT is(pg_temp.rd_assess(pg_temp.id('ops'), 'inherent', 5, 5), 'critical', 'ops: reassessed 5 x 5, critical');
SELECT pg_temp.rd_make('r2');
SELECT is((SELECT previous_id FROM risk.reports WHERE id = pg_temp.id('r2')), pg_temp.id('r1'), 'the next report follows');
SELECT is(pg_temp.rd_body('r2') #> '{changes,new}', '[]'::jsonb, 'nothing new since');
SELECT is((SELECT jsonb_agg(jsonb_build_object('code', x ->> 'code', 'kind', x ->> 'kind', 'from', x -> 'from', 'to', x -> 'to')
                            ORDER BY x ->> 'code', x ->> 'kind')
             FROM jsonb_array_elements(pg_temp.rd_body('r2') #> '{changes,level_changed}') x),
          (SELECT jsonb_agg(v ORDER BY v ->> 'code', v ->> 'kind') FROM (VALUES
             (jsonb_build_object('code', (SELECT code FROM risk.risks WHERE id = pg_temp.id('credit')), 'kind', 'residual', 'from', NULL, 'to', 'medium')),
             (jsonb_build_object('code', (SELECT code FROM risk.risks WHERE id = pg_temp.id('ops')), 'kind', 'inherent', 'from', 'low', 'to', 'critical'))) t(v)),
          'levels changed: the residual level of the one, the inherent of the other (from the history)');
SELECT is(pg_temp.rd_codes(pg_temp.rd_body('r2') #> '{responses,missing}'),
          (SELECT code FROM risk.risks WHERE id = pg_temp.id('ops')),
          'missing now: the newly critical one; the other has its response in place');
SELECT is(pg_temp.rd_body('r2') #> '{heatmap,counts}',
          '[[0,0,0,0,0],[0,0,0,0,0],[0,0,0,0,0],[0,0,0,0,1],[0,0,0,0,1]]'::jsonb,
          'the map follows the inherent levels');
SELECT is(pg_temp.rd_body('r1') #> '{heatmap,counts}',
          '[[0,0,0,0,0],[0,1,0,0,0],[0,0,0,0,0],[0,0,0,0,1],[0,0,0,0,0]]'::jsonb,
          'and the report before still says what was true then');
SELECT is(jsonb_array_length(pg_temp.rd_body('r2') #> '{warnings,raised}'), 0, 'no warning raised since');
SELECT is(jsonb_array_length(pg_temp.rd_body('r2') #> '{warnings,open}'), 1, 'the one raised before is still open');

-- the live heat map: the register as each caller sees it
SELECT is(api.risk_heatmap()::jsonb - 'as_of' - 'heatmap',
          '{"open": 3, "unassessed": 1, "by_level": {"low": 0, "medium": 0, "high": 0, "critical": 2}}'::jsonb,
          'a risk officer: every open risk');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(api.risk_heatmap()::jsonb - 'as_of' - 'heatmap',
          '{"open": 1, "unassessed": 1, "by_level": {"low": 0, "medium": 0, "high": 0, "critical": 0}}'::jsonb,
          'staff: the one they reported');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT is((api.risk_heatmap() -> 'heatmap' -> 'counts')::jsonb,
          '[[0,0,0,0,0],[0,0,0,0,0],[0,0,0,0,0],[0,0,0,0,1],[0,0,0,0,0]]'::jsonb,
          'department A''s supervisor: the department''s risk');

-- The job (R3.1 定期) ------------------------------------------------------------------------------
SELECT pg_temp.be('risk', 'risk_officer');
SELECT is(pg_temp.err($$SELECT risk.reports_job('{}')$$) ->> 'state', '42501',
          'only the scheduler runs the job''s function');
SELECT is(pg_temp.err($$SELECT pg_temp.rd_job('{"today": "2026-02-30"}')$$) ->> 'state', '22023',
          'a payload whose today is not a date fails the run');
SELECT is(pg_temp.err($$SELECT pg_temp.rd_job('{"today": 20260201}')$$) ->> 'state', '22023',
          'so does one whose today is not a string');

CREATE TEMP TABLE rd_out (n int PRIMARY KEY, r jsonb);
INSERT INTO rd_out SELECT 1, pg_temp.rd_job('{}');
SELECT ok((SELECT r ->> 'made' FROM rd_out WHERE n = 1) IS NOT NULL, 'the first run makes the first regular report');
INSERT INTO ids SELECT 'first', (r ->> 'made')::uuid FROM rd_out WHERE n = 1;
SELECT is((SELECT r ->> 'today' FROM rd_out WHERE n = 1), pg_temp.rd_today()::text, 'for the company''s day');
INSERT INTO rd_out SELECT 2, pg_temp.rd_job('{}');
SELECT is((SELECT r -> 'made' FROM rd_out WHERE n = 2), 'null'::jsonb, 'a second run on the same day makes none');
SELECT is((SELECT r ->> 'due_on' FROM rd_out WHERE n = 2),
          (pg_temp.rd_today() + make_interval(months => (SELECT n FROM rd_months)))::date::text,
          'the next is due report_every_months after the day of the last');
INSERT INTO rd_out SELECT 3, pg_temp.rd_job(jsonb_build_object('today',
  ((SELECT (r ->> 'due_on')::date FROM rd_out WHERE n = 2) - 1)::text));
SELECT is((SELECT r -> 'made' FROM rd_out WHERE n = 3), 'null'::jsonb, 'none the day before it is due');
INSERT INTO rd_out SELECT 4, pg_temp.rd_job(jsonb_build_object('today', (SELECT r ->> 'due_on' FROM rd_out WHERE n = 2)));
SELECT ok((SELECT r ->> 'made' FROM rd_out WHERE n = 4) IS NOT NULL, 'one on the day it is due');
INSERT INTO ids SELECT 'second', (r ->> 'made')::uuid FROM rd_out WHERE n = 4;
INSERT INTO rd_out SELECT 5, pg_temp.rd_job(jsonb_build_object('today', (SELECT r ->> 'due_on' FROM rd_out WHERE n = 2)));
SELECT is((SELECT r -> 'made' FROM rd_out WHERE n = 5), 'null'::jsonb,
          'and not again for that day (a retried or repeated run makes nothing twice)');

-- What is stored --------------------------------------------------------------------------------
SELECT pg_temp.be('auditor', 'auditor');
SELECT is((SELECT kind || ' ' || scheduled_on || ' ' || (made_by IS NULL) || ' ' || previous_id
             FROM risk.reports WHERE id = pg_temp.id('first')),
          'regular ' || pg_temp.rd_today() || ' true ' || pg_temp.id('r2'),
          'the first regular: for today, by the job, after the ad hoc ones');
SELECT is((SELECT previous_id FROM risk.reports WHERE id = pg_temp.id('second')), pg_temp.id('first'),
          'the second follows the first');
SELECT is((SELECT covers_from FROM risk.reports WHERE id = pg_temp.id('second')),
          (SELECT covers_to FROM risk.reports WHERE id = pg_temp.id('first')),
          'and covers what happened since the first''s instant');
SELECT is((SELECT covers_from FROM risk.reports WHERE id = pg_temp.id('r1')),
          (SELECT covers_to - make_interval(months => (SELECT n FROM rd_months))
             FROM risk.reports WHERE id = pg_temp.id('r1')),
          'the very first report looks back one reporting period');
SELECT is((SELECT count(*) FROM risk.reports WHERE body_sha256 = sha256(convert_to(body::text, 'UTF8'))),
          (SELECT count(*) FROM risk.reports), 'body_sha256 is the SHA-256 of each body''s text');
SELECT is((SELECT body -> 'heatmap' FROM risk.reports WHERE id = pg_temp.id('first')),
          pg_temp.rd_body('r2') -> 'heatmap', 'the job''s report states the same register as the report before it');
SELECT is((SELECT body -> 'heatmap' -> 'levels' FROM risk.reports WHERE id = pg_temp.id('first')),
          org.policy_value('risk_matrix') -> 'cells', 'coloured by the risk matrix in force (R1.2)');
SELECT is((SELECT jsonb_agg(x ->> 'category' ORDER BY o) FROM risk.reports r,
                  jsonb_array_elements(r.body -> 'register' -> 'by_category') WITH ORDINALITY e(x, o)
            WHERE r.id = pg_temp.id('first')),
          '["market", "credit", "operational", "other"]'::jsonb, 'every category, each counted by level');
SELECT ok((SELECT body ?& ARRAY['register', 'heatmap', 'changes', 'responses', 'indicators', 'warnings']
             FROM risk.reports WHERE id = pg_temp.id('first')),
          'the body: register, heat map, changes, responses, indicators, warnings (R3.1)');
SELECT is(pg_temp.err($$UPDATE risk.reports SET kind = 'ad_hoc'$$) ->> 'state', '42501',
          'the runtime role cannot change a report');
SELECT is(pg_temp.err($$DELETE FROM risk.reports$$) ->> 'state', '42501', 'nor delete one');

-- An ad hoc report (POST /v1/risk-reports) --------------------------------------------------------
SELECT pg_temp.be('risk', 'risk_officer');
INSERT INTO ids SELECT 'adhoc', (api.risk_report_create('{}') ->> 'id')::uuid;
SELECT is((SELECT kind || ' ' || (scheduled_on IS NULL) || ' ' || made_by FROM risk.reports WHERE id = pg_temp.id('adhoc')),
          'ad_hoc true ' || pg_temp.emp('risk'), 'a risk officer makes an ad hoc report, named as its maker');
SELECT is((SELECT previous_id FROM risk.reports WHERE id = pg_temp.id('adhoc')), pg_temp.id('second'),
          'it follows the latest report');
SELECT is(pg_temp.err($$SELECT api.risk_report_create(jsonb_build_object('at', now() + interval '1 hour'))$$) ->> 'column',
          'at', 'a report of the future: 422 naming at');
SELECT is(pg_temp.err($$SELECT api.risk_report_create(jsonb_build_object('at', now() - interval '1 year'))$$) ->> 'column',
          'at', 'a report before the previous report''s instant: 422 naming at');
SELECT is(pg_temp.err($$SELECT api.risk_report_create('{"at": "yesterday"}')$$) ->> 'column', 'at',
          'at that is no timestamp: 422 naming at');
SELECT is(pg_temp.err($$SELECT api.risk_report_create('{"kind": "regular"}')$$) ->> 'column', 'kind',
          'an unknown member: 422 naming it (only the job makes regular reports)');
SELECT is(pg_temp.err($$SELECT risk.make_report('weekly', now())$$) ->> 'column', 'kind', 'a kind that does not exist');
SELECT is(pg_temp.err($$SELECT risk.make_report('regular', now())$$) ->> 'state', '42501',
          'a regular report is the job''s alone');
SELECT is((SELECT count(*) FROM risk.reports), 5::bigint, 'nothing written by the refusals');
SELECT pg_temp.be('admin', 'admin');
SELECT is((api.risk_report_create('{}') ->> 'kind'), 'ad_hoc', 'admin makes one too');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT is(pg_temp.err($$SELECT api.risk_report_create('{}')$$) ->> 'state', '42501', 'a supervisor may not');
SELECT is(pg_temp.err($$SELECT risk.make_report('ad_hoc', now())$$) ->> 'state', '42501',
          'nor through the job''s body');
SELECT pg_temp.be('auditor', 'auditor');
SELECT is(pg_temp.err($$SELECT api.risk_report_create('{}')$$) ->> 'state', '42501', 'an auditor may not');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(pg_temp.err($$SELECT api.risk_report_create('{}')$$) ->> 'state', '42501', 'staff may not');

-- Who reads them ----------------------------------------------------------------------------------
SELECT is((SELECT count(*) FROM risk.reports), 0::bigint, 'staff see no report (policy reports_read)');
SELECT is(pg_temp.err($$SELECT api.risk_report_list(NULL, NULL, NULL)$$) ->> 'state', '42501',
          'and may not list them');
SELECT pg_temp.be('sup.b', 'supervisor');
SELECT is(json_array_length(api.risk_report_list(NULL, NULL, NULL) -> 'items'), 6,
          'a supervisor reads every report: the register''s state is the same for each reader');
SELECT pg_temp.be('auditor', 'auditor');
SELECT is((api.risk_report_get(pg_temp.id('first')) ->> 'body_sha256'),
          (SELECT encode(body_sha256, 'hex') FROM risk.reports WHERE id = pg_temp.id('first')),
          'an auditor reads one, with its hash in hex');
SELECT is(pg_temp.err($$SELECT api.risk_report_get('7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e')$$) ->> 'state',
          'P0002', 'an unknown report: 404');

-- The list: newest first, kind, keyset pages --------------------------------------------------------
-- (one transaction: every report has the same made_at, so the order is the keyset's tie-break on
-- the id; tests/api/risk_reports.test.mjs checks newest first across requests)
SELECT is((SELECT json_agg(x ->> 'id' ORDER BY x ->> 'made_at' DESC, x ->> 'id' DESC)
             FROM json_array_elements(api.risk_report_list(NULL, NULL, NULL) -> 'items') x)::text,
          (SELECT json_agg(x ->> 'id') FROM json_array_elements(api.risk_report_list(NULL, NULL, NULL) -> 'items') x)::text,
          'in keyset order (made_at, id descending)');
SELECT is((SELECT jsonb_agg(x ->> 'id' ORDER BY x ->> 'id') FROM json_array_elements(api.risk_report_list('regular', NULL, NULL) -> 'items') x),
          (SELECT jsonb_agg(i ORDER BY i::text) FROM unnest(ARRAY[pg_temp.id('second'), pg_temp.id('first')]) i),
          'kind regular: the job''s');
SELECT ok((api.risk_report_list(NULL, NULL, NULL) -> 'items' -> 0 -> 'body')::text = 'null',
          'lists carry the summary, not the body');
SELECT is((api.risk_report_list(NULL, 3, NULL) ->> 'next_cursor') IS NOT NULL, true, 'a full page has a cursor');
SELECT is((SELECT count(DISTINCT x ->> 'id') FROM (
             SELECT json_array_elements(api.risk_report_list(NULL, 3, NULL) -> 'items') x
             UNION ALL
             SELECT json_array_elements(api.risk_report_list(NULL, 3, api.risk_report_list(NULL, 3, NULL) ->> 'next_cursor') -> 'items')) p),
          6::bigint, 'the next page holds the rest, none twice');
SELECT is((api.risk_report_list(NULL, 6, NULL) ->> 'next_cursor'), NULL, 'the last page has none');
SELECT is(pg_temp.err($$SELECT api.risk_report_list(NULL, NULL, 'abc')$$) ->> 'column', 'cursor', 'a malformed cursor: 422');
SELECT is(pg_temp.err($$SELECT api.risk_report_list(NULL, NULL, '7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e')$$) ->> 'column',
          'cursor', 'a cursor of no report: 422');
SELECT is(pg_temp.err($$SELECT api.risk_report_list('weekly', NULL, NULL)$$) ->> 'column', 'kind', 'an unknown kind: 422');

-- The live heat map --------------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((api.risk_heatmap() -> 'heatmap' ->> 'levels')::jsonb, org.policy_value('risk_matrix') -> 'cells',
          'on the matrix in force');

SELECT * FROM finish();
ROLLBACK;
