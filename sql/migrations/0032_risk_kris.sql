-- 0032 risk_kris: module R, part C, key risk indicators and warnings (R3.2, R3.3; issue 13).
-- The tables are in 0029; this seeds the seven indicators the issue asks for (their codes are
-- those of the policy kri_thresholds, their functions are in sql/code/risk/050_kris.sql), lets
-- a person measure a computed indicator on request.

-- A measurement is taken by the job ('job'), entered by hand for a manual indicator ('manual'),
-- or taken on request by a person for a computed one ('request': POST /v1/kris/{id}/measurements
-- on a computed indicator). Whoever is not the job is recorded (entered_by).
ALTER TABLE risk.kri_measurements DROP CONSTRAINT kri_measurements_source_check;
ALTER TABLE risk.kri_measurements DROP CONSTRAINT kri_measurements_check;
ALTER TABLE risk.kri_measurements ADD CONSTRAINT kri_measurements_source_check
  CHECK (source IN ('job', 'manual', 'request'));
ALTER TABLE risk.kri_measurements ADD CONSTRAINT kri_measurements_entered_by_check
  CHECK ((source = 'job') = (entered_by IS NULL));

-- The seven indicators (R3.2; READINGS.md section R). compute names the SQL function that
-- measures each from operational data; thresholds and frequency are the policy kri_thresholds
-- (by code). Owner NULL: the risk officers are notified of their warnings. The owner is subject
-- to the table's forced row-level security and its policies (sql/code) are applied after the
-- migrations: lifted for this insert, as 0029 does for the policy parameters.
ALTER TABLE risk.kris NO FORCE ROW LEVEL SECURITY;
INSERT INTO risk.kris (code, name, measures, source, compute, unit, direction, category) VALUES
  ('overdue_milestones', 'Overdue case milestones',
   'Key milestones of cases (P2.2) whose deadline has passed without being met, at the time of measuring.',
   'computed', 'risk.kri_overdue_milestones', 'milestones', 'up', 'operational'),
  ('rework_rate', 'Rework rate',
   'Share of the review decisions (P3.1-P3.3) of the last 30 days that failed the case back to rework, in percent.',
   'computed', 'risk.kri_rework_rate', '%', 'up', 'operational'),
  ('stale_customers', 'Stale customers',
   'Share of the customers (not disposed of, not merged) not verified within the review period customer_review_period_days (C4.1), in percent.',
   'computed', 'risk.kri_stale_customers', '%', 'up', 'operational'),
  ('contracts_under_prepayment', 'Contracts under the prepayment minimum',
   'Open contracts whose prepayment ratio is below what the customer''s current credit rating requires (credit_rating_policy; without a current assessment, risk_warning_thresholds.prepayment_ratio_min) and whose gap no valid guarantee covers (R2.3).',
   'computed', 'risk.kri_contracts_under_prepayment', 'contracts', 'up', 'credit'),
  ('credit_expiring', 'Credit assessments expiring',
   'Customers whose latest credit assessment expires within credit_rating_policy.expiring_within_days (R2.3).',
   'computed', 'risk.kri_credit_expiring', 'customers', 'up', 'credit'),
  ('receivables_overdue', 'Overdue receivables',
   'Receivables unpaid more than risk_warning_thresholds.credit_overdue_days after their due date (R2.3).',
   'computed', 'risk.kri_receivables_overdue', 'receivables', 'up', 'credit'),
  ('open_escalations', 'Open escalations',
   'Escalations of cases (P2.3) raised and not yet resolved, climbed or withdrawn.',
   'computed', 'risk.kri_open_escalations', 'escalations', 'up', 'operational');
ALTER TABLE risk.kris FORCE ROW LEVEL SECURITY;
-- What the indicators read has its indexes already: review decisions by time (0028), open
-- escalations and open deadlines (0021), open receivables (0029).
