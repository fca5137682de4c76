-- Module P, the frame every part builds on (sql/code/cases/000_access.sql): how the writers are
-- defined, and "404 unless the caller may read the case". The rules of each step are proved in
-- the parts' files (cases, case_catalogue, case_work, case_review, archive, case_time,
-- case_customers). Run by tests/sql/run as tianxing_app.
BEGIN;
SELECT plan(9);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

\ir lib/session.psql

-- The writers: every SECURITY DEFINER function of module P (schema cases, and the calendar's
-- writers in org) belongs to the owner and pins its search_path, so that nothing the caller puts
-- on its path is resolved with the owner's rights.
SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM pg_proc p
   WHERE p.prosecdef
     AND (p.pronamespace = 'cases'::regnamespace
          OR p.oid IN ('org.calendar_put(date,text,text)'::regprocedure,
                       'org.calendar_remove(date)'::regprocedure))
     AND NOT (pg_get_userbyid(p.proowner) = 'tianxing_owner'
              AND p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp']) $$,
  'every SECURITY DEFINER function of module P is owned by tianxing_owner with search_path = pg_catalog, pg_temp');
SELECT ok((SELECT count(*) FROM pg_proc p WHERE p.prosecdef AND p.pronamespace = 'cases'::regnamespace) >= 30,
  'the check above saw the module''s writers (not an empty schema)');
-- No function of schema cases is callable by PUBLIC, only by the roles it was granted to (trigger
-- functions aside: PostgreSQL runs them only as triggers).
SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM pg_proc p
   WHERE p.pronamespace = 'cases'::regnamespace AND p.prorettype <> 'trigger'::regtype
     AND has_function_privilege('public', p.oid, 'EXECUTE') $$,
  'no function of schema cases is executable by PUBLIC');
-- The api functions of module P run as their caller (sql/tests/org.sql holds it for all api
-- functions; repeated here for the ones this module added, by their names).
SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM pg_proc p
   WHERE p.pronamespace = 'api'::regnamespace AND p.prosecdef
     AND p.proname ~ '^(case|cases|business_type|calendar|archive|escalation|confirmation|queue|work_record)' $$,
  'module P''s api functions are SECURITY INVOKER');

-- 404 unless visible: one answer for an unknown id and for a case the caller may not see, asked
-- before anything else about the case.
SELECT throws_ok($$ SELECT cases.visible_case('7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e') $$, 'TXAUT', NULL,
  'without a signed-in employee: 401 first');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT cases.visible_case('7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e') $$, 'P0002', 'no such case',
  'an unknown case is not found');
SELECT throws_ok($$ SELECT cases.visible_case(NULL) $$, 'P0002', 'no such case', 'no id: not found alike');
SELECT ok(NOT cases.may_read('7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e'), 'may_read is false for an unknown id');

SELECT * FROM finish();
ROLLBACK;
