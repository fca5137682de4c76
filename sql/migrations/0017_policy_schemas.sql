-- 0017 policy schemas and four-eyes role grants (issue 10, items 11 and 9; docs/identity.md).
-- Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`.
--
-- 1. Each policy parameter gets a JSON Schema of its own (org.policy_parameters.schema). A value
--    is checked against it when proposed and again when approved (org.policy_values_check(),
--    sql/code/org/040_policy_parameters.sql), so a lockout threshold of -1 or 10^12, a negative
--    lock time, an empty list of required customer fields (which switched the C1.3 gate off) or a
--    field name the completeness check does not know are refused with 422 naming the problem.
--    The validator is written in PL/pgSQL for the subset of JSON Schema these schemas use (see
--    org.json_schema_problem); a keyword it does not know is an error, never ignored.
-- 2. Granting a privileged role (admin, hr, risk_officer, auditor) is a proposal that an
--    administrator other than the proposer approves; the role is held only from then
--    (org.role_grants).
-- 3. A password set by somebody else must be changed at first sign-in
--    (auth.credentials.must_change).

ALTER TABLE org.policy_parameters ADD COLUMN schema jsonb
  CHECK (jsonb_typeof(schema) = 'object');

-- The definitions' rows are written by migrations only; the owner is subject to the forced
-- row-level security, whose only owner policy reads: lift it for the seed update.
ALTER TABLE org.policy_parameters NO FORCE ROW LEVEL SECURITY;
-- Adding the schemas is not a change of the definitions (their version and updated_at stay):
-- the touch trigger, which exists here on a database that was upgraded and not yet on a new one
-- (sql/code adds it after the migrations), is off for these updates. The audit trigger stays on.
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'org.policy_parameters'::regclass
                                      AND tgname = 'policy_parameters_touch') THEN
    ALTER TABLE org.policy_parameters DISABLE TRIGGER policy_parameters_touch;
  END IF;
END
$$;

UPDATE org.policy_parameters SET schema = '{"type": "integer", "minimum": 1, "maximum": 3650}'
 WHERE name = 'customer_review_period_days';
-- The fields cust.field_present() knows; at least one, each once (an empty list would make every
-- customer complete, C1.3). Secrets such as password_hash are not customer fields at all.
UPDATE org.policy_parameters SET schema = '{
  "type": "array", "minItems": 1, "uniqueItems": true,
  "items": {"type": "string",
            "enum": ["name", "company_name", "business_scope", "source", "needs", "concerns",
                     "address", "credit_code", "contacts", "tags", "status", "owner_id"]}}'
 WHERE name = 'customer_required_fields';
-- The five indicators of Q1, each a weight between 0 and 1, summing to 1 ("x-sum": a keyword of
-- ours, the sum of an object's values).
UPDATE org.policy_parameters SET schema = '{
  "type": "object", "additionalProperties": false, "x-sum": 1,
  "required": ["completion_rate", "satisfaction", "accuracy", "efficiency", "teamwork"],
  "properties": {
    "completion_rate": {"type": "number", "minimum": 0, "maximum": 1},
    "satisfaction": {"type": "number", "minimum": 0, "maximum": 1},
    "accuracy": {"type": "number", "minimum": 0, "maximum": 1},
    "efficiency": {"type": "number", "minimum": 0, "maximum": 1},
    "teamwork": {"type": "number", "minimum": 0, "maximum": 1}}}'
 WHERE name = 'assessment_weights';
-- Grade bands by minimum score, highest first ("x-descending": a keyword of ours, the named member
-- strictly decreases along the array), each grade once; the last band starts at 0 is not
-- required (a score below every band has no grade).
UPDATE org.policy_parameters SET schema = '{
  "type": "array", "minItems": 1, "maxItems": 10, "x-descending": "min",
  "items": {"type": "object", "additionalProperties": false, "required": ["grade", "min"],
            "properties": {"grade": {"type": "string", "minLength": 1, "maxLength": 8},
                           "min": {"type": "number", "minimum": 0, "maximum": 100}}}}'
 WHERE name = 'assessment_grade_bands';
UPDATE org.policy_parameters SET schema = '{
  "type": "object", "additionalProperties": false,
  "required": ["credit_overdue_days", "prepayment_ratio_min"],
  "properties": {"credit_overdue_days": {"type": "integer", "minimum": 1, "maximum": 3650},
                 "prepayment_ratio_min": {"type": "number", "minimum": 0, "maximum": 1}}}'
 WHERE name = 'risk_warning_thresholds';
-- At least 3: the login throttles from the third failure, and a lock after one or two typos would
-- let anyone lock anyone out; at most 100.
UPDATE org.policy_parameters SET schema = '{"type": "integer", "minimum": 3, "maximum": 100}'
 WHERE name = 'login_lock_threshold';
-- One minute to one day.
UPDATE org.policy_parameters SET schema = '{"type": "integer", "minimum": 60, "maximum": 86400}'
 WHERE name = 'login_lock_seconds';

DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'org.policy_parameters'::regclass
                                      AND tgname = 'policy_parameters_touch') THEN
    ALTER TABLE org.policy_parameters ENABLE TRIGGER policy_parameters_touch;
  END IF;
END
$$;
ALTER TABLE org.policy_parameters FORCE ROW LEVEL SECURITY;
-- Every parameter has its schema; a parameter added later comes with one.
ALTER TABLE org.policy_parameters ALTER COLUMN schema SET NOT NULL;

-- 2. Role grants under four eyes --------------------------------------------------------------
-- One row per proposed privileged role for one employee. Approved rows are what makes the role
-- held: org.employees.roles gains the role in the same transaction as the approval.
CREATE TABLE org.role_grants (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  employee_id     uuid NOT NULL REFERENCES org.employees (id),
  role            text NOT NULL CHECK (role IN ('admin', 'hr', 'risk_officer', 'auditor')),
  status          text NOT NULL DEFAULT 'proposed'
                  CHECK (status IN ('proposed', 'approved', 'rejected')),
  proposed_by     uuid NOT NULL REFERENCES org.employees (id),
  proposed_at     timestamptz NOT NULL DEFAULT now(),
  decided_by      uuid REFERENCES org.employees (id),
  decided_at      timestamptz,
  decision_reason text CHECK (length(decision_reason) BETWEEN 1 AND 2000),
  version         int NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'proposed') = (decided_at IS NULL)),
  CHECK ((status = 'proposed') = (decided_by IS NULL)),
  -- four eyes: nobody decides their own proposal, nor a grant to themselves
  CHECK (decided_by IS DISTINCT FROM proposed_by OR decided_by IS NULL),
  CHECK (decided_by IS DISTINCT FROM employee_id OR decided_by IS NULL)
);
-- One open proposal per employee and role.
CREATE UNIQUE INDEX role_grants_one_open ON org.role_grants (employee_id, role)
  WHERE status = 'proposed';
CREATE INDEX role_grants_employee_idx ON org.role_grants (employee_id);
SELECT audit.attach('org.role_grants');

ALTER TABLE org.role_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE org.role_grants FORCE ROW LEVEL SECURITY;
REVOKE ALL ON org.role_grants FROM PUBLIC;
GRANT SELECT, INSERT ON org.role_grants TO tianxing_app;
GRANT UPDATE (status, decided_by, decided_at, decision_reason) ON org.role_grants TO tianxing_app;

-- 3. Passwords set by somebody else --------------------------------------------------------
ALTER TABLE auth.credentials ADD COLUMN must_change boolean NOT NULL DEFAULT false;
