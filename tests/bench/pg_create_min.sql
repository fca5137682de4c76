-- The minimal reference of the create scenario (issue 15): the claims, then the same rows as
-- pg_create.sql's payload -- the customer, its data key, its two contacts -- written by three
-- plain INSERTs as the runtime role, with the values taken straight from the sealed payload
-- (:tmpl, its unique parts replaced as in pg_create.sql). Everything the database itself holds
-- the write to stays: the INSERT policies of row-level security, the constraints, the unique
-- blind indexes, the foreign keys and every trigger -- the derived columns (department,
-- search bigrams) and the audit trail with its hash chain, which the regulation asks of every
-- change to a customer and which the runtime role could not skip if it wanted to. What it leaves
-- out of POST /v1/customers: the PL/pgSQL function, validating the body field by field, the
-- duplicate check before the insert (the unique indexes refuse a duplicate anyway, with a less
-- helpful error), the owner rule (the owner is the caller) and the response document.
--   :sub, :roles, :reqid  the claims        :tmpl  the payload of bench_load --template
\set u random(1, 140737488355327)
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT tx.begin_request(:sub, :roles, :reqid);
INSERT INTO cust.customers (id, name, company_name, business_scope, address_enc, credit_code_enc, credit_code_bidx, status, tags, source, needs, owner_id) SELECT (p->>'id')::uuid, p->>'name', p->>'company_name', p->>'business_scope', decode(substr(p->>'address_enc', 3), 'hex'), decode(substr(p->>'credit_code_enc', 3), 'hex'), decode(substr(p->>'credit_code_bidx', 3), 'hex'), p->>'status', ARRAY(SELECT jsonb_array_elements_text(p->'tags')), p->>'source', p->>'needs', tx.user_id() FROM (SELECT replace(:tmpl, 'QQQQQQQQQQQQ', lpad(to_hex(:u::bigint), 12, '0'))::jsonb) x(p);
INSERT INTO cust.data_keys (customer_id, key_id, wrapped) SELECT (p->>'id')::uuid, p->'dek'->>'key_id', decode(substr(p->'dek'->>'wrapped', 3), 'hex') FROM (SELECT replace(:tmpl, 'QQQQQQQQQQQQ', lpad(to_hex(:u::bigint), 12, '0'))::jsonb) x(p);
INSERT INTO cust.contacts (id, customer_id, seq, name, position, phone_enc, phone_bidx, email_enc, email_bidx) SELECT (k->>'id')::uuid, (p->>'id')::uuid, n - 1, k->>'name', k->>'position', decode(substr(k->>'phone_enc', 3), 'hex'), decode(substr(k->>'phone_bidx', 3), 'hex'), decode(substr(k->>'email_enc', 3), 'hex'), decode(substr(k->>'email_bidx', 3), 'hex') FROM (SELECT replace(:tmpl, 'QQQQQQQQQQQQ', lpad(to_hex(:u::bigint), 12, '0'))::jsonb) x(p), jsonb_array_elements(p->'contacts') WITH ORDINALITY e(k, n);
COMMIT;
