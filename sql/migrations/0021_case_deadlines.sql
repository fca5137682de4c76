-- 0021 case deadlines: what module P's deadlines need besides the tables of 0018 (issue 11,
-- "Deadlines (jobs)"; part F). Runs as tianxing_owner inside one transaction opened by
-- `tianxingd migrate`.
--
-- 1. Two policy parameters (validated by their JSON Schema, effective-dated, four-eyes like every
--    parameter; sql/code/org/040_policy_parameters.sql):
--    * case_deadlines: how many working days each step of a case may take, counted on the
--      working-day calendar (org.calendar_days) from the moment its clock starts
--      (cases.deadline_at, sql/code/cases/010_calendar.sql). Milestones are not in it: each has
--      its standard duration in the business type's version (cases.milestones.standard_days).
--    * company_time_zone: the zone in which a working day begins and ends. A deadline falls due
--      at the end of its due working day in this zone. It is a parameter, not a service setting,
--      because deadlines are computed in the database (triggers, the job) and must come out the
--      same whichever instance or client asks; the schema lists the zones the company may choose
--      (a zone name the validator cannot check would break every deadline once approved).
-- 2. Deadlines owned by a department: a step that any supervisor of the case's department may do
--    (approval, review feedback) has no single owner; department_id says whose queue it is in.
-- 3. How a deadline ends besides being met (closed_at), and indexes for the personal queues
--    (sql/code/cases/090_queues.sql): my overdue deadlines, the open deadlines of my department,
--    my open escalations.
-- 4. The schedule of the job that marks due deadlines overdue and climbs unanswered escalations
--    (kind 'cases.deadlines', registered by src/modules/cases/deadlines.c).

-- 1. Policy parameters ---------------------------------------------------------------------
-- The definitions' rows are written by migrations only; the owner is subject to the forced
-- row-level security, whose owner policies only read: lifted for these inserts, as in 0017.
ALTER TABLE org.policy_parameters NO FORCE ROW LEVEL SECURITY;
ALTER TABLE org.policy_values NO FORCE ROW LEVEL SECURITY;

INSERT INTO org.policy_parameters (name, type, description, unit, clause, schema) VALUES
  ('case_deadlines', 'json',
   'Working days each step of a case may take from when its clock starts: reception (P1.1, '
   'from the request being received to its scope assessment), approval (P1.4, from submission '
   'to the decision), escalation response (P2.3, from an escalation to its solution, after '
   'which it climbs one level up), review feedback (P3.3, from submission for review to the '
   'verdict) and archiving (P4.1, from the customer''s confirmation to the archive). 0 means '
   'the same working day.', 'working days', 'P2.2',
   '{"type": "object", "additionalProperties": false,
     "required": ["reception_workdays", "approval_workdays", "escalation_response_workdays",
                  "review_feedback_workdays", "archiving_workdays"],
     "properties": {
       "reception_workdays": {"type": "integer", "minimum": 0, "maximum": 120},
       "approval_workdays": {"type": "integer", "minimum": 0, "maximum": 120},
       "escalation_response_workdays": {"type": "integer", "minimum": 0, "maximum": 120},
       "review_feedback_workdays": {"type": "integer", "minimum": 0, "maximum": 120},
       "archiving_workdays": {"type": "integer", "minimum": 0, "maximum": 120}}}'),
  ('company_time_zone', 'text',
   'The time zone of the company''s working days: a deadline ends at the end of its due '
   'working day in this zone (P2.2).', NULL, 'P2.2',
   '{"type": "string",
     "enum": ["Asia/Taipei", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Macau", "Asia/Singapore",
              "UTC"]}');

INSERT INTO org.policy_values (name, value, effective_from, status, reason, decided_at) VALUES
  ('case_deadlines',
   '{"reception_workdays": 1, "approval_workdays": 2, "escalation_response_workdays": 1,
     "review_feedback_workdays": 2, "archiving_workdays": 5}',
   '2024-01-01', 'approved', 'initial value', now()),
  ('company_time_zone', '"Asia/Taipei"', '2024-01-01', 'approved', 'initial value', now());

