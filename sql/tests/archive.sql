-- Module P, part E: the archive (P4.1-P4.3; sql/code/cases/070_archive.sql). Run by
-- tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
--   * the immutability triggers are on every table of a case, for every writer (owner included:
--     triggers bind the table's owner, and ENABLE ALWAYS binds replication-role sessions too);
--   * the number TX-YYYY-NNNNNN and its year, the counter reserved to the owner's functions;
--   * the canonical hash of the manifest;
--   * the index's and the archive's refusals (role, validation, unknown numbers).
BEGIN;
SELECT plan(107);

SELECT is(current_user::text, 'tianxing_app', 'the suite runs as the runtime role');

\ir lib/session.psql
\ir lib/cases.psql

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
        'deadlines', 'deliveries', 'escalations', 'files', 'queue_entries', 'review_verdicts',
        'reviews', 'work_records'],
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
  14, 'and a BEFORE TRUNCATE trigger on each of the 14');
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

-- A case from confirmation to its archive (parts A-D's api functions drive it) -----------------
-- A case through parts B-D to confirmed as their users: pg_temp.confirmed_case (lib/cases.psql).
-- add_docs: file the two documents the type requires (contract on paper with its location, report
-- electronic), as staff.a1.
CREATE FUNCTION pg_temp.add_docs(p_case uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_temp.be('staff.a1', 'staff');
  PERFORM api.case_file_add(p_case, jsonb_build_object('name', '合同原件', 'purpose', 'document',
            'document_code', 'contract', 'location', '檔案室 A-03-12'));
  PERFORM api.case_file_add(p_case, jsonb_build_object('name', '報告副本.txt', 'media_type', 'text/plain',
            'purpose', 'document', 'document_code', 'report', 'content', encode('abc', 'base64')));
END $$;

SELECT pg_temp.be('admin', 'admin');
INSERT INTO ids SELECT 'bt', (api.business_type_create(jsonb_build_object('code', 'ARC-AUD', 'name', '年度審計',
  'milestones', jsonb_build_array(jsonb_build_object('code', 'collect', 'name', '收集資料', 'standard_days', 3)),
  'checklist', jsonb_build_array(jsonb_build_object('code', 'accuracy', 'name', '準確性'),
                                 jsonb_build_object('code', 'compliance', 'name', '合規性'),
                                 jsonb_build_object('code', 'completeness', 'name', '完整性')),
  'documents', jsonb_build_array(jsonb_build_object('code', 'contract', 'name', '合同'),
                                 jsonb_build_object('code', 'report', 'name', '報告')))) ->> 'id')::uuid;
SELECT pg_temp.be('staff.a2', 'staff');
INSERT INTO ids VALUES ('cu', '4c000000-0000-4000-8000-0000000000e1');
SELECT api.customer_create(jsonb_build_object('id', pg_temp.id('cu'), 'name', '林志遠', 'company_name', '閩江貿易有限公司',
  'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', '\x01' || repeat('ab', 59))));
INSERT INTO ids SELECT 'c1', pg_temp.confirmed_case('一號');

-- The guard and who may archive (P4.1)
SELECT is(cases.archive_complete(pg_temp.id('c1')), false, 'c1 is confirmed but lacks the required documents');
SELECT throws_like(format($$ SELECT api.case_archive(%L) $$, pg_temp.id('c1')),
  '%guard cases.archive_complete refused%missing documents: contract, report%',
  'archiving without the documents: 409 naming the guard and the missing document codes');
SELECT pg_temp.add_docs(pg_temp.id('c1'));
SELECT is(cases.archive_complete(pg_temp.id('c1')), true, 'with the documents (one on paper with its location, C2.2) the guard passes');
SELECT pg_temp.be('staff.a2', 'staff');
SELECT throws_ok(format($$ SELECT api.case_archive(%L) $$, pg_temp.id('c1')), 'TXDEN', NULL,
  'the receiver and preparer, not assigned to it, may not archive (403)');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT throws_ok(format($$ SELECT api.case_archive(%L) $$, pg_temp.id('c1')), 'P0002', 'no such case',
  'staff of another department: no such case (404)');
SELECT pg_temp.be('sup.b', 'supervisor');
SELECT throws_ok(format($$ SELECT api.case_archive(%L) $$, pg_temp.id('c1')), 'P0002', 'no such case',
  'the supervisor of another department: 404');
SELECT pg_temp.be('auditor', 'auditor');
SELECT throws_ok(format($$ SELECT api.case_archive(%L) $$, pg_temp.id('c1')), '42501', NULL,
  'an auditor reads the case but may not archive it (403)');
SELECT is_empty($$ SELECT FROM cases.archives $$, 'the refusals archived nothing');

-- Archiving (P4.1, P4.2)
SELECT pg_temp.be('staff.a1', 'staff');
CREATE TEMP TABLE a1 AS SELECT api.case_archive(pg_temp.id('c1'))::jsonb AS j;
SELECT is((SELECT j ->> 'archive_number' FROM a1), cases.archive_number(cases.archive_year(now()), 1),
  'the first archive of the year is TX-<year>-000001');
SELECT is((SELECT status FROM cases.cases WHERE id = pg_temp.id('c1')), 'archived', 'the case is archived');
SELECT is((SELECT archived_at FROM cases.cases WHERE id = pg_temp.id('c1')), now(), 'with archived_at');
SELECT is((SELECT reason FROM fsm.log WHERE entity_id = pg_temp.id('c1') AND action = 'archive'),
  (SELECT j ->> 'archive_number' FROM a1), 'the move is logged with the archive number');
SELECT is((SELECT array_agg(k ORDER BY k) FROM a1, jsonb_object_keys(j -> 'manifest' -> 'parts') k),
  ARRAY['approvals', 'assignments', 'confirmations', 'deliveries', 'escalations', 'files', 'intake', 'reviews', 'work_records'],
  'the manifest''s parts');
SELECT is_empty($$ SELECT p.key FROM a1, jsonb_each(j -> 'manifest' -> 'parts') p
                    WHERE p.value ->> 'sha256' <> encode(sha256(convert_to((p.value -> 'content')::text, 'UTF8')), 'hex') $$,
  'each part''s sha256 is SHA-256 of its content''s jsonb text');
SELECT is((SELECT encode(manifest_sha256, 'hex') FROM cases.archives),
          (SELECT encode(sha256(convert_to((j -> 'manifest')::text, 'UTF8')), 'hex') FROM a1),
  'manifest_sha256 is SHA-256 of the manifest''s jsonb text, as an auditor recomputes it');
SELECT is((SELECT j ->> 'manifest_sha256' FROM a1), (SELECT encode(manifest_sha256, 'hex') FROM cases.archives),
  'and is answered as hex');
SELECT results_eq($$ SELECT f ->> 'purpose', f ->> 'document_code', f ->> 'medium', f ->> 'location', f ->> 'sha256', (f ->> 'size')::bigint
                       FROM a1, jsonb_array_elements(j #> '{manifest,parts,files,content}') f
                      ORDER BY f ->> 'purpose', f ->> 'document_code' $$,
  $$ VALUES ('deliverable', NULL, 'electronic', NULL, encode(sha256(convert_to('審計報告內容', 'UTF8')), 'hex'), octet_length(convert_to('審計報告內容', 'UTF8'))::bigint),
            ('document', 'contract', 'paper', '檔案室 A-03-12', NULL, NULL::bigint),
            ('document', 'report', 'electronic', NULL, encode(sha256('abc'), 'hex'), 3::bigint) $$,
  'files: purpose, document code, medium, SHA-256 and size of electronic files, location of paper ones');
SELECT is((SELECT j #>> '{manifest,parts,intake,content,customer_snapshot,name}' FROM a1), '林志遠',
  'the intake part holds the customer snapshot');
SELECT is((SELECT jsonb_array_length(j #> '{manifest,parts,reviews,content,0,verdicts}') FROM a1), 3,
  'the review round with its three verdicts');
SELECT results_eq($$ SELECT staff_ids, title, retain_until, customer_id, business_type_id, department_id FROM cases.archives $$,
  $$ VALUES (ARRAY['20000000-0000-4000-8000-000000000007'::uuid], '年度審計 · 林志遠(閩江貿易有限公司)',
             ((now() AT TIME ZONE 'Asia/Taipei')::date + interval '10 years')::date, pg_temp.id('cu'), pg_temp.id('bt'),
             '10000000-0000-4000-8000-00000000000a'::uuid) $$,
  'the index columns: staff (assignee and author), title, retention (10 years by default), customer, type, department');
SELECT is((api.archive_verify((SELECT j ->> 'archive_number' FROM a1))::jsonb ->> 'ok'), 'true', 'verify: everything agrees');

-- Numbers without gaps: an archiving rolled back gives its number back
INSERT INTO ids SELECT 'c2', pg_temp.confirmed_case('二號');
SELECT pg_temp.add_docs(pg_temp.id('c2'));
SAVEPOINT before_c2;
SELECT is(api.case_archive(pg_temp.id('c2'))::jsonb ->> 'seq', '2', 'the second archive takes 2');
ROLLBACK TO SAVEPOINT before_c2;
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is(api.case_archive(pg_temp.id('c2'))::jsonb ->> 'seq', '2', 'rolled back and archived again: 2 again, no gap');

-- The index (P4.3)
SELECT is((SELECT array_agg(x ->> 'seq' ORDER BY x ->> 'seq') FROM jsonb_array_elements(api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::jsonb -> 'items') x),
  ARRAY['1', '2'], 'staff.a1 sees both archives');
SELECT is(jsonb_array_length(api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, '審計', NULL, NULL)::jsonb -> 'items'), 2,
  'q: a two-character Chinese word of the title');
SELECT is(jsonb_array_length(api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, '閩江貿易', NULL, NULL)::jsonb -> 'items'), 2,
  'q: the customer''s company');
SELECT is(api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, '二號', NULL, NULL)::jsonb #>> '{items,0,seq}', '2',
  'q: words of the requirements find that case only');
SELECT is(jsonb_array_length(api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, '稅務', NULL, NULL)::jsonb -> 'items'), 0,
  'q: a word nobody wrote finds nothing');
SELECT is(api.archive_list((SELECT j ->> 'archive_number' FROM a1), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::jsonb #>> '{items,0,seq}', '1',
  'number');
SELECT is(jsonb_array_length(api.archive_list(NULL, pg_temp.id('cu'), pg_temp.id('bt'), '20000000-0000-4000-8000-000000000007', now(), now() + interval '1 second', NULL, NULL, NULL)::jsonb -> 'items'), 2,
  'customer, business type, staff and the archiving time');
SELECT is(jsonb_array_length(api.archive_list(NULL, NULL, NULL, '20000000-0000-4000-8000-000000000008', NULL, NULL, NULL, NULL, NULL)::jsonb -> 'items'), 0,
  'staff_id: staff.a2 neither was assigned nor wrote a record');
SELECT is(jsonb_array_length(api.archive_list(NULL, NULL, NULL, NULL, NULL, now(), NULL, NULL, NULL)::jsonb -> 'items'), 0,
  'to is exclusive');
CREATE TEMP TABLE p1 AS SELECT api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1, NULL)::jsonb AS j;
SELECT is((SELECT jsonb_array_length(j -> 'items') FROM p1), 1, 'a page of one');
SELECT is(api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1, (SELECT j ->> 'next_cursor' FROM p1))::jsonb -> 'items' -> 0 ->> 'case_id',
  (SELECT CASE WHEN j #>> '{items,0,case_id}' = pg_temp.id('c1')::text THEN pg_temp.id('c2') ELSE pg_temp.id('c1') END::text FROM p1),
  'the cursor leads to the other one');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT is(jsonb_array_length(api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, '審計', NULL, NULL)::jsonb -> 'items'), 0,
  'staff of department B see none of them (the case''s access rules)');
