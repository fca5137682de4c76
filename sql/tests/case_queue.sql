-- The personal case queue (GET /v1/me/queues/cases, api.queue_cases) walking cases.queue_entries
-- (0046, issue 15: the case queue at scale) against the queue as it was before
-- (pg_temp.old_queue_cases below: api.queue_cases at commit a824bf9, kept here only as the
-- oracle; it joined every current assignment of the caller to its case and sorted them). Both run
-- as this role under the same row-level security. For every caller (staff, a staff member who is
-- only a member of teams, a supervisor assigned to work, a supervisor without the staff role, a
-- person of another department, nobody assigned) and page size, every page reached through the
-- cursor is the same JSON, and so are pages started from cursors the queue never gave. Then the
-- entries are exactly the current assignments of open cases (through re-assignment and
-- cancellation), the walk is an index scan of queue_entries_walk_idx, and the runtime role reads
-- only its own entries and writes none.
-- The cases are made in this file's one transaction, so they share one received_at: the order
-- within the page is the id's, the tie-break of the keyset (the walk's index orders
-- (employee_id, received_at, case_id) like the old sort).
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(15);

\ir lib/session.psql
INSERT INTO ids VALUES ('cu.staff.a2', '4c000000-0000-4000-8000-0000000000d1'),
                       ('cu.staff.a1', '4c000000-0000-4000-8000-0000000000d2');

