-- 0031 risk_credit: module R, part B, credit (R2.3; issue 13). The tables are in 0029; the
-- functions, the contract gate and its trigger are in sql/code/risk/040_credit.sql.
--
-- The current credit assessment of a customer is the latest assessed, then the latest recorded
-- (docs/credit.md). `at` defaults to now(), the start of the transaction, so two assessments
-- recorded in one transaction (a script, a batch of corrections) tie on it; `seq`, the order of
-- recording, never ties. Adding the identity column numbers existing rows in their stored order
-- (a table rewrite: no trigger fires, so the append-only rule of the rows is not touched).
ALTER TABLE risk.credit_assessments ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE risk.credit_assessments ADD CONSTRAINT credit_assessments_seq_key UNIQUE (seq);
-- risk.current_credit: the customer's assessments, the latest assessed first.
CREATE INDEX credit_assessments_current_idx
  ON risk.credit_assessments (customer_id, assessed_on DESC, seq DESC);
