-- sql/code/cases/040_work.sql: module P, part C, the work on a case (P2.2-P2.4, P3.1, P3.3).
--   * work records (P2.4): one per completed key milestone of the case's business-type version
--     (the operating standard, P2.2), written by a current assignee while the case is
--     in_progress or rectifying; append-only, a correction is a new record naming the one in force;
--   * escalations (P2.3, 尋求解決方案): a problem raised by an assignee to the raiser's superior,
--     answered with a solution by whoever it is addressed to now (F's job climbs unanswered ones);
--   * submission for review (P3.1, P3.3): submit_review from in_progress, resubmit with a
--     rectification note from rectifying; opens review round n, which part D decides. The guard
--     cases.required_milestones_recorded: every required milestone has a record in force.
-- The rules hold in triggers (every writer, the owner's functions included); the writing functions
-- check the same earlier, so that a client gets the field or the reason (sql/tests/case_work.sql
-- proves each rule as the runtime role). A route's api.* function runs as its caller and calls the
-- SECURITY DEFINER cases.* function that writes (as part B does: sql/tests/org.sql wants every
-- api function SECURITY INVOKER). Migration 0019 adds one index.

-- Helpers -------------------------------------------------------------------------------------

-- p_employee holds a current assignment (ended_at IS NULL) on the case, as lead or member: the
-- people who work on it (P2.1 -> P2.2-P2.4). Definer: the triggers ask it whatever the writer sees.
CREATE OR REPLACE FUNCTION cases.work_assignee(p_case uuid, p_employee uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT p_employee IS NOT NULL
         AND EXISTS (SELECT FROM cases.assignments a
                      WHERE a.case_id = p_case AND a.employee_id = p_employee
                        AND a.ended_at IS NULL)
$$;
REVOKE ALL ON FUNCTION cases.work_assignee(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.work_assignee(uuid, uuid) TO tianxing_app;

-- The codes of the required key milestones of the case's business-type version that have no
-- work record, in the standard's order (P2.4, P3.1). A milestone's records are one chain
-- (migration 0019), so "has a record" is "has a record in force". Empty for an unknown case.
CREATE OR REPLACE FUNCTION cases.missing_milestones(p_case uuid) RETURNS text[]
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce(array_agg(m.code ORDER BY m.seq), '{}')
    FROM cases.cases c
    JOIN cases.milestones m ON m.type_version_id = c.type_version_id
   WHERE c.id = p_case AND m.required
     AND NOT EXISTS (SELECT FROM cases.work_records w
                      WHERE w.case_id = c.id AND w.milestone_id = m.id)
$$;
REVOKE ALL ON FUNCTION cases.missing_milestones(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.missing_milestones(uuid) TO tianxing_app;

-- The guard of submit_review and resubmit (migration 0018): P3.1 "review needs a record for
-- every required milestone". Definer: it answers the same for every caller that may move the case.
CREATE OR REPLACE FUNCTION cases.required_milestones_recorded(p_case uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT EXISTS (SELECT FROM cases.cases c WHERE c.id = p_case AND c.type_version_id IS NOT NULL)
         AND cardinality(cases.missing_milestones(p_case)) = 0
$$;
COMMENT ON FUNCTION cases.required_milestones_recorded(uuid) IS
  'every required key milestone of the case''s business-type version has a work record in force (P2.4, P3.1)';
REVOKE ALL ON FUNCTION cases.required_milestones_recorded(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.required_milestones_recorded(uuid) TO tianxing_app;

-- The states in which work is recorded: after approval and assignment (P1.4: 審核通過後進入業務
-- 操作流程), while the work side holds the case; not under review (the reviewer judges what was
-- submitted) nor after it passed.
CREATE OR REPLACE FUNCTION cases.work_recording_states() RETURNS text[]
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT ARRAY['in_progress', 'rectifying'] $$;
REVOKE ALL ON FUNCTION cases.work_recording_states() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.work_recording_states() TO tianxing_app;

-- The states in which a problem may be escalated (P2.3 "in the course of the work"): the case
-- is approved and not closed (archived, or terminal: out_of_scope, rejected, cancelled).
CREATE OR REPLACE FUNCTION cases.escalation_states() RETURNS text[]
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT ARRAY['approved', 'in_progress', 'under_review', 'rectifying', 'passed',
                     'delivered', 'confirmed'] $$;
REVOKE ALL ON FUNCTION cases.escalation_states() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.escalation_states() TO tianxing_app;

-- (Timestamp members: api.body_timestamp, sql/code/kit/020_body.sql.)

-- How far in the future a finishing time may lie: the clocks of the client and of the database
-- differ a little.
CREATE OR REPLACE FUNCTION cases.work_clock_skew() RETURNS interval
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT interval '5 minutes' $$;
REVOKE ALL ON FUNCTION cases.work_clock_skew() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.work_clock_skew() TO tianxing_app;

-- Locks the case row against moves (FOR SHARE: a concurrent fsm.move waits) and returns it, for
-- the owner's functions and triggers; NULL when there is none.
CREATE OR REPLACE FUNCTION cases.work_case_locked(p_case uuid) RETURNS cases.cases
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT c.* FROM cases.cases c WHERE c.id = p_case FOR SHARE $$;
REVOKE ALL ON FUNCTION cases.work_case_locked(uuid) FROM PUBLIC;

-- (404 unless the caller may read the case: cases.visible_case, 000_access.sql. The function
-- this part had for it is gone.)
DROP FUNCTION IF EXISTS cases.work_require_case(uuid);

-- Work records: rules for every writer (P2.4) ---------------------------------------------------

-- BEFORE INSERT: the case is in_progress or rectifying (nothing recorded before approval, nor
-- while a review judges the work); the author is a current assignee; the milestone is one of the
-- case's business-type version (P2.2); the times are real (finished, not in the future beyond
-- the clock skew, not before the case started); a correction names a record of the same case and
-- milestone (that it is in force, and that a milestone has one original, are unique indexes).
-- `at` is the database's clock. Definer: it reads the case and its assignments whoever writes.
CREATE OR REPLACE FUNCTION cases.work_records_rules() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  c cases.cases := cases.work_case_locked(NEW.case_id);
  o cases.work_records;
BEGIN
  IF c.id IS NULL THEN
    RAISE EXCEPTION 'no such case' USING ERRCODE = 'P0002';
  END IF;
  IF NOT c.status = ANY (cases.work_recording_states()) THEN
    PERFORM fsm.refuse('case', c.status,
                       format('work is recorded while the case is in_progress or rectifying; it is %s (P2.4)',
                              c.status));
  END IF;
  IF NOT cases.work_assignee(c.id, NEW.author_id) THEN
    RAISE EXCEPTION 'only a current assignee of the case records its work (P2.4)'
      USING ERRCODE = '42501';
  END IF;
  IF NOT EXISTS (SELECT FROM cases.milestones m
                  WHERE m.id = NEW.milestone_id AND m.type_version_id = c.type_version_id) THEN
    RAISE EXCEPTION 'the milestone is not a key milestone of the case''s business-type version (P2.2)'
      USING ERRCODE = '23514';
  END IF;
  IF NEW.finished_at > now() + cases.work_clock_skew() THEN
    RAISE EXCEPTION 'a work record is written after the work: finished_at is in the future'
      USING ERRCODE = '23514';
  END IF;
  IF NEW.started_at < coalesce(c.started_at, c.approved_at) THEN
    RAISE EXCEPTION 'started_at is before the case started' USING ERRCODE = '23514';
  END IF;
  IF NEW.corrects_id IS NOT NULL THEN
    SELECT * INTO o FROM cases.work_records w WHERE w.id = NEW.corrects_id;
    IF o.id IS NULL OR o.case_id <> NEW.case_id OR o.milestone_id <> NEW.milestone_id THEN
      RAISE EXCEPTION 'a correction names a record of the same case and milestone'
        USING ERRCODE = '23514';
    END IF;
  END IF;
  NEW.at := now();
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cases.work_records_rules() FROM PUBLIC;
CREATE OR REPLACE TRIGGER work_records_rules BEFORE INSERT ON cases.work_records
  FOR EACH ROW EXECUTE FUNCTION cases.work_records_rules();

-- Append-only (P2.4: a correction is a new record): no UPDATE, DELETE or TRUNCATE, whoever asks.
CREATE OR REPLACE FUNCTION cases.work_records_append_only() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  RAISE EXCEPTION 'cases.work_records: % is not allowed: work records are append-only (a correction is a new record)',
    TG_OP USING ERRCODE = '42501';
END
$$;
REVOKE ALL ON FUNCTION cases.work_records_append_only() FROM PUBLIC;
CREATE OR REPLACE TRIGGER work_records_append_only BEFORE UPDATE OR DELETE ON cases.work_records
  FOR EACH ROW EXECUTE FUNCTION cases.work_records_append_only();
CREATE OR REPLACE TRIGGER work_records_no_truncate BEFORE TRUNCATE ON cases.work_records
  FOR EACH STATEMENT EXECUTE FUNCTION cases.work_records_append_only();

-- Work records: API ----------------------------------------------------------------------------

-- One record, with its milestone and whether it is in force (no record corrects it) or which
-- record corrected it.
CREATE OR REPLACE FUNCTION api.work_record_json(w cases.work_records) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
           'id', w.id, 'case_id', w.case_id, 'milestone_id', w.milestone_id,
           'milestone_code', m.code, 'milestone_name', m.name, 'milestone_seq', m.seq,
           'content', w.content, 'result', w.result,
           'started_at', api.ts(w.started_at), 'finished_at', api.ts(w.finished_at),
           'hours', w.hours, 'corrects_id', w.corrects_id,
           'corrected_by_id', x.id, 'in_force', x.id IS NULL,
           'author_id', w.author_id, 'recorded_at', api.ts(w.at))
    FROM cases.milestones m
    LEFT JOIN cases.work_records x ON x.corrects_id = w.id
   WHERE m.id = w.milestone_id
$$;
REVOKE ALL ON FUNCTION api.work_record_json(cases.work_records) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.work_record_json(cases.work_records) TO tianxing_app;

-- POST /v1/cases/{id}/work-records (P2.2, P2.4). Order of the answers: 404 (the case as the
-- caller sees it), 403 (not a current assignee), 409 (the case's state), 422 (the body), 409
-- (the milestone has a record in force: correct it instead; or the record was corrected already).
CREATE OR REPLACE FUNCTION cases.work_record_add(p_case uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_me uuid := api.require_user();
  c cases.cases;
  m cases.milestones;
  v_code text;
  v_content text;
  v_result text;
  v_started timestamptz;
  v_finished timestamptz;
  v_hours_j jsonb;
  v_hours numeric;
  v_corrects uuid;
  o cases.work_records;
  v_force uuid;
  w cases.work_records;
BEGIN
  PERFORM cases.visible_case(p_case);
  PERFORM api.require_role('staff', 'supervisor');
  c := cases.work_case_locked(p_case);
  IF NOT cases.work_assignee(p_case, v_me) THEN
    RAISE EXCEPTION 'only a current assignee of the case records its work (P2.4)'
      USING ERRCODE = '42501';
  END IF;
  IF NOT c.status = ANY (cases.work_recording_states()) THEN
    PERFORM fsm.refuse('case', c.status,
                       format('work is recorded while the case is in_progress or rectifying; it is %s (P2.4)',
                              c.status));
  END IF;

  PERFORM api.body_keys(p_body, ARRAY['milestone_code', 'content', 'result', 'started_at',
                                      'finished_at', 'hours', 'corrects_id']);
  v_code := api.body_text(p_body, 'milestone_code', true, 32);
  SELECT * INTO m FROM cases.milestones x
   WHERE x.type_version_id = c.type_version_id AND x.code = v_code;
  IF m.id IS NULL THEN
    PERFORM api.fail('TXVAL', 'milestone_code',
                     'is not a key milestone of the case''s business type (its version of the case)');
  END IF;
  v_content := api.body_text(p_body, 'content', true, 8000);
  v_result := api.body_text(p_body, 'result', true, 4000);
  v_started := api.body_timestamp(p_body, 'started_at', true);
  v_finished := api.body_timestamp(p_body, 'finished_at', true);
  IF v_finished < v_started THEN
    PERFORM api.fail('TXVAL', 'finished_at', 'must not be before started_at');
  END IF;
  IF v_finished > now() + cases.work_clock_skew() THEN
    PERFORM api.fail('TXVAL', 'finished_at', 'must not be in the future (a record is written after the work)');
  END IF;
  IF v_started < coalesce(c.started_at, c.approved_at) THEN
    PERFORM api.fail('TXVAL', 'started_at',
                     format('must not be before the case started (%s)',
                            api.ts(coalesce(c.started_at, c.approved_at))));
  END IF;
  v_hours_j := p_body -> 'hours';
  IF v_hours_j IS NULL OR jsonb_typeof(v_hours_j) = 'null' THEN
    PERFORM api.fail('TXVAL', 'hours', 'is required');
  END IF;
  IF jsonb_typeof(v_hours_j) <> 'number' THEN
    PERFORM api.fail('TXVAL', 'hours', 'must be a number');
  END IF;
  v_hours := v_hours_j::text::numeric;
  IF v_hours <= 0 OR v_hours > 10000 THEN
    PERFORM api.fail('TXVAL', 'hours', 'must be more than 0 and at most 10000');
  END IF;
  IF v_hours <> round(v_hours, 2) THEN
    PERFORM api.fail('TXVAL', 'hours', 'must have at most two decimals');
  END IF;
  v_corrects := api.body_uuid(p_body, 'corrects_id', false);

  -- The record in force of the milestone, if any (one chain per milestone: migration 0019).
  SELECT w0.id INTO v_force FROM cases.work_records w0
   WHERE w0.case_id = c.id AND w0.milestone_id = m.id
     AND NOT EXISTS (SELECT FROM cases.work_records y WHERE y.corrects_id = w0.id);
  IF v_corrects IS NOT NULL THEN
    SELECT * INTO o FROM cases.work_records x WHERE x.id = v_corrects AND x.case_id = c.id;
    IF o.id IS NULL THEN
      PERFORM api.fail('TXVAL', 'corrects_id', 'is not a work record of this case');
    END IF;
    IF o.milestone_id <> m.id THEN
      PERFORM api.fail('TXVAL', 'corrects_id', 'is a record of another milestone');
    END IF;
    IF o.id IS DISTINCT FROM v_force THEN
      RAISE EXCEPTION USING ERRCODE = 'TXCON',
        MESSAGE = 'that record was corrected already: a correction names the record in force',
        DETAIL = json_build_object('existing_id', v_force)::text;
    END IF;
  ELSIF v_force IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'TXCON',
      MESSAGE = format('the milestone %s has a work record already: a correction names it in corrects_id',
                       m.code),
      DETAIL = json_build_object('existing_id', v_force)::text;
  END IF;

  INSERT INTO cases.work_records (case_id, milestone_id, content, result, started_at, finished_at,
                                  hours, corrects_id, author_id)
  VALUES (c.id, m.id, v_content, v_result, v_started, v_finished, v_hours, v_corrects, v_me)
  RETURNING * INTO w;
  RETURN api.work_record_json(w);
END
$$;
REVOKE ALL ON FUNCTION cases.work_record_add(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.work_record_add(uuid, jsonb) TO tianxing_app;
-- The route's function runs as its caller (api functions are SECURITY INVOKER: sql/tests/org.sql);
-- the write is the SECURITY DEFINER function above.
CREATE OR REPLACE FUNCTION api.case_work_record_add(p_case uuid, p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT cases.work_record_add(p_case, p_body) $$;
REVOKE ALL ON FUNCTION api.case_work_record_add(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_work_record_add(uuid, jsonb) TO tianxing_app;

-- GET /v1/cases/{id}/work-records: every record of the case, in force and corrected ones, in the
-- order they were written. Keyset: the cursor is the id of the last record of the page before.
-- Runs as the caller: the policies decide (404 for a case the caller may not see).
CREATE OR REPLACE FUNCTION api.case_work_record_list(p_case uuid, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_at timestamptz;
  v_id uuid;
  v_out json;
BEGIN
  PERFORM cases.visible_case(p_case);
  IF p_cursor IS NOT NULL THEN
    IF p_cursor !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    SELECT w.at, w.id INTO v_at, v_id FROM cases.work_records w
     WHERE w.id = p_cursor::uuid AND w.case_id = p_case;
    IF v_id IS NULL THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
  END IF;
  WITH page AS (
    SELECT w, w.id, row_number() OVER (ORDER BY w.at, w.id) AS rn
      FROM cases.work_records w
     WHERE w.case_id = p_case AND (v_id IS NULL OR (w.at, w.id) > (v_at, v_id))
     ORDER BY w.at, w.id
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.work_record_json(p.w) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN (min(p.id::text) FILTER (WHERE p.rn = v_limit)) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.case_work_record_list(uuid, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_work_record_list(uuid, integer, text) TO tianxing_app;

-- Escalations (P2.3) -----------------------------------------------------------------------------

-- Whom a problem raised by p_raiser on the case goes to: the raiser's supervisor (supervisor_id)
-- when that person is active; else a supervisor of the case's department other than the raiser:
-- the active employee holding the role supervisor there, the first by username (a deterministic
-- choice, documented in the contract). NULL when there is nobody.
CREATE OR REPLACE FUNCTION cases.escalation_addressee(p_case uuid, p_raiser uuid) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce(
           (SELECT s.id FROM org.employees e JOIN org.employees s ON s.id = e.supervisor_id
             WHERE e.id = p_raiser AND s.active),
           (SELECT s.id FROM cases.cases c JOIN org.employees s ON s.department_id = c.department_id
             WHERE c.id = p_case AND s.active AND 'supervisor' = ANY (s.roles)
               AND s.id IS DISTINCT FROM p_raiser
             ORDER BY s.username
             LIMIT 1))
$$;
REVOKE ALL ON FUNCTION cases.escalation_addressee(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.escalation_addressee(uuid, uuid) TO tianxing_app;

-- Rules for every writer. INSERT: the case is approved and open (cases.escalation_states()); a
-- first escalation (level 1) is raised by a current assignee and stamped with the database's
-- clock; a climbed one (F's job) names an escalation of the same case one level below; it is
-- addressed to an active employee other than the raiser, open, due after it was raised.
-- UPDATE: only an open escalation changes, and only its status and answer: resolved by the
-- person it is addressed to (resolved_at is the database's clock), climbed, or withdrawn with its
-- cancelled case. No DELETE or
-- TRUNCATE: what was raised and answered stays (R and Q read it).
CREATE OR REPLACE FUNCTION cases.escalations_rules() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  c cases.cases;
  f cases.escalations;
BEGIN
  IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
    RAISE EXCEPTION 'cases.escalations: % is not allowed: escalations are kept as raised and answered',
      TG_OP USING ERRCODE = '42501';
  END IF;
  IF TG_OP = 'INSERT' THEN
    c := cases.work_case_locked(NEW.case_id);
    IF c.id IS NULL THEN
      RAISE EXCEPTION 'no such case' USING ERRCODE = 'P0002';
    END IF;
    IF NOT c.status = ANY (cases.escalation_states()) THEN
      PERFORM fsm.refuse('case', c.status,
                         format('a problem is escalated while the approved case is open; it is %s (P2.3)',
                                c.status));
    END IF;
    IF NEW.climbed_from IS NULL THEN
      IF NEW.level <> 1 THEN
        RAISE EXCEPTION 'a first escalation is of level 1' USING ERRCODE = '23514';
      END IF;
      IF NOT cases.work_assignee(c.id, NEW.raised_by) THEN
        RAISE EXCEPTION 'only a current assignee of the case escalates a problem of it (P2.3)'
          USING ERRCODE = '42501';
      END IF;
      NEW.raised_at := now();
    ELSE
      SELECT * INTO f FROM cases.escalations x WHERE x.id = NEW.climbed_from;
      IF f.id IS NULL OR f.case_id <> NEW.case_id OR NEW.level <> f.level + 1 THEN
        RAISE EXCEPTION 'a climbed escalation names one of the same case one level below'
          USING ERRCODE = '23514';
      END IF;
    END IF;
    IF NEW.addressed_to = NEW.raised_by
       OR NOT EXISTS (SELECT FROM org.employees e WHERE e.id = NEW.addressed_to AND e.active) THEN
      RAISE EXCEPTION 'an escalation is addressed to an active employee other than the raiser'
        USING ERRCODE = '23514';
    END IF;
    IF NEW.status <> 'open' THEN
      RAISE EXCEPTION 'an escalation starts open' USING ERRCODE = '23514';
    END IF;
    IF NEW.due_at <= NEW.raised_at THEN
      RAISE EXCEPTION 'an escalation is due after it was raised' USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
  END IF;
  -- UPDATE
  IF OLD.status <> 'open' THEN
    RAISE EXCEPTION 'the escalation is % and does not change again', OLD.status
      USING ERRCODE = 'TXCON';
  END IF;
  IF (NEW.id, NEW.case_id, NEW.problem, NEW.raised_by, NEW.raised_at, NEW.addressed_to, NEW.level,
      NEW.climbed_from, NEW.due_at)
     IS DISTINCT FROM (OLD.id, OLD.case_id, OLD.problem, OLD.raised_by, OLD.raised_at,
                       OLD.addressed_to, OLD.level, OLD.climbed_from, OLD.due_at) THEN
    RAISE EXCEPTION 'only the status and the answer of an escalation change' USING ERRCODE = '42501';
  END IF;
  -- withdrawn only with its case: cases.case_cancel withdraws what is open after the move
  IF NEW.status = 'withdrawn'
     AND NOT EXISTS (SELECT FROM cases.cases x WHERE x.id = NEW.case_id AND x.status = 'cancelled') THEN
    RAISE EXCEPTION 'an escalation is withdrawn only when its case is cancelled' USING ERRCODE = 'TXCON';
  END IF;
  IF NEW.status = 'resolved' THEN
    IF NEW.resolved_by IS DISTINCT FROM OLD.addressed_to THEN
      RAISE EXCEPTION 'only the person an escalation is addressed to resolves it (P2.3)'
        USING ERRCODE = '42501';
    END IF;
    NEW.resolved_at := now();
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cases.escalations_rules() FROM PUBLIC;
CREATE OR REPLACE TRIGGER escalations_rules BEFORE INSERT OR UPDATE OR DELETE ON cases.escalations
  FOR EACH ROW EXECUTE FUNCTION cases.escalations_rules();
CREATE OR REPLACE TRIGGER escalations_no_truncate BEFORE TRUNCATE ON cases.escalations
  FOR EACH STATEMENT EXECUTE FUNCTION cases.escalations_rules();

-- The person an escalation is addressed to reads it (and answers it) even when the case is
-- outside what they otherwise see (a raiser's supervisor in another department).
DROP POLICY IF EXISTS escalations_addressee ON cases.escalations;
CREATE POLICY escalations_addressee ON cases.escalations FOR SELECT TO tianxing_app
  USING (addressed_to = (SELECT tx.user_id()));

CREATE OR REPLACE FUNCTION api.escalation_json(e cases.escalations) RETURNS json
  LANGUAGE sql STABLE
  AS $$
  SELECT json_build_object(
           'id', e.id, 'case_id', e.case_id, 'problem', e.problem,
           'raised_by', e.raised_by, 'raised_at', api.ts(e.raised_at),
           'addressed_to', e.addressed_to, 'level', e.level, 'climbed_from', e.climbed_from,
           'climbed_to', (SELECT x.id FROM cases.escalations x WHERE x.climbed_from = e.id),
           'due_at', api.ts(e.due_at), 'status', e.status,
           'solution', e.solution, 'resolved_by', e.resolved_by,
           'resolved_at', api.ts(e.resolved_at))
$$;
REVOKE ALL ON FUNCTION api.escalation_json(cases.escalations) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.escalation_json(cases.escalations) TO tianxing_app;

-- POST /v1/cases/{id}/escalations (P2.3): {problem}. 404, 403 (not a current assignee), 409 (the
-- case's state; nobody to address it to), 422. due_at from the policy in force and the calendar
-- (cases.deadline_at, part F). Answers 201 with the escalation.
CREATE OR REPLACE FUNCTION cases.escalation_raise(p_case uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_me uuid := api.require_user();
  c cases.cases;
  v_problem text;
  v_to uuid;
  e cases.escalations;
BEGIN
  PERFORM cases.visible_case(p_case);
  PERFORM api.require_role('staff', 'supervisor');
  c := cases.work_case_locked(p_case);
  IF NOT cases.work_assignee(p_case, v_me) THEN
    RAISE EXCEPTION 'only a current assignee of the case escalates a problem of it (P2.3)'
      USING ERRCODE = '42501';
  END IF;
  IF NOT c.status = ANY (cases.escalation_states()) THEN
    PERFORM fsm.refuse('case', c.status,
                       format('a problem is escalated while the approved case is open; it is %s (P2.3)',
                              c.status));
  END IF;
  PERFORM api.body_keys(p_body, ARRAY['problem']);
  v_problem := api.body_text(p_body, 'problem', true, 4000);
  v_to := cases.escalation_addressee(c.id, v_me);
  IF v_to IS NULL THEN
    RAISE EXCEPTION 'there is nobody to escalate to: you have no active supervisor and the case''s department has no other active supervisor'
      USING ERRCODE = 'TXCON';
  END IF;
  INSERT INTO cases.escalations (case_id, problem, raised_by, addressed_to, level, due_at)
  VALUES (c.id, v_problem, v_me, v_to, 1, cases.deadline_at('escalation', now()))
  RETURNING * INTO e;
  RETURN api.escalation_json(e);
END
$$;
REVOKE ALL ON FUNCTION cases.escalation_raise(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.escalation_raise(uuid, jsonb) TO tianxing_app;
-- The route's function runs as its caller (api functions are SECURITY INVOKER: sql/tests/org.sql);
-- the write is the SECURITY DEFINER function above.
CREATE OR REPLACE FUNCTION api.case_escalation_raise(p_case uuid, p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT cases.escalation_raise(p_case, p_body) $$;
REVOKE ALL ON FUNCTION api.case_escalation_raise(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_escalation_raise(uuid, jsonb) TO tianxing_app;

-- GET /v1/cases/{id}/escalations: the case's escalations, climbed ones included, oldest first.
-- Keyset: the cursor is the id of the last escalation of the page before.
CREATE OR REPLACE FUNCTION api.case_escalation_list(p_case uuid, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_at timestamptz;
  v_id uuid;
  v_out json;
BEGIN
  PERFORM cases.visible_case(p_case);
  IF p_cursor IS NOT NULL THEN
    IF p_cursor !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
    SELECT e.raised_at, e.id INTO v_at, v_id FROM cases.escalations e
     WHERE e.id = p_cursor::uuid AND e.case_id = p_case;
    IF v_id IS NULL THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
  END IF;
  WITH page AS (
    SELECT e, e.id, row_number() OVER (ORDER BY e.raised_at, e.id) AS rn
      FROM cases.escalations e
     WHERE e.case_id = p_case AND (v_id IS NULL OR (e.raised_at, e.id) > (v_at, v_id))
     ORDER BY e.raised_at, e.id
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(api.escalation_json(p.e) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN (min(p.id::text) FILTER (WHERE p.rn = v_limit)) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.case_escalation_list(uuid, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_escalation_list(uuid, integer, text) TO tianxing_app;

-- GET /v1/escalations/{id}: NULL (404) when the caller may see neither the case nor is the
-- addressee (the policies decide).
CREATE OR REPLACE FUNCTION api.escalation_get(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE e cases.escalations;
BEGIN
  PERFORM api.require_user();
  SELECT * INTO e FROM cases.escalations x WHERE x.id = p_id;
  IF e.id IS NULL THEN
    RETURN NULL;
  END IF;
  RETURN api.escalation_json(e);
END
$$;
REVOKE ALL ON FUNCTION api.escalation_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.escalation_get(uuid) TO tianxing_app;

-- POST /v1/escalations/{id}/resolve (P2.3): {solution}, by the person the escalation is addressed
-- to (after a climb, the open escalation one level up is the one to resolve). 404 (not visible),
-- 403 (not the addressee), 409 (resolved or climbed already), 422.
CREATE OR REPLACE FUNCTION cases.escalation_resolve(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_me uuid := api.require_user();
  e cases.escalations;
  v_solution text;
  v_up uuid;
BEGIN
  SELECT * INTO e FROM cases.escalations x
   WHERE x.id = p_id AND (x.addressed_to = v_me OR cases.may_read(x.case_id))
     FOR UPDATE;
  IF e.id IS NULL THEN
    RAISE EXCEPTION 'no such escalation' USING ERRCODE = 'P0002';
  END IF;
  IF e.addressed_to <> v_me THEN
    RAISE EXCEPTION 'only the person the escalation is addressed to resolves it (P2.3)'
      USING ERRCODE = '42501';
  END IF;
  IF e.status = 'climbed' THEN
    SELECT x.id INTO v_up FROM cases.escalations x WHERE x.climbed_from = e.id;
    RAISE EXCEPTION 'the escalation climbed to the next level (escalation %): that one is answered now',
      v_up USING ERRCODE = 'TXCON';
  END IF;
  IF e.status = 'withdrawn' THEN
    RAISE EXCEPTION 'the escalation was withdrawn with its cancelled case' USING ERRCODE = 'TXCON';
  END IF;
  IF e.status <> 'open' THEN
    RAISE EXCEPTION 'the escalation is resolved already' USING ERRCODE = 'TXCON';
  END IF;
  PERFORM api.body_keys(p_body, ARRAY['solution']);
  v_solution := api.body_text(p_body, 'solution', true, 4000);
  UPDATE cases.escalations x
     SET status = 'resolved', solution = v_solution, resolved_by = v_me, resolved_at = now()
   WHERE x.id = e.id
  RETURNING * INTO e;
  RETURN api.escalation_json(e);
END
$$;
REVOKE ALL ON FUNCTION cases.escalation_resolve(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.escalation_resolve(uuid, jsonb) TO tianxing_app;
-- The route's function runs as its caller (api functions are SECURITY INVOKER: sql/tests/org.sql);
-- the write is the SECURITY DEFINER function above.
CREATE OR REPLACE FUNCTION api.escalation_resolve(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT cases.escalation_resolve(p_id, p_body) $$;
REVOKE ALL ON FUNCTION api.escalation_resolve(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.escalation_resolve(uuid, jsonb) TO tianxing_app;

-- Submission for review (P3.1, P3.3) -------------------------------------------------------------

-- A review round is opened only by the submission: the case has just moved to under_review and
-- the round is its review_round; the submitter is a current assignee. For every writer.
CREATE OR REPLACE FUNCTION cases.review_submission_rules() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE c cases.cases := cases.work_case_locked(NEW.case_id);
BEGIN
  IF c.id IS NULL THEN
    RAISE EXCEPTION 'no such case' USING ERRCODE = 'P0002';
  END IF;
  IF c.status <> 'under_review' OR NEW.round <> c.review_round THEN
    RAISE EXCEPTION 'a review round is opened by submitting the case for review (round %, the case is %)',
      c.review_round, c.status USING ERRCODE = '55000';
  END IF;
  IF NOT cases.work_assignee(c.id, NEW.submitted_by) THEN
    RAISE EXCEPTION 'only a current assignee of the case submits it for review (P3.1)'
      USING ERRCODE = '42501';
  END IF;
  NEW.submitted_at := now();
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cases.review_submission_rules() FROM PUBLIC;
CREATE OR REPLACE TRIGGER review_submission_rules BEFORE INSERT ON cases.reviews
  FOR EACH ROW EXECUTE FUNCTION cases.review_submission_rules();

-- POST /v1/cases/{id}/submit-review: from in_progress the action submit_review (body {} or none),
-- from rectifying resubmit with {rectification_note} (P3.3: what was done about the findings).
-- 404, 403 (not a current assignee), 409 invalid_transition (the state; or the guard, with
-- missing_milestones: the codes of the required milestones without a record), 422. Moves the
-- case (review_round + 1) and opens that round in cases.reviews; answers the case (api.case_json).
CREATE OR REPLACE FUNCTION cases.submit_review(p_case uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_me uuid := api.require_user();
  c cases.cases;
  v_action text;
  v_note text;
  v_missing text[];
  v_guard text := 'cases.required_milestones_recorded';
BEGIN
  PERFORM cases.visible_case(p_case);
  PERFORM api.require_role('staff', 'supervisor');
  SELECT * INTO c FROM cases.cases x WHERE x.id = p_case FOR UPDATE;
  IF NOT cases.work_assignee(p_case, v_me) THEN
    RAISE EXCEPTION 'only a current assignee of the case submits it for review (P3.1)'
      USING ERRCODE = '42501';
  END IF;
  v_action := CASE c.status WHEN 'rectifying' THEN 'resubmit' ELSE 'submit_review' END;
  -- the state and the roles (TXTRN with allowed_actions), before the body is looked at
  PERFORM fsm.transition('case', c.status, v_action);

  PERFORM api.body_keys(coalesce(p_body, '{}'), ARRAY['rectification_note']);
  v_note := api.body_text(p_body, 'rectification_note', v_action = 'resubmit', 4000);
  IF v_action = 'submit_review' AND v_note IS NOT NULL THEN
    PERFORM api.fail('TXVAL', 'rectification_note',
                     'only a resubmission (the case is rectifying) carries a rectification note');
  END IF;

  -- The guard, checked here to name what is missing (fsm.move checks it again).
  v_missing := cases.missing_milestones(p_case);
  IF NOT cases.required_milestones_recorded(p_case) THEN
    RAISE EXCEPTION USING ERRCODE = 'TXTRN',
      MESSAGE = format('%s is not possible: the guard %s refused (%s): missing %s', v_action,
                       v_guard,
                       obj_description('cases.required_milestones_recorded(uuid)'::regprocedure,
                                       'pg_proc'),
                       CASE WHEN cardinality(v_missing) = 0 THEN 'the business type'
                            ELSE array_to_string(v_missing, ', ') END),
      DETAIL = jsonb_build_object('state', c.status,
                                  'allowed_actions', to_jsonb(fsm.allowed_actions('case', c.status)),
                                  'guard', v_guard,
                                  'missing_milestones', to_jsonb(v_missing))::text;
  END IF;

  PERFORM fsm.move('case', p_case, v_action, v_note,
                   jsonb_build_object('review_round', c.review_round + 1));
  INSERT INTO cases.reviews (case_id, round, submitted_by, rectification_note)
  VALUES (p_case, c.review_round + 1, v_me, v_note);
  RETURN api.case_json(p_case);
END
$$;
REVOKE ALL ON FUNCTION cases.submit_review(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.submit_review(uuid, jsonb) TO tianxing_app;
-- The route's function runs as its caller (api functions are SECURITY INVOKER: sql/tests/org.sql);
-- the write is the SECURITY DEFINER function above.
CREATE OR REPLACE FUNCTION api.case_submit_review(p_case uuid, p_body jsonb) RETURNS json
  LANGUAGE sql
  AS $$ SELECT cases.submit_review(p_case, p_body) $$;
REVOKE ALL ON FUNCTION api.case_submit_review(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.case_submit_review(uuid, jsonb) TO tianxing_app;
