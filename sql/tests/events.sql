-- The events outbox and webhooks (0041_events.sql, sql/code/events, docs/events.md): events are
-- written in the transaction of their change and vanish with it, carry no personal information,
-- take positions in commit order, are visible to those who may see their subject; webhook
-- subscriptions are admin-only with checked URLs and types; a delivery's attempts go through
-- sending, failure with backoff, dead letter and redelivery, by the scheduler only.
-- Run by tests/sql/run as tianxing_app. Fixtures: sql/tests/fixtures.sql.
BEGIN;
SELECT plan(104);

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
            AND c.relkind = 'r' AND c.relrowsecurity AND c.relforcerowsecurity), 8,
  'the eight events tables (0045''s staging table with them) have row-level security enabled and forced');
SELECT is((SELECT count(*)::int FROM pg_class c WHERE c.relnamespace = 'events'::regnamespace
            AND c.relkind = 'r' AND c.relowner = 'tianxing_owner'::regrole), 8,
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

-- Positions at commit (0045): emit stages the event; the deferred trigger numbers it. This suite
-- numbers at the end of each statement (lib/session.psql); deferred, as a request's transaction
-- runs, the event waits for the commit (here: for SET CONSTRAINTS ... IMMEDIATE, which fires it).
SELECT is((SELECT tgdeferrable AND tginitdeferred FROM pg_trigger
            WHERE tgrelid = 'events.pending'::regclass AND tgname = 'position_at_commit'),
          true, 'the numbering trigger is DEFERRABLE INITIALLY DEFERRED');
SAVEPOINT deferred_numbering; -- rolled back below: the rest of the file counts two events
SET CONSTRAINTS events.position_at_commit DEFERRED;
SELECT lives_ok($$ SELECT api.customer_create(pg_temp.body(3, '遲號公司')) $$, 'a third customer, numbering deferred');
SELECT is(pg_temp.types_of(pg_temp.c(3)), '{}', 'its event has no position and is in no outbox yet');
SELECT is((SELECT position FROM events.head), (SELECT before + 2 FROM pos), 'the head has not moved');
SELECT throws_ok($$ SELECT count(*) FROM events.pending $$, '42501', NULL,
  'the runtime role cannot read staged events');
SET CONSTRAINTS events.position_at_commit IMMEDIATE;
SELECT is(pg_temp.types_of(pg_temp.c(3)), '{customer.created}', 'at the commit point it gets its position');
SELECT is((SELECT o.position FROM events.outbox o WHERE o.entity_id = pg_temp.c(3)), (SELECT before + 3 FROM pos),
  'the next position, and the head with it');
ROLLBACK TO SAVEPOINT deferred_numbering;

-- State machines: one trigger covers them all ------------------------------------------------
-- (fsm.log rows come from fsm.enforce; an insert as the owner stands in for a move here.)
SELECT is((SELECT count(*)::int FROM pg_trigger t WHERE t.tgname = 'aa_events' AND NOT t.tgisinternal), 4,
  'event triggers on customers, fsm.log, case deadlines and warnings');
SELECT ok(NOT EXISTS (SELECT FROM pg_trigger t WHERE t.tgname = 'zz_events'), '... under their new name only (0049)');
SELECT ok((SELECT 'aa_events' < min(t.tgname::text COLLATE "C") FROM pg_trigger t
            WHERE t.tgrelid = 'cust.customers'::regclass AND t.tgname LIKE 'audit%'),
  'a customer''s event is staged before its audit entry (one link at commit for both)');

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
SELECT throws_ok($$ SELECT api.webhook_create('{"url": "https://hooks.example.com/x", "event_types": ["customer.created"]}', 'false', gen_random_uuid(), 'mk1', repeat('ab', 70)) $$,
  '42501', NULL, 'staff cannot subscribe');
SELECT pg_temp.be('admin', 'admin');
SELECT throws_ok($$ SELECT api.webhook_create('{"url": "http://hooks.example.com/x", "event_types": ["customer.created"]}', 'true', gen_random_uuid(), 'mk1', repeat('ab', 70)) $$,
  'TXVAL', 'url: must be an https URL', 'http to a non-loopback host is refused even when loopback is allowed');
SELECT throws_ok($$ SELECT api.webhook_create('{"url": "http://127.0.0.1:9/x", "event_types": ["customer.created"]}', 'false', gen_random_uuid(), 'mk1', repeat('ab', 70)) $$,
  'TXVAL', 'url: must be an https URL', 'http to loopback is refused unless allowed');
SELECT throws_ok($$ SELECT api.webhook_create('{"url": "https://user:pw@hooks.example.com/x", "event_types": ["customer.created"]}', 'false', gen_random_uuid(), 'mk1', repeat('ab', 70)) $$,
  'TXVAL', 'url: must be an absolute URL without credentials, spaces or fragment', 'credentials in the URL are refused');
SELECT throws_ok($$ SELECT api.webhook_create('{"url": "https://hooks.example.com/x", "event_types": ["customer.eaten"]}', 'false', gen_random_uuid(), 'mk1', repeat('ab', 70)) $$,
  'TXVAL', 'event_types: unknown event type customer.eaten (GET /v1/event-types)', 'an unknown type is refused');
-- Secrets reach the database sealed by the service (0042; src/modules/events/secrets.c): a
-- secret in clear is not even a field here, and the stored row holds the seal only.
SELECT throws_ok($$ SELECT api.webhook_create('{"url": "https://hooks.example.com/x", "event_types": ["customer.created"], "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}', 'false', gen_random_uuid(), 'mk1', repeat('ab', 70)) $$,
  'TXVAL', 'secret: unknown field', 'the database never takes a secret in clear');
INSERT INTO ids SELECT 'hook', (api.webhook_create('{"url": "http://127.0.0.1:9/hook", "event_types": ["customer.created", "customer.updated"]}',
                                                   'true', '6f0c0000-0000-4000-8000-0000000000aa', 'mk1', repeat('ab', 70)) ->> 'id')::uuid;
SELECT is(pg_temp.id('hook'), '6f0c0000-0000-4000-8000-0000000000aa'::uuid, 'the subscription takes the id its seal is bound to');
SELECT throws_ok($$ SELECT s.sealed FROM events.webhook_secrets s $$, '42501', NULL,
  'the runtime role cannot read the secrets, even as an admin');
SELECT is(events.secret_current(pg_temp.id('hook')), jsonb_build_object('key_id', 'mk1', 'sealed', repeat('ab', 70)),
  'an admin gets the current secret sealed (the replay of a create opens it in the service)');
SELECT throws_ok($$ SELECT api.webhook_create('{"url": "https://hooks.example.com/x", "event_types": ["customer.created"]}', 'false', gen_random_uuid(), 'mk1', 'abcd') $$,
  '23514', NULL, 'a seal too short to hold a secret is refused');
SELECT ok(NOT (api.webhook_rotate_secret(pg_temp.id('hook'), '{"overlap_seconds": 60}', 'mk2', repeat('cd', 70))::jsonb ? 'secret'),
  'a rotation stores the new seal; the answer of the database holds no secret (the service adds it)');
SELECT is(events.secret_current(pg_temp.id('hook')), jsonb_build_object('key_id', 'mk2', 'sealed', repeat('cd', 70)),
  'the new seal is current');
SELECT throws_ok($$ SELECT api.webhook_rotate_secret(pg_temp.id('hook'), '{"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}', 'mk2', repeat('cd', 70)) $$,
  'TXVAL', 'secret: unknown field', 'nor in a rotation');
SELECT throws_ok($$ SELECT * FROM events.secrets_to_seal('mk2', true, 10) $$, '42501', NULL,
  'only the scheduler lists secrets to seal');
SELECT throws_ok($$ SELECT events.secret_reseal(pg_temp.id('hook'), 'mk2', '\x00', NULL, NULL) $$, '42501', NULL,
  'or reseals one');
SELECT ok(NOT (api.webhook_get(pg_temp.id('hook'))::jsonb ? 'secret'), 'a read never shows the secret');
SELECT is((SELECT array_agg(w ->> 'id') FROM json_array_elements(api.webhook_list(10, NULL) -> 'items') w),
          ARRAY[pg_temp.id('hook')::text], 'the list shows the subscription');

-- A change makes a delivery and queues its first attempt, in the same transaction.
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((SELECT count(*)::int FROM events.webhooks), 0, 'staff see no subscription');
SELECT throws_ok($$ SELECT events.secret_store(pg_temp.id('hook'), 'mk1', decode(repeat('ab', 70), 'hex'), false) $$, '42501', NULL,
  'nor may they set a secret');
SELECT throws_ok($$ SELECT events.secret_current(pg_temp.id('hook')) $$, '42501', NULL, 'nor read one, sealed or not');
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
CREATE TEMP TABLE a2 AS SELECT events.delivery_start(jsonb_build_object('delivery_id', (SELECT id FROM dl), 'attempt', 2), 40000) AS j;
SELECT is((SELECT j -> 'secrets' FROM a2),
          jsonb_build_array(jsonb_build_object('key_id', 'mk2', 'sealed', repeat('cd', 70)),
                            jsonb_build_object('key_id', 'mk1', 'sealed', repeat('ab', 70))),
  'attempt 2 starts, with both secrets during the rotation''s overlap, sealed (the deliverer opens them)');
SELECT is((SELECT j ->> 'webhook_id' FROM a2), pg_temp.id('hook')::text, 'and the subscription their seals are bound to');
SELECT is((SELECT pending FROM events.backlog()), 1::bigint, 'the backlog the sweep reports for /metrics: one pending');
SELECT ok((SELECT oldest_s FROM events.backlog()) >= 0, 'and the age of the oldest');
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
SELECT is((SELECT row(pending, oldest_s)::text FROM events.backlog()), '(0,0)', 'nothing pending once delivered');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT throws_ok($$ SELECT events.backlog() $$, '42501', NULL, 'the backlog is the scheduler''s to read');
SELECT pg_temp.be('admin', 'admin');
SELECT throws_ok($$ SELECT events.backlog() $$, '42501', NULL, 'not even an admin''s');
SELECT is((SELECT array_agg(a ->> 'outcome' ORDER BY (a ->> 'attempt')::int)
             FROM json_array_elements(api.webhook_deliveries(pg_temp.id('hook'), NULL, 10, NULL) -> 'items') d,
                  json_array_elements(d -> 'attempts') a),
          '{failed,failed,delivered}', 'the log shows every attempt');

-- State machines: a move is an event named after its machine ------------------------------------
SELECT pg_temp.be('hr', 'hr');
INSERT INTO ids SELECT 'reg', (api.regulation_create('{"code": "event-rules", "title": "Events", "clauses": [{"clause_id": "G1", "text_zh": "目的。"}]}')::jsonb ->> 'id')::uuid;
SELECT lives_ok($$ SELECT api.regulation_publish(pg_temp.id('reg'), NULL) $$, 'HR publishes a regulation (a move of its state machine)');
SELECT is(pg_temp.types_of(pg_temp.id('reg')), '{regulation.state_changed}', 'the move is an event named after its machine');
SELECT is((SELECT o.data FROM events.outbox o WHERE o.entity_id = pg_temp.id('reg')),
          jsonb_build_object('id', pg_temp.id('reg'), 'machine', 'regulation', 'from', 'draft', 'action', 'publish',
                             'to', 'published', 'actor_id', pg_temp.emp('hr')),
  'from, action, to and who');

-- case.overdue (P2.2): the deadline job's mark is an event -----------------------------------
SELECT pg_temp.be('staff.a1', 'staff');
INSERT INTO ids SELECT 'case', (api.case_create(jsonb_build_object(
  'customer_id', pg_temp.c(1), 'raised_at', api.ts(now() - interval '1 hour'), 'channel', 'phone',
  'need', '事件測試')) ->> 'id')::uuid;
SELECT is((SELECT count(*)::int FROM events.outbox o WHERE o.entity_id = pg_temp.id('case') AND o.type = 'case.overdue'), 0,
  'a new case is overdue for nothing');
SELECT pg_temp.system();
SELECT ok((cases.deadlines_sweep(now() + interval '30 days', 100) ->> 'marked')::int >= 1,
  'the job, a month later, marks the reception deadline overdue');
SELECT lives_ok($$ SELECT cases.deadlines_sweep(now() + interval '31 days', 100) $$, 'and passes again');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((SELECT count(*)::int FROM events.outbox o WHERE o.entity_id = pg_temp.id('case') AND o.type = 'case.overdue'), 1,
  'one case.overdue event, not one per pass');
SELECT is((SELECT o.data FROM events.outbox o WHERE o.entity_id = pg_temp.id('case') AND o.type = 'case.overdue'),
          (SELECT jsonb_build_object('case_id', d.case_id, 'deadline_id', d.id, 'kind', 'reception',
                                     'due_at', api.ts(d.due_at), 'overdue_at', api.ts(now() + interval '30 days'))
             FROM cases.deadlines d WHERE d.case_id = pg_temp.id('case') AND d.kind = 'reception'),
  'its data: the case, the deadline, its kind, when it was due and when it was found overdue');
SELECT is((SELECT o.subject FROM events.outbox o WHERE o.entity_id = pg_temp.id('case') AND o.type = 'case.overdue'),
          '/v1/cases/' || pg_temp.id('case'), 'about the case');
SELECT pg_temp.be('staff.b1', 'staff');
SELECT is((SELECT count(*)::int FROM events.outbox o WHERE o.entity_id = pg_temp.id('case')), 0,
  'another department sees none of the case''s events');

-- risk_warning.raised (R3.2): a measurement reaching the warning band ---------------------------
SELECT pg_temp.be('risk', 'risk_officer');
INSERT INTO ids SELECT 'kri', k.id FROM risk.kris k WHERE k.code = 'overdue_milestones';
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', '', true);
SELECT is((risk.measure(pg_temp.id('kri'), 9, 'job', NULL)).band, 'normal', 'the job measures 9: normal (warning at 10)');
SELECT pg_temp.be('risk', 'risk_officer');
SELECT is((SELECT count(*)::int FROM events.outbox o WHERE o.type = 'risk_warning.raised'), 0, 'no warning, no event');
SELECT set_config('tx.user_id', '', true), set_config('tx.roles', '', true);
SELECT is((risk.measure(pg_temp.id('kri'), 12, 'job', NULL)).band, 'warning', 'then 12: the warning band');
SELECT pg_temp.be('risk', 'risk_officer');
SELECT is((SELECT count(*)::int FROM events.outbox o WHERE o.type = 'risk_warning.raised'), 1, 'one risk_warning.raised event');
SELECT is((SELECT o.data FROM events.outbox o WHERE o.type = 'risk_warning.raised'),
          (SELECT jsonb_build_object('id', w.id, 'kri_id', pg_temp.id('kri'), 'level', 'warning',
                                     'value', w.value::text, 'threshold', w.threshold::text)
             FROM risk.warnings w WHERE w.kri_id = pg_temp.id('kri')),
  'its data: the warning, the indicator, the level, the value and the threshold reached');
SELECT is((SELECT (o.data ->> 'value')::numeric FROM events.outbox o WHERE o.type = 'risk_warning.raised'), 12::numeric,
  'the value measured');
SELECT is((SELECT o.entity_id FROM events.outbox o WHERE o.type = 'risk_warning.raised'),
          (SELECT w.id FROM risk.warnings w WHERE w.kri_id = pg_temp.id('kri')), 'about the warning');
SELECT pg_temp.be('staff.a1', 'staff');
SELECT is((SELECT count(*)::int FROM events.outbox o WHERE o.type = 'risk_warning.raised'), 0,
  'staff do not see warnings, nor their events');

SELECT * FROM finish();
ROLLBACK;
