-- 0041 events (issue 16): the transactional outbox of business events and the webhook
-- subscriptions that other company services receive them by. Runs as tianxing_owner inside one
-- transaction opened by `tianxingd migrate`. The functions, triggers and read policies are in
-- sql/code/events/; docs/events.md describes the envelope, the types and the delivery.
--
-- An event is written by a trigger of the table whose change it reports, in the transaction of
-- that change: it commits with the change or not at all (no dual write, no event for a rolled
-- back change, no change without its event).

CREATE SCHEMA events;
REVOKE ALL ON SCHEMA events FROM PUBLIC;
GRANT USAGE ON SCHEMA events TO tianxing_app;

-- The event types, the list subscriptions choose from (an unknown type is refused at once rather
-- than never matching). The JSON Schema of each type's data is in the contract
-- (contract/events/components.yaml); sql/tests/events.sql checks both lists agree in name.
CREATE TABLE events.types (
  type        text PRIMARY KEY CHECK (type ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
  description text NOT NULL CHECK (length(description) BETWEEN 1 AND 500)
);

-- The position counter: one row. Why not a sequence (bigserial)? Sequence values are handed out
-- when rows are inserted, not when their transactions commit: transaction A takes 41, B takes 42,
-- B commits first, a reader asking for "everything after 40" gets 42 and remembers 42, then A
-- commits 41 and the reader never sees it. Here a writer takes its position by UPDATE of this row,
-- whose lock it then holds until it commits or rolls back; the next writer waits for the lock, so
-- positions are taken in commit order. A committed transaction becomes visible before it releases
-- its locks, so when a reader sees position N, every position below N is already either visible
-- or gone for good (a rolled-back writer leaves a gap that nothing fills later). "Everything after
-- N" therefore never misses a row that commits late: readers may skip gaps without waiting.
-- The cost is one more serialisation point for event-producing writes, which the audit chain's
-- head (audit.head, locked by every audited write until commit) already imposes on them.
CREATE TABLE events.head (
  id       boolean PRIMARY KEY DEFAULT true CHECK (id),
  position bigint NOT NULL DEFAULT 0 CHECK (position >= 0)
);
INSERT INTO events.head DEFAULT VALUES;

-- The outbox: the stable envelope (id, type, time, subject, data) and its position. `data` never
-- holds personal information (names, contacts, free text): ids, states, codes and numbers only,
-- so that a subscriber or a front-end learns that something happened and reads the resource
-- through the API with its own rights. entity + entity_id name the row the event is about, whose
-- visibility decides who may read the event (events.visible, sql/code/events/010_outbox.sql).
CREATE TABLE events.outbox (
  position   bigint PRIMARY KEY CHECK (position > 0),
  id         uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  type       text NOT NULL REFERENCES events.types (type),
  time       timestamptz NOT NULL DEFAULT now(),
  subject    text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
  entity     regclass NOT NULL,
  entity_id  uuid NOT NULL,
  data       jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object'),
  request_id text
);
CREATE INDEX outbox_entity_idx ON events.outbox (entity_id, position);
COMMENT ON TABLE events.outbox IS
  'Business events in commit order (position), written with the change they report; no PII.';

-- Webhook subscriptions (admin). previous_secret_until: a rotation's overlap runs until then.
CREATE TABLE events.webhooks (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  url                   text NOT NULL CHECK (length(url) BETWEEN 10 AND 2000),
  event_types           text[] NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 100
                                               AND array_position(event_types, NULL) IS NULL),
  description           text CHECK (length(description) BETWEEN 1 AND 500),
  active                boolean NOT NULL DEFAULT true,
  previous_secret_until timestamptz,
  created_by            uuid REFERENCES org.employees (id),
  version               int NOT NULL DEFAULT 1,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);

