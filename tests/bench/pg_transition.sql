-- Reference of the transition scenario: the transaction db/tx.c sends for POST
-- /v1/cases/{id}/assess (src/modules/cases/cases.c: TX_CALL_ROW of api.case_assess), moving a
-- received case of the pool of tests/bench/load_cases.sql to intake, each case once. The only
-- difference is the id: SQL computes it from the case number the way load_cases.sql made it.
-- Case numbers: each pgbench run (run_no, tests/bench/run) has its own slice of :per_run cases
-- after the :base first of the pool (wrk's), each client every :clients-th of it, in turn (:k is
-- the client's own counter: pgbench keeps a client's variables from one transaction to the next;
-- :clients is the run's own client count, from tests/bench/run, so a run of n transactions uses
-- the first n case numbers of its slice at any concurrency: with a fixed stride of 32, a 4-client
-- run walked eight times faster through its slice and into the next run's and round's cases).
--   :sub, :roles, :reqid  the claims        :body  the request body, as wrk sends it
\set k :k + 1
\set j :base + :run_no * :per_run + :client_id + :clients * (:k - 1)
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT tx.begin_request(:sub, :roles, :reqid);
SELECT j::text, j->>'version', j->>'id' FROM api.case_assess(overlay(overlay(md5('tianxing-bench-case:' || :j) placing '4' from 13) placing '8' from 17)::uuid, :body::jsonb) j;
COMMIT;