SELECT is(api.archive_get((SELECT j ->> 'archive_number' FROM a1))::jsonb, NULL, 'nor the entry');
SELECT is(api.archive_verify((SELECT j ->> 'archive_number' FROM a1))::jsonb, NULL, 'nor its verification');
SELECT pg_temp.be('auditor', 'auditor');
SELECT is(jsonb_array_length(api.archive_list(NULL, NULL, NULL, NULL, NULL, NULL, '林志', NULL, NULL)::jsonb -> 'items'), 2,
  'auditors see every archive');
SELECT is(api.archive_get((SELECT j ->> 'archive_number' FROM a1))::jsonb -> 'manifest', (SELECT j -> 'manifest' FROM a1),
  'the entry with its manifest');

-- Immutability (P4.2) through every api function of the case: each refuses, nothing changes
SELECT pg_temp.be('staff.a1', 'staff');
CREATE TEMP TABLE before_rows AS
  SELECT (SELECT count(*) FROM cases.files WHERE case_id = pg_temp.id('c1')) AS files,
         (SELECT count(*) FROM cases.work_records WHERE case_id = pg_temp.id('c1')) AS records,
         (SELECT count(*) FROM cases.escalations WHERE case_id = pg_temp.id('c1')) AS escalations,
         (SELECT count(*) FROM cases.deliveries WHERE case_id = pg_temp.id('c1')) AS deliveries,
         (SELECT count(*) FROM cases.confirmations WHERE case_id = pg_temp.id('c1')) AS confirmations,
         (SELECT count(*) FROM cases.approvals WHERE case_id = pg_temp.id('c1')) AS approvals,
         (SELECT count(*) FROM cases.assignments WHERE case_id = pg_temp.id('c1')) AS assignments,
         (SELECT version FROM cases.cases WHERE id = pg_temp.id('c1')) AS version;
