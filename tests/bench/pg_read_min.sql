-- The minimal reference of the read scenario (issue 15): the claims and the primary-key select of
-- the customer's own columns under the same row-level-security policies, as tianxing_app, the
-- cheapest transaction that still finds the caller's row the way a read must. What the read
-- adds on top of it (the document: access, completeness, contacts, data key; the PII read log)
-- is what ratio_minimal prices. Same random customer and claims as pg_read.sql; read-only.
\set r random(0, :nown - 1)
\set i :r * :owners + :k
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT tx.begin_request(:sub, :roles, :reqid);
SELECT id, name, company_name, version FROM cust.customers WHERE id = overlay(overlay(md5('tianxing-bench:' || :i) placing '4' from 13) placing '8' from 17)::uuid;
COMMIT;