-- The signing secrets, apart: Standard Webhooks' `whsec_` + base64 of the key bytes. The service
-- needs them in clear to sign, so they live in a table the runtime role has no right on at all
-- (written and read only by the SECURITY DEFINER functions of sql/code/events), are shown once
-- when made, and are redacted from the audit trail. After a rotation the previous secret signs
-- too, until the subscription's previous_secret_until: a receiver switches keys without losing a
-- delivery.
CREATE TABLE events.webhook_secrets (
  webhook_id      uuid PRIMARY KEY REFERENCES events.webhooks (id) ON DELETE CASCADE,
  secret          text NOT NULL CHECK (secret ~ '^whsec_[A-Za-z0-9+/]{32,88}={0,2}$'),
  previous_secret text CHECK (previous_secret ~ '^whsec_[A-Za-z0-9+/]{32,88}={0,2}$')
);

-- One delivery per (subscription, event), made in the event's transaction. The event id is the
-- Standard Webhooks message id (webhook-id): the same on every attempt, so receivers deduplicate.
-- pending -> delivered (a 2xx answer) | dead (attempts exhausted; a manual redelivery makes it
-- pending again). lease_until: an attempt is in flight until then (its HTTP call runs outside any
-- transaction; a worker that died mid-call leaves the lease to run out).
CREATE TABLE events.deliveries (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  webhook_id      uuid NOT NULL REFERENCES events.webhooks (id) ON DELETE CASCADE,
  event_position  bigint NOT NULL REFERENCES events.outbox (position),
  state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts        int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at timestamptz,
  lease_until     timestamptz,
  last_status     int,
  last_error      text CHECK (length(last_error) <= 500),
  delivered_at    timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (webhook_id, event_position),
  CHECK ((state = 'delivered') = (delivered_at IS NOT NULL))
);
CREATE INDEX deliveries_webhook_idx ON events.deliveries (webhook_id, created_at DESC, id DESC);
CREATE INDEX deliveries_lease_idx ON events.deliveries (lease_until) WHERE state = 'pending';

-- Every attempt: when, the answer's status, a short excerpt of its body (never more: a receiver's
-- answer is not ours to keep), the error when there was no answer.
CREATE TABLE events.attempts (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id      uuid NOT NULL REFERENCES events.deliveries (id) ON DELETE CASCADE,
  attempt          int NOT NULL CHECK (attempt >= 1),
  manual           boolean NOT NULL DEFAULT false,
  outcome          text NOT NULL CHECK (outcome IN ('sending', 'delivered', 'failed', 'lost')),
  started_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz,
  duration_ms      int CHECK (duration_ms >= 0),
  status_code      int CHECK (status_code BETWEEN 100 AND 599),
  error            text CHECK (length(error) <= 500),
  response_excerpt text CHECK (length(response_excerpt) <= 256),
  UNIQUE (delivery_id, attempt)
);

ALTER TABLE events.types ENABLE ROW LEVEL SECURITY;
ALTER TABLE events.types FORCE ROW LEVEL SECURITY;
ALTER TABLE events.head ENABLE ROW LEVEL SECURITY;
ALTER TABLE events.head FORCE ROW LEVEL SECURITY;
ALTER TABLE events.outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE events.outbox FORCE ROW LEVEL SECURITY;
ALTER TABLE events.webhooks ENABLE ROW LEVEL SECURITY;
ALTER TABLE events.webhooks FORCE ROW LEVEL SECURITY;
ALTER TABLE events.webhook_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE events.webhook_secrets FORCE ROW LEVEL SECURITY;
ALTER TABLE events.deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE events.deliveries FORCE ROW LEVEL SECURITY;
ALTER TABLE events.attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE events.attempts FORCE ROW LEVEL SECURITY;

REVOKE ALL ON ALL TABLES IN SCHEMA events FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA events FROM PUBLIC;
-- The runtime role reads the types and the outbox (through the visibility policy); admins
-- manage subscriptions and read and redeliver deliveries (policies in sql/code/events). Events,
-- deliveries' attempts and secrets are written by the SECURITY DEFINER functions there only.
GRANT SELECT ON events.types, events.outbox TO tianxing_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON events.webhooks TO tianxing_app;
GRANT SELECT ON events.deliveries, events.attempts TO tianxing_app;
GRANT UPDATE (state, delivered_at, next_attempt_at, updated_at) ON events.deliveries TO tianxing_app;

