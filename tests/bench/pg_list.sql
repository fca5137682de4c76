-- Reference of the list and search scenarios: the transaction db/tx.c sends for GET /v1/customers
-- (read-only; the statement of modules/customers/customers.c with the parameters the request
-- leaves out as NULL). tests/bench/run replaces @CURSOR@ and @Q@ by :cursor / :q or NULL::text.
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT tx.begin_request(:sub, :roles, :reqid);
SELECT api.customer_list(:lim::int, @CURSOR@, NULL::uuid, NULL::uuid, NULL::text, NULL::text, NULL::boolean, @Q@, decode(substr(NULL::text, 3), 'hex'), decode(substr(NULL::text, 3), 'hex'), NULL::text)::text;
COMMIT;
