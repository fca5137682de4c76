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
-- disposes of the customer (four eyes): who cleared the last hold is kept here and checked by the
-- trigger cust.customers_disposal. NULL while a hold is set or none was ever cleared.
ALTER TABLE cust.customers
  ADD COLUMN legal_hold_cleared_by uuid REFERENCES org.employees (id);
