-- Module P, part B (P1.1-P2.1): the rules of the case from the request to the start of work, as
-- triggers, so that they bind every writer -- the api.* functions of sql/code/cases/030_cases.sql
-- (SECURITY DEFINER, owner) and any later code of other parts alike. The runtime role has no
-- INSERT, UPDATE or DELETE grant on these tables at all (migration 0018 grants SELECT only).
--
-- Errors: TXCON (409) for a rule of the process, TXVAL (422) naming a field for a bad reference.

-- The case row: version and updated_at follow every change (the If-Match of PUT .../intake and
-- the ETag of every answer carrying the case).
CREATE OR REPLACE FUNCTION cases.cases_touch() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.version := 1;
    NEW.created_at := now();
    NEW.updated_at := NEW.created_at;
    RETURN NEW;
  END IF;
  NEW.version := OLD.version + 1;
  NEW.created_at := OLD.created_at;
  NEW.updated_at := greatest(now(), OLD.updated_at);
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cases.cases_touch() FROM PUBLIC;
CREATE OR REPLACE TRIGGER b_touch BEFORE INSERT OR UPDATE ON cases.cases
  FOR EACH ROW EXECUTE FUNCTION cases.cases_touch();

-- A business type a case may be filed under (P1.2): it exists, is active and in the company's
-- scope; its version is one of its versions. TXVAL naming business_type_id otherwise.
CREATE OR REPLACE FUNCTION cases.check_business_type(p_type uuid, p_version uuid) RETURNS void
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM cases.business_types t
                  WHERE t.id = p_type AND t.active AND t.in_scope) THEN
    RAISE EXCEPTION 'business_type_id: not an active business type within the company''s scope'
      USING ERRCODE = 'TXVAL', COLUMN = 'business_type_id';
  END IF;
  IF NOT EXISTS (SELECT FROM cases.business_type_versions v
                  WHERE v.id = p_version AND v.business_type_id = p_type) THEN
    RAISE EXCEPTION 'business_type_id: the version % is not a version of the business type', p_version
      USING ERRCODE = 'TXVAL', COLUMN = 'business_type_id';
  END IF;
END
$$;
REVOKE ALL ON FUNCTION cases.check_business_type(uuid, uuid) FROM PUBLIC;

-- cases.cases, INSERT (P1.1): a case starts as received, by its receiver, in the receiver's
-- department (whose supervisors approve it), with nothing of the later steps filled in.
CREATE OR REPLACE FUNCTION cases.cases_insert_rules() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE e org.employees;
BEGIN
  SELECT * INTO e FROM org.employees x WHERE x.id = NEW.received_by;
  IF NOT FOUND OR NOT e.active OR NOT (e.roles && ARRAY['staff', 'supervisor']) THEN
    RAISE EXCEPTION 'P1.1: a case is received by an active member of staff or supervisor'
      USING ERRCODE = 'TXCON';
  END IF;
  IF e.department_id IS NULL OR e.department_id <> NEW.department_id THEN
    RAISE EXCEPTION 'P1.1: a case belongs to the department of the employee who received it'
      USING ERRCODE = 'TXCON';
  END IF;
  IF num_nonnulls(NEW.in_scope, NEW.scope_reason, NEW.scope_by, NEW.scope_at,
                  NEW.business_type_id, NEW.type_version_id, NEW.customer_snapshot,
                  NEW.requirements, NEW.expected_on, NEW.prepared_by, NEW.prepared_at,
                  NEW.submitted_at, NEW.approved_by, NEW.approved_at, NEW.started_at,
                  NEW.passed_at, NEW.delivered_at, NEW.confirmed_at, NEW.closed_reason,
                  NEW.closed_at, NEW.archived_at) > 0 THEN
    RAISE EXCEPTION 'P1.1: a new case is a request only: assessment, intake, approval and work come later'
      USING ERRCODE = 'TXCON';
  END IF;
  IF NEW.review_round <> 0 THEN
    RAISE EXCEPTION 'P1.1: a new case has no review round' USING ERRCODE = 'TXCON';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cases.cases_insert_rules() FROM PUBLIC;
CREATE OR REPLACE TRIGGER b_intake_insert BEFORE INSERT ON cases.cases
  FOR EACH ROW EXECUTE FUNCTION cases.cases_insert_rules();

