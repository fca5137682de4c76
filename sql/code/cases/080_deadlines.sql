-- sql/code/cases/080_deadlines.sql: the deadlines of a case, opened and ended as the case moves,
-- and the job that marks them overdue and climbs unanswered escalations (module P, part F; issue
-- 11, "Deadlines (jobs)"). One current definition per object; `tianxingd migrate` re-applies this
-- file when it changes (sql/code/ORDER, docs/architecture.md).
--
-- A deadline (cases.deadlines, 0018 + 0021) is computed once, when its clock starts, from the
-- policy case_deadlines in force and the working-day calendar (cases.deadline_at,
-- cases.due_after_workdays: sql/code/cases/010_calendar.sql), and stored. It ends once:
--   met     (met_at)    the step was done, on time or late (late = it had been marked overdue);
--   closed  (closed_at) the step will never be done: the case ended before it (cancelled,
--                       rejected, out of scope), an optional milestone was left out when the work
--                       went to review, or an unanswered escalation climbed (its successor has its
--                       own deadline). A closed deadline is neither met nor missed.
-- Overdue (overdue_at) is a stored fact set by the job when it finds the deadline due and open;
-- it is never recomputed (a later change of the calendar does not unmark it).
--
-- Which step opens and ends which deadline (the moves are the state machine 'case', 0018):
--   kind             opened by (clock start)               owner                   ended (met) by
--   reception        the case is received (P1.1)           the receiver            assess_in_scope, assess_out_of_scope
--   approval         submit (P1.4)                         the department's supervisors  approve, reject, return
--   milestone        start (P2.2), one per milestone       the lead assignee       a work record of that milestone
--   escalation       an escalation is raised (P2.3)        its addressee           its resolution (climbing closes it)
--   review_feedback  submit_review, resubmit (P3.3)        the department's supervisors  pass, fail
--   archiving        confirm (P4.1)                        the lead assignee       archive
-- A milestone's due date is cumulative: the end of the (sum of the standard_days of the milestones
-- up to and including it, in seq order)-th working day after the start; a new lead (re-assignment)
-- takes over the open milestone and archiving deadlines. cancel, reject, assess_out_of_scope and
-- archive end the case: every deadline still open then is closed (cancel closes even the step in
-- hand: a cancelled case's deadlines are not "met").
--
-- How: moves are seen through fsm.log (one row per move, written by fsm.enforce inside the UPDATE
-- of the case; the case row read there is the one before the move), so this file depends on no
-- other part's functions. The initial state is not a move (fsm.log has no row for an INSERT): the
-- reception deadline comes from an AFTER INSERT trigger on cases.cases. Work records and
-- escalations have their own triggers. Everything here is SECURITY DEFINER (owner): it writes
-- tables the runtime role only reads, whoever's request caused the move.

-- The states after which nothing more is due.
-- No SET clause: a plain IMMUTABLE SQL function is inlined into the queries that filter with it
-- (the queues read thousands of rows through it; a SET would make it a call per row).
CREATE OR REPLACE FUNCTION cases.is_final_state(p_status text) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
  SELECT p_status IN ('out_of_scope', 'rejected', 'cancelled', 'archived')
$$;
REVOKE ALL ON FUNCTION cases.is_final_state(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.is_final_state(text) TO tianxing_app;

-- Whose a case's work deadlines are (milestones, archiving): the current lead; a case assigned to
-- one person without the word 'lead' has that person; else nobody (the department's supervisors
-- then see it: department_id).
CREATE OR REPLACE FUNCTION cases.deadline_lead(p_case uuid) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce(
           (SELECT a.employee_id FROM cases.assignments a
             WHERE a.case_id = p_case AND a.ended_at IS NULL AND a.role = 'lead'),
           (SELECT min(a.employee_id::text)::uuid FROM cases.assignments a
             WHERE a.case_id = p_case AND a.ended_at IS NULL
            HAVING count(*) = 1))
$$;
REVOKE ALL ON FUNCTION cases.deadline_lead(uuid) FROM PUBLIC;

-- Opens a deadline (idempotent: an open one of the same case, kind and subject stays as it is).
CREATE OR REPLACE FUNCTION cases.deadline_open(p_case uuid, p_kind text, p_subject uuid,
                                               p_owner uuid, p_department uuid,
                                               p_starts timestamptz, p_due timestamptz)
  RETURNS void
  LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  INSERT INTO cases.deadlines (case_id, kind, subject_id, owner_id, department_id, starts_at, due_at)
  VALUES (p_case, p_kind, p_subject, p_owner, p_department, p_starts, greatest(p_due, p_starts))
  ON CONFLICT (case_id, kind, coalesce(subject_id, case_id))
     WHERE met_at IS NULL AND closed_at IS NULL DO NOTHING
$$;
REVOKE ALL ON FUNCTION cases.deadline_open(uuid, text, uuid, uuid, uuid, timestamptz, timestamptz) FROM PUBLIC;

-- Meets the open deadlines of a case of a kind (and subject, when given) at p_at, with an event
-- 'deadline.met' each (Q counts timeliness: on_time says whether it was met by its due instant
-- and before the job found it overdue). A deadline the job marked overdue is met late whatever
-- the instants say: the mark is a stored fact, and the meeting transaction's clock (now() is its
-- start) may lie before the mark's when the two ran side by side; met late, the mark stays.
CREATE OR REPLACE FUNCTION cases.deadline_meet(p_case uuid, p_kind text, p_subject uuid,
                                               p_at timestamptz, p_actor uuid)
  RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE n int;
BEGIN
  WITH met AS (
    UPDATE cases.deadlines d SET met_at = p_at
     WHERE d.case_id = p_case AND d.kind = p_kind
       AND (p_subject IS NULL OR d.subject_id = p_subject)
       AND d.met_at IS NULL AND d.closed_at IS NULL
    RETURNING d.*)
  INSERT INTO cases.events (case_id, type, at, actor_id, data)
  SELECT m.case_id, 'deadline.met', p_at, p_actor,
         jsonb_build_object('deadline_id', m.id, 'kind', m.kind, 'subject_id', m.subject_id,
                            'due_at', m.due_at,
                            'on_time', p_at < m.due_at AND m.overdue_at IS NULL,
                            'overdue_at', m.overdue_at)
    FROM met m;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
REVOKE ALL ON FUNCTION cases.deadline_meet(uuid, text, uuid, timestamptz, uuid) FROM PUBLIC;

-- Closes open deadlines of a case (of a kind and subject when given; every open one when p_kind
-- is NULL) at p_at: they will never be met.
CREATE OR REPLACE FUNCTION cases.deadline_close(p_case uuid, p_kind text, p_subject uuid,
                                                p_at timestamptz)
  RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE n int;
BEGIN
  UPDATE cases.deadlines d SET closed_at = p_at
   WHERE d.case_id = p_case
     AND (p_kind IS NULL OR d.kind = p_kind)
     AND (p_subject IS NULL OR d.subject_id = p_subject)
     AND d.met_at IS NULL AND d.closed_at IS NULL;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
REVOKE ALL ON FUNCTION cases.deadline_close(uuid, text, uuid, timestamptz) FROM PUBLIC;

-- P1.1: a received request is to be assessed within reception_workdays, by its receiver.
CREATE OR REPLACE FUNCTION cases.deadlines_on_receive() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  PERFORM cases.deadline_open(NEW.id, 'reception', NULL, NEW.received_by, NULL, NEW.received_at,
                              cases.deadline_at('reception', NEW.received_at));
  RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER deadlines_on_receive AFTER INSERT ON cases.cases
  FOR EACH ROW EXECUTE FUNCTION cases.deadlines_on_receive();

-- Every move of a case (a row of fsm.log for machine 'case'): the deadlines it ends and opens.
CREATE OR REPLACE FUNCTION cases.deadlines_on_move() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  c cases.cases;
  v_lead uuid;
BEGIN
  -- the case as it was before this move (fsm.enforce logs from inside the case's UPDATE)
  SELECT * INTO c FROM cases.cases x WHERE x.id = NEW.entity_id;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  CASE NEW.action
    WHEN 'assess_in_scope', 'assess_out_of_scope' THEN             -- P1.1 -> P1.2
      PERFORM cases.deadline_meet(c.id, 'reception', NULL, NEW.at, NEW.actor_id);
    WHEN 'submit' THEN                                             -- P1.4
      PERFORM cases.deadline_open(c.id, 'approval', NULL, NULL, c.department_id, NEW.at,
                                  cases.deadline_at('approval', NEW.at));
    WHEN 'approve', 'reject', 'return' THEN
      PERFORM cases.deadline_meet(c.id, 'approval', NULL, NEW.at, NEW.actor_id);
    WHEN 'start' THEN                                              -- P2.2
      v_lead := cases.deadline_lead(c.id);
      PERFORM cases.deadline_open(c.id, 'milestone', m.id, v_lead,
                                  CASE WHEN v_lead IS NULL THEN c.department_id END, NEW.at,
                                  cases.due_after_workdays(NEW.at, m.cumulative_days::int))
         FROM (SELECT x.id, sum(x.standard_days) OVER (ORDER BY x.seq) AS cumulative_days
                 FROM cases.milestones x WHERE x.type_version_id = c.type_version_id) m;
    WHEN 'submit_review', 'resubmit' THEN                          -- P3.3
      -- the required milestones are recorded (the move's guard): what is still open is optional
      -- and was left out
      PERFORM cases.deadline_close(c.id, 'milestone', NULL, NEW.at);
      PERFORM cases.deadline_open(c.id, 'review_feedback', NULL, NULL, c.department_id, NEW.at,
                                  cases.deadline_at('review_feedback', NEW.at));
    WHEN 'pass', 'fail' THEN
      PERFORM cases.deadline_meet(c.id, 'review_feedback', NULL, NEW.at, NEW.actor_id);
    WHEN 'confirm' THEN                                            -- P4.1
      v_lead := cases.deadline_lead(c.id);
      PERFORM cases.deadline_open(c.id, 'archiving', NULL, v_lead,
                                  CASE WHEN v_lead IS NULL THEN c.department_id END, NEW.at,
                                  cases.deadline_at('archiving', NEW.at));
    WHEN 'archive' THEN
      PERFORM cases.deadline_meet(c.id, 'archiving', NULL, NEW.at, NEW.actor_id);
    ELSE
      NULL;
  END CASE;
  -- The case ended: nothing else of it will be done (cancel closes even the step in hand: the
  -- customer withdrew, nobody did it).
  IF cases.is_final_state(NEW.to_state) THEN
    PERFORM cases.deadline_close(c.id, NULL, NULL, NEW.at);
  END IF;
  RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS case_deadlines ON fsm.log;
CREATE TRIGGER case_deadlines AFTER INSERT ON fsm.log
  FOR EACH ROW WHEN (NEW.machine = 'case') EXECUTE FUNCTION cases.deadlines_on_move();

-- P2.2/P2.4: a milestone's deadline is met by the first work record of that milestone (a
-- correction names a record already made: the deadline was met by the first).
CREATE OR REPLACE FUNCTION cases.deadlines_on_work_record() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  PERFORM cases.deadline_meet(NEW.case_id, 'milestone', NEW.milestone_id, NEW.at, NEW.author_id);
  RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER deadlines_on_work_record AFTER INSERT ON cases.work_records
  FOR EACH ROW EXECUTE FUNCTION cases.deadlines_on_work_record();

-- P2.1: a new lead (re-assignment while in progress) takes over the open work deadlines (their
-- due instants stay: the standard's clock started with the work).
CREATE OR REPLACE FUNCTION cases.deadlines_on_new_lead() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  UPDATE cases.deadlines d SET owner_id = NEW.employee_id, department_id = NULL
   WHERE d.case_id = NEW.case_id AND d.kind IN ('milestone', 'archiving')
     AND d.met_at IS NULL AND d.closed_at IS NULL
     AND d.owner_id IS DISTINCT FROM NEW.employee_id;
  RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER deadlines_on_new_lead AFTER INSERT ON cases.assignments
  FOR EACH ROW WHEN (NEW.role = 'lead' AND NEW.ended_at IS NULL)
  EXECUTE FUNCTION cases.deadlines_on_new_lead();

-- P2.3: an escalation is to be answered by its addressee by its due_at (computed by whoever raised
-- it with cases.deadline_at('escalation', ...)); resolved: met; climbed: closed (the job, below,
-- closes it itself at its own time and opens the successor's with the new row).
CREATE OR REPLACE FUNCTION cases.deadlines_on_escalation() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.status = 'open' THEN
      PERFORM cases.deadline_open(NEW.case_id, 'escalation', NEW.id, NEW.addressed_to, NULL,
                                  NEW.raised_at, NEW.due_at);
    END IF;
  ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
    IF NEW.status = 'resolved' THEN
      PERFORM cases.deadline_meet(NEW.case_id, 'escalation', NEW.id, NEW.resolved_at,
                                  NEW.resolved_by);
    ELSIF NEW.status IN ('climbed', 'withdrawn') THEN
      PERFORM cases.deadline_close(NEW.case_id, 'escalation', NEW.id, now());
    END IF;
  END IF;
  RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER deadlines_on_escalation AFTER INSERT OR UPDATE OF status
  ON cases.escalations
  FOR EACH ROW EXECUTE FUNCTION cases.deadlines_on_escalation();

-- The job ------------------------------------------------------------------------------------

-- Who an unanswered escalation addressed to p_employee climbs to (P2.3, "one level up"): their
-- supervisor (org.employees.supervisor_id) when active; else an active supervisor of their
-- department other than themselves; else an active admin other than themselves (the first by
-- username, so that the choice is stable). Nobody in p_exclude is chosen: the job passes the
-- raiser and everyone the escalation was addressed to before (its chain, climbed_from), so that it
-- climbs and never comes back down (two supervisors of a department would otherwise pass it to
-- each other, as would two admins). NULL when there is nobody: the escalation then stays with
-- its addressee, overdue, in their queue.
CREATE OR REPLACE FUNCTION cases.escalation_next_addressee(p_employee uuid, p_exclude uuid[])
  RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce(
           (SELECT s.id FROM org.employees x JOIN org.employees s ON s.id = x.supervisor_id
             WHERE x.id = p_employee AND s.active AND s.id <> x.id
               AND NOT s.id = ANY (coalesce(p_exclude, '{}'))),
           (SELECT s.id FROM org.employees x JOIN org.employees s ON s.department_id = x.department_id
             WHERE x.id = p_employee AND s.active AND s.id <> x.id
               AND 'supervisor' = ANY (s.roles)
               AND NOT s.id = ANY (coalesce(p_exclude, '{}'))
             ORDER BY s.username LIMIT 1),
           (SELECT a.id FROM org.employees a
             WHERE a.active AND a.id <> p_employee AND 'admin' = ANY (a.roles)
               AND NOT a.id = ANY (coalesce(p_exclude, '{}'))
             ORDER BY a.username LIMIT 1))
$$;
REVOKE ALL ON FUNCTION cases.escalation_next_addressee(uuid, uuid[]) FROM PUBLIC;
-- who is above whom is no secret to an employee (the org chart is readable); pgTAP proves the chain
GRANT EXECUTE ON FUNCTION cases.escalation_next_addressee(uuid, uuid[]) TO tianxing_app;

-- The same without exclusions: one level up from p_employee.
CREATE OR REPLACE FUNCTION cases.escalation_next_addressee(p_employee uuid) RETURNS uuid
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT cases.escalation_next_addressee(p_employee, '{}'::uuid[]) $$;
REVOKE ALL ON FUNCTION cases.escalation_next_addressee(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.escalation_next_addressee(uuid) TO tianxing_app;

-- Who an escalation may not climb to: its raiser and everyone it (its chain of climbed_from) was
-- addressed to.
CREATE OR REPLACE FUNCTION cases.escalation_chain_people(p_escalation uuid) RETURNS uuid[]
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  WITH RECURSIVE chain AS (
    SELECT e.id, e.climbed_from, e.addressed_to, e.raised_by
      FROM cases.escalations e WHERE e.id = p_escalation
    UNION ALL
    SELECT e.id, e.climbed_from, e.addressed_to, e.raised_by
      FROM cases.escalations e JOIN chain ch ON e.id = ch.climbed_from)
  SELECT coalesce(array_agg(DISTINCT p.who), '{}')
    FROM chain ch, LATERAL (VALUES (ch.addressed_to), (ch.raised_by)) p(who)
   WHERE p.who IS NOT NULL
$$;
REVOKE ALL ON FUNCTION cases.escalation_chain_people(uuid) FROM PUBLIC;

-- One pass at the instant p_at (the job passes now(); pgTAP passes the instant it wants):
--   1. every open deadline due by p_at and not yet marked (at most p_batch, oldest due first,
--      skipping rows another replica's pass holds: FOR UPDATE SKIP LOCKED) gets overdue_at = p_at
--      and an event 'deadline.overdue' with its kind and subject;
--   2. each of those that is an escalation still open climbs one level up
--      (cases.escalation_next_addressee, never to its raiser nor to anyone it was addressed to
--      before): the row becomes 'climbed', its deadline closes, a new
--      row level + 1 names it (climbed_from), raised at p_at and due at
--      cases.deadline_at('escalation', p_at), with its own deadline (the insert trigger above);
--      event 'escalation.climbed'. At level 20 (the table's limit) or with nobody above (other
--      than its raiser and its earlier addressees), it stays; a climb the escalations' rules refuse stays too, with an event
--      'escalation.climb_refused' (SQLSTATE and message), without undoing the rest of the pass.
-- Idempotent: a marked deadline is not picked again. Returns {"marked": n, "climbed": n}.
-- Only the scheduler's identity (claim role system) may run it: a pass at an instant of the
-- caller's choosing is for the job and for pgTAP acting as the job, never for a request.
CREATE OR REPLACE FUNCTION cases.deadlines_sweep(p_at timestamptz, p_batch int)
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  d cases.deadlines;
  e cases.escalations;
  v_to uuid;
  v_new uuid;
  v_marked int := 0;
  v_climbed int := 0;
BEGIN
  PERFORM jobs.require_system();
  IF p_at IS NULL OR p_batch IS NULL OR p_batch < 1 THEN
    RAISE EXCEPTION 'deadlines_sweep: an instant and a batch of at least 1 are required'
      USING ERRCODE = '22023';
  END IF;
  FOR d IN
    SELECT * FROM cases.deadlines x
     WHERE x.met_at IS NULL AND x.closed_at IS NULL AND x.overdue_at IS NULL AND x.due_at <= p_at
     ORDER BY x.due_at, x.id
     LIMIT p_batch
       FOR UPDATE SKIP LOCKED
  LOOP
    UPDATE cases.deadlines x SET overdue_at = p_at WHERE x.id = d.id;
    INSERT INTO cases.events (case_id, type, at, data)
    VALUES (d.case_id, 'deadline.overdue', p_at,
            jsonb_build_object('deadline_id', d.id, 'kind', d.kind, 'subject_id', d.subject_id,
                               'owner_id', d.owner_id, 'department_id', d.department_id,
                               'due_at', d.due_at));
    v_marked := v_marked + 1;
    CONTINUE WHEN d.kind <> 'escalation';
    SELECT * INTO e FROM cases.escalations x
     WHERE x.id = d.subject_id AND x.status = 'open' FOR UPDATE;
    CONTINUE WHEN NOT FOUND OR e.level >= 20;
    -- never back to the one who raised it (the escalations' rules refuse that) nor to anyone it
    -- was addressed to before
    v_to := cases.escalation_next_addressee(e.addressed_to, cases.escalation_chain_people(e.id));
    CONTINUE WHEN v_to IS NULL;
    -- One climb is its own subtransaction: a climb the escalations' rules refuse (the case is no
    -- longer in a state where problems are escalated, say) leaves that escalation overdue with
    -- its addressee, says why in an event, and does not undo the rest of the pass.
    BEGIN
      PERFORM cases.deadline_close(e.case_id, 'escalation', e.id, p_at);
      UPDATE cases.escalations x SET status = 'climbed' WHERE x.id = e.id;
      INSERT INTO cases.escalations (case_id, problem, raised_by, raised_at, addressed_to, level,
                                     climbed_from, due_at)
      VALUES (e.case_id, e.problem, e.raised_by, p_at, v_to, e.level + 1, e.id,
              cases.deadline_at('escalation', p_at))
      RETURNING id INTO v_new;
      INSERT INTO cases.events (case_id, type, at, data)
      VALUES (e.case_id, 'escalation.climbed', p_at,
              jsonb_build_object('escalation_id', v_new, 'climbed_from', e.id,
                                 'from_addressee', e.addressed_to, 'to_addressee', v_to,
                                 'level', e.level + 1));
      v_climbed := v_climbed + 1;
    EXCEPTION WHEN OTHERS THEN
      INSERT INTO cases.events (case_id, type, at, data)
      VALUES (e.case_id, 'escalation.climb_refused', p_at,
              jsonb_build_object('escalation_id', e.id, 'to_addressee', v_to,
                                 'sqlstate', SQLSTATE, 'reason', left(SQLERRM, 500)));
    END;
  END LOOP;
  RETURN jsonb_build_object('marked', v_marked, 'climbed', v_climbed);
END
$$;
REVOKE ALL ON FUNCTION cases.deadlines_sweep(timestamptz, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.deadlines_sweep(timestamptz, int) TO tianxing_app;

-- The job kind 'cases.deadlines' (src/modules/cases/deadlines.c; schedule every 5 minutes, 0021):
-- one pass at now() of at most payload.batch (default 500) deadlines. A backlog larger than a
-- batch is worked off by the next runs. Only the scheduler's identity may run it.
CREATE OR REPLACE FUNCTION cases.deadlines_job(p_payload jsonb) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v_batch int;
BEGIN
  IF p_payload IS NOT NULL AND p_payload ? 'batch'
     AND (jsonb_typeof(p_payload -> 'batch') <> 'number'
          OR (p_payload ->> 'batch') !~ '^[0-9]{1,5}$' OR (p_payload ->> 'batch')::int < 1) THEN
    RAISE EXCEPTION 'cases.deadlines: batch must be an integer 1..99999' USING ERRCODE = '22023';
  END IF;
  v_batch := coalesce((p_payload ->> 'batch')::int, 500);
  RETURN cases.deadlines_sweep(now(), v_batch);
END
$$;
REVOKE ALL ON FUNCTION cases.deadlines_job(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.deadlines_job(jsonb) TO tianxing_app;