-- The oracle ---------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.old_queue_cases(p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_limit int;
  k record;
  v_me uuid;
  v_out json;
BEGIN
  PERFORM api.require_role('staff', 'supervisor');
  v_limit := api.page_limit(p_limit);
  k := cases.queue_cursor_parse(p_cursor);
  v_me := tx.user_id();
  WITH keys AS (
    SELECT c.received_at AS at, c.id, a.role
      FROM cases.assignments a
      JOIN cases.cases c ON c.id = a.case_id
     WHERE a.employee_id = v_me AND a.ended_at IS NULL
       AND NOT cases.is_final_state(c.status)
       AND (k.at IS NULL OR (c.received_at, c.id) > (k.at, k.id))
     ORDER BY c.received_at, c.id
     LIMIT v_limit + 1),
  page AS (
    SELECT c, keys.at, keys.id, keys.role, row_number() OVER (ORDER BY keys.at, keys.id) AS rn
      FROM keys JOIN cases.cases c ON c.id = keys.id)
  SELECT json_build_object(
           'items', coalesce(json_agg(cases.queue_case_json(p.c) || jsonb_build_object('role', p.role)
                                      ORDER BY p.rn) FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN min(cases.queue_cursor(0, p.at, p.id)) FILTER (WHERE p.rn = v_limit) END)
    INTO v_out
    FROM page p;
  RETURN v_out;
END $$;

-- Every page of the caller's queue from p_cursor on, by the queue (p_new) or the oracle: an array
-- of the pages' JSON (items and next_cursor), at most 50 pages.
CREATE FUNCTION pg_temp.queue_pages(p_new boolean, p_limit int, p_cursor text DEFAULT NULL)
  RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_all jsonb := '[]';
  v_page jsonb;
  v_cursor text := p_cursor;
BEGIN
  FOR i IN 1..50 LOOP
    v_page := CASE WHEN p_new THEN api.queue_cases(p_limit, v_cursor)
                   ELSE pg_temp.old_queue_cases(p_limit, v_cursor) END;
    v_all := v_all || jsonb_build_array(v_page);
    v_cursor := v_page ->> 'next_cursor';
    EXIT WHEN v_cursor IS NULL;
  END LOOP;
  RETURN v_all;
END $$;

-- Setup: cases of department A in every arrangement -------------------------------------------
SELECT pg_temp.be('admin', 'admin');
INSERT INTO ids SELECT 'type', (api.business_type_create('{
  "code": "cq-audit", "name": "審計 (queue)",
  "milestones": [{"code": "collect", "name": "收集資料", "required": true, "standard_days": 2}],
  "checklist": [{"code": "accuracy", "name": "準確性"}, {"code": "compliance", "name": "合規性"},
                {"code": "completeness", "name": "完整性"}]}')::jsonb ->> 'id')::uuid;
SELECT pg_temp.be('staff.a2', 'staff');
SELECT lives_ok(format($$ SELECT api.customer_create(%L) $$, jsonb_build_object(
  'id', pg_temp.id('cu.staff.a2'), 'name', '陳佩君',
  'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', '\x01' || repeat('cd', 59)))),
  'setup: staff.a2 creates a customer');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok(format($$ SELECT api.customer_create(%L) $$, jsonb_build_object(
  'id', pg_temp.id('cu.staff.a1'), 'name', '王建國',
  'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', '\x01' || repeat('ef', 59)))),
  'setup: staff.a1 creates a customer');

-- approved(n, receiver): a case received and prepared by `receiver`, approved by sup.a.
CREATE FUNCTION pg_temp.approved(p_name text, p_receiver text) RETURNS uuid
  LANGUAGE plpgsql AS $$
DECLARE v_case uuid;
BEGIN
  PERFORM pg_temp.be(p_receiver, 'staff');
  v_case := (api.case_create(jsonb_build_object('customer_id', pg_temp.id('cu.' || p_receiver),
               'raised_at', api.ts(now() - interval '1 hour'), 'channel', 'phone',
               'need', '隊列 ' || p_name)) ->> 'id')::uuid;
  PERFORM api.case_assess(v_case, jsonb_build_object('in_scope', true, 'business_type_id', pg_temp.id('type')));
  PERFORM api.case_intake(v_case, (api.case_json(v_case) ->> 'version')::int,
                          '{"requirements": "審計三個月流水"}');
  PERFORM api.case_submit(v_case);
  PERFORM pg_temp.be('sup.a', 'staff,supervisor');
  PERFORM api.case_decide(v_case, 'approve', '{}');
  INSERT INTO ids VALUES (p_name, v_case);
  RETURN v_case;
END $$;
-- assign(case, lead, members): sup.a assigns (or re-assigns) the work.
CREATE FUNCTION pg_temp.assign(p_case text, p_lead text, p_members text[] DEFAULT '{}') RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_temp.be('sup.a', 'staff,supervisor');
  PERFORM api.case_assign(pg_temp.id(p_case), jsonb_build_object('lead', pg_temp.emp(p_lead),
            'members', (SELECT coalesce(jsonb_agg(pg_temp.emp(m)), '[]') FROM unnest(p_members) m)));
END $$;

SELECT pg_temp.approved('c' || i, CASE WHEN i % 3 = 0 THEN 'staff.a1' ELSE 'staff.a2' END)
  FROM generate_series(1, 14) i;
-- staff.a1 leads 1-5; staff.a2 leads 6-8 with staff.a1 as a member; staff.a1 leads 9-10 with sup.a
SELECT pg_temp.assign('c' || i, 'staff.a1') FROM generate_series(1, 5) i;
SELECT pg_temp.assign('c' || i, 'staff.a2', '{staff.a1}') FROM generate_series(6, 8) i;
SELECT pg_temp.assign('c' || i, 'staff.a1', '{sup.a}') FROM generate_series(9, 10) i;
-- 11: staff.a1's, then re-assigned to staff.a2 (staff.a1's row ends); 12: re-assigned to the
-- same lead with a new member (the rows end and begin again)
SELECT pg_temp.assign('c11', 'staff.a1');
SELECT pg_temp.assign('c11', 'staff.a2');
SELECT pg_temp.assign('c12', 'staff.a1');
SELECT pg_temp.assign('c12', 'staff.a1', '{staff.a2}');
-- 13: staff.a1's with staff.a2, then the customer withdraws (final); 14: approved, nobody assigned
SELECT pg_temp.assign('c13', 'staff.a1', '{staff.a2}');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok($$ SELECT api.case_cancel(pg_temp.id('c13'), '{"reason": "客戶撤回"}') $$,
  'setup: case 13 is cancelled while assigned');

-- The same pages as the oracle ----------------------------------------------------------------
CREATE TEMP TABLE callers (username text, roles text);
INSERT INTO callers VALUES ('staff.a1', 'staff'), ('staff.a2', 'staff'), ('sup.a', 'staff,supervisor'),
  ('sup.a', 'supervisor'), ('staff.b1', 'staff');
CREATE TEMP TABLE compared (username text, roles text, lim int, cursor text, pages int, same boolean);
DO $$
DECLARE r record; lim int; cur text; v_new jsonb; v_old jsonb;
BEGIN
  FOR r IN SELECT * FROM callers LOOP
    PERFORM pg_temp.be(r.username, r.roles);
    FOREACH lim IN ARRAY ARRAY[1, 2, 3, 5, 50] LOOP
      -- from the start, from before everything, from a case's key, from after everything
      FOREACH cur IN ARRAY ARRAY[NULL, cases.queue_cursor(0, '2000-01-01', '00000000-0000-0000-0000-000000000000'),
                                 cases.queue_cursor(0, now(), pg_temp.id('c7')),
                                 cases.queue_cursor(0, now(), 'ffffffff-ffff-4fff-bfff-ffffffffffff'),
                                 cases.queue_cursor(0, now() + interval '1 microsecond', '00000000-0000-0000-0000-000000000000')] LOOP
        v_new := pg_temp.queue_pages(true, lim, cur);
        v_old := pg_temp.queue_pages(false, lim, cur);
        INSERT INTO compared VALUES (r.username, r.roles, lim, cur, jsonb_array_length(v_new), v_new = v_old);
      END LOOP;
    END LOOP;
    v_new := pg_temp.queue_pages(true, NULL);
    v_old := pg_temp.queue_pages(false, NULL);
    INSERT INTO compared VALUES (r.username, r.roles, NULL, NULL, jsonb_array_length(v_new), v_new = v_old);
  END LOOP;