-- cases.cases, UPDATE: what part B's steps wrote stays as written.
--   * the request (P1.1) never changes: receiver, department, when and how it was raised, the
--     need; the customer only follows a merge (the case moves to the customer it was merged
--     into, C: "merge moves cases");
--   * the scope assessment (P1.2) is written once, by the move out of received;
--   * the intake form (P1.3) changes only while the case is in intake or returned (and on the
--     move into intake, which fixes the business type and its version); the type is an active
--     in-scope one and the version one of its own;
--   * the approval (P1.4) is written only by the decision on a submitted case.
CREATE OR REPLACE FUNCTION cases.cases_update_rules() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF (NEW.received_by, NEW.department_id, NEW.raised_at, NEW.received_at, NEW.channel, NEW.need)
     IS DISTINCT FROM
     (OLD.received_by, OLD.department_id, OLD.raised_at, OLD.received_at, OLD.channel, OLD.need)
  THEN
    RAISE EXCEPTION 'P1.1: the request of a case (receiver, department, when, channel, need) does not change'
      USING ERRCODE = 'TXCON';
  END IF;
  IF NEW.customer_id IS DISTINCT FROM OLD.customer_id
     AND NEW.customer_id IS DISTINCT FROM (SELECT c.merged_into FROM cust.customers c
                                             WHERE c.id = OLD.customer_id) THEN
    RAISE EXCEPTION 'P1.1: the customer of a case changes only when that customer is merged into another'
      USING ERRCODE = 'TXCON';
  END IF;
  IF (NEW.in_scope, NEW.scope_reason, NEW.scope_by, NEW.scope_at)
     IS DISTINCT FROM (OLD.in_scope, OLD.scope_reason, OLD.scope_by, OLD.scope_at)
     AND NOT (OLD.status = 'received' AND NEW.status IN ('intake', 'out_of_scope')) THEN
    RAISE EXCEPTION 'P1.2: the scope assessment is made once, when the case leaves received'
      USING ERRCODE = 'TXCON';
  END IF;
  IF (NEW.business_type_id, NEW.type_version_id, NEW.customer_snapshot, NEW.requirements,
      NEW.expected_on, NEW.prepared_by, NEW.prepared_at)
     IS DISTINCT FROM
     (OLD.business_type_id, OLD.type_version_id, OLD.customer_snapshot, OLD.requirements,
      OLD.expected_on, OLD.prepared_by, OLD.prepared_at) THEN
    IF NOT (OLD.status IN ('intake', 'returned') AND NEW.status = OLD.status)
       AND NOT (OLD.status = 'received' AND NEW.status = 'intake') THEN
      RAISE EXCEPTION 'P1.3: the intake form changes only while the case is in intake or returned (it is %)',
        OLD.status USING ERRCODE = 'TXCON';
    END IF;
    IF NEW.business_type_id IS DISTINCT FROM OLD.business_type_id
       OR NEW.type_version_id IS DISTINCT FROM OLD.type_version_id THEN
      PERFORM cases.check_business_type(NEW.business_type_id, NEW.type_version_id);
    END IF;
  END IF;
  IF (NEW.approved_by, NEW.approved_at) IS DISTINCT FROM (OLD.approved_by, OLD.approved_at)
     AND NOT (OLD.status = 'submitted' AND NEW.status = 'approved') THEN
    RAISE EXCEPTION 'P1.4: the approval is recorded only by approving a submitted case'
      USING ERRCODE = 'TXCON';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cases.cases_update_rules() FROM PUBLIC;
CREATE OR REPLACE TRIGGER b_intake_update BEFORE UPDATE ON cases.cases
  FOR EACH ROW EXECUTE FUNCTION cases.cases_update_rules();

-- A case is never deleted: its history is the record (P4).
CREATE OR REPLACE FUNCTION cases.refuse_delete() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  RAISE EXCEPTION 'cases.%: % is not allowed: the record of a case is kept', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'TXCON';
END
$$;
REVOKE ALL ON FUNCTION cases.refuse_delete() FROM PUBLIC;
CREATE OR REPLACE TRIGGER b_no_delete BEFORE DELETE ON cases.cases
  FOR EACH ROW EXECUTE FUNCTION cases.refuse_delete();

