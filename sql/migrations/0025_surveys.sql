-- 0025 surveys: module Q, part C (Q3 客戶反饋; issue 12). Runs as tianxing_owner inside one
-- transaction opened by `tianxingd migrate`. What 0022's survey tables lack for the sends' life:
-- the job's expiry as a recorded fact, and when and by whom the current one-time link was minted.
-- The functions, policies and triggers are in sql/code/assessment/050_surveys.sql.

-- Expiry is a fact the job 'assessment.surveys' records (the day it closed the send), so the
-- response rates and the list never depend on when they are read.
ALTER TABLE assessment.survey_sends ADD COLUMN expired_at timestamptz;
-- The current link: minted on request (POST /v1/survey-sends/{id}/link); minting again replaces
-- token_hash, so the earlier token stops working (revoked by replacement).
ALTER TABLE assessment.survey_sends ADD COLUMN link_created_at timestamptz;
ALTER TABLE assessment.survey_sends ADD COLUMN link_created_by uuid REFERENCES org.employees (id);
ALTER TABLE assessment.survey_sends
  ADD CONSTRAINT survey_sends_closed_once CHECK (num_nonnulls(answered_at, revoked_at, expired_at) <= 1);
ALTER TABLE assessment.survey_sends
  ADD CONSTRAINT survey_sends_link_minted CHECK ((token_hash IS NULL) = (link_created_at IS NULL));
-- The list's keyset order (newest first).
CREATE INDEX survey_sends_sent_idx ON assessment.survey_sends (sent_at DESC, id DESC);
