-- The events outbox and webhooks (0041_events.sql, sql/code/events, docs/events.md): events are
-- written in the transaction of their change and vanish with it, carry no personal information,
-- take positions in commit order, are visible to those who may see their subject; webhook
-- subscriptions are admin-only with checked URLs and types; a delivery's attempts go through
-- sending, failure with backoff, dead letter and redelivery, by the scheduler only.
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(62);

\ir lib/session.psql
\ir lib/customers.psql

CREATE FUNCTION pg_temp.body(n int, name text, more jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('id', pg_temp.c(n), 'name', name,
                            'dek', jsonb_build_object('key_id', 'mk1', 'wrapped', pg_temp.ct(60, 'dek' || n)))
         || more $$;
-- The events of one entity the caller sees, oldest first.
CREATE FUNCTION pg_temp.types_of(p uuid) RETURNS text[] LANGUAGE sql STABLE AS $$
  SELECT coalesce(array_agg(o.type ORDER BY o.position), '{}') FROM events.outbox o WHERE o.entity_id = p $$;
CREATE FUNCTION pg_temp.system() RETURNS void LANGUAGE sql AS $$
  SELECT set_config('tx.user_id', '', true), set_config('tx.roles', 'system', true),
         set_config('tx.department_id', '', true), set_config('tx.request_id', 'job:test', true) $$;

-- Shape -------------------------------------------------------------------------------------
SELECT is((SELECT count(*)::int FROM pg_class c WHERE c.relnamespace = 'events'::regnamespace
            AND c.relkind = 'r' AND c.relrowsecurity AND c.relforcerowsecurity), 6,
  'the six events tables have row-level security enabled and forced');
SELECT is((SELECT count(*)::int FROM pg_class c WHERE c.relnamespace = 'events'::regnamespace
            AND c.relkind = 'r' AND c.relowner = 'tianxing_owner'::regrole), 6,
  'the owner role owns them');
SELECT is_empty($$ SELECT m.machine FROM fsm.machines m
                    WHERE NOT EXISTS (SELECT FROM events.types t WHERE t.type = m.machine || '.state_changed') $$,
  'every state machine has its <machine>.state_changed event type');
SELECT throws_ok($$ INSERT INTO events.outbox (position, type, subject, entity, entity_id, data)
                    VALUES (999999, 'customer.created', 'x', 'cust.customers', gen_random_uuid(), '{}') $$,
  '42501', NULL, 'the runtime role cannot write the outbox');
SELECT throws_ok($$ SELECT events.emit('customer.created', 'cust.customers', gen_random_uuid(), '{}') $$,
  '42501', NULL, 'nor call events.emit');
SELECT throws_ok($$ UPDATE events.head SET position = 0 $$, '42501', NULL, 'nor move the counter');

-- Written with the change, gone with it ----------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
CREATE TEMP TABLE pos AS SELECT position AS before FROM events.head;
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.body(1, '天星秘密公司', jsonb_build_object(
                     'company_name', '天星秘密有限公司', 'needs', 'secret needs text',
                     'address_enc', pg_temp.ct(40, 'addr1')))) $$, 'staff.a1 creates a customer');
SELECT is(pg_temp.types_of(pg_temp.c(1)), '{customer.created}', 'one customer.created event, in the same transaction');
SELECT is((SELECT position FROM events.head), (SELECT before + 1 FROM pos), 'the counter moved by one');
SELECT is((SELECT o.position FROM events.outbox o WHERE o.entity_id = pg_temp.c(1)),
          (SELECT position FROM events.head), 'the event holds the counter''s position');
SELECT is((SELECT o.subject FROM events.outbox o WHERE o.entity_id = pg_temp.c(1)),
          '/v1/customers/' || pg_temp.c(1), 'its subject is the resource path');
SELECT is((SELECT o.request_id FROM events.outbox o WHERE o.entity_id = pg_temp.c(1)),
          'req-staff.a1', 'and it records the request');
-- No PII: the data holds ids, status and the version, nothing of the name, company, needs or
-- address (plain or encrypted).
SELECT is((SELECT array_agg(k ORDER BY k) FROM events.outbox o, jsonb_object_keys(o.data) k WHERE o.entity_id = pg_temp.c(1)),
          '{customer_id,department_id,owner_id,status,version}', 'customer.created data: ids, status, version');
SELECT ok((SELECT o.data::text !~ '天星|secret|\\x01' FROM events.outbox o WHERE o.entity_id = pg_temp.c(1)),
  'no name, company, needs or ciphertext in the event');

SELECT lives_ok($$ SELECT api.customer_update(pg_temp.c(1), 1, '{"name": "天星改名公司", "needs": "more secret needs"}') $$,
  'staff.a1 renames the customer');
SELECT is(pg_temp.types_of(pg_temp.c(1)), '{customer.created,customer.updated}', 'customer.updated follows');
SELECT is((SELECT o.data -> 'changed' FROM events.outbox o WHERE o.entity_id = pg_temp.c(1) AND o.type = 'customer.updated'),
          '["name", "needs"]'::jsonb, 'it names the changed fields');
