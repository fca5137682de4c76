-- The guards of module R's state machines (migration 0029): what must be recorded and who the
-- person must be for a move. Each is a function of the entity's id run by fsm.enforce with the
-- caller's claims; its COMMENT is what a refused client reads. SECURITY DEFINER: a guard judges
-- against rows the caller may not read (a risk's other responses, a proposer). A writer records
-- what a guard needs on the row first, then moves (guards read the row before the move).

-- The ordered levels of the matrix (risk_matrix): low < medium < high < critical.
CREATE OR REPLACE FUNCTION risk.level_rank(p_level text) RETURNS int
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT array_position(ARRAY['low', 'medium', 'high', 'critical'], p_level) $$;
REVOKE ALL ON FUNCTION risk.level_rank(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.level_rank(text) TO tianxing_app;

-- The risk p_id's level is at or above the policy's risk_response_rules.required_from_level
-- (R2.1: such a risk must have a response). The residual level, once assessed, does not lift
-- the duty: a response is what brought it down.
CREATE OR REPLACE FUNCTION risk.needs_response(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce(
           (SELECT risk.level_rank(r.level)
                     >= risk.level_rank(org.policy_value('risk_response_rules') ->> 'required_from_level')
              FROM risk.risks r WHERE r.id = p_id),
           false)
$$;
REVOKE ALL ON FUNCTION risk.needs_response(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.needs_response(uuid) TO tianxing_app;

-- Rounds (R1.1) -------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION risk.round_completable(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT coalesce((SELECT o.summary IS NOT NULL FROM risk.rounds o WHERE o.id = p_id), false) $$;
COMMENT ON FUNCTION risk.round_completable(uuid) IS
  'a round is completed with a summary of what it identified (R1.1, R1.3)';

-- A regular round is the regulation's 定期: it cannot be cancelled, only completed (late, and
-- then its overdue mark stays).
CREATE OR REPLACE FUNCTION risk.round_cancellable(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT coalesce((SELECT o.kind = 'ad_hoc' FROM risk.rounds o WHERE o.id = p_id), false) $$;
COMMENT ON FUNCTION risk.round_cancellable(uuid) IS
  'only an ad hoc round can be cancelled; a regular round must be held (R1.1)';

-- Risks (R1.2-R2.1) ---------------------------------------------------------------------------
-- Treated: at least one response is in place (planned or further; an accepted risk's acceptance
-- approved by a second person) and none is still waiting for approval.
CREATE OR REPLACE FUNCTION risk.responses_in_place(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT EXISTS (SELECT FROM risk.responses s
                  WHERE s.risk_id = p_id AND s.status IN ('planned', 'in_progress', 'done', 'reviewed'))
         AND NOT EXISTS (SELECT FROM risk.responses s WHERE s.risk_id = p_id AND s.status = 'proposed')
$$;
COMMENT ON FUNCTION risk.responses_in_place(uuid) IS
  'a risk is treated once a response is planned and no acceptance waits for approval (R2.1)';

-- Closed: a reason is recorded; no response is still open or done without its effectiveness
-- review; a risk at or above the required level was treated (has a reviewed response).
CREATE OR REPLACE FUNCTION risk.closable(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT r.closed_reason IS NOT NULL FROM risk.risks r WHERE r.id = p_id), false)
         AND NOT EXISTS (SELECT FROM risk.responses s
                          WHERE s.risk_id = p_id AND s.status IN ('proposed', 'planned', 'in_progress', 'done'))
         AND (NOT risk.needs_response(p_id)
              OR EXISTS (SELECT FROM risk.responses s WHERE s.risk_id = p_id AND s.status = 'reviewed'))
$$;
COMMENT ON FUNCTION risk.closable(uuid) IS
  'a risk is closed with a reason once every response is reviewed or cancelled, and one at or above the required level has a reviewed response (R2.1)';

-- Responses (R2.1) ----------------------------------------------------------------------------
-- The caller is the risk's manager: a risk officer, admin, or a supervisor of its department.
CREATE OR REPLACE FUNCTION risk.manages_risk(p_risk uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT tx.has_role('risk_officer') OR tx.has_role('admin')
         OR coalesce((SELECT tx.has_role('supervisor') AND r.department_id = tx.department_id()
                        FROM risk.risks r WHERE r.id = p_risk), false)
$$;
REVOKE ALL ON FUNCTION risk.manages_risk(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.manages_risk(uuid) TO tianxing_app;

-- Accepting a risk (接受) is approved by a second person who manages it: approved_by is
-- recorded as the caller before the move, and is not the proposer (a CHECK holds that too).
CREATE OR REPLACE FUNCTION risk.response_second_person(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT s.approved_by = tx.user_id() AND s.proposed_by <> tx.user_id()
                          AND risk.manages_risk(s.risk_id)
                     FROM risk.responses s WHERE s.id = p_id), false)
$$;
COMMENT ON FUNCTION risk.response_second_person(uuid) IS
  'accepting a risk is approved by someone other than its proposer who manages the risk (R2.1)';

CREATE OR REPLACE FUNCTION risk.response_owner(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT s.owner_id = tx.user_id() OR risk.manages_risk(s.risk_id)
                     FROM risk.responses s WHERE s.id = p_id), false)
$$;
COMMENT ON FUNCTION risk.response_owner(uuid) IS
  'the response''s owner (or the risk''s manager) carries it out (R2.1)';

CREATE OR REPLACE FUNCTION risk.response_completable(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT s.done_note IS NOT NULL
                          AND (s.owner_id = tx.user_id() OR risk.manages_risk(s.risk_id))
                     FROM risk.responses s WHERE s.id = p_id), false)
$$;
COMMENT ON FUNCTION risk.response_completable(uuid) IS
  'the owner (or the risk''s manager) completes a response with a note of what was done (R2.1)';

-- The effectiveness review is recorded by the caller, who manages the risk and is not the
-- response's owner: nobody marks their own homework.
CREATE OR REPLACE FUNCTION risk.response_reviewable(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT s.effectiveness IS NOT NULL AND s.reviewed_by = tx.user_id()
                          AND s.owner_id <> tx.user_id() AND risk.manages_risk(s.risk_id)
                     FROM risk.responses s WHERE s.id = p_id), false)
$$;
COMMENT ON FUNCTION risk.response_reviewable(uuid) IS
  'a response''s effectiveness is reviewed by a manager of the risk other than its owner (R2.1)';

CREATE OR REPLACE FUNCTION risk.response_manager(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT s.cancel_reason IS NOT NULL AND risk.manages_risk(s.risk_id)
                     FROM risk.responses s WHERE s.id = p_id), false)
$$;
COMMENT ON FUNCTION risk.response_manager(uuid) IS
  'a response is cancelled with a reason by a manager of the risk (R2.1)';

-- Warnings (R3.3) -----------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION risk.warning_analysed(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT w.root_cause IS NOT NULL AND w.analyst_id IS NOT NULL
                     FROM risk.warnings w WHERE w.id = p_id), false)
$$;
COMMENT ON FUNCTION risk.warning_analysed(uuid) IS
  'a warning is analysed in depth first: its root cause and analyst are recorded (R3.3 深入分析)';

CREATE OR REPLACE FUNCTION risk.warning_handled(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT w.measures IS NOT NULL AND w.handled_by IS NOT NULL
                     FROM risk.warnings w WHERE w.id = p_id), false)
