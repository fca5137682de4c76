-- 0028 assessment indexes: what the computation of a period (sql/code/assessment/030_indicators.sql,
-- assessment.period_facts) needs to find a month's facts by time and credit them, instead of
-- reading every person's whole history (issue 12, the benchmark's month for 1 000 staff and
-- 100 000 cases). Module P's indexes serve its queues: open deadlines, current assignments.

-- Milestone deadlines by due date (efficiency, and the candidates of completion), and every
-- deadline of a case (a case's due date: the latest of its milestones).
CREATE INDEX deadlines_milestone_due_idx ON cases.deadlines (due_at)
  WHERE kind = 'milestone' AND closed_at IS NULL;
CREATE INDEX deadlines_case_kind_idx ON cases.deadlines (case_id, kind);
-- Everyone ever assigned to a case (the credit split counts ended assignments too).
CREATE INDEX assignments_case_idx ON cases.assignments (case_id, employee_id);
-- Review rounds decided, confirmations and survey answers by time.
CREATE INDEX reviews_decided_idx ON cases.reviews (decided_at) WHERE decided_at IS NOT NULL;
CREATE INDEX confirmations_at_idx ON cases.confirmations (at);
CREATE INDEX survey_answers_at_idx ON assessment.survey_answers (at);
