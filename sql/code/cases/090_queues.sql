-- sql/code/cases/090_queues.sql: the personal work queues, GET /v1/me/queues/... (module P, part
-- F; issue 11, "Queues"). One current definition per object; `tianxingd migrate` re-applies this
-- file when it changes (sql/code/ORDER, docs/architecture.md).
--
--   cases        open cases I am a current assignee of (P2.1), oldest received first
--   approvals    submitted cases of my department awaiting a supervisor, not those I prepared
--                (P1.4: the approver is not the preparer), oldest submitted first
--   reviews      cases under review in my department that I may review: I am not and was not
--                assigned to it and wrote none of its work records (P3.1), soonest due first
--   overdue      my open deadlines marked overdue (and, for a supervisor, those of my department
--                that nobody in particular owns: approval, review feedback), milestones first
--                (P2.2), then by due date
--   escalations  open escalations addressed to me (P2.3), soonest due first
--
-- Every queue is read with the caller's rights (the policies of cases.*: a queue never shows a
-- case its reader may not see) and is keyset-paged: {items, next_cursor}; `limit` 1..200
-- (default 50); the cursor is opaque text made here from the last item's sort key, and a
-- malformed one is 422 naming `cursor`. An item is small: the case's id and status, the
-- customer's name (the plain-text name, no encrypted field), the business type's code and name,
-- and the due dates that put it in the queue. The indexes behind them: cases.queue_entries
-- (employee_id, received_at, case_id), below and 0046; cases.cases (department_id, status, ...);
-- the partial indexes of deadlines and escalations in 0021.

-- The cursor: "<rank>_<microseconds since the epoch>_<uuid>" of the last item; rank orders groups
-- before the time (the overdue queue puts milestones first), 0 elsewhere.
CREATE OR REPLACE FUNCTION cases.queue_cursor(p_rank int, p_at timestamptz, p_id uuid) RETURNS text
  LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT p_rank::text || '_' || (extract(epoch FROM p_at) * 1000000)::bigint::text || '_' || p_id::text
