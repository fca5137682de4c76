-- The document floor of the read scenario (issue 15, target 1's limit): pg_read_floor.sql, plus
-- the rows the customer document is made of, fetched and nothing computed from them: the whole
-- customer row, its contacts in order and its data key, each table under its own row-level-security
-- policy, as tianxing_app (the contacts' policy re-checks the customer; the data key's the
-- caller's relation to it). No access level, completeness, masking or JSON: what is left between
-- this and pg_read.sql is the document's computation, and between this and pg_read_floor.sql the
-- price of keeping contacts and keys in tables of their own under the same policies. Same random
-- customer and claims as pg_read.sql; read-write, the log row taken from the row found, as in
-- pg_read_floor.sql.
\set r random(0, :nown - 1)
\set i :r * :owners + :k
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT tx.begin_request(:sub, :roles, :reqid);
WITH c AS (SELECT * FROM cust.customers WHERE id = overlay(overlay(md5('tianxing-bench:' || :i) placing '4' from 13) placing '8' from 17)::uuid), l AS (INSERT INTO cust.pii_reads (customer_id, reader_id, request_id) SELECT id, tx.user_id(), tx.request_id() FROM c RETURNING customer_id) SELECT c.*, (SELECT array_agg(k.* ORDER BY k.seq) FROM cust.contacts k WHERE k.customer_id = c.id) AS contacts, d.key_id, d.wrapped FROM c JOIN l ON l.customer_id = c.id LEFT JOIN cust.data_keys d ON d.customer_id = c.id;
COMMIT;
