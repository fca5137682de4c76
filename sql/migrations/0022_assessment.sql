-- 0022 assessment: module Q, the quality assessment of staff (issue 12; REGULATIONS.md Q1-Q4,
-- READINGS.md section Q). Runs as tianxing_owner inside one transaction opened by
-- `tianxingd migrate`. Every table of the module, its state machines, its policy parameters and
-- its job schedules; the functions, policies and triggers are in sql/code/assessment/.
--
-- The figures are computed in SQL from stored facts only (module P's cases, review rounds,
-- deadlines and confirmations; survey answers; the supervisor's rating), each with its evidence:
-- the rows counted, by id. A period's parameters (weights, grade bands, annual combination,
-- thresholds) are those in force at the period's end, copied into the period when it opens, so
-- that computing a period twice gives the same figures and the same evidence hash.

CREATE SCHEMA assessment;
REVOKE ALL ON SCHEMA assessment FROM PUBLIC;
GRANT USAGE ON SCHEMA assessment TO tianxing_app;

-- Who was where, when: an employee's department, supervisor, roles and activity over time. An
-- assessment needs it for a person who joins, moves department or leaves mid-period (whose
-- facts count while employed; whose supervisor at the period's end evaluates). Maintained by a
-- trigger on org.employees (sql/code/assessment/005_employee_spans.sql): every change of those
-- columns closes the open span and opens the next one. Spans never overlap for one employee.
CREATE TABLE org.employee_spans (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  employee_id   uuid NOT NULL REFERENCES org.employees (id),
  department_id uuid REFERENCES org.departments (id),
  supervisor_id uuid REFERENCES org.employees (id),
  roles         text[] NOT NULL,
  active        boolean NOT NULL,
  valid_from    timestamptz NOT NULL,
  valid_to      timestamptz,
  CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE UNIQUE INDEX employee_spans_open_key ON org.employee_spans (employee_id) WHERE valid_to IS NULL;
CREATE INDEX employee_spans_employee_idx ON org.employee_spans (employee_id, valid_from);
CREATE INDEX employee_spans_supervisor_idx ON org.employee_spans (supervisor_id, valid_from);
-- Today's employees: one open span each, from their creation (the history before this migration
-- is not known; their audit trail has it).
INSERT INTO org.employee_spans (employee_id, department_id, supervisor_id, roles, active, valid_from)
SELECT id, department_id, supervisor_id, roles, active, created_at FROM org.employees;

-- Periods (Q2.1 monthly, Q2.2 annual) ---------------------------------------------------------
-- A month is opened by the job on the first working day of the month after it (or by HR); a
-- year likewise in January. `parameters` holds the policy values in force at ends_on, read once
-- when the period opens: assessment_weights, assessment_grade_bands, assessment_annual_weights,
-- assessment_training_thresholds, assessment_bonus_coefficients, assessment_promotion_rule.
CREATE TABLE assessment.periods (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind        text NOT NULL CHECK (kind IN ('month', 'year')),
  label       text NOT NULL UNIQUE CHECK (label ~ '^[0-9]{4}(-(0[1-9]|1[0-2]))?$'),
  starts_on   date NOT NULL,
  ends_on     date NOT NULL,
  status      text NOT NULL DEFAULT 'open',
  parameters  jsonb NOT NULL CHECK (jsonb_typeof(parameters) = 'object'),
  opened_by   uuid REFERENCES org.employees (id),  -- NULL: the job
  opened_at   timestamptz NOT NULL DEFAULT now(),
  computed_at timestamptz,                         -- the last computation of its figures
  closed_at   timestamptz,
  version     int NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (kind, starts_on),
  CHECK (ends_on >= starts_on),
  CHECK (CASE kind WHEN 'month' THEN starts_on = date_trunc('month', starts_on)::date
                                     AND ends_on = (starts_on + interval '1 month' - interval '1 day')::date
                                     AND label = to_char(starts_on, 'YYYY-MM')
                   ELSE starts_on = date_trunc('year', starts_on)::date
                        AND ends_on = (starts_on + interval '1 year' - interval '1 day')::date
                        AND label = to_char(starts_on, 'YYYY') END)
);

-- Assessments: one per employee and period, with revisions. Revision 1 is computed; a correction
-- of a published assessment is the next revision (corrects_id, correction_reason), proposed by
-- one person and approved by another, and supersedes the one it corrects. A published revision
-- is immutable (a trigger, sql/code/assessment/030_workflow.sql): only its state moves on.
-- `version` is the row's version for If-Match, as everywhere.
CREATE TABLE assessment.assessments (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  period_id           uuid NOT NULL REFERENCES assessment.periods (id),
  employee_id         uuid NOT NULL REFERENCES org.employees (id),
  revision            int NOT NULL DEFAULT 1 CHECK (revision >= 1),
  status              text NOT NULL,
  -- where the employee stood for this period: the department and supervisor of their last span
  -- in the period (the supervisor evaluates), and the part of the period they were employed
  department_id       uuid REFERENCES org.departments (id),
  supervisor_id       uuid REFERENCES org.employees (id),
  employed_from       date NOT NULL,
  employed_to         date NOT NULL,
  -- the computation (Q1): its formula version, when, and the SHA-256 of its evidence
  formula_version     int NOT NULL DEFAULT 1 CHECK (formula_version >= 1),
  computed_at         timestamptz,
  evidence_hash       bytea CHECK (octet_length(evidence_hash) = 32),
  -- the year (Q2.2): the mean of the monthly composites of the months assessed
  months_assessed     int CHECK (months_assessed BETWEEN 0 AND 12),
  monthly_mean        numeric(5, 2) CHECK (monthly_mean BETWEEN 0 AND 100),
  -- the result: composite 0-100 (weighted sum) and the grade from the bands in force
  composite           numeric(5, 2) CHECK (composite BETWEEN 0 AND 100),
  grade               text CHECK (length(grade) BETWEEN 1 AND 8),
  -- self-assessment (Q3 自我評估): 經驗 what went well, 不足 shortcomings, optional self-score
  went_well           text CHECK (length(went_well) BETWEEN 1 AND 4000),
  shortcomings        text CHECK (length(shortcomings) BETWEEN 1 AND 4000),
  self_score          numeric(5, 2) CHECK (self_score BETWEEN 0 AND 100),
  self_assessed_at    timestamptz,
  -- supervisor evaluation (Q3 上級評價): teamwork rating 1-5 (month), score 0-100 (year)
  teamwork_rating     int CHECK (teamwork_rating BETWEEN 1 AND 5),
  supervisor_score    numeric(5, 2) CHECK (supervisor_score BETWEEN 0 AND 100),
  supervisor_comment  text CHECK (length(supervisor_comment) BETWEEN 1 AND 4000),
  evaluated_by        uuid REFERENCES org.employees (id),
  evaluated_at        timestamptz,
  -- HR's check and publication
  check_note          text CHECK (length(check_note) BETWEEN 1 AND 4000),
  checked_by          uuid REFERENCES org.employees (id),
  checked_at          timestamptz,
  published_by        uuid REFERENCES org.employees (id),
  published_at        timestamptz,
  -- the employee's answer: acknowledgement, or an appeal that HR decides with a reason
  acknowledged_at     timestamptz,
  appeal_reason       text CHECK (length(appeal_reason) BETWEEN 1 AND 4000),
  appealed_at         timestamptz,
  appeal_decision     text CHECK (appeal_decision IN ('dismissed', 'upheld')),
  appeal_decision_reason text CHECK (length(appeal_decision_reason) BETWEEN 1 AND 4000),
  appeal_decided_by   uuid REFERENCES org.employees (id),
  appeal_decided_at   timestamptz,
  -- a correction (revision > 1): what it corrects, why, who proposed and who approved it
  corrects_id         uuid UNIQUE REFERENCES assessment.assessments (id),
  correction_reason   text CHECK (length(correction_reason) BETWEEN 1 AND 4000),
  proposed_by         uuid REFERENCES org.employees (id),
  decided_by          uuid REFERENCES org.employees (id),
  decided_at          timestamptz,
  version             int NOT NULL DEFAULT 1,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (period_id, employee_id, revision),
  CHECK (employed_to >= employed_from),
  CHECK ((revision = 1) = (corrects_id IS NULL)),
  CHECK (corrects_id IS NULL OR (correction_reason IS NOT NULL AND proposed_by IS NOT NULL)),
  CHECK (decided_by IS NULL OR decided_by <> proposed_by),
  CHECK (appeal_decision IS NULL OR appeal_decision_reason IS NOT NULL)
);
-- One live revision per employee and period (superseded and rejected ones are history).
CREATE UNIQUE INDEX assessments_live_key ON assessment.assessments (period_id, employee_id)
  WHERE status NOT IN ('superseded', 'rejected');
CREATE INDEX assessments_employee_idx ON assessment.assessments (employee_id, period_id);
CREATE INDEX assessments_supervisor_idx ON assessment.assessments (supervisor_id, period_id);
CREATE INDEX assessments_period_idx ON assessment.assessments (period_id, status, id);

-- The five indicators of Q1 for a monthly assessment, each with its figure (0-100, NULL when
-- there is nothing to count: `marked` says why -- a month without survey answers is marked, not
-- zero), the numerator and denominator it came from, the formula version, and its evidence: a
-- JSON array of the rows counted, by id ({"kind": "case", "id": ..., ...}).
CREATE TABLE assessment.indicator_values (
  assessment_id   uuid NOT NULL REFERENCES assessment.assessments (id),
  indicator       text NOT NULL CHECK (indicator IN ('completion_rate', 'satisfaction', 'accuracy',
                                                     'efficiency', 'teamwork')),
  figure          numeric(5, 2) CHECK (figure BETWEEN 0 AND 100),
  numerator       numeric(12, 4),
  denominator     numeric(12, 4),
  marked          text CHECK (marked IN ('no_data', 'no_answers', 'not_rated')),
  formula_version int NOT NULL CHECK (formula_version >= 1),
  evidence        jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(evidence) = 'array'),
  PRIMARY KEY (assessment_id, indicator),
  CHECK ((figure IS NULL) = (marked IS NOT NULL))
);

