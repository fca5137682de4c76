-- 0018 cases: the tables of module P, business process (P1.1-P4.3; READINGS.md, section P).
-- Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`.
--
-- A case follows one customer request from its reception to its archive. This migration holds the
-- data: the working-day calendar, the business-type catalogue (versioned), the case and everything
-- recorded on it, the archive, deadlines and events. The case's life cycle is the state machine
-- 'case' (fsm.machines) with its moves, at the end of this file. The functions, triggers and
-- policies are in sql/code/cases/ (000_access.sql: who sees what).
--
-- Conventions of the module:
--   * every table is audited (audit.attach) and under forced row-level security; who may see a
--     case is one predicate, cases.may_read(case_id) (sql/code/cases/000_access.sql), used by the
--     policies of every table that hangs off a case;
--   * facts are appended, not edited: work records, review rounds, confirmations, deadlines'
--     overdue marks and events are rows written once (a correction is a new row pointing at the
--     old one); the case row carries the current state and the latest decisions for the queues;
--   * the runtime role writes through SECURITY DEFINER api.* functions where a rule spans tables,
--     and directly (with policies) where one row is the whole story.

CREATE SCHEMA cases;
REVOKE ALL ON SCHEMA cases FROM PUBLIC;
GRANT USAGE ON SCHEMA cases TO tianxing_app;

-- Working-day calendar ----------------------------------------------------------------------
-- Monday to Friday are working days unless a row says otherwise: a 'holiday' on a weekday (a
-- public holiday), a 'workday' on a weekend (a make-up working day of 調休). Maintained by admin.
CREATE TABLE org.calendar_days (
  day        date PRIMARY KEY,
  kind       text NOT NULL CHECK (kind IN ('workday', 'holiday')),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  created_by uuid REFERENCES org.employees (id),
  version    int NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- a row that restates the default would be noise
  CHECK ((kind = 'holiday') = (extract(isodow FROM day) < 6))
);
COMMENT ON TABLE org.calendar_days IS
  'Exceptions to Monday-Friday: public holidays on weekdays, make-up workdays (調休) on weekends.';

-- Business-type catalogue (P1.2, P2.2, P3.2, P4.2) -------------------------------------------
-- A type has versions; a version is immutable once it exists and a case keeps the one it started
-- under. A change to the standard is a new version, which becomes the type's current one.
CREATE TABLE cases.business_types (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  code            text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$'),
  name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description     text CHECK (length(description) BETWEEN 1 AND 2000),
  -- P1.2: is this business within the company's scope? A type out of scope cannot start a case.
  in_scope        boolean NOT NULL DEFAULT true,
  active          boolean NOT NULL DEFAULT true,
  current_version int NOT NULL DEFAULT 1 CHECK (current_version >= 1),
  created_by      uuid REFERENCES org.employees (id),
  version         int NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cases.business_type_versions (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  business_type_id uuid NOT NULL REFERENCES cases.business_types (id),
  version          int NOT NULL CHECK (version >= 1),
  note             text CHECK (length(note) BETWEEN 1 AND 2000),
  -- retention of the archive of a case of this version (P4.2), in years
  retention_years  int NOT NULL DEFAULT 10 CHECK (retention_years BETWEEN 1 AND 100),
  created_by       uuid REFERENCES org.employees (id),
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (business_type_id, version)
);

-- The operating standard (P2.2): ordered key milestones (關鍵環節), each with a standard duration
-- in working days.
CREATE TABLE cases.milestones (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  type_version_id uuid NOT NULL REFERENCES cases.business_type_versions (id),
  seq             int NOT NULL CHECK (seq BETWEEN 1 AND 100),
  code            text NOT NULL CHECK (code ~ '^[a-z][a-z0-9_]{0,31}$'),
  name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  required        boolean NOT NULL DEFAULT true,
  standard_days   int NOT NULL CHECK (standard_days BETWEEN 1 AND 365),
  UNIQUE (type_version_id, code),
  UNIQUE (type_version_id, seq)
);

-- The review checklist (P3.2): at least accuracy, compliance and completeness.
CREATE TABLE cases.checklist_criteria (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  type_version_id uuid NOT NULL REFERENCES cases.business_type_versions (id),
  seq             int NOT NULL CHECK (seq BETWEEN 1 AND 100),
  code            text NOT NULL CHECK (code ~ '^[a-z][a-z0-9_]{0,31}$'),
  name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  UNIQUE (type_version_id, code),
  UNIQUE (type_version_id, seq)
);

-- The documents the archive needs (P4.2).
CREATE TABLE cases.required_documents (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  type_version_id uuid NOT NULL REFERENCES cases.business_type_versions (id),
  seq             int NOT NULL CHECK (seq BETWEEN 1 AND 100),
  code            text NOT NULL CHECK (code ~ '^[a-z][a-z0-9_]{0,31}$'),
  name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  UNIQUE (type_version_id, code),
  UNIQUE (type_version_id, seq)
);

-- Cases ----------------------------------------------------------------------------------------
CREATE TABLE cases.cases (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  status              text NOT NULL DEFAULT 'received',
  customer_id         uuid NOT NULL REFERENCES cust.customers (id),
  -- the department that handles it: the receiver's, at reception (its supervisors approve)
  department_id       uuid NOT NULL REFERENCES org.departments (id),
  -- request (P1.1)
  raised_at           timestamptz NOT NULL,
  received_by         uuid NOT NULL REFERENCES org.employees (id),
  received_at         timestamptz NOT NULL DEFAULT now(),
  channel             text NOT NULL
                      CHECK (channel IN ('visit', 'phone', 'email', 'message', 'meeting', 'other')),
  need                text NOT NULL CHECK (length(need) BETWEEN 1 AND 4000),
  -- scope assessment (P1.2); out of scope is terminal with a reason
  in_scope            boolean,
  scope_reason        text CHECK (length(scope_reason) BETWEEN 1 AND 2000),
  scope_by            uuid REFERENCES org.employees (id),
  scope_at            timestamptz,
  -- intake form (P1.3): the type's version is fixed here and kept for the life of the case
  business_type_id    uuid REFERENCES cases.business_types (id),
  type_version_id     uuid REFERENCES cases.business_type_versions (id),
  customer_snapshot   jsonb CHECK (jsonb_typeof(customer_snapshot) = 'object'),
  requirements        text CHECK (length(requirements) BETWEEN 1 AND 8000),
  expected_on         date,
  prepared_by         uuid REFERENCES org.employees (id),
  prepared_at         timestamptz,
  submitted_at        timestamptz,
  -- approval (P1.4): the latest decision; every decision is a row of cases.approvals
  approved_by         uuid REFERENCES org.employees (id),
  approved_at         timestamptz,
  -- work, review, delivery (P2, P3)
  started_at          timestamptz,
  review_round        int NOT NULL DEFAULT 0 CHECK (review_round >= 0),
  passed_at           timestamptz,
  delivered_at        timestamptz,
  confirmed_at        timestamptz,
  -- the end: archived, or a terminal state with its reason (out_of_scope, rejected, cancelled)
  closed_reason       text CHECK (length(closed_reason) BETWEEN 1 AND 2000),
  closed_at           timestamptz,
  archived_at         timestamptz,
  search_bigrams      text[] NOT NULL DEFAULT '{}',
  version             int NOT NULL DEFAULT 1,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CHECK (raised_at <= received_at + interval '5 minutes'),
  CHECK (in_scope IS NOT false OR scope_reason IS NOT NULL),
  CHECK ((type_version_id IS NULL) = (business_type_id IS NULL))
);
COMMENT ON TABLE cases.cases IS
  'A customer''s request followed from reception to archive (module P); status is the state machine ''case''.';
CREATE INDEX cases_customer_idx ON cases.cases (customer_id);
CREATE INDEX cases_department_idx ON cases.cases (department_id, status, updated_at);
CREATE INDEX cases_received_by_idx ON cases.cases (received_by);
CREATE INDEX cases_prepared_by_idx ON cases.cases (prepared_by);
CREATE INDEX cases_status_idx ON cases.cases (status, updated_at, id);
CREATE INDEX cases_updated_idx ON cases.cases (updated_at, id);
CREATE INDEX cases_type_idx ON cases.cases (business_type_id);

-- Every approval decision (P1.4): approve, reject (terminal) or return; approver != preparer.
CREATE TABLE cases.approvals (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  case_id     uuid NOT NULL REFERENCES cases.cases (id),
  decision    text NOT NULL CHECK (decision IN ('approve', 'reject', 'return')),
  comment     text CHECK (length(comment) BETWEEN 1 AND 2000),
  decided_by  uuid NOT NULL REFERENCES org.employees (id),
  decided_at  timestamptz NOT NULL DEFAULT now(),
  CHECK (decision = 'approve' OR comment IS NOT NULL)
);
CREATE INDEX approvals_case_idx ON cases.approvals (case_id, decided_at);

-- Assignment (P2.1): one person, or a team with a lead. A row ends (ends_at) rather than goes.
CREATE TABLE cases.assignments (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  case_id     uuid NOT NULL REFERENCES cases.cases (id),
  employee_id uuid NOT NULL REFERENCES org.employees (id),
  role        text NOT NULL CHECK (role IN ('lead', 'member')),
  starts_on   date NOT NULL,
  ends_on     date CHECK (ends_on >= starts_on),
  assigned_by uuid NOT NULL REFERENCES org.employees (id),
  assigned_at timestamptz NOT NULL DEFAULT now(),
  ended_at    timestamptz
);
-- a person holds one current assignment per case; one current lead per case
CREATE UNIQUE INDEX assignments_current_key ON cases.assignments (case_id, employee_id)
  WHERE ended_at IS NULL;
CREATE UNIQUE INDEX assignments_one_lead ON cases.assignments (case_id)
  WHERE ended_at IS NULL AND role = 'lead';
CREATE INDEX assignments_employee_idx ON cases.assignments (employee_id, case_id)
  WHERE ended_at IS NULL;

-- Work records (P2.4): one per completed key milestone, append-only; a correction is a new row
-- naming the one it corrects (the latest of a chain is the record in force).
CREATE TABLE cases.work_records (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  case_id      uuid NOT NULL REFERENCES cases.cases (id),
  milestone_id uuid NOT NULL REFERENCES cases.milestones (id),
  content      text NOT NULL CHECK (length(content) BETWEEN 1 AND 8000),
  result       text NOT NULL CHECK (length(result) BETWEEN 1 AND 4000),
  started_at   timestamptz NOT NULL,
  finished_at  timestamptz NOT NULL,
  hours        numeric(7, 2) NOT NULL CHECK (hours > 0 AND hours <= 10000),
  corrects_id  uuid UNIQUE REFERENCES cases.work_records (id),
  author_id    uuid NOT NULL REFERENCES org.employees (id),
  at           timestamptz NOT NULL DEFAULT now(),
  CHECK (finished_at >= started_at)
);
CREATE INDEX work_records_case_idx ON cases.work_records (case_id, milestone_id, at);
CREATE INDEX work_records_author_idx ON cases.work_records (author_id);

-- Escalations (P2.3): a problem raised to the superior; the solution, who gave it and when;
-- unanswered after the deadline, a new row one level up names the one it climbed from.
CREATE TABLE cases.escalations (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  case_id       uuid NOT NULL REFERENCES cases.cases (id),
  problem       text NOT NULL CHECK (length(problem) BETWEEN 1 AND 4000),
  raised_by     uuid NOT NULL REFERENCES org.employees (id),
  raised_at     timestamptz NOT NULL DEFAULT now(),
  addressed_to  uuid NOT NULL REFERENCES org.employees (id),
  level         int NOT NULL DEFAULT 1 CHECK (level BETWEEN 1 AND 20),
  climbed_from  uuid UNIQUE REFERENCES cases.escalations (id),
  due_at        timestamptz NOT NULL,
  -- withdrawn: the case was cancelled while the escalation was open (nobody answers it any more)
  status        text NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'resolved', 'climbed', 'withdrawn')),
  solution      text CHECK (length(solution) BETWEEN 1 AND 4000),
  resolved_by   uuid REFERENCES org.employees (id),
  resolved_at   timestamptz,
  CHECK ((status = 'resolved') = (resolved_at IS NOT NULL)
         AND (resolved_at IS NULL) = (resolved_by IS NULL)
         AND (resolved_at IS NULL) = (solution IS NULL))
);
CREATE INDEX escalations_case_idx ON cases.escalations (case_id, raised_at);
CREATE INDEX escalations_addressed_idx ON cases.escalations (addressed_to, status, due_at);

-- Review rounds (P3.1-P3.3): submitted by the work side, decided by a supervisor who neither
-- worked on the case nor authored a record; a verdict per checklist criterion.
CREATE TABLE cases.reviews (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  case_id            uuid NOT NULL REFERENCES cases.cases (id),
  round              int NOT NULL CHECK (round >= 1),
  submitted_by       uuid NOT NULL REFERENCES org.employees (id),
  submitted_at       timestamptz NOT NULL DEFAULT now(),
  -- what was done about the previous round's findings (required from round 2)
  rectification_note text CHECK (length(rectification_note) BETWEEN 1 AND 4000),
  reviewer_id        uuid REFERENCES org.employees (id),
  outcome            text CHECK (outcome IN ('passed', 'failed')),
  comment            text CHECK (length(comment) BETWEEN 1 AND 4000),
  decided_at         timestamptz,
  UNIQUE (case_id, round),
  CHECK ((outcome IS NULL) = (decided_at IS NULL) AND (outcome IS NULL) = (reviewer_id IS NULL)),
  CHECK (round = 1 OR rectification_note IS NOT NULL)
);
CREATE INDEX reviews_reviewer_idx ON cases.reviews (reviewer_id);

CREATE TABLE cases.review_verdicts (
  review_id    uuid NOT NULL REFERENCES cases.reviews (id),
  criterion_id uuid NOT NULL REFERENCES cases.checklist_criteria (id),
  verdict      text NOT NULL CHECK (verdict IN ('pass', 'fail')),
  comment      text CHECK (length(comment) BETWEEN 1 AND 2000),
  PRIMARY KEY (review_id, criterion_id),
  CHECK (verdict = 'pass' OR comment IS NOT NULL)
);

-- Deliverables and archive documents (P3.4, P4.1-P4.2): files (content stored here, size capped
-- by cases_file_max_bytes) or paper items with their physical location (C2.2 applies to paper).
CREATE TABLE cases.files (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  case_id     uuid NOT NULL REFERENCES cases.cases (id),
  purpose     text NOT NULL CHECK (purpose IN ('deliverable', 'document', 'evidence')),
  -- the required document (cases.required_documents.code) this file satisfies, if any
  document_code text CHECK (document_code ~ '^[a-z][a-z0-9_]{0,31}$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
  media_type  text CHECK (length(media_type) BETWEEN 3 AND 255),
  medium      text NOT NULL CHECK (medium IN ('electronic', 'paper')),
  size        bigint CHECK (size >= 0),
  sha256      bytea CHECK (octet_length(sha256) = 32),
  content     bytea,
  location    text CHECK (length(location) BETWEEN 1 AND 500),
  added_by    uuid NOT NULL REFERENCES org.employees (id),
  added_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (CASE medium
           WHEN 'electronic' THEN size IS NOT NULL AND sha256 IS NOT NULL AND content IS NOT NULL
                                  AND octet_length(content) = size AND location IS NULL
           ELSE content IS NULL AND location IS NOT NULL END)
);
CREATE INDEX files_case_idx ON cases.files (case_id, purpose, added_at);

-- Delivery to the customer (P3.4): how and when, and which deliverables.
CREATE TABLE cases.deliveries (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  case_id      uuid NOT NULL REFERENCES cases.cases (id),
  method       text NOT NULL CHECK (method IN ('email', 'in_person', 'post', 'portal', 'other')),
  file_ids     uuid[] NOT NULL CHECK (cardinality(file_ids) BETWEEN 1 AND 100),
  note         text CHECK (length(note) BETWEEN 1 AND 2000),
  delivered_by uuid NOT NULL REFERENCES org.employees (id),
  delivered_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_case_idx ON cases.deliveries (case_id, delivered_at);

-- One-time confirmation links (P3.4): only the SHA-256 of the token is kept; signed, expiring,
-- usable once.
CREATE TABLE cases.confirmation_links (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  case_id     uuid NOT NULL REFERENCES cases.cases (id),
  delivery_id uuid NOT NULL REFERENCES cases.deliveries (id),
  token_hash  bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  revoked_at  timestamptz,
  created_by  uuid NOT NULL REFERENCES org.employees (id),
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX confirmation_links_case_idx ON cases.confirmation_links (case_id);

-- The customer's answer (P3.4): confirmed or objected, satisfaction 1-5 (Q counts it), through a
-- link or recorded by staff with evidence.
CREATE TABLE cases.confirmations (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  case_id      uuid NOT NULL REFERENCES cases.cases (id),
  delivery_id  uuid NOT NULL REFERENCES cases.deliveries (id),
  outcome      text NOT NULL CHECK (outcome IN ('confirmed', 'objected')),
  rating       int CHECK (rating BETWEEN 1 AND 5),
  comment      text CHECK (length(comment) BETWEEN 1 AND 2000),
  via          text NOT NULL CHECK (via IN ('link', 'recorded')),
  link_id      uuid UNIQUE REFERENCES cases.confirmation_links (id),
  recorded_by  uuid REFERENCES org.employees (id),
  evidence     text CHECK (length(evidence) BETWEEN 1 AND 2000),
  evidence_file_id uuid REFERENCES cases.files (id),
  at           timestamptz NOT NULL DEFAULT now(),
  CHECK (CASE via WHEN 'link' THEN link_id IS NOT NULL AND recorded_by IS NULL
                  ELSE link_id IS NULL AND recorded_by IS NOT NULL
                       AND (evidence IS NOT NULL OR evidence_file_id IS NOT NULL) END),
  CHECK (outcome = 'confirmed' OR comment IS NOT NULL)
);
CREATE INDEX confirmations_case_idx ON cases.confirmations (case_id, at);

-- Archive (P4.1-P4.3): the package's manifest and its hash, the number (sequential per year
-- without gaps: the counter row is taken under lock in the archiving transaction).
CREATE TABLE cases.archive_counters (
  year int PRIMARY KEY CHECK (year BETWEEN 2000 AND 9999),
  last int NOT NULL CHECK (last >= 0)
);

CREATE TABLE cases.archives (
  case_id         uuid PRIMARY KEY REFERENCES cases.cases (id),
  archive_number  text NOT NULL UNIQUE CHECK (archive_number ~ '^TX-[0-9]{4}-[0-9]{6}$'),
  year            int NOT NULL,
  seq             int NOT NULL CHECK (seq >= 1),
  manifest        jsonb NOT NULL CHECK (jsonb_typeof(manifest) = 'object'),
  manifest_sha256 bytea NOT NULL CHECK (octet_length(manifest_sha256) = 32),
  retain_until    date NOT NULL,
  -- denormalised for the index (P4.3): who worked on it, what it was, its words
  customer_id     uuid NOT NULL REFERENCES cust.customers (id),
  business_type_id uuid NOT NULL REFERENCES cases.business_types (id),
  department_id   uuid NOT NULL REFERENCES org.departments (id),
  staff_ids       uuid[] NOT NULL DEFAULT '{}',
  title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
  search_bigrams  text[] NOT NULL DEFAULT '{}',
  archived_by     uuid NOT NULL REFERENCES org.employees (id),
  archived_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (year, seq)
);
CREATE INDEX archives_customer_idx ON cases.archives (customer_id, archived_at);
CREATE INDEX archives_type_idx ON cases.archives (business_type_id, archived_at);
CREATE INDEX archives_archived_idx ON cases.archives (archived_at, case_id);
CREATE INDEX archives_staff_idx ON cases.archives USING gin (staff_ids);
CREATE INDEX archives_search_idx ON cases.archives USING gin (search_bigrams);

-- Deadlines (P1.1 reception, P1.4 approval, P2.2 milestones, P2.3 escalations, P3.3 review
-- feedback, P4.1 archiving): each computed once, from the policy in force and the calendar, when
-- its clock starts; met or marked overdue, with the time, once. Overdue is a stored fact.
CREATE TABLE cases.deadlines (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  case_id     uuid NOT NULL REFERENCES cases.cases (id),
  kind        text NOT NULL CHECK (kind IN ('reception', 'approval', 'milestone', 'escalation',
                                            'review_feedback', 'archiving')),
  -- the milestone or escalation it is about, when there is one
  subject_id  uuid,
  -- whose it is to meet (the queue it shows in)
  owner_id    uuid REFERENCES org.employees (id),
  starts_at   timestamptz NOT NULL,
  due_at      timestamptz NOT NULL,
  met_at      timestamptz,
  overdue_at  timestamptz,
  CHECK (due_at >= starts_at)
);
CREATE UNIQUE INDEX deadlines_open_key ON cases.deadlines (case_id, kind, coalesce(subject_id, case_id))
  WHERE met_at IS NULL;
CREATE INDEX deadlines_due_idx ON cases.deadlines (due_at) WHERE met_at IS NULL AND overdue_at IS NULL;
CREATE INDEX deadlines_owner_idx ON cases.deadlines (owner_id, due_at) WHERE met_at IS NULL;

-- Events of cases that other modules read (Q: completion, timeliness; R: overdue, rework): state
-- changes are in fsm.log; these are the facts that are not moves (overdue marks, escalations
-- climbing, deadlines met).
CREATE TABLE cases.events (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  case_id   uuid NOT NULL REFERENCES cases.cases (id),
  type      text NOT NULL CHECK (type ~ '^[a-z][a-z0-9_.]{0,63}$'),
  at        timestamptz NOT NULL DEFAULT now(),
  actor_id  uuid REFERENCES org.employees (id),
  data      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object')
);
CREATE INDEX events_case_idx ON cases.events (case_id, id);
CREATE INDEX events_type_idx ON cases.events (type, at);

-- Audit, row-level security, grants -------------------------------------------------------------
SELECT audit.attach('org.calendar_days');
SELECT audit.attach('cases.business_types');
SELECT audit.attach('cases.business_type_versions');
SELECT audit.attach('cases.milestones');
SELECT audit.attach('cases.checklist_criteria');
SELECT audit.attach('cases.required_documents');
SELECT audit.attach('cases.cases');
SELECT audit.attach('cases.approvals');
SELECT audit.attach('cases.assignments');
SELECT audit.attach('cases.work_records');
SELECT audit.attach('cases.escalations');
SELECT audit.attach('cases.reviews');
SELECT audit.attach('cases.review_verdicts');
-- the content is not copied into the trail: its size and SHA-256 are
SELECT audit.attach('cases.files', '{content}');
SELECT audit.attach('cases.deliveries');
SELECT audit.attach('cases.confirmation_links', '{token_hash}');
SELECT audit.attach('cases.confirmations');
SELECT audit.attach('cases.archive_counters');
SELECT audit.attach('cases.archives');
SELECT audit.attach('cases.deadlines');
SELECT audit.attach('cases.events');

ALTER TABLE org.calendar_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE org.calendar_days FORCE ROW LEVEL SECURITY;
DO $$
DECLARE t text;
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c
            WHERE c.relnamespace = 'cases'::regnamespace AND c.relkind = 'r' LOOP
    EXECUTE format('ALTER TABLE cases.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE cases.%I FORCE ROW LEVEL SECURITY', t);
  END LOOP;
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA cases FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA cases FROM PUBLIC;
-- The runtime role reads under the policies; writes go through the api functions (SECURITY
-- DEFINER where a rule spans tables), which the parts' code files grant as they need.
GRANT SELECT ON ALL TABLES IN SCHEMA cases TO tianxing_app;
GRANT SELECT ON org.calendar_days TO tianxing_app;

-- The case's life cycle; READINGS.md, section P, "States":
--   received -> out_of_scope | intake -> submitted -> approved | rejected | returned
--   -> in_progress -> under_review -> rectifying (again) -> passed -> delivered -> confirmed
--   -> archived; cancelled (the customer withdraws) from any open state.
INSERT INTO fsm.machines (machine, entity, state_column, initial_states, description)
VALUES ('case', 'cases.cases', 'status', '{received}',
        'A customer request from reception to archive (P1.1-P4.3).');

-- Its moves. Roles are the token's roles (tx.roles()); who the person must be (the approver is
-- not the preparer, the reviewer worked on nothing) is a guard, a function of the case's id that
-- the part's code file defines (sql/code/cases/) and whose COMMENT says what it requires.
-- 'customer' is the role a one-time confirmation link acts under (sql/code/cases/060_delivery.sql):
-- nobody signs in with it.
INSERT INTO fsm.transitions (machine, from_state, action, to_state, roles, guard) VALUES
  -- P1.2 scope assessment by whoever received it (or their supervisor)
  ('case', 'received',     'assess_in_scope',     'intake',       '{staff,supervisor}', NULL),
  ('case', 'received',     'assess_out_of_scope', 'out_of_scope', '{staff,supervisor}', NULL),
  -- P1.3 -> P1.4 the intake form goes to the supervisor; a returned form comes back
  ('case', 'intake',       'submit',    'submitted',   '{staff,supervisor}', 'cases.intake_complete(uuid)'),
  ('case', 'returned',     'submit',    'submitted',   '{staff,supervisor}', 'cases.intake_complete(uuid)'),
  ('case', 'submitted',    'approve',   'approved',    '{supervisor}', 'cases.approver_independent(uuid)'),
  ('case', 'submitted',    'reject',    'rejected',    '{supervisor}', 'cases.approver_independent(uuid)'),
  ('case', 'submitted',    'return',    'returned',    '{supervisor}', 'cases.approver_independent(uuid)'),
  -- P2.1 assignment starts the work
  ('case', 'approved',     'start',     'in_progress', '{supervisor}', 'cases.has_assignment(uuid)'),
  -- P3.1 / P3.3 review rounds
  ('case', 'in_progress',  'submit_review', 'under_review', '{staff,supervisor}', 'cases.required_milestones_recorded(uuid)'),
  ('case', 'rectifying',   'resubmit',  'under_review', '{staff,supervisor}', 'cases.required_milestones_recorded(uuid)'),
  ('case', 'under_review', 'pass',      'passed',      '{supervisor}', 'cases.reviewer_independent(uuid)'),
  ('case', 'under_review', 'fail',      'rectifying',  '{supervisor}', 'cases.reviewer_independent(uuid)'),
  -- P3.4 delivery and the customer's answer; an objection reopens rectification
  ('case', 'passed',       'deliver',   'delivered',   '{staff,supervisor}', 'cases.delivery_recorded(uuid)'),
  ('case', 'delivered',    'confirm',   'confirmed',   '{staff,supervisor,customer}', NULL),
  ('case', 'delivered',    'object',    'rectifying',  '{staff,supervisor,customer}', NULL),
  -- P4.1-P4.2 archive
  ('case', 'confirmed',    'archive',   'archived',    '{staff,supervisor}', 'cases.archive_complete(uuid)');
-- The customer withdraws (cancelled: terminal with a reason), from any state before delivery.
INSERT INTO fsm.transitions (machine, from_state, action, to_state, roles, guard)
SELECT 'case', s, 'cancel', 'cancelled', '{staff,supervisor}', NULL
  FROM unnest(ARRAY['received', 'intake', 'submitted', 'returned', 'approved', 'in_progress',
                    'under_review', 'rectifying', 'passed']) s;