-- cases.approvals (P1.4): a decision on a submitted case, by the person the token names, who is an
-- active supervisor of the case's department and not the preparer of its intake form (approver
-- != preparer). Append-only: a decision is never edited or removed.
CREATE OR REPLACE FUNCTION cases.approvals_rules() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  c cases.cases;
  e org.employees;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    RAISE EXCEPTION 'P1.4: an approval decision is never changed or removed' USING ERRCODE = 'TXCON';
  END IF;
  SELECT * INTO c FROM cases.cases x WHERE x.id = NEW.case_id;
  IF c.status IS DISTINCT FROM 'submitted' THEN
    RAISE EXCEPTION 'P1.4: only a submitted case is decided on (this one is %)', c.status
      USING ERRCODE = 'TXCON';
  END IF;
  IF NEW.decided_by IS DISTINCT FROM tx.user_id() THEN
    RAISE EXCEPTION 'P1.4: a decision is recorded in the name of the one who takes it'
      USING ERRCODE = 'TXCON';
  END IF;
  SELECT * INTO e FROM org.employees x WHERE x.id = NEW.decided_by;
  IF NOT FOUND OR NOT e.active OR NOT ('supervisor' = ANY (e.roles))
     OR e.department_id IS DISTINCT FROM c.department_id THEN
    RAISE EXCEPTION 'P1.4: the approver is a supervisor of the case''s department'
      USING ERRCODE = 'TXCON';
  END IF;
  IF NEW.decided_by = c.prepared_by THEN
    RAISE EXCEPTION 'P1.4: the approver is not the preparer of the intake form'
      USING ERRCODE = 'TXCON';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cases.approvals_rules() FROM PUBLIC;
CREATE OR REPLACE TRIGGER b_approval_rules BEFORE INSERT OR UPDATE OR DELETE ON cases.approvals
  FOR EACH ROW EXECUTE FUNCTION cases.approvals_rules();

-- cases.assignments (P1.4, P2.1): nothing is assigned before approval (審核通過後進入業務操作流程):
-- a row is inserted only while the case is approved or in progress, by an active supervisor of
-- the case's department, for an active employee holding the role staff. A row is ended (ended_at,
-- once), never edited otherwise nor removed.
CREATE OR REPLACE FUNCTION cases.assignments_rules() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  c cases.cases;
  e org.employees;
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'P2.1: an assignment is ended, not removed' USING ERRCODE = 'TXCON';
  END IF;
  IF TG_OP = 'UPDATE' THEN
    IF OLD.ended_at IS NOT NULL
       OR NEW.ended_at IS NULL
       OR (NEW.id, NEW.case_id, NEW.employee_id, NEW.role, NEW.starts_on, NEW.ends_on,
           NEW.assigned_by, NEW.assigned_at)
          IS DISTINCT FROM
          (OLD.id, OLD.case_id, OLD.employee_id, OLD.role, OLD.starts_on, OLD.ends_on,
           OLD.assigned_by, OLD.assigned_at) THEN
      RAISE EXCEPTION 'P2.1: an assignment only ends (once); a new arrangement is new rows'
        USING ERRCODE = 'TXCON';
    END IF;
    RETURN NEW;
  END IF;
  SELECT * INTO c FROM cases.cases x WHERE x.id = NEW.case_id;
  IF c.status IS DISTINCT FROM 'approved' AND c.status IS DISTINCT FROM 'in_progress' THEN
    RAISE EXCEPTION 'P1.4: nothing is assigned before the case is approved (it is %)', c.status
      USING ERRCODE = 'TXCON';
  END IF;
  IF NEW.ended_at IS NOT NULL THEN
    RAISE EXCEPTION 'P2.1: a new assignment is current' USING ERRCODE = 'TXCON';
  END IF;
  SELECT * INTO e FROM org.employees x WHERE x.id = NEW.assigned_by;
  IF NEW.assigned_by IS DISTINCT FROM tx.user_id()
     OR NOT FOUND OR NOT e.active OR NOT ('supervisor' = ANY (e.roles))
     OR e.department_id IS DISTINCT FROM c.department_id THEN
    RAISE EXCEPTION 'P2.1: work is assigned by a supervisor of the case''s department, in their own name'
      USING ERRCODE = 'TXCON';
  END IF;
  SELECT * INTO e FROM org.employees x WHERE x.id = NEW.employee_id;
  IF NOT FOUND OR NOT e.active OR NOT ('staff' = ANY (e.roles)) THEN
    RAISE EXCEPTION 'P2.1: work is assigned to active staff' USING ERRCODE = 'TXCON';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION cases.assignments_rules() FROM PUBLIC;
CREATE OR REPLACE TRIGGER b_assignment_rules BEFORE INSERT OR UPDATE OR DELETE ON cases.assignments
  FOR EACH ROW EXECUTE FUNCTION cases.assignments_rules();