SELECT ok((SELECT o.data::text !~ '天星|secret' FROM events.outbox o WHERE o.entity_id = pg_temp.c(1) AND o.type = 'customer.updated'),
  'and never their values');

SAVEPOINT before_rollback;
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.body(2, '回滾公司')) $$, 'a second customer...');
SELECT is(pg_temp.types_of(pg_temp.c(2)), '{customer.created}', '... has its event');
ROLLBACK TO SAVEPOINT before_rollback;
SELECT is(pg_temp.types_of(pg_temp.c(2)), '{}', 'rolled back: no event remains');
SELECT is((SELECT position FROM events.head), (SELECT before + 2 FROM pos), 'and its position was never taken for good');

-- State machines: one trigger covers them all ------------------------------------------------
-- (fsm.log rows come from fsm.enforce; an insert as the owner stands in for a move here.)
SELECT is((SELECT count(*)::int FROM pg_trigger t WHERE t.tgname = 'zz_events' AND NOT t.tgisinternal), 4,
  'event triggers on customers, fsm.log, case deadlines and warnings');

-- Visibility -------------------------------------------------------------------------------
SELECT is(jsonb_array_length(events.after(0, 500) -> 'items'), 2, 'staff.a1 sees the two events of their customer');
SELECT is((SELECT array_agg((e ->> 'position')::bigint ORDER BY i) FROM jsonb_array_elements(events.after(0, 500) -> 'items') WITH ORDINALITY a(e, i)),
          (SELECT array_agg(o.position ORDER BY o.position) FROM events.outbox o WHERE o.entity_id = pg_temp.c(1)),
  'in position order');
SELECT is((events.after(0, 500) ->> 'last_position')::bigint, (SELECT position FROM events.head),
  'a page that is not full ends at the head');
SELECT is(jsonb_array_length(events.after(0, 1) -> 'items'), 1, 'a page of one');
SELECT is((events.after(0, 1) ->> 'last_position')::bigint,
          (SELECT min(o.position) FROM events.outbox o WHERE o.entity_id = pg_temp.c(1)), 'ends at its item');
SELECT is(jsonb_array_length(events.after((SELECT min(o.position) FROM events.outbox o WHERE o.entity_id = pg_temp.c(1)), 500) -> 'items'), 1,
  'the next page starts after it');
SELECT ok((SELECT e ?& ARRAY['id', 'position', 'type', 'time', 'subject', 'data'] FROM jsonb_array_elements(events.after(0, 1) -> 'items') e),
  'the envelope: id, position, type, time, subject, data');
SELECT throws_ok($$ SELECT events.after(-1, 10) $$, 'TXVAL', 'after: must be a position (0 or more)', 'a negative position is refused');

SELECT pg_temp.be('staff.b1', 'staff');
SELECT is(pg_temp.types_of(pg_temp.c(1)), '{}', 'staff.b1 (another department) sees no event of that customer');
SELECT is(jsonb_array_length(events.after(0, 500) -> 'items'), 0, 'events.after gives them none');
SELECT pg_temp.be('sup.a', 'supervisor');
SELECT is(pg_temp.types_of(pg_temp.c(1)), '{customer.created,customer.updated}', 'the department''s supervisor sees both');
SELECT pg_temp.be('admin', 'admin');
SELECT is(pg_temp.types_of(pg_temp.c(1)), '{customer.created,customer.updated}', 'so does an admin');
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', '', true);
SELECT is((SELECT count(*)::int FROM events.outbox), 0, 'without claims nothing is visible');

-- Webhooks ---------------------------------------------------------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT api.webhook_create('{"url": "https://hooks.example.com/x", "event_types": ["customer.created"]}', 'false') $$,
  '42501', NULL, 'staff cannot subscribe');
SELECT pg_temp.be('admin', 'admin');
SELECT throws_ok($$ SELECT api.webhook_create('{"url": "http://hooks.example.com/x", "event_types": ["customer.created"]}', 'true') $$,
  'TXVAL', 'url: must be an https URL', 'http to a non-loopback host is refused even when loopback is allowed');
SELECT throws_ok($$ SELECT api.webhook_create('{"url": "http://127.0.0.1:9/x", "event_types": ["customer.created"]}', 'false') $$,
  'TXVAL', 'url: must be an https URL', 'http to loopback is refused unless allowed');
SELECT throws_ok($$ SELECT api.webhook_create('{"url": "https://user:pw@hooks.example.com/x", "event_types": ["customer.created"]}', 'false') $$,
  'TXVAL', 'url: must be an absolute URL without credentials, spaces or fragment', 'credentials in the URL are refused');
SELECT throws_ok($$ SELECT api.webhook_create('{"url": "https://hooks.example.com/x", "event_types": ["customer.eaten"]}', 'false') $$,
  'TXVAL', 'event_types: unknown event type customer.eaten (GET /v1/event-types)', 'an unknown type is refused');
SELECT throws_ok($$ SELECT api.webhook_create('{"url": "https://hooks.example.com/x", "event_types": ["customer.created"], "secret": "whsec_c2hvcnQ="}', 'false') $$,
  'TXVAL', 'secret: must hold 24 to 64 bytes', 'a short secret is refused');
