-- 0033 risk reports: module R, part D (issue 13; REGULATIONS.md R3.1 定期監控). Runs as
-- tianxing_owner inside the transaction of `tianxingd migrate`.
--
-- A regular monitoring report is made by the job 'risk.reports' for a day: the company day the job
-- ran for (its payload may name it, "today", for a catch-up run). The next regular report is due
-- risk_schedules.report_every_months after that day. Keeping the day on the row (rather than
-- deriving it from covers_to) makes the job idempotent for any "today" it is given: a second run
-- for the same day finds the report it made and makes none; the unique index is the backstop when
-- two instances race. Ad hoc reports (made by a risk officer) have no such day.
ALTER TABLE risk.reports ADD COLUMN scheduled_on date;
ALTER TABLE risk.reports ADD CONSTRAINT reports_scheduled_on_check
  CHECK ((kind = 'regular') = (scheduled_on IS NOT NULL));
CREATE UNIQUE INDEX reports_regular_key ON risk.reports (scheduled_on) WHERE kind = 'regular';
CREATE INDEX reports_kind_made_idx ON risk.reports (kind, made_at DESC, id DESC);
