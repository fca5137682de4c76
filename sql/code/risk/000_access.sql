-- Module R: who may see what of the risk register, credit, indicators, warnings, reports and
-- emergency plans; the row-level security of every table of schema risk (issue 13, "Rules").
--
-- How the module writes (as modules P and Q): the runtime role (tianxing_app) only SELECTs these
-- tables under the policies below. Every write goes through an api.* function (SECURITY INVOKER)
-- that calls a SECURITY DEFINER writer of schema risk (owner tianxing_owner, search_path pinned),
-- which first finds the row as the caller sees it (invisible = 404), then checks the role and
-- the person, then writes. Rules that hold for every writer are triggers.
--
-- Who sees what:
--   risk_officer and admin: everything, and they manage it;
--   auditor: everything, read-only (no writer admits the role);
--   a supervisor: the risks of their department and those they own, with their assessments and
--     responses; indicators, measurements, warnings and monitoring reports;
--   staff: the risks they reported or own, the responses they own (R1.1: staff may report);
--   credit (R2.3): risk officers, admin, auditor; the staff related to the customer (owner, team,
--     the department's supervisors: they sign its contracts) read its credit file too;
--   emergency plans, drills and lessons: everyone signed in (R4.1: each must know their part).

-- The caller may read the risk p_id (false for an unknown id). Writers start here: a risk the
-- caller may not read is 404, before any role, person or state check.
CREATE OR REPLACE FUNCTION risk.may_read(p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce(
           (SELECT tx.has_role('risk_officer') OR tx.has_role('admin') OR tx.has_role('auditor')
                   OR r.owner_id = tx.user_id() OR r.reported_by = tx.user_id()
                   OR (tx.has_role('supervisor') AND r.department_id = tx.department_id())
                   OR EXISTS (SELECT FROM risk.responses s
                               WHERE s.risk_id = r.id AND s.owner_id = tx.user_id())
              FROM risk.risks r WHERE r.id = p_id),
           false)
$$;
REVOKE ALL ON FUNCTION risk.may_read(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.may_read(uuid) TO tianxing_app;

-- The caller manages the whole register (risk officers, admin).
CREATE OR REPLACE FUNCTION risk.is_manager() RETURNS boolean
  LANGUAGE sql STABLE
  AS $$ SELECT tx.has_role('risk_officer') OR tx.has_role('admin') $$;
REVOKE ALL ON FUNCTION risk.is_manager() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.is_manager() TO tianxing_app;

-- The caller may read the credit file of customer p_customer: risk officers, admin, auditor,
-- and the staff related to the customer (cust.is_related). SECURITY DEFINER: the policies below
-- ask it without depending on what the caller may read of cust.customers.
CREATE OR REPLACE FUNCTION risk.may_read_credit(p_customer uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT tx.has_role('risk_officer') OR tx.has_role('admin') OR tx.has_role('auditor')
         OR coalesce((SELECT cust.is_related(c.owner_id, c.department_id, c.id)
                        FROM cust.customers c WHERE c.id = p_customer), false)
$$;
REVOKE ALL ON FUNCTION risk.may_read_credit(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION risk.may_read_credit(uuid) TO tianxing_app;

-- Policies ------------------------------------------------------------------------------------
DROP POLICY IF EXISTS rounds_read ON risk.rounds;
CREATE POLICY rounds_read ON risk.rounds FOR SELECT TO tianxing_app
  USING ((SELECT tx.user_id()) IS NOT NULL);

-- Written inline (not through risk.may_read) so that lists plan it as a filter.
DROP POLICY IF EXISTS risks_read ON risk.risks;
CREATE POLICY risks_read ON risk.risks FOR SELECT TO tianxing_app
  USING ((SELECT tx.has_role('risk_officer')) OR (SELECT tx.has_role('admin'))
         OR (SELECT tx.has_role('auditor'))
         OR owner_id = (SELECT tx.user_id()) OR reported_by = (SELECT tx.user_id())
         OR ((SELECT tx.has_role('supervisor')) AND department_id = (SELECT tx.department_id()))
         OR EXISTS (SELECT FROM risk.responses s
                     WHERE s.risk_id = risks.id AND s.owner_id = (SELECT tx.user_id())));

DROP POLICY IF EXISTS assessments_read ON risk.assessments;
CREATE POLICY assessments_read ON risk.assessments FOR SELECT TO tianxing_app
  USING (risk.may_read(risk_id));

DROP POLICY IF EXISTS responses_read ON risk.responses;
CREATE POLICY responses_read ON risk.responses FOR SELECT TO tianxing_app
  USING (owner_id = (SELECT tx.user_id()) OR risk.may_read(risk_id));

-- Market research and trends: the people who plan for them.
DROP POLICY IF EXISTS market_records_read ON risk.market_records;
CREATE POLICY market_records_read ON risk.market_records FOR SELECT TO tianxing_app
  USING ((SELECT tx.has_role('risk_officer')) OR (SELECT tx.has_role('admin'))
         OR (SELECT tx.has_role('auditor')) OR (SELECT tx.has_role('supervisor'))
         OR author_id = (SELECT tx.user_id()));
DROP POLICY IF EXISTS market_record_risks_read ON risk.market_record_risks;
CREATE POLICY market_record_risks_read ON risk.market_record_risks FOR SELECT TO tianxing_app
  USING (EXISTS (SELECT FROM risk.market_records m WHERE m.id = record_id)
         AND risk.may_read(risk_id));

-- Credit (R2.3).
DROP POLICY IF EXISTS credit_assessments_read ON risk.credit_assessments;
CREATE POLICY credit_assessments_read ON risk.credit_assessments FOR SELECT TO tianxing_app
  USING (risk.may_read_credit(customer_id));
DROP POLICY IF EXISTS guarantees_read ON risk.guarantees;
CREATE POLICY guarantees_read ON risk.guarantees FOR SELECT TO tianxing_app
  USING (risk.may_read_credit(customer_id));
DROP POLICY IF EXISTS receivables_read ON risk.receivables;
CREATE POLICY receivables_read ON risk.receivables FOR SELECT TO tianxing_app
  USING (risk.may_read_credit(customer_id));
DROP POLICY IF EXISTS credit_incidents_read ON risk.credit_incidents;
CREATE POLICY credit_incidents_read ON risk.credit_incidents FOR SELECT TO tianxing_app
  USING (risk.may_read_credit(customer_id));

-- Indicators: definitions for everyone signed in; measurements and warnings for the people who
-- watch them and the warning's owner.
DROP POLICY IF EXISTS kris_read ON risk.kris;
CREATE POLICY kris_read ON risk.kris FOR SELECT TO tianxing_app
  USING ((SELECT tx.user_id()) IS NOT NULL);
DROP POLICY IF EXISTS kri_measurements_read ON risk.kri_measurements;
CREATE POLICY kri_measurements_read ON risk.kri_measurements FOR SELECT TO tianxing_app
  USING ((SELECT tx.has_role('risk_officer')) OR (SELECT tx.has_role('admin'))
         OR (SELECT tx.has_role('auditor')) OR (SELECT tx.has_role('supervisor')));
DROP POLICY IF EXISTS warnings_read ON risk.warnings;
CREATE POLICY warnings_read ON risk.warnings FOR SELECT TO tianxing_app
  USING ((SELECT tx.has_role('risk_officer')) OR (SELECT tx.has_role('admin'))
         OR (SELECT tx.has_role('auditor')) OR (SELECT tx.has_role('supervisor'))
         OR owner_id = (SELECT tx.user_id()));

DROP POLICY IF EXISTS reports_read ON risk.reports;
CREATE POLICY reports_read ON risk.reports FOR SELECT TO tianxing_app
  USING ((SELECT tx.has_role('risk_officer')) OR (SELECT tx.has_role('admin'))
         OR (SELECT tx.has_role('auditor')) OR (SELECT tx.has_role('supervisor')));

-- Emergency plans and everything around them: everyone signed in.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['plans', 'plan_versions', 'plan_steps', 'exercises', 'exercise_steps',
                           'lessons', 'plan_version_lessons'] LOOP
    EXECUTE format('DROP POLICY IF EXISTS %I ON risk.%I', t || '_read', t);
    EXECUTE format('CREATE POLICY %I ON risk.%I FOR SELECT TO tianxing_app '
                   'USING ((SELECT tx.user_id()) IS NOT NULL)', t || '_read', t);
  END LOOP;
END
$$;

-- The owner's functions (SECURITY DEFINER) read and write every row; the rules that hold for
-- them too are triggers.
DO $$
DECLARE t text;
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c
            WHERE c.relnamespace = 'risk'::regnamespace AND c.relkind = 'r' LOOP
    EXECUTE format('DROP POLICY IF EXISTS %I ON risk.%I', t || '_definer', t);
    EXECUTE format('CREATE POLICY %I ON risk.%I FOR ALL TO tianxing_owner '
                   'USING (true) WITH CHECK (true)', t || '_definer', t);
  END LOOP;
END
$$;

-- Which status follows which (fsm.transitions, migration 0029).
CREATE OR REPLACE TRIGGER zz_state_machine BEFORE INSERT OR UPDATE ON risk.rounds
  FOR EACH ROW EXECUTE FUNCTION fsm.enforce('risk_round');
CREATE OR REPLACE TRIGGER zz_state_machine BEFORE INSERT OR UPDATE ON risk.risks
  FOR EACH ROW EXECUTE FUNCTION fsm.enforce('risk');
CREATE OR REPLACE TRIGGER zz_state_machine BEFORE INSERT OR UPDATE ON risk.responses
  FOR EACH ROW EXECUTE FUNCTION fsm.enforce('risk_response');
CREATE OR REPLACE TRIGGER zz_state_machine BEFORE INSERT OR UPDATE ON risk.warnings
  FOR EACH ROW EXECUTE FUNCTION fsm.enforce('risk_warning');
CREATE OR REPLACE TRIGGER zz_state_machine BEFORE INSERT OR UPDATE ON risk.plan_versions
  FOR EACH ROW EXECUTE FUNCTION fsm.enforce('plan_version');
CREATE OR REPLACE TRIGGER zz_state_machine BEFORE INSERT OR UPDATE ON risk.exercises
  FOR EACH ROW EXECUTE FUNCTION fsm.enforce('exercise');

-- Append-only history (R1.2 "never overwritten", R1.3, R3.1 immutable reports): no UPDATE or
-- DELETE by any writer, the owner included.
CREATE OR REPLACE FUNCTION risk.append_only() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  RAISE EXCEPTION '% rows are never changed or deleted (%)', TG_TABLE_NAME, TG_ARGV[0]
    USING ERRCODE = 'TXCON';
END
$$;
REVOKE ALL ON FUNCTION risk.append_only() FROM PUBLIC;
DO $$
DECLARE t text[];
BEGIN
  FOREACH t SLICE 1 IN ARRAY ARRAY[['assessments', 'R1.2'], ['market_records', 'R2.2'],
                                   ['credit_assessments', 'R2.3'], ['credit_incidents', 'R2.3'],
                                   ['kri_measurements', 'R3.2'], ['reports', 'R3.1']] LOOP
    EXECUTE format('CREATE OR REPLACE TRIGGER append_only BEFORE UPDATE OR DELETE ON risk.%I '
                   'FOR EACH ROW EXECUTE FUNCTION risk.append_only(%L)', t[1], t[2]);
    EXECUTE format('ALTER TABLE risk.%I ENABLE ALWAYS TRIGGER append_only', t[1]);
  END LOOP;
END
$$;