INSERT INTO ids SELECT 'hook', (api.webhook_create('{"url": "http://127.0.0.1:9/hook", "event_types": ["customer.created", "customer.updated"]}', 'true') ->> 'id')::uuid;
SELECT throws_ok($$ SELECT s.secret FROM events.webhook_secrets s $$, '42501', NULL,
  'the runtime role cannot read the secrets, even as an admin');
SELECT ok((api.webhook_rotate_secret(pg_temp.id('hook'), '{"overlap_seconds": 60}') ->> 'secret') ~ '^whsec_[A-Za-z0-9+/]{43}=$',
  'a rotation answers the new secret, once');
SELECT ok(NOT (api.webhook_get(pg_temp.id('hook'))::jsonb ? 'secret'), 'a read never shows the secret');

-- A change makes a delivery and queues its first attempt, in the same transaction.
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((SELECT count(*)::int FROM events.webhooks), 0, 'staff see no subscription');
SELECT throws_ok($$ SELECT events.secret_store(pg_temp.id('hook'), 'whsec_' || repeat('A', 32), false) $$, '42501', NULL,
  'nor may they set a secret');
SELECT lives_ok($$ SELECT api.customer_update(pg_temp.c(1), 2, '{"status": "active"}') $$, 'a change with a subscriber');
SELECT pg_temp.be('admin', 'admin');
CREATE TEMP TABLE dl AS SELECT (d ->> 'id')::uuid AS id FROM json_array_elements(api.webhook_deliveries(pg_temp.id('hook'), NULL, 10, NULL) -> 'items') d;
SELECT is((SELECT count(*)::int FROM dl), 1, 'one delivery for the subscriber');
SELECT is((SELECT j.state FROM jobs.jobs j WHERE j.kind = 'webhooks.deliver' AND j.dedupe_key = (SELECT id FROM dl) || ':1'), 'due',
  'its first attempt is queued');
SELECT throws_ok($$ SELECT events.delivery_start(jsonb_build_object('delivery_id', (SELECT id FROM dl), 'attempt', 1), 40000) $$,
  '42501', NULL, 'only the scheduler starts an attempt');

-- Attempts: fail, back off, dead letter, redeliver -------------------------------------------
SELECT pg_temp.system();
SELECT is((events.delivery_start(jsonb_build_object('delivery_id', (SELECT id FROM dl), 'attempt', 1), 40000) ->> 'attempt')::int, 1,
  'attempt 1 starts');
SELECT is(events.delivery_start(jsonb_build_object('delivery_id', (SELECT id FROM dl), 'attempt', 1), 40000), NULL,
  'while it is in flight nothing else starts');
SELECT is(events.delivery_finish(jsonb_build_object('delivery_id', (SELECT id FROM dl), 'attempt', 1, 'status_code', 500,
                                 'duration_ms', 3, 'response_excerpt', 'oops'), 2, 1000), 'retry', 'a 500 is retried');
SELECT ok(EXISTS (SELECT FROM jobs.jobs j WHERE j.kind = 'webhooks.deliver' AND j.dedupe_key = (SELECT id FROM dl) || ':2'
                   AND j.due_at >= now() + interval '1 second'), 'attempt 2 queued after the backoff');
SELECT is(jsonb_array_length(events.delivery_start(jsonb_build_object('delivery_id', (SELECT id FROM dl), 'attempt', 2), 40000) -> 'secrets'), 2,
  'attempt 2 starts, signed with both secrets during the rotation''s overlap');
SELECT is(events.delivery_finish(jsonb_build_object('delivery_id', (SELECT id FROM dl), 'attempt', 2, 'error', 'connection refused',
                                 'duration_ms', 1), 2, 1000), 'dead', 'out of attempts: dead');
SELECT pg_temp.be('admin', 'admin');
SELECT is((SELECT d ->> 'state' FROM json_array_elements(api.webhook_deliveries(pg_temp.id('hook'), 'dead', 10, NULL) -> 'items') d),
  'dead', 'the dead letter is listed');
SELECT is((api.webhook_redeliver(pg_temp.id('hook'), (SELECT id FROM dl)) ->> 'state'), 'pending', 'a manual redelivery');
SELECT pg_temp.system();
SELECT ok((events.delivery_start(jsonb_build_object('delivery_id', (SELECT id FROM dl), 'attempt', 3, 'manual', true), 40000)) IS NOT NULL,
  'attempt 3 starts');
SELECT is(events.delivery_finish(jsonb_build_object('delivery_id', (SELECT id FROM dl), 'attempt', 3, 'status_code', 204,
                                 'duration_ms', 2), 2, 1000), 'delivered', 'a 2xx delivers');
SELECT pg_temp.be('admin', 'admin');
SELECT is((SELECT array_agg(a ->> 'outcome' ORDER BY (a ->> 'attempt')::int)
             FROM json_array_elements(api.webhook_deliveries(pg_temp.id('hook'), NULL, 10, NULL) -> 'items') d,
                  json_array_elements(d -> 'attempts') a),
          '{failed,failed,delivered}', 'the log shows every attempt');

SELECT * FROM finish();
ROLLBACK;
