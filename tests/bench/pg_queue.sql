-- Reference of the "my queue" scenario: the transaction db/tx.c sends for GET
-- /v1/cases?assigned_to=<me>&limit=50 (read-only; the statement of src/modules/cases/cases.c with
-- the parameters the request leaves out as NULL).
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT tx.begin_request(:sub, :roles, :reqid);
SELECT api.case_list(NULL::text, NULL::uuid, NULL::uuid, :me::uuid, NULL::uuid, NULL::timestamptz, NULL::timestamptz, :lim::int, NULL::text)::text;
COMMIT;
