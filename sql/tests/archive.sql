-- Module P, part E: the archive (P4.1-P4.3; sql/code/cases/070_archive.sql). Run by
-- tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
--   * the immutability triggers are on every table of a case, for every writer (owner included:
--     triggers bind the table's owner, and ENABLE ALWAYS binds replication-role sessions too);
--   * the number TX-YYYY-NNNNNN and its year, the counter reserved to the owner's functions;
--   * the canonical hash of the manifest;
--   * the index's and the archive's refusals (role, validation, unknown numbers).
BEGIN;
SELECT plan(47);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

\ir lib/session.psql

-- Immutability: a trigger on every table of a case (P4.2) -------------------------------------
SELECT is(
  (SELECT array_agg(c.relname::text ORDER BY c.relname)
     FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
    WHERE c.relnamespace = 'cases'::regnamespace AND g.tgname = 'aa_archived_immutable'
      AND g.tgenabled = 'A'                        -- ENABLE ALWAYS
      AND g.tgtype & 1 = 1                         -- FOR EACH ROW
      AND g.tgtype & 2 = 2                         -- BEFORE
      AND g.tgtype & 8 = 8 AND g.tgtype & 16 = 16  -- DELETE, UPDATE
      AND (g.tgtype & 4 = 4 OR c.relname = 'cases')), -- INSERT (a new case cannot be archived)
  ARRAY['approvals', 'archives', 'assignments', 'cases', 'confirmation_links', 'confirmations',
        'deadlines', 'deliveries', 'escalations', 'files', 'review_verdicts', 'reviews',
        'work_records'],
  'every table of a case has the BEFORE INSERT/UPDATE/DELETE row trigger aa_archived_immutable, enabled ALWAYS');
SELECT is_empty($$
  SELECT c.relname FROM pg_class c
   WHERE c.relnamespace = 'cases'::regnamespace AND c.relkind = 'r'
     AND (EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'case_id'
                    AND NOT a.attisdropped) OR c.relname IN ('cases', 'review_verdicts'))
     AND c.relname <> 'events'  -- facts appended about a case (deadline marks), not the case
     AND NOT EXISTS (SELECT FROM pg_trigger g WHERE g.tgrelid = c.oid
                       AND g.tgname = 'aa_archived_immutable') $$,
  'no table with a case_id (but events) lacks the trigger: a new table of a case must be added');
SELECT is(
  (SELECT count(*)::int FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
    WHERE c.relnamespace = 'cases'::regnamespace AND g.tgname = 'aa_archived_no_truncate'
      AND g.tgenabled = 'A' AND g.tgtype & 32 = 32),
  13, 'and a BEFORE TRUNCATE trigger on each of the 13');
SELECT ok(NOT has_function_privilege('tianxing_app', 'cases.case_is_archived(uuid)', 'EXECUTE')
          AND NOT has_function_privilege('tianxing_app', 'cases.next_archive_seq(int)', 'EXECUTE')
          AND NOT has_function_privilege('tianxing_app', 'cases.archive_parts(uuid)', 'EXECUTE'),
  'the trigger helpers, the counter and the manifest builder are the owner''s only');

-- Numbers -------------------------------------------------------------------------------------
SELECT is(cases.archive_number(2026, 123), 'TX-2026-000123', 'TX-YYYY-NNNNNN');
SELECT is(cases.archive_number(2027, 1), 'TX-2027-000001', 'the first of a year');
SELECT ok(cases.archive_number(2026, 999999) ~ '^TX-[0-9]{4}-[0-9]{6}$', 'the last of a year fits the CHECK of cases.archives');
SELECT is(cases.archive_year('2026-12-31T16:30:00Z'), 2027, 'the year is the company''s (Asia/Taipei): 00:30 on 1 January 2027 there');
SELECT is(cases.archive_year('2026-12-31T15:59:59Z'), 2026, '23:59:59 on 31 December there is still 2026');
SELECT throws_ok($$ SELECT cases.next_archive_seq(2026) $$, '42501', NULL,
  'the runtime role cannot take a number');
SELECT throws_ok($$ INSERT INTO cases.archive_counters VALUES (2026, 5) $$, '42501', NULL,
  'nor write the counters');
SELECT is_empty($$ SELECT * FROM cases.archive_counters $$, 'nor read them (owner only)');

-- Canonical hashing ---------------------------------------------------------------------------
SELECT is(cases.json_sha256('{"b": 1, "a": [1, 2], "cc": "天星"}'),
          encode(sha256(convert_to('{"a": [1, 2], "b": 1, "cc": "天星"}', 'UTF8')), 'hex'),
  'a part''s hash is SHA-256 over the jsonb text (keys by length then bytes, ", " and ": ")');
SELECT is(cases.json_sha256('{"cc":"天星","a":[1,2],"b":1}'), cases.json_sha256('{"b": 1, "a": [1, 2], "cc": "天星"}'),
  'equal JSON values hash alike whatever their input spelling');
SELECT isnt(cases.json_sha256('{"a": [2, 1]}'), cases.json_sha256('{"a": [1, 2]}'), 'order in arrays counts');

-- The guard -----------------------------------------------------------------------------------
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT is(cases.archive_complete('00000000-0000-4000-8000-000000000000'), false,
  'archive_complete: false for an unknown case');
SELECT ok(has_function_privilege('tianxing_app', 'cases.archive_complete(uuid)', 'EXECUTE'),
  'the runtime role may execute the guard (fsm.lint)');
