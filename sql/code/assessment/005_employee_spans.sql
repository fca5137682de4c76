-- Where each employee stood over time (org.employee_spans, migration 0022): what an assessment
-- needs for a person who joins, moves department or leaves mid-period (Q2.1). Every writer of
-- org.employees (admin's routes, the role grants, tests) goes through this trigger: a change of
-- department, supervisor, roles or activity closes the open span at the change and opens the next.

CREATE OR REPLACE FUNCTION org.employee_spans_follow() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND NEW.department_id IS NOT DISTINCT FROM OLD.department_id
     AND NEW.supervisor_id IS NOT DISTINCT FROM OLD.supervisor_id
     AND NEW.roles = OLD.roles AND NEW.active = OLD.active THEN
    RETURN NULL;
  END IF;
  UPDATE org.employee_spans SET valid_to = now()
   WHERE employee_id = NEW.id AND valid_to IS NULL;
  INSERT INTO org.employee_spans (employee_id, department_id, supervisor_id, roles, active, valid_from)
  VALUES (NEW.id, NEW.department_id, NEW.supervisor_id, NEW.roles, NEW.active, now());
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION org.employee_spans_follow() FROM PUBLIC;

CREATE OR REPLACE TRIGGER employee_spans_follow AFTER INSERT OR UPDATE ON org.employees
  FOR EACH ROW EXECUTE FUNCTION org.employee_spans_follow();

-- Spans are history: nobody edits or deletes one (the trigger above only closes the open one).
CREATE OR REPLACE FUNCTION org.employee_spans_guard() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.valid_to IS NULL AND NEW.valid_to IS NOT NULL
     AND (NEW.employee_id, NEW.department_id, NEW.supervisor_id, NEW.roles, NEW.active, NEW.valid_from)
         IS NOT DISTINCT FROM
         (OLD.employee_id, OLD.department_id, OLD.supervisor_id, OLD.roles, OLD.active, OLD.valid_from) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'an employee''s history is not edited' USING ERRCODE = 'TXCON';
END
$$;
CREATE OR REPLACE TRIGGER employee_spans_guard BEFORE UPDATE OR DELETE ON org.employee_spans
  FOR EACH ROW EXECUTE FUNCTION org.employee_spans_guard();
CREATE OR REPLACE TRIGGER employee_spans_no_truncate BEFORE TRUNCATE ON org.employee_spans
  FOR EACH STATEMENT EXECUTE FUNCTION org.employee_spans_guard();