ALTER TABLE org.policy_values FORCE ROW LEVEL SECURITY;
ALTER TABLE org.policy_parameters FORCE ROW LEVEL SECURITY;

-- 2. Deadlines of a department -------------------------------------------------------------
ALTER TABLE cases.deadlines ADD COLUMN department_id uuid REFERENCES org.departments (id);
COMMENT ON COLUMN cases.deadlines.department_id IS
  'When owner_id is NULL: the department whose supervisors are to meet it (approval, review).';
-- Whose queue a deadline is in: a person's, or a department's supervisors'.
ALTER TABLE cases.deadlines ADD CHECK (owner_id IS NOT NULL OR department_id IS NOT NULL);

-- How a deadline ends: met (met_at: the step was done, on time or late), or closed (closed_at:
-- the step will never be done: the case ended before it -- cancelled, rejected, out of scope --
-- an optional milestone was left out when the work went to review, or an unanswered escalation
-- climbed and its successor has its own deadline). A closed deadline is neither met nor missed;
-- its overdue mark, if it had one, stays. Open = neither (sql/code/cases/080_deadlines.sql).
ALTER TABLE cases.deadlines ADD COLUMN closed_at timestamptz;
COMMENT ON COLUMN cases.deadlines.closed_at IS
  'When the step stopped being due without being done (case ended, optional milestone skipped, '
  'escalation climbed); never set together with met_at.';
ALTER TABLE cases.deadlines ADD CHECK (met_at IS NULL OR closed_at IS NULL);
-- 0018's partial indexes say "open" as met_at IS NULL; open is now neither met nor closed.
DROP INDEX cases.deadlines_open_key;
CREATE UNIQUE INDEX deadlines_open_key ON cases.deadlines (case_id, kind, coalesce(subject_id, case_id))
  WHERE met_at IS NULL AND closed_at IS NULL;
DROP INDEX cases.deadlines_due_idx;
CREATE INDEX deadlines_due_idx ON cases.deadlines (due_at, id)
  WHERE met_at IS NULL AND closed_at IS NULL AND overdue_at IS NULL;
DROP INDEX cases.deadlines_owner_idx;
CREATE INDEX deadlines_owner_idx ON cases.deadlines (owner_id, due_at)
  WHERE met_at IS NULL AND closed_at IS NULL;

-- 3. Queue indexes --------------------------------------------------------------------------
CREATE INDEX deadlines_overdue_owner_idx ON cases.deadlines (owner_id, kind, due_at, id)
  WHERE met_at IS NULL AND closed_at IS NULL AND overdue_at IS NOT NULL;
CREATE INDEX deadlines_department_idx ON cases.deadlines (department_id, due_at, id)
  WHERE met_at IS NULL AND closed_at IS NULL AND owner_id IS NULL;
CREATE INDEX deadlines_case_open_idx ON cases.deadlines (case_id, due_at)
  WHERE met_at IS NULL AND closed_at IS NULL;
-- My open escalations (queue), oldest due first.
CREATE INDEX escalations_open_idx ON cases.escalations (addressed_to, due_at, id)
  WHERE status = 'open';

-- 4. The deadlines job's schedule: every 5 minutes from the start of the day (a deadline ends at
-- midnight in the company's zone; it is marked within 5 minutes of passing). An operator changes
-- it with jobs.schedule_set.
INSERT INTO jobs.schedules (name, kind, every, anchor, next_due_at)
SELECT 'cases.deadlines', 'cases.deadlines', interval '5 minutes', a.anchor,
       a.anchor + interval '5 minutes' * (floor(extract(epoch FROM now() - a.anchor) / 300) + 1)
  FROM (SELECT date_trunc('day', now()) AS anchor) a;