SELECT throws_ok(format($$ SELECT api.case_file_add(%L, '{"name": "x", "purpose": "evidence", "location": "y"}') $$, pg_temp.id('c1')), NULL, NULL, 'no file is added');
SELECT throws_ok(format($$ SELECT api.case_work_record_add(%L, jsonb_build_object('milestone_code', 'collect', 'content', 'x', 'result', 'y', 'started_at', api.ts(now()), 'finished_at', api.ts(now()), 'hours', 1)) $$, pg_temp.id('c1')), NULL, NULL, 'no work is recorded');
SELECT throws_ok(format($$ SELECT api.case_escalation_raise(%L, '{"problem": "x"}') $$, pg_temp.id('c1')), NULL, NULL, 'nothing is escalated');
SELECT throws_ok(format($$ SELECT api.case_submit_review(%L, '{}') $$, pg_temp.id('c1')), NULL, NULL, 'not submitted for review');
SELECT throws_ok(format($$ SELECT api.case_deliver(%L, '{"method": "email", "file_ids": []}') $$, pg_temp.id('c1')), NULL, NULL, 'not delivered again');
SELECT throws_ok(format($$ SELECT api.case_confirmation_record(%L, '{"outcome": "objected", "comment": "x", "evidence": "y"}') $$, pg_temp.id('c1')), NULL, NULL, 'no confirmation or objection');
SELECT throws_ok(format($$ SELECT api.case_confirmation_link_create(%L, repeat('ab', 32)) $$, pg_temp.id('c1')), NULL, NULL, 'no confirmation link');
SELECT throws_ok(format($$ SELECT api.case_intake(%L, 1, '{"requirements": "x"}') $$, pg_temp.id('c1')), NULL, NULL, 'the intake form stays');
SELECT throws_ok(format($$ SELECT api.case_archive(%L) $$, pg_temp.id('c1')), 'TXTRN', NULL, 'not archived twice (409)');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT throws_ok(format($$ SELECT api.case_assign(%L, '{"lead": "20000000-0000-4000-8000-000000000008"}') $$, pg_temp.id('c1')), NULL, NULL, 'nobody is assigned');
SELECT throws_ok(format($$ SELECT api.case_review_decide(%L, '{"verdicts": []}') $$, pg_temp.id('c1')), NULL, NULL, 'no review');
SELECT throws_ok(format($$ SELECT api.case_decide(%L, 'approve', '{}') $$, pg_temp.id('c1')), NULL, NULL, 'no approval');
SELECT is((SELECT row(b.*)::text FROM before_rows b),
  (SELECT row((SELECT count(*) FROM cases.files WHERE case_id = pg_temp.id('c1')),
              (SELECT count(*) FROM cases.work_records WHERE case_id = pg_temp.id('c1')),
              (SELECT count(*) FROM cases.escalations WHERE case_id = pg_temp.id('c1')),
              (SELECT count(*) FROM cases.deliveries WHERE case_id = pg_temp.id('c1')),
              (SELECT count(*) FROM cases.confirmations WHERE case_id = pg_temp.id('c1')),
              (SELECT count(*) FROM cases.approvals WHERE case_id = pg_temp.id('c1')),
              (SELECT count(*) FROM cases.assignments WHERE case_id = pg_temp.id('c1')),
              (SELECT version FROM cases.cases WHERE id = pg_temp.id('c1')))::text),
  'the archived case and its rows are as they were');