$$;
COMMENT ON FUNCTION risk.warning_handled(uuid) IS
  'a warning is handled with the measures taken (R3.3 採取相應的措施)';

CREATE OR REPLACE FUNCTION risk.warning_closable(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT w.outcome IS NOT NULL AND w.closed_by IS NOT NULL
                     FROM risk.warnings w WHERE w.id = p_id), false)
$$;
COMMENT ON FUNCTION risk.warning_closable(uuid) IS
  'a warning is closed with its outcome (R3.3)';

-- Emergency plans (R4.1-R4.3) -----------------------------------------------------------------
-- Approving a version: by a second person (approved_by recorded as the caller, not the
-- drafter), with at least one step; a revision (number > 1) says what changed.
CREATE OR REPLACE FUNCTION risk.plan_version_approvable(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT v.approved_by = tx.user_id() AND v.drafted_by <> tx.user_id()
                          AND (v.number = 1 OR v.change_note IS NOT NULL)
                          AND EXISTS (SELECT FROM risk.plan_steps s WHERE s.version_id = v.id)
                     FROM risk.plan_versions v WHERE v.id = p_id), false)
$$;
COMMENT ON FUNCTION risk.plan_version_approvable(uuid) IS
  'a plan version takes effect when someone other than its drafter approves it; it has steps, and a revision says what changed (R4.1, R4.3)';

-- Holding a drill or recording an event: when it started and ended, its findings, and a timing
-- for every step of the version it ran.
CREATE OR REPLACE FUNCTION risk.exercise_holdable(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT x.version_id IS NOT NULL AND x.started_at IS NOT NULL
                          AND x.ended_at IS NOT NULL AND x.findings IS NOT NULL
                          AND NOT EXISTS (SELECT FROM risk.plan_steps s
                                           WHERE s.version_id = x.version_id
                                             AND NOT EXISTS (SELECT FROM risk.exercise_steps t
                                                              WHERE t.exercise_id = x.id
                                                                AND t.step_id = s.id
                                                                AND t.took_minutes IS NOT NULL))
                     FROM risk.exercises x WHERE x.id = p_id), false)
$$;
COMMENT ON FUNCTION risk.exercise_holdable(uuid) IS
  'a drill is held with its start, end, findings and a timing for every step of the plan version (R4.2)';

CREATE OR REPLACE FUNCTION risk.exercise_lessons_written(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT EXISTS (SELECT FROM risk.lessons l WHERE l.exercise_id = p_id) $$;
COMMENT ON FUNCTION risk.exercise_lessons_written(uuid) IS
  'the lessons of a drill or event are written up before it is closed (R4.3)';

DO $$
DECLARE f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['round_completable', 'round_cancellable', 'responses_in_place',
                           'closable', 'response_second_person', 'response_owner',
                           'response_completable', 'response_reviewable', 'response_manager',
                           'warning_analysed', 'warning_handled', 'warning_closable',
                           'plan_version_approvable', 'exercise_holdable',
                           'exercise_lessons_written'] LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION risk.%I(uuid) FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION risk.%I(uuid) TO tianxing_app', f);
  END LOOP;
END
$$;
