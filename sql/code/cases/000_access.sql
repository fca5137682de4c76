-- Module P: who may see a case, and the row-level security of every table of schema cases.
--
-- How the module writes: the runtime role (tianxing_app) only SELECTs the cases tables, under the
-- policies below. Every write goes through an api.* function that is SECURITY DEFINER (owned by
-- tianxing_owner, search_path pinned): it first finds the case as the caller sees it
-- (cases.may_read: a case the caller may not see is 404), checks who the caller is for the step,
-- then writes as the owner. The rules of P hold below that, in triggers, for every writer
-- including the owner's functions (sql/code/cases/*_rules in each part): nothing recorded before
-- approval, the reviewer's independence, an archived case is immutable, and so on.
--
-- Who sees a case (READINGS.md, P; issue 11, "Row-level security"):
--   admin and auditor: every case (auditors read only: they have no write function);
--   a supervisor: the cases of their department, and any case they are involved in;
--   staff: the cases they received or prepared, or are or were assigned to;
--   hr and risk_officer: no case rows. Quality assessment (Q) and risk (R) read the facts they
--   need through their own functions, without the free text.

-- The caller is involved in the case: received or prepared it, or is or was assigned to it.
-- SECURITY DEFINER so that the policies of the tables hanging off a case can ask it without
-- reading cases.cases under its own policy (which reads cases.assignments: a cycle).
CREATE OR REPLACE FUNCTION cases.is_involved(p_case uuid, p_employee uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT p_employee IS NOT NULL
         AND (EXISTS (SELECT FROM cases.cases c
                       WHERE c.id = p_case
                         AND (c.received_by = p_employee OR c.prepared_by = p_employee))
              OR EXISTS (SELECT FROM cases.assignments a
                          WHERE a.case_id = p_case AND a.employee_id = p_employee))
$$;
REVOKE ALL ON FUNCTION cases.is_involved(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.is_involved(uuid, uuid) TO tianxing_app;

-- The caller may read the case p_case (false for an unknown id).
CREATE OR REPLACE FUNCTION cases.may_read(p_case uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT coalesce(
           (SELECT tx.has_role('admin') OR tx.has_role('auditor')
                   OR (tx.has_role('supervisor') AND c.department_id = tx.department_id())
                   OR ((tx.has_role('staff') OR tx.has_role('supervisor'))
                       AND cases.is_involved(c.id, tx.user_id()))
              FROM cases.cases c WHERE c.id = p_case),
           false)
$$;
REVOKE ALL ON FUNCTION cases.may_read(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.may_read(uuid) TO tianxing_app;

-- 404 unless the caller may read the case: an unknown id and a case the caller may not see are
-- the same answer (P0002 'no such case'), so no later check (role, person, state) can tell them
-- apart. TXAUT without a signed-in employee. Every route of module P on a case starts here or in
-- cases.find (030_cases.sql, which also locks the row for a write).
CREATE OR REPLACE FUNCTION cases.visible_case(p_case uuid) RETURNS void
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  PERFORM api.require_user();
  IF p_case IS NULL OR NOT cases.may_read(p_case) THEN
    RAISE EXCEPTION 'no such case' USING ERRCODE = 'P0002';
  END IF;
END
$$;
REVOKE ALL ON FUNCTION cases.visible_case(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cases.visible_case(uuid) TO tianxing_app;

-- Policies ------------------------------------------------------------------------------------

-- The case itself: written inline (not through cases.may_read) so that lists and queues plan it
-- as a filter, with the caller's assignments read once per statement.
DROP POLICY IF EXISTS cases_read ON cases.cases;
CREATE POLICY cases_read ON cases.cases FOR SELECT TO tianxing_app
  USING ((SELECT tx.has_role('admin')) OR (SELECT tx.has_role('auditor'))
         OR ((SELECT tx.has_role('supervisor')) AND department_id = (SELECT tx.department_id()))
         OR (((SELECT tx.has_role('staff')) OR (SELECT tx.has_role('supervisor')))
             AND (received_by = (SELECT tx.user_id()) OR prepared_by = (SELECT tx.user_id())
                  OR id IN (SELECT a.case_id FROM cases.assignments a
                             WHERE a.employee_id = (SELECT tx.user_id())))));

-- Every table hanging off a case: visible with its case. The assignments' policy must not read
-- cases.cases under its policy (which reads assignments), hence the SECURITY DEFINER predicate;
-- a caller always sees their own assignment rows (the cases policy above asks for them).
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['approvals', 'work_records', 'escalations', 'reviews', 'files',
                           'deliveries', 'confirmations', 'deadlines', 'events'] LOOP
    EXECUTE format('DROP POLICY IF EXISTS %I ON cases.%I', t || '_read', t);
    EXECUTE format('CREATE POLICY %I ON cases.%I FOR SELECT TO tianxing_app '
                   'USING (cases.may_read(case_id))', t || '_read', t);
  END LOOP;
END
$$;

DROP POLICY IF EXISTS assignments_read ON cases.assignments;
CREATE POLICY assignments_read ON cases.assignments FOR SELECT TO tianxing_app
  USING (employee_id = (SELECT tx.user_id()) OR cases.may_read(case_id));

DROP POLICY IF EXISTS review_verdicts_read ON cases.review_verdicts;
CREATE POLICY review_verdicts_read ON cases.review_verdicts FOR SELECT TO tianxing_app
  USING (EXISTS (SELECT FROM cases.reviews r WHERE r.id = review_id));

-- The archive index (P4.3): under the same rules as the case.
DROP POLICY IF EXISTS archives_read ON cases.archives;
CREATE POLICY archives_read ON cases.archives FOR SELECT TO tianxing_app
  USING (cases.may_read(case_id));

-- Confirmation links hold token hashes: read by nobody but the owner's functions.
-- Archive counters: the owner's functions only.

-- The catalogue is reference data every signed-in employee reads (P1.2: anyone receiving a
-- request assesses it against the catalogue).
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['business_types', 'business_type_versions', 'milestones',
                           'checklist_criteria', 'required_documents'] LOOP
    EXECUTE format('DROP POLICY IF EXISTS %I ON cases.%I', t || '_read', t);
    EXECUTE format('CREATE POLICY %I ON cases.%I FOR SELECT TO tianxing_app '
                   'USING ((SELECT tx.user_id()) IS NOT NULL)', t || '_read', t);
  END LOOP;
END
$$;

-- The calendar is read by everyone signed in; written by admin through api functions.
DROP POLICY IF EXISTS calendar_days_read ON org.calendar_days;
CREATE POLICY calendar_days_read ON org.calendar_days FOR SELECT TO tianxing_app
  USING ((SELECT tx.user_id()) IS NOT NULL);

-- The owner's functions (SECURITY DEFINER) read and write every row; the rules that hold for
-- them too are triggers.
DO $$
DECLARE t text;
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c
            WHERE c.relnamespace = 'cases'::regnamespace AND c.relkind = 'r' LOOP
    EXECUTE format('DROP POLICY IF EXISTS %I ON cases.%I', t || '_definer', t);
    EXECUTE format('CREATE POLICY %I ON cases.%I FOR ALL TO tianxing_owner '
                   'USING (true) WITH CHECK (true)', t || '_definer', t);
  END LOOP;
END
$$;
DROP POLICY IF EXISTS calendar_days_definer ON org.calendar_days;
CREATE POLICY calendar_days_definer ON org.calendar_days FOR ALL TO tianxing_owner
  USING (true) WITH CHECK (true);

-- Which status follows which: the machine `case` (fsm.transitions, migration 0018).
CREATE OR REPLACE TRIGGER zz_state_machine BEFORE INSERT OR UPDATE ON cases.cases
  FOR EACH ROW EXECUTE FUNCTION fsm.enforce('case');
