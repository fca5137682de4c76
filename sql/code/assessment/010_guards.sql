-- The guards of module Q's state machines (migration 0022): who the person must be for a move.
-- Each is a function of the entity's id run by fsm.enforce with the caller's claims; its COMMENT
-- is what a refused client reads. SECURITY DEFINER: a guard judges the caller against rows the
-- caller may not read (the employee's supervisor, the correction's proposer).

-- The caller is the assessed employee (Q3 自我評估; acknowledging or appealing the result).
CREATE OR REPLACE FUNCTION assessment.is_assessee(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT a.employee_id = tx.user_id()
                     FROM assessment.assessments a WHERE a.id = p_id), false)
$$;
COMMENT ON FUNCTION assessment.is_assessee(uuid) IS
  'only the assessed employee does this (Q2.1)';

-- The caller evaluates this assessment (Q3 上級評價): the supervisor it names (the employee's
-- supervisor at the period's end), or, when it names none, an active supervisor of its
-- department; never the assessed employee.
CREATE OR REPLACE FUNCTION assessment.is_evaluator(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce(
           (SELECT tx.has_role('supervisor') AND a.employee_id <> e.id
                   AND e.active AND 'supervisor' = ANY (e.roles)
                   AND CASE WHEN a.supervisor_id IS NOT NULL THEN a.supervisor_id = e.id
                            ELSE e.department_id = a.department_id END
              FROM assessment.assessments a, org.employees e
             WHERE a.id = p_id AND e.id = tx.user_id()),
           false)
$$;
COMMENT ON FUNCTION assessment.is_evaluator(uuid) IS
  'the evaluator is the employee''s supervisor at the period''s end (or, when there was none, a supervisor of their department), not the employee (Q3)';

-- Evaluating without a self-assessment: only for an employee who has left (they cannot assess
-- themselves any more), and only by the evaluator.
CREATE OR REPLACE FUNCTION assessment.evaluator_without_self(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT assessment.is_evaluator(p_id)
         AND coalesce((SELECT NOT e.active FROM assessment.assessments a
                         JOIN org.employees e ON e.id = a.employee_id
                        WHERE a.id = p_id), false)
$$;
COMMENT ON FUNCTION assessment.evaluator_without_self(uuid) IS
  'the employee assesses themselves first; only for an employee who has left does their supervisor evaluate without it (Q2.1)';

-- HR's steps (check, return, publish, decide an appeal) are never on one's own assessment.
CREATE OR REPLACE FUNCTION assessment.not_own(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT a.employee_id <> tx.user_id()
                     FROM assessment.assessments a WHERE a.id = p_id), false)
$$;
COMMENT ON FUNCTION assessment.not_own(uuid) IS
  'HR checks, publishes and decides appeals of other people''s assessments, never their own';

-- A correction is approved or rejected by a second person: neither its proposer nor the
-- assessed employee.
CREATE OR REPLACE FUNCTION assessment.second_person(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT a.proposed_by IS DISTINCT FROM tx.user_id()
                          AND a.employee_id <> tx.user_id()
                     FROM assessment.assessments a WHERE a.id = p_id), false)
$$;
COMMENT ON FUNCTION assessment.second_person(uuid) IS
  'a correction is decided by a second person: not the one who proposed it, not the assessed employee';

-- A period closes when every live assessment of it is published and answered or left
-- unanswered: none is still on its way (computed .. checked), appealed, upheld awaiting its
-- correction, or a correction awaiting its decision.
CREATE OR REPLACE FUNCTION assessment.period_complete(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT NOT EXISTS (SELECT FROM assessment.assessments a
                      WHERE a.period_id = p_id
                        AND a.status IN ('computed', 'self_assessed', 'evaluated', 'checked',
                                         'appealed', 'appeal_upheld', 'proposed'))
$$;
COMMENT ON FUNCTION assessment.period_complete(uuid) IS
  'every assessment of the period is published, with no appeal or correction pending';

-- Training plans (Q4; R2.4): HR or the employee's supervisor agree, cancel and complete them;
-- the employee, their supervisor or HR start them.
CREATE OR REPLACE FUNCTION assessment.training_manager(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT p.employee_id <> tx.user_id()
                          AND (tx.has_role('hr') OR assessment.is_report(p.employee_id))
                     FROM assessment.training_plans p WHERE p.id = p_id), false)
$$;
COMMENT ON FUNCTION assessment.training_manager(uuid) IS
  'HR or the employee''s supervisor decides a training plan, not the employee';

CREATE OR REPLACE FUNCTION assessment.training_participant(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce((SELECT p.employee_id = tx.user_id() OR tx.has_role('hr')
                          OR assessment.is_report(p.employee_id)
                     FROM assessment.training_plans p WHERE p.id = p_id), false)
$$;
COMMENT ON FUNCTION assessment.training_participant(uuid) IS
  'the employee, their supervisor or HR starts a training plan';

-- Completing needs the evidence recorded on the plan first (the completing writer records it,
-- then moves the plan), and a manager.
CREATE OR REPLACE FUNCTION assessment.training_completed(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT assessment.training_manager(p_id)
         AND coalesce((SELECT p.evidence IS NOT NULL
                         FROM assessment.training_plans p WHERE p.id = p_id), false)
$$;
COMMENT ON FUNCTION assessment.training_completed(uuid) IS
  'a training plan is completed by HR or the employee''s supervisor with its evidence of completion';

DO $$
DECLARE f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['is_assessee', 'is_evaluator', 'evaluator_without_self', 'not_own',
                           'second_person', 'period_complete', 'training_manager',
                           'training_participant', 'training_completed'] LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION assessment.%I(uuid) FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION assessment.%I(uuid) TO tianxing_app', f);
  END LOOP;
END
$$;
