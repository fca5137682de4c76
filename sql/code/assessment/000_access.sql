-- Module Q: who may see an assessment and the rows around it; the row-level security of every
-- table of schema assessment (READINGS.md, Q, "Who sees what").
--
-- How the module writes (as module P): the runtime role (tianxing_app) only SELECTs these tables
-- under the policies below. Every write goes through an api.* function (SECURITY INVOKER) that
-- calls a SECURITY DEFINER writer of schema assessment (owner tianxing_owner, search_path
-- pinned), which first finds the row as the caller sees it (invisible = 404), then checks the
-- role and the person, then writes. The rules of Q hold below that, in triggers, for every
-- writer: a published assessment is immutable, a correction needs a second person, and so on.
--
-- Who sees what:
--   the employee: their own assessments, indicators, answers attributed to them, training plans;
--   a supervisor: those of the employees they evaluate (the assessment's supervisor) and of their
--     direct reports today;
--   hr: everything; the salary bases (assessment.salary_bases) are hr's alone;
--   auditor: everything but the salary bases, read-only (no write function admits the role);
--   risk_officer: the training plans that module R links to a risk (R2.4);
--   admin: the periods and questionnaires like everyone, no person's assessment.

-- p_employee reports directly to the caller today. SECURITY DEFINER: the policies below ask it
-- without depending on what the caller may read of org.employees.
CREATE OR REPLACE FUNCTION assessment.is_report(p_employee uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT tx.has_role('supervisor')
         AND EXISTS (SELECT FROM org.employees e
                      WHERE e.id = p_employee AND e.supervisor_id = tx.user_id())
$$;
REVOKE ALL ON FUNCTION assessment.is_report(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.is_report(uuid) TO tianxing_app;

-- An assessment of someone without a supervisor at the period's end is evaluated by a
-- supervisor of their department (assessment.is_evaluator, Q3: e.g. a department's supervisor who
-- also holds the role staff, evaluated by the department's other supervisor): that supervisor
-- must see it, or its evaluation is 404 and the month can never be closed.
CREATE OR REPLACE FUNCTION assessment.is_department_evaluator(p_supervisor uuid, p_department uuid)
  RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT p_supervisor IS NULL AND p_department IS NOT NULL AND tx.has_role('supervisor')
         AND EXISTS (SELECT FROM org.employees e
                      WHERE e.id = tx.user_id() AND e.active AND e.department_id = p_department
                        AND 'supervisor' = ANY (e.roles))
$$;
REVOKE ALL ON FUNCTION assessment.is_department_evaluator(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.is_department_evaluator(uuid, uuid) TO tianxing_app;

-- The caller may read the assessment p_id (false for an unknown id). Writers start here: an
-- assessment the caller may not read is 404, before any role, person or state check.
CREATE OR REPLACE FUNCTION assessment.may_read(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce(
           (SELECT tx.has_role('hr') OR tx.has_role('auditor')
                   OR a.employee_id = tx.user_id()
                   OR (tx.has_role('supervisor') AND a.supervisor_id = tx.user_id())
                   OR assessment.is_report(a.employee_id)
                   OR assessment.is_department_evaluator(a.supervisor_id, a.department_id)
              FROM assessment.assessments a WHERE a.id = p_id),
           false)
$$;
REVOKE ALL ON FUNCTION assessment.may_read(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment.may_read(uuid) TO tianxing_app;

-- Policies ------------------------------------------------------------------------------------
DROP POLICY IF EXISTS periods_read ON assessment.periods;
CREATE POLICY periods_read ON assessment.periods FOR SELECT TO tianxing_app
  USING ((SELECT tx.user_id()) IS NOT NULL);

-- Written inline (not through assessment.may_read) so that lists plan it as a filter.
DROP POLICY IF EXISTS assessments_read ON assessment.assessments;
CREATE POLICY assessments_read ON assessment.assessments FOR SELECT TO tianxing_app
  USING ((SELECT tx.has_role('hr')) OR (SELECT tx.has_role('auditor'))
         OR employee_id = (SELECT tx.user_id())
         OR ((SELECT tx.has_role('supervisor'))
             AND (supervisor_id = (SELECT tx.user_id()) OR assessment.is_report(employee_id)
                  OR assessment.is_department_evaluator(supervisor_id, department_id))));

-- Indicators: with their assessment (read under its policy).
DROP POLICY IF EXISTS indicator_values_read ON assessment.indicator_values;
CREATE POLICY indicator_values_read ON assessment.indicator_values FOR SELECT TO tianxing_app
  USING (EXISTS (SELECT FROM assessment.assessments a WHERE a.id = assessment_id));

-- Questionnaires are read by everyone signed in (staff see what their customers are asked).
DROP POLICY IF EXISTS surveys_read ON assessment.surveys;
CREATE POLICY surveys_read ON assessment.surveys FOR SELECT TO tianxing_app
  USING ((SELECT tx.user_id()) IS NOT NULL);
DROP POLICY IF EXISTS survey_versions_read ON assessment.survey_versions;
CREATE POLICY survey_versions_read ON assessment.survey_versions FOR SELECT TO tianxing_app
  USING ((SELECT tx.user_id()) IS NOT NULL);

-- Sends: hr, admin and auditor all; staff and supervisors those about a case they may read.
DROP POLICY IF EXISTS survey_sends_read ON assessment.survey_sends;
CREATE POLICY survey_sends_read ON assessment.survey_sends FOR SELECT TO tianxing_app
  USING ((SELECT tx.has_role('hr')) OR (SELECT tx.has_role('admin'))
         OR (SELECT tx.has_role('auditor'))
         OR (case_id IS NOT NULL AND cases.may_read(case_id)));

-- Attributions: hr and auditor all; the employee their own; a supervisor their reports'.
DROP POLICY IF EXISTS survey_attributions_read ON assessment.survey_attributions;
CREATE POLICY survey_attributions_read ON assessment.survey_attributions FOR SELECT TO tianxing_app
  USING ((SELECT tx.has_role('hr')) OR (SELECT tx.has_role('auditor'))
         OR employee_id = (SELECT tx.user_id()) OR assessment.is_report(employee_id));

-- Answers: hr and auditor all; others the answers attributed to someone they may see.
DROP POLICY IF EXISTS survey_answers_read ON assessment.survey_answers;
CREATE POLICY survey_answers_read ON assessment.survey_answers FOR SELECT TO tianxing_app
  USING ((SELECT tx.has_role('hr')) OR (SELECT tx.has_role('auditor'))
         OR EXISTS (SELECT FROM assessment.survey_attributions t WHERE t.answer_id = id));

-- The salary base: hr only (issue 12).
DROP POLICY IF EXISTS salary_bases_read ON assessment.salary_bases;
CREATE POLICY salary_bases_read ON assessment.salary_bases FOR SELECT TO tianxing_app
  USING ((SELECT tx.has_role('hr')));

-- Training plans: the employee, their supervisor, hr, auditor; the risk officer those of a risk.
DROP POLICY IF EXISTS training_plans_read ON assessment.training_plans;
CREATE POLICY training_plans_read ON assessment.training_plans FOR SELECT TO tianxing_app
  USING ((SELECT tx.has_role('hr')) OR (SELECT tx.has_role('auditor'))
         OR employee_id = (SELECT tx.user_id()) OR assessment.is_report(employee_id)
         OR ((SELECT tx.has_role('risk_officer')) AND (source = 'risk' OR risk_id IS NOT NULL)));

-- Where people stood: hr, admin, auditor; the employee; their supervisor.
DROP POLICY IF EXISTS employee_spans_read ON org.employee_spans;
CREATE POLICY employee_spans_read ON org.employee_spans FOR SELECT TO tianxing_app
  USING ((SELECT tx.has_role('hr')) OR (SELECT tx.has_role('admin'))
         OR (SELECT tx.has_role('auditor'))
         OR employee_id = (SELECT tx.user_id()) OR assessment.is_report(employee_id));

-- The owner's functions (SECURITY DEFINER) read and write every row; the rules that hold for
-- them too are triggers.
DO $$
DECLARE t text;
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c
            WHERE c.relnamespace = 'assessment'::regnamespace AND c.relkind = 'r' LOOP
    EXECUTE format('DROP POLICY IF EXISTS %I ON assessment.%I', t || '_definer', t);
    EXECUTE format('CREATE POLICY %I ON assessment.%I FOR ALL TO tianxing_owner '
                   'USING (true) WITH CHECK (true)', t || '_definer', t);
  END LOOP;
END
$$;
DROP POLICY IF EXISTS employee_spans_definer ON org.employee_spans;
CREATE POLICY employee_spans_definer ON org.employee_spans FOR ALL TO tianxing_owner
  USING (true) WITH CHECK (true);

-- Which status follows which (fsm.transitions, migration 0022).
CREATE OR REPLACE TRIGGER zz_state_machine BEFORE INSERT OR UPDATE ON assessment.periods
  FOR EACH ROW EXECUTE FUNCTION fsm.enforce('assessment_period');
CREATE OR REPLACE TRIGGER zz_state_machine BEFORE INSERT OR UPDATE ON assessment.assessments
  FOR EACH ROW EXECUTE FUNCTION fsm.enforce('assessment');
CREATE OR REPLACE TRIGGER zz_state_machine BEFORE INSERT OR UPDATE ON assessment.training_plans
  FOR EACH ROW EXECUTE FUNCTION fsm.enforce('training_plan');
