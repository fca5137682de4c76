-- Module R, part E: emergency plans (R4.1-R4.3), what migration 0029 left to this part.
--
-- A revision is a new version based on the effective one (R4.3). 0029 made based_on_id UNIQUE,
-- which would let a version be revised only once: a draft based on version 2 that is discarded
-- would leave version 2 unrevisable forever. Several versions may be based on the same one (at
-- most one of them a draft at a time: plan_versions_draft_key; at most one effective:
-- plan_versions_effective_key), so the uniqueness goes; the lookup stays indexed.
ALTER TABLE risk.plan_versions DROP CONSTRAINT plan_versions_based_on_id_key;
CREATE INDEX plan_versions_based_on_idx ON risk.plan_versions (based_on_id);

-- The reason a scheduled drill was cancelled (R4.2: a drill is not silently dropped; the job
-- schedules the next one from the last drill held, so a cancelled drill stays due).
ALTER TABLE risk.exercises
  ADD COLUMN cancel_reason text CHECK (length(cancel_reason) BETWEEN 1 AND 2000);

-- A lesson is cited by at most one version that applies it (R4.3): lessons.applied_in_id is that
-- version once it takes effect; a draft citing it holds it in plan_version_lessons.
CREATE INDEX lessons_applied_idx ON risk.lessons (applied_in_id);
CREATE INDEX plan_version_lessons_lesson_idx ON risk.plan_version_lessons (lesson_id);