END $$;
SELECT is_empty($$ SELECT * FROM compared WHERE NOT same $$,
  'every page of every caller, page size and cursor is the oracle''s');
SELECT is((SELECT count(*) FROM compared)::int, 5 * (5 * 5 + 1), 'five callers, five page sizes and five cursors, and the default page, were compared');
SELECT is((SELECT pages FROM compared WHERE username = 'staff.a1' AND lim = 1 AND cursor IS NULL), 11,
  'staff.a1 walks eleven pages of one (cases 1-10 and 12), the last without a next cursor');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((SELECT array_agg(i ->> 'role' ORDER BY i ->> 'case_id') FROM json_array_elements(api.queue_cases(50, NULL) -> 'items') i),
          (SELECT array_agg(CASE WHEN n BETWEEN 6 AND 8 THEN 'member' ELSE 'lead' END ORDER BY pg_temp.id('c' || n)::text)
             FROM unnest(ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12]) n),
  'staff.a1''s queue: cases 1-10 and 12 with their role, not 11 (re-assigned), 13 (cancelled) or 14');

-- The entries follow the assignments and the cases --------------------------------------------
CREATE FUNCTION pg_temp.entries_right() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT NOT EXISTS (
    (SELECT q.employee_id, q.case_id, q.received_at FROM cases.queue_entries q
      WHERE q.case_id IN (SELECT id FROM ids)
     EXCEPT
     SELECT a.employee_id, c.id, c.received_at FROM cases.assignments a JOIN cases.cases c ON c.id = a.case_id
      WHERE a.employee_id = tx.user_id() AND a.ended_at IS NULL AND NOT cases.is_final_state(c.status)
        AND c.id IN (SELECT id FROM ids))
    UNION ALL
    (SELECT a.employee_id, c.id, c.received_at FROM cases.assignments a JOIN cases.cases c ON c.id = a.case_id
      WHERE a.employee_id = tx.user_id() AND a.ended_at IS NULL AND NOT cases.is_final_state(c.status)
        AND c.id IN (SELECT id FROM ids)
     EXCEPT
     SELECT q.employee_id, q.case_id, q.received_at FROM cases.queue_entries q
      WHERE q.case_id IN (SELECT id FROM ids))) $$;
SELECT pg_temp.be('staff.a1', 'staff');
SELECT ok(pg_temp.entries_right(), 'staff.a1''s entries are their current assignments of open cases');
SELECT pg_temp.be('staff.a2', 'staff');
SELECT ok(pg_temp.entries_right(), 'staff.a2''s entries too (member, re-assigned lead, a withdrawn case)');
SELECT pg_temp.be('sup.a', 'staff,supervisor');
SELECT ok(pg_temp.entries_right(), 'sup.a''s too');
SELECT is((SELECT count(*) FROM cases.queue_entries WHERE employee_id <> tx.user_id())::int, 0,
  'a caller reads only their own entries');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT lives_ok($$ SELECT api.case_cancel(pg_temp.id('c9'), '{"reason": "客戶撤回"}') $$,
  'case 9 (staff.a1 and sup.a) is withdrawn');
SELECT ok(pg_temp.entries_right() AND NOT EXISTS (SELECT FROM cases.queue_entries WHERE case_id = pg_temp.id('c9')),
  'its entries are gone with it');

SELECT ok(NOT has_table_privilege('tianxing_app', 'cases.queue_entries', 'INSERT,UPDATE,DELETE,TRUNCATE'),
  'the runtime role writes no entry');

-- The page is the index's range -----------------------------------------------------------------
CREATE TEMP TABLE scans AS SELECT pg_stat_get_xact_numscans('cases.queue_entries_walk_idx'::regclass) AS n;
SELECT ok(jsonb_array_length(api.queue_cases(3, NULL)::jsonb -> 'items') = 3
          AND pg_stat_get_xact_numscans('cases.queue_entries_walk_idx'::regclass) > (SELECT n FROM scans),
  'a page walks queue_entries_walk_idx');

SELECT * FROM finish();
ROLLBACK;
