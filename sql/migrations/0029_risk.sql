-- 0029 risk: module R, risk management (issue 13; REGULATIONS.md R1.1-R4.3, READINGS.md
-- section R). Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`. Every
-- table of the module, its state machines, its policy parameters and its job schedules; the
-- functions, policies, guards and triggers are in sql/code/risk/.
--
-- Parts: the register (risks found in identification rounds, their assessments and responses,
-- market records; R1.1-R2.2, R2.4), credit (customer credit assessments, guarantees, receivables,
-- incidents, and the contract gate of C1.3 growing a credit check; R2.3), key risk indicators and
-- their warnings (R3.2-R3.3), monitoring reports (R3.1) and emergency plans with drills, real
-- events and lessons (R4.1-R4.3).

CREATE SCHEMA risk;
REVOKE ALL ON SCHEMA risk FROM PUBLIC;
GRANT USAGE ON SCHEMA risk TO tianxing_app;

-- The register (R1.1, R1.3) -------------------------------------------------------------------
-- An identification round (R1.1 定期): regular ones are created by the job 'risk.rounds' every
-- risk_schedules.identification_every_months and are due `identification_grace_days` after they
-- open; ad hoc ones are opened by a risk officer. A regular round not completed by its due date
-- is flagged (overdue_at) by the job: missing a round is visible, never silent.
CREATE TABLE risk.rounds (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind         text NOT NULL CHECK (kind IN ('regular', 'ad_hoc')),
  label        text NOT NULL UNIQUE CHECK (length(label) BETWEEN 1 AND 40),
  scope        text CHECK (length(scope) BETWEEN 1 AND 2000),
  opens_on     date NOT NULL,
  due_on       date NOT NULL,
  status       text NOT NULL,
  summary      text CHECK (length(summary) BETWEEN 1 AND 4000),
  overdue_at   timestamptz,                         -- set by the job when due_on passed open
  opened_by    uuid REFERENCES org.employees (id),  -- NULL: the job
  completed_by uuid REFERENCES org.employees (id),
  completed_at timestamptz,
  version      int NOT NULL DEFAULT 1,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CHECK (due_on >= opens_on)
);
-- One regular round per opening day (the job is idempotent).
CREATE UNIQUE INDEX rounds_regular_key ON risk.rounds (opens_on) WHERE kind = 'regular';

-- A risk (R1.1, R1.3): what, why, what it touches, who owns it. `level` and `residual_level`
-- are the latest qualitative levels of its assessments (kept here by the assessments' trigger
-- so that lists and the heat map read one row); the assessments table is the history.
CREATE TABLE risk.risks (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  code             text NOT NULL UNIQUE CHECK (code ~ '^R-[0-9]{4}-[0-9]{4,6}$'),
  category         text NOT NULL CHECK (category IN ('market', 'credit', 'operational', 'other')),
  title            text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  description      text NOT NULL CHECK (length(description) BETWEEN 1 AND 4000),
  cause            text CHECK (length(cause) BETWEEN 1 AND 4000),
  -- links (any, all optional): what the risk is about
  customer_id      uuid REFERENCES cust.customers (id),
  case_id          uuid REFERENCES cases.cases (id),
  business_type_id uuid REFERENCES cases.business_types (id),
  department_id    uuid REFERENCES org.departments (id),
  round_id         uuid REFERENCES risk.rounds (id),
  -- the warning whose handling raised it (R3.3), when it came from one
  warning_id       uuid,
  owner_id         uuid NOT NULL REFERENCES org.employees (id),
  reported_by      uuid NOT NULL REFERENCES org.employees (id),
  status           text NOT NULL,
  likelihood       int CHECK (likelihood BETWEEN 1 AND 5),
  impact           int CHECK (impact BETWEEN 1 AND 5),
  level            text CHECK (level IN ('low', 'medium', 'high', 'critical')),
  residual_level   text CHECK (residual_level IN ('low', 'medium', 'high', 'critical')),
  assessed_at      timestamptz,
  closed_reason    text CHECK (length(closed_reason) BETWEEN 1 AND 2000),
  version          int NOT NULL DEFAULT 1,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE SEQUENCE risk.risk_code_seq;
CREATE INDEX risks_status_idx ON risk.risks (status, category, level);
CREATE INDEX risks_owner_idx ON risk.risks (owner_id);
CREATE INDEX risks_department_idx ON risk.risks (department_id);
CREATE INDEX risks_customer_idx ON risk.risks (customer_id) WHERE customer_id IS NOT NULL;
CREATE INDEX risks_case_idx ON risk.risks (case_id) WHERE case_id IS NOT NULL;

-- An assessment (R1.2): both qualitative (likelihood x impact on the matrix of the policy
-- `risk_matrix` in force -> level) and quantitative (exposure, probability, expected loss), always
-- together. `kind` residual = the level after the responses (R2.1). Append-only: history is
-- never overwritten (trigger).
CREATE TABLE risk.assessments (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  risk_id       uuid NOT NULL REFERENCES risk.risks (id),
  kind          text NOT NULL CHECK (kind IN ('inherent', 'residual')),
  likelihood    int NOT NULL CHECK (likelihood BETWEEN 1 AND 5),
  impact        int NOT NULL CHECK (impact BETWEEN 1 AND 5),
  level         text NOT NULL CHECK (level IN ('low', 'medium', 'high', 'critical')),
  exposure      numeric(18, 2) NOT NULL CHECK (exposure >= 0),
  currency      char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  probability   numeric(5, 4) NOT NULL CHECK (probability BETWEEN 0 AND 1),
  expected_loss numeric(18, 2) GENERATED ALWAYS AS (round(exposure * probability, 2)) STORED,
  method        text NOT NULL CHECK (length(method) BETWEEN 1 AND 2000),
  note          text CHECK (length(note) BETWEEN 1 AND 4000),
  assessed_by   uuid NOT NULL REFERENCES org.employees (id),
  assessed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assessments_risk_idx ON risk.assessments (risk_id, assessed_at);

-- A response (R2.1): avoid, reduce, transfer or accept; owner, due date, status, effectiveness
-- review. Accepting needs a second person's approval (starts 'proposed'); the others start
-- 'planned'. R2.4: an operational measure links the business-type revision (procedure and
-- control change) and the training plan (Q4) it consists of.
CREATE TABLE risk.responses (
  id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  risk_id                   uuid NOT NULL REFERENCES risk.risks (id),
  strategy                  text NOT NULL CHECK (strategy IN ('avoid', 'reduce', 'transfer', 'accept')),
  description               text NOT NULL CHECK (length(description) BETWEEN 1 AND 4000),
  owner_id                  uuid NOT NULL REFERENCES org.employees (id),
  due_on                    date NOT NULL,
  status                    text NOT NULL,
  business_type_version_id  uuid REFERENCES cases.business_type_versions (id),
  training_plan_id          uuid REFERENCES assessment.training_plans (id),
  proposed_by               uuid NOT NULL REFERENCES org.employees (id),
  approved_by               uuid REFERENCES org.employees (id),
  approved_at               timestamptz,
  done_at                   timestamptz,
  done_note                 text CHECK (length(done_note) BETWEEN 1 AND 4000),
  effectiveness             text CHECK (effectiveness IN ('effective', 'partly_effective', 'ineffective')),
  effectiveness_note        text CHECK (length(effectiveness_note) BETWEEN 1 AND 4000),
  reviewed_by               uuid REFERENCES org.employees (id),
  reviewed_at               timestamptz,
  cancel_reason             text CHECK (length(cancel_reason) BETWEEN 1 AND 2000),
  overdue_at                timestamptz,             -- set by the job when due_on passed undone
  version                   int NOT NULL DEFAULT 1,
  created_at                timestamptz NOT NULL DEFAULT now(),
  updated_at                timestamptz NOT NULL DEFAULT now(),
  CHECK (approved_by IS NULL OR approved_by <> proposed_by),
  CHECK ((effectiveness IS NULL) = (reviewed_at IS NULL))
);
CREATE INDEX responses_risk_idx ON risk.responses (risk_id);
CREATE INDEX responses_owner_idx ON risk.responses (owner_id);
CREATE INDEX responses_due_idx ON risk.responses (due_on) WHERE status IN ('proposed', 'planned', 'in_progress');

-- Market research and trend analysis (R2.2), linked to the risks they inform. Append-only.
CREATE TABLE risk.market_records (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind         text NOT NULL CHECK (kind IN ('research', 'trend')),
  title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  summary      text NOT NULL CHECK (length(summary) BETWEEN 1 AND 8000),
  findings     text CHECK (length(findings) BETWEEN 1 AND 8000),
  -- what the record prepares for (R2.2 提前做好應對準備)
  preparation  text CHECK (length(preparation) BETWEEN 1 AND 4000),
  source       text CHECK (length(source) BETWEEN 1 AND 500),
  covers_from  date,
  covers_to    date,
  author_id    uuid NOT NULL REFERENCES org.employees (id),
  at           timestamptz NOT NULL DEFAULT now(),
  CHECK (covers_to IS NULL OR covers_from IS NULL OR covers_to >= covers_from)
);
CREATE TABLE risk.market_record_risks (
  record_id uuid NOT NULL REFERENCES risk.market_records (id),
  risk_id   uuid NOT NULL REFERENCES risk.risks (id),
  PRIMARY KEY (record_id, risk_id)
);
CREATE INDEX market_record_risks_risk_idx ON risk.market_record_risks (risk_id);

-- R2.4: a training plan made for a risk.
ALTER TABLE assessment.training_plans
  ADD CONSTRAINT training_plans_risk_fkey FOREIGN KEY (risk_id) REFERENCES risk.risks (id);

-- Credit (R2.3) -------------------------------------------------------------------------------
-- A customer's credit assessment: rating (a rating of policy `credit_rating_policy`) and/or a
-- score, credit limit, method, assessor, validity. Append-only; the current one is the latest
-- assessed with valid_until >= today (company time zone).
CREATE TABLE risk.credit_assessments (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id  uuid NOT NULL REFERENCES cust.customers (id),
  rating       text NOT NULL CHECK (rating ~ '^[A-Z][A-Z+-]{0,4}$'),
  score        int CHECK (score BETWEEN 0 AND 1000),
  limit_amount numeric(18, 2) NOT NULL CHECK (limit_amount >= 0),
  currency     char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  method       text NOT NULL CHECK (length(method) BETWEEN 1 AND 2000),
  note         text CHECK (length(note) BETWEEN 1 AND 4000),
  assessed_on  date NOT NULL,
  valid_until  date NOT NULL,
  assessor_id  uuid NOT NULL REFERENCES org.employees (id),
  at           timestamptz NOT NULL DEFAULT now(),
  CHECK (valid_until >= assessed_on)
);
CREATE INDEX credit_assessments_customer_idx ON risk.credit_assessments (customer_id, at DESC);
CREATE INDEX credit_assessments_valid_idx ON risk.credit_assessments (valid_until);

-- A guarantee (R2.3 擔保): type, guarantor, amount, validity, the SHA-256 of its document. For
-- one contract, or for any of the customer's contracts (contract_id NULL). Released, never
-- deleted.
CREATE TABLE risk.guarantees (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id     uuid NOT NULL REFERENCES cust.customers (id),
  contract_id     uuid REFERENCES cust.contracts (id),
  type            text NOT NULL CHECK (type IN ('bank_guarantee', 'letter_of_credit', 'deposit',
                                                'collateral', 'personal', 'corporate', 'other')),
  guarantor       text NOT NULL CHECK (length(guarantor) BETWEEN 1 AND 200),
  amount          numeric(18, 2) NOT NULL CHECK (amount > 0),
  currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  valid_from      date NOT NULL,
  valid_until     date NOT NULL,
  document_sha256 bytea NOT NULL CHECK (octet_length(document_sha256) = 32),
  released_at     timestamptz,
  release_reason  text CHECK (length(release_reason) BETWEEN 1 AND 2000),
  created_by      uuid NOT NULL REFERENCES org.employees (id),
  version         int NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CHECK (valid_until >= valid_from),
  CHECK ((released_at IS NULL) = (release_reason IS NULL))
);
CREATE INDEX guarantees_customer_idx ON risk.guarantees (customer_id, valid_until);
CREATE INDEX guarantees_contract_idx ON risk.guarantees (contract_id) WHERE contract_id IS NOT NULL;

-- What a contract's customer owes and when (credit needs payment data: READINGS.md R, last
-- item): an instalment with its due date, and when it was paid. `credit_overdue_days` of the
-- policy risk_warning_thresholds counts from due_on.
CREATE TABLE risk.receivables (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  contract_id uuid NOT NULL REFERENCES cust.contracts (id),
  customer_id uuid NOT NULL REFERENCES cust.customers (id),
  kind        text NOT NULL DEFAULT 'instalment' CHECK (kind IN ('prepayment', 'instalment', 'final')),
  amount      numeric(18, 2) NOT NULL CHECK (amount > 0),
  currency    char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  due_on      date NOT NULL,
  paid_on     date,
  paid_amount numeric(18, 2) CHECK (paid_amount > 0),
  created_by  uuid NOT NULL REFERENCES org.employees (id),
  version     int NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CHECK ((paid_on IS NULL) = (paid_amount IS NULL))
);
CREATE INDEX receivables_contract_idx ON risk.receivables (contract_id, due_on);
CREATE INDEX receivables_customer_idx ON risk.receivables (customer_id, due_on);
CREATE INDEX receivables_open_idx ON risk.receivables (due_on) WHERE paid_on IS NULL;

-- A credit incident: a late payment, a default, a dispute. Append-only.
CREATE TABLE risk.credit_incidents (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id uuid NOT NULL REFERENCES cust.customers (id),
  contract_id uuid REFERENCES cust.contracts (id),
  kind        text NOT NULL CHECK (kind IN ('late_payment', 'default', 'dispute', 'write_off', 'other')),
  occurred_on date NOT NULL,
  amount      numeric(18, 2) CHECK (amount > 0),
  currency    char(3) CHECK (currency ~ '^[A-Z]{3}$'),
  description text NOT NULL CHECK (length(description) BETWEEN 1 AND 4000),
  recorded_by uuid NOT NULL REFERENCES org.employees (id),
  at          timestamptz NOT NULL DEFAULT now(),
  CHECK ((amount IS NULL) = (currency IS NULL))
);
CREATE INDEX credit_incidents_customer_idx ON risk.credit_incidents (customer_id, occurred_on);

-- Key risk indicators and warnings (R3.2, R3.3) ------------------------------------------------
-- An indicator: what it measures, computed in SQL from operational data by `compute` (a
-- function name of schema risk, (timestamptz) RETURNS numeric) or entered by hand, its unit and
-- direction ('up': higher is worse). Thresholds and frequency are policy (`kri_thresholds`, by
-- code): effective-dated and four-eyes like every threshold.
CREATE TABLE risk.kris (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  code        text NOT NULL UNIQUE CHECK (code ~ '^[a-z][a-z0-9_]{1,47}$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  measures    text NOT NULL CHECK (length(measures) BETWEEN 1 AND 2000),
  source      text NOT NULL CHECK (source IN ('computed', 'manual')),
  compute     text CHECK (compute ~ '^risk\.kri_[a-z0-9_]+$'),
  unit        text NOT NULL CHECK (length(unit) BETWEEN 1 AND 40),
  direction   text NOT NULL CHECK (direction IN ('up', 'down')),
  category    text NOT NULL CHECK (category IN ('market', 'credit', 'operational', 'other')),
  owner_id    uuid REFERENCES org.employees (id),  -- notified of its warnings; NULL: risk officers
  active      boolean NOT NULL DEFAULT true,
  -- the no-flapping rule (docs/risk.md): false from a warning until a measurement is back on the
  -- safe side of the warning threshold by the policy's `rearm` margin
  armed       boolean NOT NULL DEFAULT true,
  last_measured_at timestamptz,
  created_by  uuid REFERENCES org.employees (id),  -- NULL: shipped by the migration
  version     int NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CHECK ((source = 'computed') = (compute IS NOT NULL))
);

-- A measurement: the value, when, how, the thresholds in force then and the band it fell in.
-- Append-only.
CREATE TABLE risk.kri_measurements (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kri_id      uuid NOT NULL REFERENCES risk.kris (id),
  value       numeric(18, 4) NOT NULL,
  measured_at timestamptz NOT NULL DEFAULT now(),
  source      text NOT NULL CHECK (source IN ('job', 'manual')),
  entered_by  uuid REFERENCES org.employees (id),
  note        text CHECK (length(note) BETWEEN 1 AND 2000),
  warning_threshold  numeric(18, 4),
  critical_threshold numeric(18, 4),
  band        text NOT NULL CHECK (band IN ('normal', 'warning', 'critical', 'unset')),
  evidence    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(evidence) = 'object'),
  CHECK ((source = 'manual') = (entered_by IS NOT NULL))
);
CREATE INDEX kri_measurements_kri_idx ON risk.kri_measurements (kri_id, measured_at DESC);

-- A warning (R3.2 預警信號; R3.3): raised at once by the measurement that reaches a threshold;
-- deep analysis -> handling (measures, optionally a new risk) -> closed with an outcome. One open
-- warning per indicator (index); a critical reading while a warning is open raises its level.
CREATE TABLE risk.warnings (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kri_id          uuid NOT NULL REFERENCES risk.kris (id),
  measurement_id  uuid NOT NULL UNIQUE REFERENCES risk.kri_measurements (id),
  level           text NOT NULL CHECK (level IN ('warning', 'critical')),
  value           numeric(18, 4) NOT NULL,
  threshold       numeric(18, 4) NOT NULL,
  status          text NOT NULL,
  owner_id        uuid REFERENCES org.employees (id),  -- who is notified; NULL: the risk officers
  raised_at       timestamptz NOT NULL DEFAULT now(),
  escalated_at    timestamptz,
  root_cause      text CHECK (length(root_cause) BETWEEN 1 AND 4000),
  analysis        text CHECK (length(analysis) BETWEEN 1 AND 8000),
  analyst_id      uuid REFERENCES org.employees (id),
  analysed_at     timestamptz,
  measures        text CHECK (length(measures) BETWEEN 1 AND 8000),
  risk_id         uuid REFERENCES risk.risks (id),
  handled_by      uuid REFERENCES org.employees (id),
  handled_at      timestamptz,
  outcome         text CHECK (outcome IN ('resolved', 'mitigated', 'accepted', 'false_alarm')),
  outcome_note    text CHECK (length(outcome_note) BETWEEN 1 AND 4000),
  closed_by       uuid REFERENCES org.employees (id),
  closed_at       timestamptz,
  version         int NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX warnings_open_key ON risk.warnings (kri_id) WHERE status <> 'closed';
CREATE INDEX warnings_status_idx ON risk.warnings (status, raised_at);
ALTER TABLE risk.risks ADD CONSTRAINT risks_warning_fkey
  FOREIGN KEY (warning_id) REFERENCES risk.warnings (id);

-- Monitoring reports (R3.1) --------------------------------------------------------------------
-- Made by the job 'risk.reports' every risk_schedules.report_every_months (or by a risk officer
-- at any time): risks by category and level, changes since the previous report, overdue
-- responses, indicator values and warnings. Stored whole, immutable (trigger), hashed.
CREATE TABLE risk.reports (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind         text NOT NULL CHECK (kind IN ('regular', 'ad_hoc')),
  covers_from  timestamptz NOT NULL,
  covers_to    timestamptz NOT NULL,
  previous_id  uuid UNIQUE REFERENCES risk.reports (id),
  body         jsonb NOT NULL CHECK (jsonb_typeof(body) = 'object'),
  body_sha256  bytea NOT NULL CHECK (octet_length(body_sha256) = 32),
  made_by      uuid REFERENCES org.employees (id),  -- NULL: the job
  made_at      timestamptz NOT NULL DEFAULT now(),
  CHECK (covers_to >= covers_from)
);
CREATE INDEX reports_made_idx ON risk.reports (made_at DESC, id DESC);

-- Emergency plans (R4.1-R4.3) -----------------------------------------------------------------
-- A plan is an identity (code, title); its content lives in versions: draft -> effective (a
-- second person approves) -> superseded (when the next version becomes effective). A revision
-- is a new version based on the old one, citing the lessons it applies (R4.3).
CREATE TABLE risk.plans (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  code               text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9_-]{0,47}$'),
  title              text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  category           text NOT NULL CHECK (category IN ('market', 'credit', 'operational', 'other')),
  -- drills are due every drill_every_months (R4.2 定期), the job schedules and flags them
  drill_every_months int NOT NULL CHECK (drill_every_months BETWEEN 1 AND 36),
  owner_id           uuid NOT NULL REFERENCES org.employees (id),
  created_by         uuid NOT NULL REFERENCES org.employees (id),
  version            int NOT NULL DEFAULT 1,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE risk.plan_versions (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  plan_id       uuid NOT NULL REFERENCES risk.plans (id),
  number        int NOT NULL CHECK (number >= 1),
  status        text NOT NULL,
  based_on_id   uuid UNIQUE REFERENCES risk.plan_versions (id),
  -- the situations the plan is for (R4.1): [{"code", "description", "trigger"}]
  scenarios     jsonb NOT NULL CHECK (jsonb_typeof(scenarios) = 'array'
                                      AND jsonb_array_length(scenarios) BETWEEN 1 AND 50),
  procedure     text NOT NULL CHECK (length(procedure) BETWEEN 1 AND 20000),
  change_note   text CHECK (length(change_note) BETWEEN 1 AND 4000),
  drafted_by    uuid NOT NULL REFERENCES org.employees (id),
  approved_by   uuid REFERENCES org.employees (id),
  effective_at  timestamptz,
  superseded_at timestamptz,
  version       int NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (plan_id, number),
  CHECK (approved_by IS NULL OR approved_by <> drafted_by),
  CHECK ((number = 1) = (based_on_id IS NULL))
);
CREATE UNIQUE INDEX plan_versions_effective_key ON risk.plan_versions (plan_id) WHERE status = 'effective';
CREATE UNIQUE INDEX plan_versions_draft_key ON risk.plan_versions (plan_id) WHERE status = 'draft';

-- The steps of a version (R4.1 責任分工): who (a role, or a person) does what within how long.
CREATE TABLE risk.plan_steps (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  version_id         uuid NOT NULL REFERENCES risk.plan_versions (id),
  seq                int NOT NULL CHECK (seq BETWEEN 1 AND 200),
  action             text NOT NULL CHECK (length(action) BETWEEN 1 AND 2000),
  responsible_role   text CHECK (responsible_role IN ('staff', 'supervisor', 'hr', 'risk_officer',
                                                      'auditor', 'admin')),
  responsible_id     uuid REFERENCES org.employees (id),
  target_minutes     int NOT NULL CHECK (target_minutes BETWEEN 1 AND 100000),
  UNIQUE (version_id, seq),
  CHECK ((responsible_role IS NULL) <> (responsible_id IS NULL))
);

-- A drill (R4.2) or a real event (R4.3 應急處理): run against the plan's effective version.
-- Drills are scheduled by the job (due_on) and flagged overdue_at when not held by then; a real
-- event is recorded when it happened. Either one owes its lessons by lessons_due_on
-- (risk_schedules.lessons_due_days after it ended); the job flags lessons_overdue_at.
CREATE TABLE risk.exercises (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  plan_id            uuid NOT NULL REFERENCES risk.plans (id),
  version_id         uuid REFERENCES risk.plan_versions (id),  -- set when held
  kind               text NOT NULL CHECK (kind IN ('drill', 'event')),
  status             text NOT NULL,
  scenario           text CHECK (length(scenario) BETWEEN 1 AND 200),
  due_on             date,                                      -- drills
  overdue_at         timestamptz,
  started_at         timestamptz,
  ended_at           timestamptz,
  findings           text CHECK (length(findings) BETWEEN 1 AND 8000),
  lessons_due_on     date,
  lessons_done_at    timestamptz,
  lessons_overdue_at timestamptz,
  recorded_by        uuid REFERENCES org.employees (id),  -- NULL: scheduled by the job
  version            int NOT NULL DEFAULT 1,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'drill') = (due_on IS NOT NULL)),
  CHECK (ended_at IS NULL OR started_at IS NOT NULL AND ended_at >= started_at)
);
-- One scheduled, not yet held drill per plan (the job is idempotent).
CREATE UNIQUE INDEX exercises_scheduled_key ON risk.exercises (plan_id)
  WHERE kind = 'drill' AND status = 'scheduled';
CREATE INDEX exercises_plan_idx ON risk.exercises (plan_id, created_at);

-- How long each step took in a drill or event, against its target.
CREATE TABLE risk.exercise_steps (
  exercise_id    uuid NOT NULL REFERENCES risk.exercises (id),
  step_id        uuid NOT NULL REFERENCES risk.plan_steps (id),
  took_minutes   int CHECK (took_minutes BETWEEN 0 AND 1000000),
  target_minutes int NOT NULL,
  met            boolean GENERATED ALWAYS AS (took_minutes <= target_minutes) STORED,
  note           text CHECK (length(note) BETWEEN 1 AND 2000),
  PRIMARY KEY (exercise_id, step_id)
);

-- A lesson (R4.3 經驗教訓) of a drill or an event; applied when a plan version cites it.
CREATE TABLE risk.lessons (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  exercise_id    uuid NOT NULL REFERENCES risk.exercises (id),
  lesson         text NOT NULL CHECK (length(lesson) BETWEEN 1 AND 4000),
  recommendation text CHECK (length(recommendation) BETWEEN 1 AND 4000),
  author_id      uuid NOT NULL REFERENCES org.employees (id),
  at             timestamptz NOT NULL DEFAULT now(),
  applied_in_id  uuid REFERENCES risk.plan_versions (id)
);
CREATE INDEX lessons_exercise_idx ON risk.lessons (exercise_id);
CREATE TABLE risk.plan_version_lessons (
  version_id uuid NOT NULL REFERENCES risk.plan_versions (id),
  lesson_id  uuid NOT NULL REFERENCES risk.lessons (id),
  PRIMARY KEY (version_id, lesson_id)
);

-- Audit, row-level security, grants ----------------------------------------------------------
DO $$
DECLARE t text;
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c
            WHERE c.relnamespace = 'risk'::regnamespace AND c.relkind = 'r' ORDER BY 1 LOOP
    PERFORM audit.attach('risk.' || t);
    EXECUTE format('ALTER TABLE risk.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE risk.%I FORCE ROW LEVEL SECURITY', t);
  END LOOP;
END
$$;
REVOKE ALL ON ALL TABLES IN SCHEMA risk FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA risk FROM PUBLIC;
-- The runtime role reads under the policies (sql/code/risk/000_access.sql); every write goes
-- through SECURITY DEFINER functions.
GRANT SELECT ON ALL TABLES IN SCHEMA risk TO tianxing_app;

-- Policy parameters (validated by their JSON Schema, effective-dated, four-eyes) -----------------
ALTER TABLE org.policy_parameters NO FORCE ROW LEVEL SECURITY;
ALTER TABLE org.policy_values NO FORCE ROW LEVEL SECURITY;

INSERT INTO org.policy_parameters (name, type, description, unit, clause, schema) VALUES
  ('risk_matrix', 'json',
   'The qualitative assessment matrix (R1.2): `cells[l-1][i-1]` is the level of likelihood l '
   'and impact i (1-5 each); levels are low < medium < high < critical.', NULL, 'R1.2',
   '{"type": "object", "additionalProperties": false, "required": ["cells"],
     "properties": {"cells": {"type": "array", "minItems": 5, "maxItems": 5,
       "items": {"type": "array", "minItems": 5, "maxItems": 5,
                 "items": {"enum": ["low", "medium", "high", "critical"]}}}}}'),
  ('risk_response_rules', 'json',
   'A risk whose level is at or above `required_from_level` must have a response (R2.1), due '
   'within `due_days` by default.', NULL, 'R2.1',
   '{"type": "object", "additionalProperties": false,
     "required": ["required_from_level", "due_days"],
     "properties": {"required_from_level": {"enum": ["low", "medium", "high", "critical"]},
                    "due_days": {"type": "integer", "minimum": 1, "maximum": 365}}}'),
  ('risk_schedules', 'json',
   'How often risks are identified (R1.1: a regular round every `identification_every_months`, '
   'due `identification_grace_days` after it opens), monitoring reports are made (R3.1: every '
   '`report_every_months`), and how soon lessons are due after a drill or event (R4.3).', NULL,
   'R1.1',
   '{"type": "object", "additionalProperties": false,
     "required": ["identification_every_months", "identification_grace_days",
                  "report_every_months", "lessons_due_days"],
     "properties": {"identification_every_months": {"type": "integer", "minimum": 1, "maximum": 12},
                    "identification_grace_days": {"type": "integer", "minimum": 1, "maximum": 90},
                    "report_every_months": {"type": "integer", "minimum": 1, "maximum": 12},
                    "lessons_due_days": {"type": "integer", "minimum": 1, "maximum": 90}}}'),
  ('credit_rating_policy', 'json',
   'Credit (R2.3): the prepayment ratio each rating requires of a contract (a guarantee may '
   'cover the gap), how long an assessment is valid by default, and how many days ahead an '
   'expiring assessment is counted by its indicator.', NULL, 'R2.3',
   '{"type": "object", "additionalProperties": false,
     "required": ["ratings", "valid_months", "expiring_within_days"],
     "properties": {
       "ratings": {"type": "array", "minItems": 1, "maxItems": 20,
                   "items": {"type": "object", "additionalProperties": false,
                             "required": ["rating", "prepayment_ratio"],
                             "properties": {"rating": {"type": "string", "pattern": "^[A-Z][A-Z+-]{0,4}$"},
                                            "prepayment_ratio": {"type": "number", "minimum": 0, "maximum": 1},
                                            "blocked": {"type": "boolean"}}}},
       "valid_months": {"type": "integer", "minimum": 1, "maximum": 36},
       "expiring_within_days": {"type": "integer", "minimum": 1, "maximum": 180}}}'),
  ('kri_thresholds', 'json',
   'Each key risk indicator''s thresholds by code (R3.2): `warning` and `critical` (reached '
   'inclusive, in the indicator''s direction), `rearm` (how far back on the safe side of the '
   'warning threshold a value must come before a new warning can be raised: no flapping), and '
   'how often the job measures it.', NULL, 'R3.2',
   '{"type": "object", "maxProperties": 200,
     "propertyNames": {"pattern": "^[a-z][a-z0-9_]{1,47}$"},
     "additionalProperties": {"type": "object", "additionalProperties": false,
       "required": ["warning", "critical", "rearm", "frequency"],
       "properties": {"warning": {"type": "number"}, "critical": {"type": "number"},
                      "rearm": {"type": "number", "minimum": 0},
                      "frequency": {"enum": ["daily", "weekly", "monthly"]}}}}');

INSERT INTO org.policy_values (name, value, effective_from, status, reason, decided_at) VALUES
  ('risk_matrix',
   '{"cells": [["low", "low", "low", "medium", "medium"],
               ["low", "low", "medium", "medium", "high"],
               ["low", "medium", "medium", "high", "high"],
               ["medium", "medium", "high", "high", "critical"],
               ["medium", "high", "high", "critical", "critical"]]}',
   '2024-01-01', 'approved', 'initial value', now()),
  ('risk_response_rules', '{"required_from_level": "high", "due_days": 30}',
   '2024-01-01', 'approved', 'initial value', now()),
  ('risk_schedules',
   '{"identification_every_months": 3, "identification_grace_days": 14,
     "report_every_months": 1, "lessons_due_days": 14}',
   '2024-01-01', 'approved', 'initial value', now()),
  ('credit_rating_policy',
   '{"ratings": [{"rating": "A", "prepayment_ratio": 0},
                 {"rating": "B", "prepayment_ratio": 0.2},
                 {"rating": "C", "prepayment_ratio": 0.5},
                 {"rating": "D", "prepayment_ratio": 1, "blocked": true}],
     "valid_months": 12, "expiring_within_days": 30}',
   '2024-01-01', 'approved', 'initial value', now()),
  ('kri_thresholds',
   '{"overdue_milestones":      {"warning": 10,  "critical": 30,  "rearm": 2,   "frequency": "daily"},
     "rework_rate":             {"warning": 20,  "critical": 35,  "rearm": 2,   "frequency": "weekly"},
     "stale_customers":         {"warning": 10,  "critical": 25,  "rearm": 1,   "frequency": "weekly"},
     "contracts_under_prepayment": {"warning": 1, "critical": 5,  "rearm": 1,   "frequency": "daily"},
     "credit_expiring":         {"warning": 5,   "critical": 20,  "rearm": 1,   "frequency": "daily"},
     "receivables_overdue":     {"warning": 1,   "critical": 10,  "rearm": 1,   "frequency": "daily"},
     "open_escalations":        {"warning": 5,   "critical": 15,  "rearm": 1,   "frequency": "daily"}}',
   '2024-01-01', 'approved', 'initial value', now());

ALTER TABLE org.policy_values FORCE ROW LEVEL SECURITY;
ALTER TABLE org.policy_parameters FORCE ROW LEVEL SECURITY;

-- State machines (guards in sql/code/risk/*.sql, each part's own) -------------------------------
-- A round (R1.1): open -> completed with its summary; an ad hoc round may be cancelled.
INSERT INTO fsm.machines (machine, entity, state_column, initial_states, description)
VALUES ('risk_round', 'risk.rounds', 'status', '{open}',
        'A risk identification round (R1.1): opened regularly or ad hoc, completed with a summary.');
INSERT INTO fsm.transitions (machine, from_state, action, to_state, roles, guard) VALUES
  ('risk_round', 'open', 'complete', 'completed', '{risk_officer,admin}', 'risk.round_completable(uuid)'),
  ('risk_round', 'open', 'cancel',   'cancelled', '{risk_officer,admin}', 'risk.round_cancellable(uuid)');

-- A risk (R1.1-R2.1): identified (reported) -> assessed (by its first assessment, internal) ->
-- treated (every response a level needs is in place) -> closed; a report that is not a risk is
-- dismissed; a closed risk can be reopened.
INSERT INTO fsm.machines (machine, entity, state_column, initial_states, description)
VALUES ('risk', 'risk.risks', 'status', '{identified}',
        'A risk in the register (R1.3): identified, assessed, treated, closed.');
INSERT INTO fsm.transitions (machine, from_state, action, to_state, roles, guard, internal) VALUES
  ('risk', 'identified', 'assess',  'assessed',  '{staff,supervisor,risk_officer,admin}', NULL, true),
  ('risk', 'identified', 'dismiss', 'dismissed', '{risk_officer,admin}', NULL, false),
  ('risk', 'assessed',   'treat',   'treated',   '{supervisor,risk_officer,admin}', 'risk.responses_in_place(uuid)', false),
  ('risk', 'assessed',   'close',   'closed',    '{risk_officer,admin}', 'risk.closable(uuid)', false),
  ('risk', 'treated',    'close',   'closed',    '{risk_officer,admin}', 'risk.closable(uuid)', false),
  ('risk', 'closed',     'reopen',  'assessed',  '{risk_officer,admin}', NULL, false);

-- A response (R2.1): accept starts proposed and needs a second person's approval; the others
-- start planned -> in progress -> done -> reviewed (effectiveness); cancelled before done.
INSERT INTO fsm.machines (machine, entity, state_column, initial_states, description)
VALUES ('risk_response', 'risk.responses', 'status', '{proposed,planned}',
        'A risk response (R2.1): planned (accepting needs approval), done, reviewed for effectiveness.');
INSERT INTO fsm.transitions (machine, from_state, action, to_state, roles, guard) VALUES
  ('risk_response', 'proposed',    'approve',  'planned',     '{supervisor,risk_officer,admin}', 'risk.response_second_person(uuid)'),
  ('risk_response', 'planned',     'start',    'in_progress', '{staff,supervisor,risk_officer,admin}', 'risk.response_owner(uuid)'),
  ('risk_response', 'in_progress', 'complete', 'done',        '{staff,supervisor,risk_officer,admin}', 'risk.response_completable(uuid)'),
  ('risk_response', 'done',        'review',   'reviewed',    '{supervisor,risk_officer,admin}', 'risk.response_reviewable(uuid)');
INSERT INTO fsm.transitions (machine, from_state, action, to_state, roles, guard)
SELECT 'risk_response', s, 'cancel', 'cancelled', '{supervisor,risk_officer,admin}', 'risk.response_manager(uuid)'
  FROM unnest(ARRAY['proposed', 'planned', 'in_progress']) s;

-- A warning (R3.3): open -> analysed (root cause, analyst) -> handled (measures) -> closed
-- (outcome).
INSERT INTO fsm.machines (machine, entity, state_column, initial_states, description)
VALUES ('risk_warning', 'risk.warnings', 'status', '{open}',
        'A risk warning (R3.2-R3.3): raised, analysed, handled, closed with an outcome.');
INSERT INTO fsm.transitions (machine, from_state, action, to_state, roles, guard) VALUES
  ('risk_warning', 'open',     'analyse', 'analysed', '{supervisor,risk_officer,admin}', 'risk.warning_analysed(uuid)'),
  ('risk_warning', 'analysed', 'handle',  'handled',  '{supervisor,risk_officer,admin}', 'risk.warning_handled(uuid)'),
  ('risk_warning', 'handled',  'close',   'closed',   '{risk_officer,admin}', 'risk.warning_closable(uuid)');

-- A plan version (R4.1, R4.3): draft -> effective (approved by a second person) -> superseded
-- (internal: when the next version becomes effective); a draft may be discarded.
INSERT INTO fsm.machines (machine, entity, state_column, initial_states, description)
VALUES ('plan_version', 'risk.plan_versions', 'status', '{draft}',
        'A version of an emergency plan (R4.1): draft, effective after approval, superseded by the next.');
INSERT INTO fsm.transitions (machine, from_state, action, to_state, roles, guard, internal) VALUES
  ('plan_version', 'draft',     'approve',   'effective',  '{risk_officer,admin}', 'risk.plan_version_approvable(uuid)', false),
  ('plan_version', 'draft',     'discard',   'discarded',  '{risk_officer,admin}', NULL, false),
  ('plan_version', 'effective', 'supersede', 'superseded', '{risk_officer,admin}', NULL, true);

-- A drill or a real event (R4.2, R4.3): a drill is scheduled then held (with its step timings)
-- or cancelled with a reason; a real event is recorded held. Lessons are written after either.
INSERT INTO fsm.machines (machine, entity, state_column, initial_states, description)
VALUES ('exercise', 'risk.exercises', 'status', '{scheduled,held}',
        'A drill of an emergency plan (R4.2) or a real event (R4.3): scheduled, held, lessons written.');
INSERT INTO fsm.transitions (machine, from_state, action, to_state, roles, guard) VALUES
  ('exercise', 'scheduled', 'hold',          'held',           '{risk_officer,admin}', 'risk.exercise_holdable(uuid)'),
  ('exercise', 'scheduled', 'cancel',        'cancelled',      '{risk_officer,admin}', NULL),
  ('exercise', 'held',      'close_lessons', 'lessons_closed', '{risk_officer,admin}', 'risk.exercise_lessons_written(uuid)');

-- Job schedules (kinds registered by src/modules/risk/) ----------------------------------------
-- Daily, company time: regular identification rounds and overdue rounds and responses (02:00),
-- key risk indicators due by their frequency (02:15), the monitoring report when due (03:00),
-- drills due and overdue, lessons overdue (02:30). Every job is idempotent.
INSERT INTO jobs.schedules (name, kind, calendar, time_zone, next_due_at)
SELECT n, n, 'daily ' || at, 'Asia/Taipei',
       (date_trunc('day', now() AT TIME ZONE 'Asia/Taipei') + interval '1 day' + at::time)
         AT TIME ZONE 'Asia/Taipei'
  FROM (VALUES ('risk.rounds', '02:00'), ('risk.kris', '02:15'),
               ('risk.plans', '02:30'), ('risk.reports', '03:00')) v(n, at);