-- Surveys (Q3 客戶反饋) ---------------------------------------------------------------------------
-- A questionnaire has immutable versions; a send uses one version. Questions (a JSON array):
-- {"code", "text", "kind": "rating" | "text", "required"}; ratings are 1-5, normalized to 0-100
-- as (r - 1) * 25 like the confirmations' ratings.
CREATE TABLE assessment.surveys (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  code            text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
  title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  -- what sends it: after a case's confirmation (P3.4), regularly (survey_schedule), or both
  purpose         text NOT NULL CHECK (purpose IN ('after_confirmation', 'regular')),
  active          boolean NOT NULL DEFAULT true,
  current_version int NOT NULL DEFAULT 1 CHECK (current_version >= 1),
  created_by      uuid REFERENCES org.employees (id),
  version         int NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
-- At most one active questionnaire per purpose: the one a send uses.
CREATE UNIQUE INDEX surveys_active_purpose_key ON assessment.surveys (purpose) WHERE active;

CREATE TABLE assessment.survey_versions (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  survey_id  uuid NOT NULL REFERENCES assessment.surveys (id),
  version    int NOT NULL CHECK (version >= 1),
  questions  jsonb NOT NULL CHECK (jsonb_typeof(questions) = 'array'
                                   AND jsonb_array_length(questions) BETWEEN 1 AND 50),
  note       text CHECK (length(note) BETWEEN 1 AND 2000),
  created_by uuid REFERENCES org.employees (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (survey_id, version)
);

-- A send: one questionnaire to one customer, as a one-time link (like a case confirmation: the
-- token's SHA-256 only), about a case (after its confirmation) or about the period (regular).
-- Reminders are counted; an expired or answered send is closed.
CREATE TABLE assessment.survey_sends (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  survey_version_id uuid NOT NULL REFERENCES assessment.survey_versions (id),
  customer_id       uuid NOT NULL REFERENCES cust.customers (id),
  case_id           uuid REFERENCES cases.cases (id),
  reason            text NOT NULL CHECK (reason IN ('after_confirmation', 'regular')),
  token_hash        bytea UNIQUE CHECK (octet_length(token_hash) = 32),
  sent_at           timestamptz NOT NULL DEFAULT now(),
  expires_at        timestamptz NOT NULL,
  reminders         int NOT NULL DEFAULT 0 CHECK (reminders >= 0),
  last_reminded_at  timestamptz,
  answered_at       timestamptz,
  revoked_at        timestamptz,
  created_by        uuid REFERENCES org.employees (id),  -- NULL: the service (trigger or job)
  CHECK (expires_at > sent_at),
  CHECK (reason <> 'after_confirmation' OR case_id IS NOT NULL)
);
-- One send after each confirmation of a case.
CREATE UNIQUE INDEX survey_sends_case_key ON assessment.survey_sends (case_id)
  WHERE reason = 'after_confirmation';
CREATE INDEX survey_sends_customer_idx ON assessment.survey_sends (customer_id, sent_at);
CREATE INDEX survey_sends_open_idx ON assessment.survey_sends (expires_at)
  WHERE answered_at IS NULL AND revoked_at IS NULL;

-- The answer to a send (once): the answers by question code, and the normalized score (0-100,
-- the mean of its ratings; NULL when it rated nothing).
CREATE TABLE assessment.survey_answers (
  id       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  send_id  uuid NOT NULL UNIQUE REFERENCES assessment.survey_sends (id),
  answers  jsonb NOT NULL CHECK (jsonb_typeof(answers) = 'object'),
  score    numeric(5, 2) CHECK (score BETWEEN 0 AND 100),
  at       timestamptz NOT NULL DEFAULT now()
);
-- To whom an answer counts (Q1 satisfaction): the staff who did the work -- the case's
-- assignees for a case's survey, the customer's owner and team for a regular one.
CREATE TABLE assessment.survey_attributions (
  answer_id   uuid NOT NULL REFERENCES assessment.survey_answers (id),
  employee_id uuid NOT NULL REFERENCES org.employees (id),
  case_id     uuid REFERENCES cases.cases (id),
  PRIMARY KEY (answer_id, employee_id)
);
CREATE INDEX survey_attributions_employee_idx ON assessment.survey_attributions (employee_id);

-- Use of results (Q4) ---------------------------------------------------------------------------
-- The salary base of the bonus (grade coefficient x base): HR only, effective-dated, never
-- overwritten (a change is a new row).
CREATE TABLE assessment.salary_bases (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  employee_id    uuid NOT NULL REFERENCES org.employees (id),
  amount         numeric(12, 2) NOT NULL CHECK (amount >= 0),
  currency       text NOT NULL DEFAULT 'TWD' CHECK (currency ~ '^[A-Z]{3}$'),
  effective_from date NOT NULL,
  note           text CHECK (length(note) BETWEEN 1 AND 2000),
  set_by         uuid NOT NULL REFERENCES org.employees (id),
  set_at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE (employee_id, effective_from)
);

-- Training and development plans (Q4 培訓與發展; R2.4 links its operational measures to them):
-- proposed for an indicator under its threshold or a named shortcoming, or by hand, or for a
-- risk. Topic, goal, due date, status, evidence of completion.
CREATE TABLE assessment.training_plans (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  employee_id   uuid NOT NULL REFERENCES org.employees (id),
  status        text NOT NULL,
  source        text NOT NULL CHECK (source IN ('indicator', 'shortcoming', 'manual', 'risk')),
  indicator     text CHECK (indicator IN ('completion_rate', 'satisfaction', 'accuracy',
                                          'efficiency', 'teamwork')),
  assessment_id uuid REFERENCES assessment.assessments (id),
  risk_id       uuid,  -- module R's risk (R2.4); its foreign key arrives with module R
  topic         text NOT NULL CHECK (length(topic) BETWEEN 1 AND 200),
  goal          text NOT NULL CHECK (length(goal) BETWEEN 1 AND 2000),
  due_on        date NOT NULL,
  evidence      text CHECK (length(evidence) BETWEEN 1 AND 4000),
  outcome       text CHECK (length(outcome) BETWEEN 1 AND 2000),
  created_by    uuid REFERENCES org.employees (id),  -- NULL: proposed by the service
  completed_at  timestamptz,
  version       int NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((source = 'indicator') = (indicator IS NOT NULL)),
  CHECK (source NOT IN ('indicator', 'shortcoming') OR assessment_id IS NOT NULL)
);
-- One proposal per assessment, indicator or shortcoming: proposing twice finds the first.
CREATE UNIQUE INDEX training_plans_proposal_key
  ON assessment.training_plans (assessment_id, source, coalesce(indicator, ''))
  WHERE source IN ('indicator', 'shortcoming');
CREATE INDEX training_plans_employee_idx ON assessment.training_plans (employee_id, due_on);

-- Audit, row-level security, grants ----------------------------------------------------------
SELECT audit.attach('org.employee_spans');
SELECT audit.attach('assessment.periods');
SELECT audit.attach('assessment.assessments');
SELECT audit.attach('assessment.indicator_values');
SELECT audit.attach('assessment.surveys');
SELECT audit.attach('assessment.survey_versions');
SELECT audit.attach('assessment.survey_sends', '{token_hash}');
SELECT audit.attach('assessment.survey_answers');
SELECT audit.attach('assessment.survey_attributions');
SELECT audit.attach('assessment.salary_bases');
SELECT audit.attach('assessment.training_plans');

ALTER TABLE org.employee_spans ENABLE ROW LEVEL SECURITY;
ALTER TABLE org.employee_spans FORCE ROW LEVEL SECURITY;
DO $$
DECLARE t text;
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c
            WHERE c.relnamespace = 'assessment'::regnamespace AND c.relkind = 'r' LOOP
    EXECUTE format('ALTER TABLE assessment.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE assessment.%I FORCE ROW LEVEL SECURITY', t);
  END LOOP;
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA assessment FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA assessment FROM PUBLIC;
REVOKE ALL ON org.employee_spans FROM PUBLIC;
-- The runtime role reads under the policies (sql/code/assessment/000_access.sql); every write
-- goes through SECURITY DEFINER functions.
GRANT SELECT ON ALL TABLES IN SCHEMA assessment TO tianxing_app;
GRANT SELECT ON org.employee_spans TO tianxing_app;

-- Policy parameters (validated by their JSON Schema, effective-dated, four-eyes) -----------------
ALTER TABLE org.policy_parameters NO FORCE ROW LEVEL SECURITY;
ALTER TABLE org.policy_values NO FORCE ROW LEVEL SECURITY;

INSERT INTO org.policy_parameters (name, type, description, unit, clause, schema) VALUES
  ('assessment_annual_weights', 'json',
   'How the annual assessment combines the mean of the monthly composites (months assessed '
   'only) with the annual supervisor evaluation (Q2.2); they sum to 1.', NULL, 'Q2.2',
   '{"type": "object", "additionalProperties": false, "x-sum": 1,
     "required": ["monthly", "supervisor"],
     "properties": {"monthly": {"type": "number", "minimum": 0, "maximum": 1},
                    "supervisor": {"type": "number", "minimum": 0, "maximum": 1}}}'),
  ('assessment_training_thresholds', 'json',
   'An indicator figure under its threshold proposes a training plan (Q4 培訓與發展).', 'points',
   'Q4',
   '{"type": "object", "additionalProperties": false,
     "required": ["completion_rate", "satisfaction", "accuracy", "efficiency", "teamwork"],
     "properties": {
       "completion_rate": {"type": "number", "minimum": 0, "maximum": 100},
       "satisfaction": {"type": "number", "minimum": 0, "maximum": 100},
       "accuracy": {"type": "number", "minimum": 0, "maximum": 100},
       "efficiency": {"type": "number", "minimum": 0, "maximum": 100},
       "teamwork": {"type": "number", "minimum": 0, "maximum": 100}}}'),
  ('assessment_bonus_coefficients', 'json',
   'The performance bonus coefficient of each annual grade: bonus = coefficient x salary base '
   '(Q4 績效獎金).', NULL, 'Q4',
   '{"type": "array", "minItems": 1, "maxItems": 10,
     "items": {"type": "object", "additionalProperties": false,
               "required": ["grade", "coefficient"],
               "properties": {"grade": {"type": "string", "minLength": 1, "maxLength": 8},
                              "coefficient": {"type": "number", "minimum": 0, "maximum": 10}}}}'),
  ('assessment_promotion_rule', 'json',
   'Who is a promotion and salary-adjustment candidate (Q4 晉升與調薪): an annual grade among '
   '`grades` with at least `min_months_assessed` months assessed in the year.', NULL, 'Q4',
   '{"type": "object", "additionalProperties": false,
     "required": ["grades", "min_months_assessed"],
     "properties": {"grades": {"type": "array", "minItems": 1, "maxItems": 10, "uniqueItems": true,
                               "items": {"type": "string", "minLength": 1, "maxLength": 8}},
                    "min_months_assessed": {"type": "integer", "minimum": 0, "maximum": 12}}}'),
  ('survey_schedule', 'json',
   'Customer satisfaction questionnaires (Q3 客戶反饋): the regular send every `every_months` '
   'months to each active customer with a case in that time, how many days a link stays valid, '
   'and reminders after `reminder_after_days` days, at most `max_reminders`.', NULL, 'Q3',
   '{"type": "object", "additionalProperties": false,
     "required": ["every_months", "link_days", "reminder_after_days", "max_reminders"],
     "properties": {"every_months": {"type": "integer", "minimum": 1, "maximum": 12},
                    "link_days": {"type": "integer", "minimum": 1, "maximum": 90},
                    "reminder_after_days": {"type": "integer", "minimum": 1, "maximum": 60},
                    "max_reminders": {"type": "integer", "minimum": 0, "maximum": 5}}}');

INSERT INTO org.policy_values (name, value, effective_from, status, reason, decided_at) VALUES
  ('assessment_annual_weights', '{"monthly": 0.7, "supervisor": 0.3}',
   '2024-01-01', 'approved', 'initial value', now()),
  ('assessment_training_thresholds',
   '{"completion_rate": 60, "satisfaction": 60, "accuracy": 60, "efficiency": 60, "teamwork": 50}',
   '2024-01-01', 'approved', 'initial value', now()),
  ('assessment_bonus_coefficients',
   '[{"grade": "A", "coefficient": 1.5}, {"grade": "B", "coefficient": 1.2},
     {"grade": "C", "coefficient": 1.0}, {"grade": "D", "coefficient": 0.5},
     {"grade": "E", "coefficient": 0}]',
   '2024-01-01', 'approved', 'initial value', now()),
  ('assessment_promotion_rule', '{"grades": ["A"], "min_months_assessed": 10}',
   '2024-01-01', 'approved', 'initial value', now()),
  ('survey_schedule',
   '{"every_months": 3, "link_days": 30, "reminder_after_days": 7, "max_reminders": 2}',
   '2024-01-01', 'approved', 'initial value', now());

ALTER TABLE org.policy_values FORCE ROW LEVEL SECURITY;
ALTER TABLE org.policy_parameters FORCE ROW LEVEL SECURITY;

-- State machines -------------------------------------------------------------------------------
-- A period: open while its assessments go through their steps; HR closes it when every live
-- assessment of it is past publication.
INSERT INTO fsm.machines (machine, entity, state_column, initial_states, description)
VALUES ('assessment_period', 'assessment.periods', 'status', '{open}',
        'A monthly (Q2.1) or annual (Q2.2) assessment period: opened, closed by HR when done.');
INSERT INTO fsm.transitions (machine, from_state, action, to_state, roles, guard) VALUES
  ('assessment_period', 'open', 'close', 'closed', '{hr}', 'assessment.period_complete(uuid)');

-- An assessment (READINGS.md, Q, "Monthly"): computed -> self-assessment -> supervisor evaluation
-- -> HR check -> published (immutable) -> acknowledged or appealed; HR decides an appeal. A
-- correction is a new revision: proposed -> approved by a second person (published, and the
-- revision it corrects is superseded) or rejected. Who the person must be is a guard.
INSERT INTO fsm.machines (machine, entity, state_column, initial_states, description)
VALUES ('assessment', 'assessment.assessments', 'status', '{computed,proposed}',
        'One employee''s assessment for a period (Q2): computed, self-assessed, evaluated, checked, published, then acknowledged or appealed.');
INSERT INTO fsm.transitions (machine, from_state, action, to_state, roles, guard, internal) VALUES
  ('assessment', 'computed',      'self_assess',    'self_assessed', '{staff,supervisor}', 'assessment.is_assessee(uuid)', false),
  -- the supervisor evaluates after the self-assessment, or without it when the employee has left
  ('assessment', 'self_assessed', 'evaluate',       'evaluated',     '{supervisor}', 'assessment.is_evaluator(uuid)', false),
  ('assessment', 'computed',      'evaluate',       'evaluated',     '{supervisor}', 'assessment.evaluator_without_self(uuid)', false),
  ('assessment', 'evaluated',     'check',          'checked',       '{hr}', 'assessment.not_own(uuid)', false),
  ('assessment', 'evaluated',     'return',         'self_assessed', '{hr}', 'assessment.not_own(uuid)', false),
  ('assessment', 'checked',       'publish',        'published',     '{hr}', 'assessment.not_own(uuid)', false),
  ('assessment', 'published',     'acknowledge',    'acknowledged',  '{staff,supervisor}', 'assessment.is_assessee(uuid)', false),
  ('assessment', 'published',     'appeal',         'appealed',      '{staff,supervisor}', 'assessment.is_assessee(uuid)', false),
  ('assessment', 'appealed',      'dismiss_appeal', 'appeal_dismissed', '{hr}', 'assessment.not_own(uuid)', false),
  ('assessment', 'appealed',      'uphold_appeal',  'appeal_upheld', '{hr}', 'assessment.not_own(uuid)', false),
  -- a correction (revision > 1)
  ('assessment', 'proposed',      'approve',        'published',     '{hr}', 'assessment.second_person(uuid)', false),
  ('assessment', 'proposed',      'reject',         'rejected',      '{hr}', 'assessment.second_person(uuid)', false);
-- Approving a correction supersedes the revision it corrects (made by that approval, never asked
-- for directly).
INSERT INTO fsm.transitions (machine, from_state, action, to_state, roles, guard, internal)
SELECT 'assessment', s, 'supersede', 'superseded', '{hr}', NULL, true
  FROM unnest(ARRAY['published', 'acknowledged', 'appealed', 'appeal_dismissed',
                    'appeal_upheld']) s;

-- A training plan (Q4; R2.4): proposed -> agreed -> in progress -> completed with evidence;
-- cancelled with a reason before completion.
INSERT INTO fsm.machines (machine, entity, state_column, initial_states, description)
VALUES ('training_plan', 'assessment.training_plans', 'status', '{proposed,agreed}',
        'A training and development plan (Q4; R2.4): proposed, agreed, in progress, completed.');
INSERT INTO fsm.transitions (machine, from_state, action, to_state, roles, guard) VALUES
  ('training_plan', 'proposed',    'agree',    'agreed',      '{supervisor,hr}', 'assessment.training_manager(uuid)'),
  ('training_plan', 'agreed',      'start',    'in_progress', '{staff,supervisor,hr}', 'assessment.training_participant(uuid)'),
  ('training_plan', 'in_progress', 'complete', 'completed',   '{supervisor,hr}', 'assessment.training_completed(uuid)');
INSERT INTO fsm.transitions (machine, from_state, action, to_state, roles, guard)
SELECT 'training_plan', s, 'cancel', 'cancelled', '{supervisor,hr}', 'assessment.training_manager(uuid)'
  FROM unnest(ARRAY['proposed', 'agreed', 'in_progress']) s;

-- Job schedules (kinds registered by src/modules/assessment/) ----------------------------------
-- Every day at 01:00 company time: open the month before on its first working day (and the year
-- before in January) and compute it; the job is idempotent (a period opens once).
INSERT INTO jobs.schedules (name, kind, calendar, time_zone, next_due_at)
VALUES ('assessment.periods', 'assessment.periods', 'daily 01:00', 'Asia/Taipei',
        (date_trunc('day', now() AT TIME ZONE 'Asia/Taipei') + interval '1 day 1 hour')
          AT TIME ZONE 'Asia/Taipei');
-- Every day at 09:00 company time: regular survey sends, reminders, expiry.
INSERT INTO jobs.schedules (name, kind, calendar, time_zone, next_due_at)
VALUES ('assessment.surveys', 'assessment.surveys', 'daily 09:00', 'Asia/Taipei',
        (date_trunc('day', now() AT TIME ZONE 'Asia/Taipei') + interval '1 day 9 hours')
          AT TIME ZONE 'Asia/Taipei');
