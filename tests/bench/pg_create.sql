-- Reference of the create scenario: the transaction db/tx.c sends for POST /v1/customers, with a
-- payload sealed once by `bench_load --template` (:tmpl). Its unique parts (customer and contact
-- ids, blind indexes) end in QQQQQQQQQQQQ, replaced by 12 random hex digits per transaction.
\set u random(1, 140737488355327)
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT tx.begin_request(:sub, :roles, :reqid);
SELECT j::text, j->>'version', j->>'id' FROM api.customer_create(replace(:tmpl, 'QQQQQQQQQQQQ', lpad(to_hex(:u::bigint), 12, '0'))::jsonb) j;
COMMIT;
