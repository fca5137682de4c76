-- The floor reference of the read scenario (issue 15, target 1's limit): pg_read_min.sql's claims
-- and primary-key select under the same row-level-security policies, as tianxing_app, plus the one
-- write a read may not skip: C2.3 logs every full PII read, so the customer found goes into
-- cust.pii_reads in the same transaction, as api.customer_get inserts it (the insert policy's
-- check that the reader is the caller and the customer visible, the trigger numbering the row for
-- the digest, its four indexes, the commit that now has WAL to flush; no foreign key since 0050).
-- It is the cheapest transaction that does what a read must do; what the service adds on top of
-- it (HTTP and the token; the document: access, completeness, contacts, data key, decryption) is
-- what ratio_floor prices, and floor/minimal (report.mjs floor_to_minimal) is the share of
-- pg_read_min.sql that any read keeping the log can reach on this machine. Same random customer
-- and claims as pg_read.sql; read-write. The insert takes its row from the select (c, joined
-- back), so that a customer the policies hide logs nothing and returns nothing, and a row
-- returned is a row logged.
\set r random(0, :nown - 1)
\set i :r * :owners + :k
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT tx.begin_request(:sub, :roles, :reqid);
WITH c AS (SELECT id, name, company_name, version FROM cust.customers WHERE id = overlay(overlay(md5('tianxing-bench:' || :i) placing '4' from 13) placing '8' from 17)::uuid), l AS (INSERT INTO cust.pii_reads (customer_id, reader_id, request_id) SELECT id, tx.user_id(), tx.request_id() FROM c RETURNING customer_id) SELECT c.id, c.name, c.company_name, c.version FROM c JOIN l ON l.customer_id = c.id;
COMMIT;
