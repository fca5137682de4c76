-- The minimal reference of the "my queue" scenario (GET /v1/me/queues/cases?limit=50, staff.a1):
-- the cheapest SQL transaction that gives the same page. The claims as db/tx.c sets them, then ONE statement
-- (prepared: pgbench -M prepared) run as the runtime role under the same row-level security: the
-- keyset walk of api.queue_cases (sql/code/cases/090_queues.sql: my entries of cases.queue_entries,
-- 0046, oldest received first, each checked against its current assignment and its open case,
-- 50 and one to know whether a next page exists) with the items
-- built inline -- the same fields, the customer's name through the same owner's lookup
-- (cases.queue_customer_name: the runtime role may not see the customer row) -- but without the
-- PL/pgSQL function, its role check and its cursor parsing. No cursor: the first page.
--   :sub, :roles, :reqid  the claims        :lim  the page size
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT tx.begin_request(:sub, :roles, :reqid);
WITH page AS (
  SELECT c.id, c.status, c.business_type_id, c.received_at, c.expected_on, a.role,
         row_number() OVER (ORDER BY q.received_at, q.case_id) AS rn
    FROM cases.queue_entries q
   CROSS JOIN LATERAL (SELECT a.role FROM cases.assignments a
                        WHERE a.case_id = q.case_id AND a.employee_id = q.employee_id
                          AND a.ended_at IS NULL LIMIT 1) a
   CROSS JOIN LATERAL (SELECT c.id, c.status, c.business_type_id, c.received_at, c.expected_on
                         FROM cases.cases c
                        WHERE c.id = q.case_id
                          AND c.status NOT IN ('archived', 'cancelled', 'rejected', 'out_of_scope')
                        LIMIT 1) c
   WHERE q.employee_id = tx.user_id()
   ORDER BY q.received_at, q.case_id
   LIMIT :lim + 1)
SELECT json_build_object(
         'items', coalesce(json_agg(json_build_object(
                    'case_id', p.id, 'status', p.status,
                    'customer_name', cases.queue_customer_name(p.id),
                    'business_type', (SELECT json_build_object('code', t.code, 'name', t.name)
                                        FROM cases.business_types t WHERE t.id = p.business_type_id),
                    'received_at', p.received_at, 'expected_on', p.expected_on,
                    'next_due_at', (SELECT min(d.due_at) FROM cases.deadlines d
                                     WHERE d.case_id = p.id AND d.met_at IS NULL AND d.closed_at IS NULL),
                    'role', p.role) ORDER BY p.rn) FILTER (WHERE p.rn <= :lim), '[]'::json),
         'next_cursor', CASE WHEN count(*) > :lim
                             THEN min('0_' || (extract(epoch FROM p.received_at) * 1000000)::bigint || '_' || p.id)
                                  FILTER (WHERE p.rn = :lim) END)::text
  FROM page p;
COMMIT;
