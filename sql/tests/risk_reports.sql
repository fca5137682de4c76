-- Module R, part D (sql/code/risk/070_reports.sql, migration 0033): monitoring reports (R3.1)
-- made by risk.make_report and the job risk.reports, stored, hashed, immutable, chained; who makes
-- and reads them; the heat map. As the runtime role. Run by tests/sql/run as tianxing_app.
-- Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(64);

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
SELECT is((SELECT kind || ' ' || scheduled_on || ' ' || (made_by IS NULL) || ' ' || (previous_id IS NULL)
             FROM risk.reports WHERE id = pg_temp.id('first')),
          'regular ' || pg_temp.rd_today() || ' true true', 'the first: regular, for today, by the job, no previous');
SELECT is((SELECT previous_id FROM risk.reports WHERE id = pg_temp.id('second')), pg_temp.id('first'),
          'the second follows the first');
SELECT is((SELECT covers_from FROM risk.reports WHERE id = pg_temp.id('second')),
          (SELECT covers_to FROM risk.reports WHERE id = pg_temp.id('first')),
          'and covers what happened since the first''s instant');
SELECT is((SELECT covers_from FROM risk.reports WHERE id = pg_temp.id('first')),
          (SELECT covers_to - make_interval(months => (SELECT n FROM rd_months))
             FROM risk.reports WHERE id = pg_temp.id('first')),
          'the first looks back one reporting period');
SELECT is((SELECT count(*) FROM risk.reports WHERE body_sha256 = sha256(convert_to(body::text, 'UTF8'))),
          (SELECT count(*) FROM risk.reports), 'body_sha256 is the SHA-256 of each body''s text');
SELECT is((SELECT body -> 'heatmap' -> 'counts' FROM risk.reports WHERE id = pg_temp.id('first')),
          '[[0,0,0,0,0],[0,0,0,0,0],[0,0,0,0,0],[0,0,0,0,0],[0,0,0,0,0]]'::jsonb,
          'an empty register: a 5x5 map of zeros');
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
SELECT is((SELECT count(*) FROM risk.reports), 3::bigint, 'nothing written by the refusals');
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
SELECT is(json_array_length(api.risk_report_list(NULL, NULL, NULL) -> 'items'), 4,
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
          4::bigint, 'the next page holds the rest, none twice');
SELECT is((api.risk_report_list(NULL, 4, NULL) ->> 'next_cursor'), NULL, 'the last page has none');
SELECT is(pg_temp.err($$SELECT api.risk_report_list(NULL, NULL, 'abc')$$) ->> 'column', 'cursor', 'a malformed cursor: 422');
SELECT is(pg_temp.err($$SELECT api.risk_report_list(NULL, NULL, '7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e')$$) ->> 'column',
          'cursor', 'a cursor of no report: 422');
SELECT is(pg_temp.err($$SELECT api.risk_report_list('weekly', NULL, NULL)$$) ->> 'column', 'kind', 'an unknown kind: 422');

-- The live heat map --------------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((api.risk_heatmap() ->> 'open')::int, 0, 'staff see the open risks they may see: none yet');
SELECT is((api.risk_heatmap() -> 'heatmap' ->> 'levels')::jsonb, org.policy_value('risk_matrix') -> 'cells',
          'on the matrix in force');

SELECT * FROM finish();
ROLLBACK;
