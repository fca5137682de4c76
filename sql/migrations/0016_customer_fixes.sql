-- 0016 customer fixes (issue 10 items 5 and 9; docs/customers.md, "Merging" and "Legal holds").
-- Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`.
--
-- Item 5: a merge moves the source's consents to the target (their ids, dates and revocations
-- kept), while the disclosure ledger is append-only and keeps the customer it was written for.
-- The ledger's foreign key to its consent named the consent's customer too, so a consent that was
-- relied on could never move: it now names the consent and the recipient only (the recipient
-- never changes; the trigger cust.disclosures_check still requires, at insert, a consent of the
-- same customer).
ALTER TABLE cust.consents ADD CONSTRAINT consents_id_recipient_key UNIQUE (id, recipient_id);
ALTER TABLE cust.disclosures
  DROP CONSTRAINT disclosures_consent_id_customer_id_recipient_id_fkey;
ALTER TABLE cust.disclosures
  ADD CONSTRAINT disclosures_consent_fkey FOREIGN KEY (consent_id, recipient_id)
    REFERENCES cust.consents (id, recipient_id);

-- Item 9: a legal hold is cleared only by a risk officer, and not by the administrator who then
-- disposes of the customer (four eyes). Each clearing is a row here (append-only, audited); the
-- trigger cust.customers_disposal refuses the disposal to whoever made the customer's latest
-- clearing. A table rather than a column of cust.customers: the clearings are a history, and the
-- customers' rows stay as they were. Written and read only by SECURITY DEFINER functions
-- (sql/code/customers/020_sharing.sql); the runtime role has no grant.
CREATE TABLE cust.legal_hold_clearings (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id uuid NOT NULL REFERENCES cust.customers (id),
  reason      text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
  cleared_by  uuid NOT NULL REFERENCES org.employees (id),
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX legal_hold_clearings_customer_idx ON cust.legal_hold_clearings (customer_id, at DESC);
CREATE INDEX legal_hold_clearings_cleared_by_idx ON cust.legal_hold_clearings (cleared_by);
ALTER TABLE cust.legal_hold_clearings ENABLE ROW LEVEL SECURITY;
ALTER TABLE cust.legal_hold_clearings FORCE ROW LEVEL SECURITY;
SELECT audit.attach('cust.legal_hold_clearings');
