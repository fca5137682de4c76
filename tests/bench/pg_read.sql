-- Reference of the read scenario (tests/bench/run runs it with pgbench -M prepared, once as is and
-- once inside \startpipeline ... \endpipeline, and keeps the better): the transaction db/tx.c sends
-- for GET /v1/customers/{id}. Read-write, as the service runs it: a full read logs cust.pii_reads.
-- The only difference is the id: SQL computes it from pgbench's random customer number the way
-- tests/bench/load.c made it (md5, a few microseconds), so that it is one of the caller's.
--   :owners  owners the loader spread customers over     :k  the caller's index among them
--   :nown    the caller's number of customers             :sub, :roles, :reqid  the claims
\set r random(0, :nown - 1)
\set i :r * :owners + :k
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT tx.begin_request(:sub, :roles, :reqid);
SELECT j::text, j->>'version' FROM api.customer_get(overlay(overlay(md5('tianxing-bench:' || :i) placing '4' from 13) placing '8' from 17)::uuid) j;
COMMIT;