SELECT alike(obj_description('cases.archive_complete(uuid)'::regprocedure, 'pg_proc'), '%confirmed%document%',
  'the guard says what it requires');

-- Archiving: refusals that need no case ---------------------------------------------------------
SELECT throws_ok($$ SELECT api.case_archive('00000000-0000-4000-8000-000000000000') $$, 'P0002',
  'no such case', 'an unknown case: 404');
SELECT throws_ok($$ SELECT api.case_archive(NULL) $$, 'P0002', 'no such case', 'no id: 404');
SELECT throws_ok($$ INSERT INTO cases.archives (case_id, archive_number, year, seq, manifest,
                      manifest_sha256, retain_until, customer_id, business_type_id, department_id,
                      title, archived_by)
                    VALUES (gen_random_uuid(), 'TX-2026-000001', 2026, 1, '{}', sha256(''),
                            '2036-01-01', gen_random_uuid(), gen_random_uuid(),
                            '10000000-0000-4000-8000-00000000000a', 'x',
                            '20000000-0000-4000-8000-000000000005') $$,
  '42501', NULL, 'the runtime role cannot insert an archive row');

-- The index: who, and bad input ------------------------------------------------------------------
SELECT is(api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::jsonb,
          '{"items": [], "next_cursor": null}', 'an empty index: no items, no cursor');
SELECT throws_ok($$ SELECT api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, '天', NULL, NULL) $$,
  'TXVAL', 'q: must be 2 to 100 characters', 'q of one character: 422 (as the customer search)');
SELECT throws_ok($$ SELECT api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, ' 天 ', NULL, NULL) $$,
  'TXVAL', 'q: must be 2 to 100 characters', 'q of one character in spaces: 422');
SELECT throws_ok($$ SELECT api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, 'a b', NULL, NULL) $$,
  'TXVAL', 'q: must hold two characters in a row that are not spaces', 'q without a bigram: 422');
SELECT throws_ok($$ SELECT api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, repeat('天', 101), NULL, NULL) $$,
  'TXVAL', 'q: must be 2 to 100 characters', 'q of 101 characters: 422');
SELECT throws_ok($$ SELECT api.archive_list('TX-26-1', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL) $$,
  'TXVAL', 'number: must look like TX-2026-000123', 'a malformed number: 422');
SELECT throws_ok($$ SELECT api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'garbage!') $$,
  'TXVAL', 'cursor: is not a cursor of this list', 'a malformed cursor: 422');
SELECT throws_ok($$ SELECT api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                            cust.cursor_encode('["customers-updated_at", "x", "y"]')) $$,
  'TXVAL', 'cursor: is not a cursor of this list', 'another list''s cursor: 422');
SELECT throws_ok($$ SELECT api.archive_list(NULL, NULL, NULL, NULL, '2026-02-01T00:00:00Z', '2026-01-01T00:00:00Z', NULL, NULL, NULL) $$,
  'TXVAL', 'from: must not be after to', 'from after to: 422');
SELECT throws_ok($$ SELECT api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL) $$,
  'TXVAL', 'limit: must be between 1 and 200', 'limit 0: 422');
SELECT is(api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, '天星', 10, NULL)::jsonb,
          '{"items": [], "next_cursor": null}', 'a two-character Chinese query on an empty index');
SELECT is(api.archive_get('TX-2026-000001')::jsonb, NULL, 'archive_get: NULL (404) for a number that does not exist');
SELECT is(api.archive_get('nonsense')::jsonb, NULL, 'archive_get: NULL for a string that is no number');
SELECT is(api.archive_verify('TX-2026-000001')::jsonb, NULL, 'archive_verify: NULL (404) too');
SELECT throws_ok($$ SELECT cases.archive_page(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 500) $$,
  '22023', NULL, 'archive_page: a direct call gets no more than a page');

SELECT pg_temp.be('hr', 'hr');
SELECT throws_ok($$ SELECT api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL) $$,
  '42501', NULL, 'hr: the index is refused (no case is HR''s to read)');
SELECT throws_ok($$ SELECT api.archive_get('TX-2026-000001') $$, '42501', NULL, 'hr: an entry too');
SELECT throws_ok($$ SELECT api.archive_verify('TX-2026-000001') $$, '42501', NULL, 'hr: its verification too');
SELECT throws_ok($$ SELECT api.case_archive('00000000-0000-4000-8000-000000000000') $$, 'P0002',
  NULL, 'hr: archiving finds no case');
SELECT pg_temp.be('risk', 'risk_officer');
SELECT throws_ok($$ SELECT api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL) $$,
  '42501', NULL, 'risk officer: refused');
SELECT pg_temp.be('auditor', 'auditor');
SELECT lives_ok($$ SELECT api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL) $$,
  'auditor: reads the index');
SELECT pg_temp.be('admin', 'admin');
SELECT lives_ok($$ SELECT api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL) $$,
  'admin: reads the index');
SELECT throws_ok($$ SELECT api.case_archive('00000000-0000-4000-8000-000000000000') $$, 'P0002',
  NULL, 'admin: an unknown case is 404 before any role question');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok($$ SELECT api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL) $$,
  'staff: reads the index (their cases only)');
SELECT throws_ok($$ SELECT api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL) FROM (SELECT set_config('tx.user_id', '', true)) s $$,
  'TXAUT', NULL, 'nobody signed in: refused');

SELECT * FROM finish();
ROLLBACK;