SELECT audit.attach('events.types');
SELECT audit.attach('events.head');
SELECT audit.attach('events.outbox');
SELECT audit.attach('events.webhooks');
SELECT audit.attach('events.webhook_secrets', '{secret,previous_secret}');
SELECT audit.attach('events.deliveries');
SELECT audit.attach('events.attempts');

-- The owner's policies (the definer functions, and this migration's inserts): here, not in
-- sql/code, because this migration writes as the owner under forced row-level security.
CREATE POLICY types_definer ON events.types FOR ALL TO tianxing_owner USING (true) WITH CHECK (true);
CREATE POLICY head_definer ON events.head FOR ALL TO tianxing_owner USING (true) WITH CHECK (true);
CREATE POLICY outbox_definer ON events.outbox FOR ALL TO tianxing_owner USING (true) WITH CHECK (true);
CREATE POLICY webhooks_definer ON events.webhooks FOR ALL TO tianxing_owner USING (true) WITH CHECK (true);
CREATE POLICY webhook_secrets_definer ON events.webhook_secrets FOR ALL TO tianxing_owner USING (true) WITH CHECK (true);
CREATE POLICY deliveries_definer ON events.deliveries FOR ALL TO tianxing_owner USING (true) WITH CHECK (true);
CREATE POLICY attempts_definer ON events.attempts FOR ALL TO tianxing_owner USING (true) WITH CHECK (true);
CREATE POLICY types_read ON events.types FOR SELECT TO tianxing_app USING (true);

INSERT INTO events.types (type, description) VALUES
  ('customer.created', 'A customer was recorded (C1.1).'),
  ('customer.updated', 'A customer''s record changed; data.changed names the fields, never their values.'),
  ('customer.disposed', 'A customer''s personal information was disposed of (C4.3).'),
  ('case.state_changed', 'A case moved in its life cycle (P1-P4): from, action, to.'),
  ('case.overdue', 'A deadline of a case passed unmet (P2.2): the job cases.deadlines marked it.'),
  ('assessment.state_changed', 'An assessment moved in its life cycle (Q2).'),
  ('assessment.published', 'An assessment was published to its employee (Q2.3).'),
  ('assessment_period.state_changed', 'An assessment period moved in its life cycle (Q2).'),
  ('training_plan.state_changed', 'A training plan moved in its life cycle (Q4).'),
  ('regulation.state_changed', 'A regulation version moved in its life cycle (S1).'),
  ('risk.state_changed', 'A risk of the register moved in its life cycle (R1-R2).'),
  ('risk_round.state_changed', 'A risk identification round moved in its life cycle (R1.1).'),
  ('risk_response.state_changed', 'A risk response moved in its life cycle (R2.1).'),
  ('risk_warning.raised', 'A key risk indicator reached a threshold and raised a warning (R3.2).'),
  ('risk_warning.state_changed', 'A risk warning moved in its life cycle (R3.3).'),
  ('risk_warning.closed', 'A risk warning was closed with an outcome (R3.3).'),
  ('plan_version.state_changed', 'An emergency plan version moved in its life cycle (R4.1).'),
  ('plan_version.effective', 'An emergency plan version was approved and is now in force (R4.1).'),
  ('exercise.state_changed', 'An emergency drill moved in its life cycle (R4.2).');

-- The sweep of attempts whose worker vanished mid-call (events.sweep), every minute; its kind
-- is registered by src/modules/events. As a row, like 0013's schedules (the schedule functions
-- are code, applied after the migrations).
INSERT INTO jobs.schedules (name, kind, every, anchor, next_due_at)
SELECT 'webhooks.sweep', 'webhooks.sweep', interval '1 minute', a.anchor,
       a.anchor + interval '1 minute' * (floor(extract(epoch FROM now() - a.anchor) / 60) + 1)
  FROM (SELECT date_trunc('day', now()) AS anchor) a;
