-- 0046 the personal case queue's own ordered index (issue 15, the case queue at scale). Runs as
-- tianxing_owner inside one transaction opened by `tianxingd migrate`. The triggers that keep it
-- and the queue that reads it are in sql/code/cases/090_queues.sql; docs/performance.md ("Issue
-- 15: the case queue at scale") has the figures.
--
-- GET /v1/me/queues/cases is "the open cases I am a current assignee of, oldest received first".
-- Its two conditions live in two tables (the assignment is current: cases.assignments; the case
-- is not in a final state: cases.cases) and its order in the second, so no index of either could
-- give the page: the queue read every current assignment of the person, probed each case and
-- sorted the survivors before it could return 50 (staff.a1 of the benchmark: 20 000 assignments,
-- seconds a page). One row per (current assignment, case not final), keyed by the person and the
-- case's received instant, turns the page into a range walk of one index that stops after the
-- page: its cost no longer grows with the person's history.
--
-- The rows are derived: exactly the current assignments of cases in no final state, with the
-- case's received_at (which never changes, P1.1). cases.queue_entries_follow keeps them at every
-- change of an assignment and at every move of a case into or out of a final state. The runtime
-- role reads only its own rows; the queue joins the assignment and the case under their own
-- policies and rechecks both conditions, so a row here can only ever narrow the walk, never add a
-- case the person may not see.

CREATE TABLE cases.queue_entries (
  employee_id uuid NOT NULL,
  case_id     uuid NOT NULL,
  received_at timestamptz NOT NULL,
  PRIMARY KEY (case_id, employee_id)
);
COMMENT ON TABLE cases.queue_entries IS
  'The current assignments of cases in no final state, by person and the case''s received_at: the personal queue''s ordered index (0046).';
CREATE UNIQUE INDEX queue_entries_walk_idx ON cases.queue_entries (employee_id, received_at, case_id);

ALTER TABLE cases.queue_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE cases.queue_entries FORCE ROW LEVEL SECURITY;
GRANT SELECT ON cases.queue_entries TO tianxing_app;
CREATE POLICY queue_entries_read ON cases.queue_entries FOR SELECT TO tianxing_app
  USING (employee_id = (SELECT tx.user_id()));
CREATE POLICY queue_entries_definer ON cases.queue_entries FOR ALL TO tianxing_owner
  USING (true) WITH CHECK (true);
-- Not audited (sql/tests/audit.sql lists it with the other derived tables): every row is made of
-- an audited assignment and an audited case move, and a trail of its own would add a chain entry
-- to every assignment and every final move, under the chain's lock at commit (issue 15).
-- (the final states: cases.is_final_state, sql/code/cases/080_deadlines.sql, not yet created on
-- a new database when the migrations run)
INSERT INTO cases.queue_entries (employee_id, case_id, received_at)
SELECT a.employee_id, c.id, c.received_at
  FROM cases.assignments a JOIN cases.cases c ON c.id = a.case_id
 WHERE a.ended_at IS NULL
   AND c.status NOT IN ('out_of_scope', 'rejected', 'cancelled', 'archived');