$$;
REVOKE ALL ON FUNCTION cases.queue_cursor(int, timestamptz, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.queue_cursor(int, timestamptz, uuid) TO tianxing_app;

-- Parses a cursor (NULL: the first page); a malformed one is 422 naming `cursor`.
CREATE OR REPLACE FUNCTION cases.queue_cursor_parse(p_cursor text, OUT rank int, OUT at timestamptz,
                                                    OUT id uuid)
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE m text[];
BEGIN
  IF p_cursor IS NULL THEN
    RETURN;
  END IF;
  m := regexp_match(p_cursor, '^([0-9])_(-?[0-9]{1,17})_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$');
  IF m IS NULL THEN
    PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
  END IF;
  rank := m[1]::int;
  -- exact to the microsecond (to_timestamp would go through double precision)
  at := 'epoch'::timestamptz + (m[2]::bigint * interval '1 microsecond');
  id := m[3]::uuid;
END
$$;
REVOKE ALL ON FUNCTION cases.queue_cursor_parse(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.queue_cursor_parse(text) TO tianxing_app;

-- The customer's name for a queue item. The queues' readers see the case but not necessarily the
-- customer (module C's policies); the name (plain text, not one of the encrypted fields) is what
-- a queue needs to be read, so it is looked up as the owner for a case the caller may read.
CREATE OR REPLACE FUNCTION cases.queue_customer_name(p_case uuid) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT cu.name FROM cases.cases c JOIN cust.customers cu ON cu.id = c.customer_id
   WHERE c.id = p_case AND cases.may_read(p_case)
$$;
REVOKE ALL ON FUNCTION cases.queue_customer_name(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.queue_customer_name(uuid) TO tianxing_app;

-- A queue item's case part.
CREATE OR REPLACE FUNCTION cases.queue_case_json(c cases.cases) RETURNS jsonb
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT jsonb_build_object(
           'case_id', c.id,
           'status', c.status,
           'customer_name', cases.queue_customer_name(c.id),
           'business_type', (SELECT jsonb_build_object('code', t.code, 'name', t.name)
                               FROM cases.business_types t WHERE t.id = c.business_type_id),
           'received_at', c.received_at,
           'expected_on', to_char(c.expected_on, 'YYYY-MM-DD'),
           -- the soonest open deadline of the case, whoever's it is
           'next_due_at', (SELECT min(d.due_at) FROM cases.deadlines d
                            WHERE d.case_id = c.id AND d.met_at IS NULL AND d.closed_at IS NULL))
$$;
REVOKE ALL ON FUNCTION cases.queue_case_json(cases.cases) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.queue_case_json(cases.cases) TO tianxing_app;

-- The open deadline of a kind of a case (approval, review_feedback): its due instant.
CREATE OR REPLACE FUNCTION cases.queue_due_at(p_case uuid, p_kind text) RETURNS timestamptz
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT min(d.due_at) FROM cases.deadlines d
   WHERE d.case_id = p_case AND d.kind = p_kind AND d.met_at IS NULL AND d.closed_at IS NULL
$$;
REVOKE ALL ON FUNCTION cases.queue_due_at(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.queue_due_at(uuid, text) TO tianxing_app;

-- The queue of cases' ordered index (0046): one row per current assignment of a case in no final
-- state, with the case's received_at. Rewritten for the case whenever one of its assignments
-- changes (inserted, ended) or it moves into or out of a final state; a case has a handful of
-- assignments, so the rewrite is a few index entries. The owner's (SECURITY DEFINER): the runtime
-- role never writes.
CREATE OR REPLACE FUNCTION cases.queue_entries_follow() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_case uuid;
BEGIN
  IF TG_TABLE_NAME = 'cases' THEN
    v_case := NEW.id;
  ELSIF TG_OP = 'DELETE' THEN
    v_case := OLD.case_id;
  ELSE
    v_case := NEW.case_id;
  END IF;
  -- Only rows that differ are written: an unchanged entry stays (no dead tuple, no trail row).
  DELETE FROM cases.queue_entries q
   WHERE q.case_id = v_case
     AND NOT EXISTS (SELECT FROM cases.assignments a JOIN cases.cases c ON c.id = a.case_id
                      WHERE a.case_id = v_case AND a.employee_id = q.employee_id
                        AND a.ended_at IS NULL AND NOT cases.is_final_state(c.status)
                        AND c.received_at = q.received_at);
  INSERT INTO cases.queue_entries (employee_id, case_id, received_at)
  SELECT a.employee_id, c.id, c.received_at
    FROM cases.assignments a JOIN cases.cases c ON c.id = a.case_id
   WHERE a.case_id = v_case AND a.ended_at IS NULL AND NOT cases.is_final_state(c.status)
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION cases.queue_entries_follow() FROM PUBLIC;

CREATE OR REPLACE TRIGGER queue_entries_follow AFTER INSERT OR UPDATE OR DELETE ON cases.assignments
  FOR EACH ROW EXECUTE FUNCTION cases.queue_entries_follow();
-- A table of a case, so under P4.2's rule like every other (070_archive.sql): the entries of a
-- case leave with its move to archived, before its archive row exists, and nothing writes them
-- after.
CREATE OR REPLACE TRIGGER aa_archived_immutable BEFORE INSERT OR UPDATE OR DELETE ON cases.queue_entries
  FOR EACH ROW EXECUTE FUNCTION cases.archived_immutable();
CREATE OR REPLACE TRIGGER aa_archived_no_truncate BEFORE TRUNCATE ON cases.queue_entries
  FOR EACH STATEMENT EXECUTE FUNCTION cases.refuse_truncate();
ALTER TABLE cases.queue_entries ENABLE ALWAYS TRIGGER aa_archived_immutable;
ALTER TABLE cases.queue_entries ENABLE ALWAYS TRIGGER aa_archived_no_truncate;
-- received_at never changes (P1.1) and final states are terminal today; the trigger follows both
-- all the same, so the entries stay right if the machine `case` ever gains a way back.
CREATE OR REPLACE TRIGGER queue_entries_follow AFTER UPDATE OF status, received_at ON cases.cases
  FOR EACH ROW
  WHEN (cases.is_final_state(OLD.status) IS DISTINCT FROM cases.is_final_state(NEW.status)
        OR OLD.received_at IS DISTINCT FROM NEW.received_at)
  EXECUTE FUNCTION cases.queue_entries_follow();

-- GET /v1/me/queues/cases (staff, supervisor; P2.1).
CREATE OR REPLACE FUNCTION api.queue_cases(p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
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
  -- The page is a range of queue_entries_walk_idx (my entries after the cursor, in (received_at,
  -- case_id) order) that stops after v_limit + 1 rows: no sort, whatever the person's history.
  -- The cursor's bound is always a bound (the first page's is before every instant) so that it
  -- stays the index scan's start under a generic plan too. Each entry is checked against the
  -- truth under the caller's policies (the assignment is current, the case visible and not
  -- final): the entries decide where the walk goes, never what it shows. The checks are LATERAL
  -- subqueries with a LIMIT, which PostgreSQL does not flatten into joins: as joins, the planner
  -- (which cannot know the checks pass for every entry) hashed all of a busy person's cases and
  -- sorted them, 2 s at the benchmark's 14 000 open cases of staff.a1 against 8 ms this way.
  WITH page AS (
    SELECT c.c, q.received_at AS at, q.case_id AS id, a.role,
           row_number() OVER (ORDER BY q.received_at, q.case_id) AS rn
      FROM cases.queue_entries q
     CROSS JOIN LATERAL (SELECT a.role FROM cases.assignments a
                          WHERE a.case_id = q.case_id AND a.employee_id = q.employee_id
                            AND a.ended_at IS NULL
                          LIMIT 1) a
     CROSS JOIN LATERAL (SELECT c FROM cases.cases c
                          WHERE c.id = q.case_id AND NOT cases.is_final_state(c.status)
                          LIMIT 1) c
     WHERE q.employee_id = v_me
       AND (q.received_at, q.case_id)
           > (coalesce(k.at, '-infinity'::timestamptz),
              coalesce(k.id, '00000000-0000-0000-0000-000000000000'::uuid))
     ORDER BY q.received_at, q.case_id
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(cases.queue_case_json(p.c) || jsonb_build_object('role', p.role)
                                      ORDER BY p.rn) FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN min(cases.queue_cursor(0, p.at, p.id)) FILTER (WHERE p.rn = v_limit) END)
    INTO v_out
    FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.queue_cases(int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.queue_cases(int, text) TO tianxing_app;

-- GET /v1/me/queues/approvals (supervisor; P1.4).
CREATE OR REPLACE FUNCTION api.queue_approvals(p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_limit int;
  k record;
  v_me uuid;
  v_dept uuid;
  v_out json;
BEGIN
  PERFORM api.require_role('supervisor');
  v_limit := api.page_limit(p_limit);
  k := cases.queue_cursor_parse(p_cursor);
  v_me := tx.user_id();
  v_dept := tx.department_id();
  WITH page AS (
    SELECT c, coalesce(c.submitted_at, c.updated_at) AS at, c.id,
           row_number() OVER (ORDER BY coalesce(c.submitted_at, c.updated_at), c.id) AS rn
      FROM cases.cases c
     WHERE c.department_id = v_dept AND c.status = 'submitted'
       AND c.prepared_by IS DISTINCT FROM v_me
       AND (k.at IS NULL OR (coalesce(c.submitted_at, c.updated_at), c.id) > (k.at, k.id))
     ORDER BY coalesce(c.submitted_at, c.updated_at), c.id
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(cases.queue_case_json(p.c)
                                      || jsonb_build_object('submitted_at', (p.c).submitted_at,
                                                            'due_at', cases.queue_due_at(p.id, 'approval'))
                                      ORDER BY p.rn) FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN min(cases.queue_cursor(0, p.at, p.id)) FILTER (WHERE p.rn = v_limit) END)
    INTO v_out
    FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.queue_approvals(int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.queue_approvals(int, text) TO tianxing_app;

-- GET /v1/me/queues/reviews (supervisor; P3.1: the reviewer neither worked on the case nor wrote
-- any of its records nor submitted any of its rounds: cases.reviewer_eligible, 050_review.sql).
-- Ordered by the review feedback's due instant (P3.3).
CREATE OR REPLACE FUNCTION api.queue_reviews(p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_limit int;
  k record;
  v_me uuid;
  v_dept uuid;
  v_out json;
BEGIN
  PERFORM api.require_role('supervisor');
  v_limit := api.page_limit(p_limit);
  k := cases.queue_cursor_parse(p_cursor);
  v_me := tx.user_id();
  v_dept := tx.department_id();
  WITH q AS (
    SELECT c, c.id, coalesce(cases.queue_due_at(c.id, 'review_feedback'), c.updated_at) AS at
      FROM cases.cases c
     WHERE c.department_id = v_dept AND c.status = 'under_review'
       -- the very rule the review's guard applies (part D): the queue offers what the caller may
       -- decide, no more, no less
       AND cases.reviewer_eligible(c.id, v_me)),
  page AS (
    SELECT q.c, q.id, q.at, row_number() OVER (ORDER BY q.at, q.id) AS rn
      FROM q
     WHERE k.at IS NULL OR (q.at, q.id) > (k.at, k.id)
     ORDER BY q.at, q.id
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(cases.queue_case_json(p.c)
                                      || jsonb_build_object('review_round', (p.c).review_round,
                                                            'due_at', cases.queue_due_at(p.id, 'review_feedback'))
                                      ORDER BY p.rn) FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN min(cases.queue_cursor(0, p.at, p.id)) FILTER (WHERE p.rn = v_limit) END)
    INTO v_out
    FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.queue_reviews(int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.queue_reviews(int, text) TO tianxing_app;

-- GET /v1/me/queues/overdue (staff, supervisor; P2.2, P2.3): my overdue open deadlines, and for
-- a supervisor the department's unowned ones; milestones first (rank 0), then the rest (rank 1),
-- each by due instant.
CREATE OR REPLACE FUNCTION api.queue_overdue(p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_limit int;
  k record;
  v_me uuid;
  v_dept uuid;
  v_out json;
BEGIN
  PERFORM api.require_role('staff', 'supervisor');
  v_limit := api.page_limit(p_limit);
  k := cases.queue_cursor_parse(p_cursor);
  v_me := tx.user_id();
  v_dept := CASE WHEN tx.has_role('supervisor') THEN tx.department_id() END;
  WITH q AS (
    SELECT d, (d.kind <> 'milestone')::int AS rank
      FROM cases.deadlines d
     WHERE d.owner_id = v_me
       AND d.met_at IS NULL AND d.closed_at IS NULL AND d.overdue_at IS NOT NULL
    UNION ALL
    SELECT d, (d.kind <> 'milestone')::int
      FROM cases.deadlines d
     WHERE v_dept IS NOT NULL AND d.owner_id IS NULL AND d.department_id = v_dept
       AND d.met_at IS NULL AND d.closed_at IS NULL AND d.overdue_at IS NOT NULL),
  page AS (
    SELECT q.d, q.rank, row_number() OVER (ORDER BY q.rank, (q.d).due_at, (q.d).id) AS rn
      FROM q
     WHERE k.at IS NULL OR (q.rank, (q.d).due_at, (q.d).id) > (k.rank, k.at, k.id)
     ORDER BY q.rank, (q.d).due_at, (q.d).id
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(
                      cases.queue_case_json(c)
                      || jsonb_build_object('deadline_id', (p.d).id, 'kind', (p.d).kind,
                                            'subject_id', (p.d).subject_id,
                                            'subject_name', CASE (p.d).kind WHEN 'milestone' THEN
                                              (SELECT m.name FROM cases.milestones m
                                                WHERE m.id = (p.d).subject_id) END,
                                            'starts_at', (p.d).starts_at,
                                            'due_at', (p.d).due_at,
                                            'overdue_at', (p.d).overdue_at)
                      ORDER BY p.rn) FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN min(cases.queue_cursor(p.rank, (p.d).due_at, (p.d).id))
                                      FILTER (WHERE p.rn = v_limit) END)
    INTO v_out
    FROM page p
    JOIN cases.cases c ON c.id = (p.d).case_id;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.queue_overdue(int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.queue_overdue(int, text) TO tianxing_app;

-- GET /v1/me/queues/escalations (staff, supervisor, admin: an escalation climbs to an admin when
-- nobody else is above; P2.3).
CREATE OR REPLACE FUNCTION api.queue_escalations(p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_limit int;
  k record;
  v_me uuid;
  v_out json;
BEGIN
  PERFORM api.require_role('staff', 'supervisor', 'admin');
  v_limit := api.page_limit(p_limit);
  k := cases.queue_cursor_parse(p_cursor);
  v_me := tx.user_id();
  WITH page AS (
    SELECT e, row_number() OVER (ORDER BY e.due_at, e.id) AS rn
      FROM cases.escalations e
     WHERE e.addressed_to = v_me AND e.status = 'open'
       AND (k.at IS NULL OR (e.due_at, e.id) > (k.at, k.id))
     ORDER BY e.due_at, e.id
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(
                      cases.queue_case_json(c)
                      || jsonb_build_object('escalation_id', (p.e).id, 'level', (p.e).level,
                                            'raised_at', (p.e).raised_at,
                                            'due_at', (p.e).due_at,
                                            'overdue', (p.e).due_at <= now())
                      ORDER BY p.rn) FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN min(cases.queue_cursor(0, (p.e).due_at, (p.e).id))
                                      FILTER (WHERE p.rn = v_limit) END)
    INTO v_out
    FROM page p
    JOIN cases.cases c ON c.id = (p.e).case_id;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.queue_escalations(int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.queue_escalations(int, text) TO tianxing_app;
