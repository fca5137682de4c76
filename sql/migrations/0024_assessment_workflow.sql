-- 0024 assessment workflow: module Q, part B (issue 12; Q2.1, Q2.2). Runs as tianxing_owner
-- inside one transaction opened by `tianxingd migrate`. The functions, triggers and the touch of
-- the assessments are in sql/code/assessment/040_workflow.sql; this holds what is data-shaped.

-- A correction (Q2.1: "a correction is a new version with a reason, approved by a second
-- person") exists next to the revision it corrects until it is decided: the proposed revision
-- and the published one are both there. 0022's "one live revision" index counted 'proposed' as
-- live, which made proposing any correction a unique violation. Live = neither superseded,
-- rejected nor still proposed; and at most one proposal waits per employee and period.
DROP INDEX assessment.assessments_live_key;
CREATE UNIQUE INDEX assessments_live_key ON assessment.assessments (period_id, employee_id)
  WHERE status NOT IN ('superseded', 'rejected', 'proposed');
CREATE UNIQUE INDEX assessments_proposed_key ON assessment.assessments (period_id, employee_id)
  WHERE status = 'proposed';

-- What a correction changes (its corrected teamwork rating or supervisor score, whether it
-- recomputed the figures from the facts of its day) and why its decider rejected it: the second
-- person's reason stays with the revision, not only in the transition log.
ALTER TABLE assessment.assessments
  ADD COLUMN correction_changes jsonb CHECK (jsonb_typeof(correction_changes) = 'object'),
  ADD COLUMN decision_reason text CHECK (length(decision_reason) BETWEEN 1 AND 4000),
  ADD CONSTRAINT assessments_correction_has_changes
    CHECK ((corrects_id IS NULL) = (correction_changes IS NULL));

-- The list's keyset (newest first, stable: created_at never changes).
CREATE INDEX assessments_created_idx ON assessment.assessments (created_at DESC, id DESC);
