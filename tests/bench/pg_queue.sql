-- Reference of the "my queue" scenario: the transaction db/tx.c sends for GET
-- /v1/me/queues/cases?limit=50 (src/modules/cases/queues.c: api.queue_cases, read-only, no cursor).
-- Its minimal counterpart, the same page without the function, is pg_queue_min.sql.
--   :sub, :roles, :reqid  the claims        :lim  the page size
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT tx.begin_request(:sub, :roles, :reqid);
SELECT api.queue_cases(:lim::int, NULL::text)::text;
COMMIT;