SELECT is((api.archive_verify((SELECT j ->> 'archive_number' FROM a1))::jsonb ->> 'ok'), 'true', 'and still verify');
SELECT throws_ok(format($$ UPDATE cases.work_records SET hours = 9 WHERE case_id = %L $$, pg_temp.id('c1')), '42501', NULL,
  'the runtime role cannot write the tables directly (the owner and the superuser are refused by the triggers: tests/api/archive.test.mjs)');

-- An open escalation holds the archive back: archived, the case is immutable and the escalation
-- could never be answered (P2.3, P4.2). The guard names it, as it names missing documents.
INSERT INTO ids SELECT 'c3', pg_temp.confirmed_case('三號');
SELECT pg_temp.add_docs(pg_temp.id('c3'));
SELECT pg_temp.be('staff.a1', 'staff');
INSERT INTO ids SELECT 'e3', (api.case_escalation_raise(pg_temp.id('c3'), '{"problem": "客戶要求補充說明"}') ->> 'id')::uuid;
SELECT is(cases.archive_complete(pg_temp.id('c3')), false, 'confirmed with its documents, but an escalation is open: the guard refuses');
SELECT throws_ok(format($$ SELECT api.case_archive(%L) $$, pg_temp.id('c3')), 'TXTRN',
  format('archive is not possible: the guard cases.archive_complete refused (open escalations: %s)', pg_temp.id('e3')),
  '409 naming the open escalation');
SELECT is((SELECT count(*)::int FROM cases.archives WHERE case_id = pg_temp.id('c3')), 0, 'nothing archived');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT lives_ok(format($$ SELECT api.escalation_resolve(%L, '{"solution": "已補充說明"}') $$, pg_temp.id('e3')),
  'its addressee (staff.a1''s supervisor) answers it');
SELECT is(cases.archive_complete(pg_temp.id('c3')), true, 'answered: the guard passes');
SELECT is(api.case_archive(pg_temp.id('c3'))::jsonb #>> '{manifest,parts,escalations,content,0,status}', 'resolved',
  'archived, with the escalation and its answer in the manifest');

SELECT * FROM finish();
ROLLBACK;
