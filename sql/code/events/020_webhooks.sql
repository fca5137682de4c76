-- sql/code/events/020_webhooks.sql: webhook subscriptions (admin routes /v1/webhooks) and the
-- two halves of a delivery attempt that the job kind 'webhooks.deliver' (src/modules/events)
-- runs around its HTTP call: events.delivery_start (in the job's transaction) and
-- events.delivery_finish (a short transaction after the call). docs/events.md.
-- The api functions are SECURITY INVOKER like every route's: the admin policies below decide.
-- The secrets (events.webhook_secrets) and the writes of deliveries and attempts are reached
-- through SECURITY DEFINER functions of the events schema only, each checking the caller's role
-- itself: admins for secrets, the scheduler's role (system) for attempts.

DROP POLICY IF EXISTS webhooks_admin ON events.webhooks;
CREATE POLICY webhooks_admin ON events.webhooks FOR ALL TO tianxing_app
  USING ((SELECT tx.has_role('admin'))) WITH CHECK ((SELECT tx.has_role('admin')));
DROP POLICY IF EXISTS deliveries_admin_read ON events.deliveries;
CREATE POLICY deliveries_admin_read ON events.deliveries FOR SELECT TO tianxing_app
  USING ((SELECT tx.has_role('admin')));
DROP POLICY IF EXISTS deliveries_admin_redeliver ON events.deliveries;
CREATE POLICY deliveries_admin_redeliver ON events.deliveries FOR UPDATE TO tianxing_app
  USING ((SELECT tx.has_role('admin'))) WITH CHECK ((SELECT tx.has_role('admin')));
DROP POLICY IF EXISTS attempts_admin_read ON events.attempts;
CREATE POLICY attempts_admin_read ON events.attempts FOR SELECT TO tianxing_app
  USING ((SELECT tx.has_role('admin')));

-- GET /v1/event-types: the types a subscription may name.
CREATE OR REPLACE FUNCTION api.event_types() RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM api.require_user();
  RETURN json_build_object('items', coalesce((SELECT json_agg(json_build_object('type', t.type,
                                                 'description', t.description) ORDER BY t.type)
                                                FROM events.types t), '[]'::json));
END
$$;
REVOKE ALL ON FUNCTION api.event_types() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.event_types() TO tianxing_app;

-- A subscription as the API shows it: never its secrets; whether a rotation overlap runs.
CREATE OR REPLACE FUNCTION events.webhook_json(w events.webhooks) RETURNS jsonb
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT jsonb_build_object('id', w.id, 'url', w.url, 'event_types', to_jsonb(w.event_types),
                            'description', w.description, 'active', w.active,
                            'previous_secret_until', api.ts(w.previous_secret_until),
                            'created_by', w.created_by, 'version', w.version,
                            'created_at', api.ts(w.created_at), 'updated_at', api.ts(w.updated_at))
$$;
REVOKE ALL ON FUNCTION events.webhook_json(events.webhooks) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events.webhook_json(events.webhooks) TO tianxing_app;

-- Only https, or http to a loopback address when the service allows it (tests:
-- TIANXING_WEBHOOK_ALLOW_HTTP_LOOPBACK, passed by the route as p_allow_loopback). No user
-- information in the URL (credentials in a URL end up in logs), no fragment. The deliverer checks
-- the scheme again before each call and never follows redirects.
CREATE OR REPLACE FUNCTION events.check_url(p_url text, p_allow_loopback boolean) RETURNS text
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF p_url ~ '[\s#@\\]' OR p_url !~ '^[a-zA-Z]+://[^/?]+' THEN
    PERFORM api.fail('TXVAL', 'url', 'must be an absolute URL without credentials, spaces or fragment');
  END IF;
  IF p_url ~* '^https://[A-Za-z0-9.\-\[\]:]+(/[^?]*)?(\?.*)?$' THEN
    RETURN p_url;
  END IF;
  IF p_allow_loopback
     AND p_url ~* '^http://(127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|localhost|\[::1\])(:[0-9]{1,5})?(/[^?]*)?(\?.*)?$' THEN
    RETURN p_url;
  END IF;
  PERFORM api.fail('TXVAL', 'url', 'must be an https URL');
END
$$;
REVOKE ALL ON FUNCTION events.check_url(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events.check_url(text, boolean) TO tianxing_app;

-- Event types: a non-empty array of known types, without repeats.
CREATE OR REPLACE FUNCTION events.check_types(p_body jsonb) RETURNS text[]
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  v text[] := api.body_text_array(p_body, 'event_types', true);
  v_bad text;
BEGIN
  IF cardinality(v) = 0 OR cardinality(v) > 100 THEN
    PERFORM api.fail('TXVAL', 'event_types', 'must name 1 to 100 event types');
  END IF;
  SELECT x INTO v_bad FROM unnest(v) x WHERE NOT EXISTS (SELECT FROM events.types t WHERE t.type = x) LIMIT 1;
  IF v_bad IS NOT NULL THEN
    PERFORM api.fail('TXVAL', 'event_types', format('unknown event type %s (GET /v1/event-types)', v_bad));
  END IF;
  RETURN ARRAY(SELECT DISTINCT x FROM unnest(v) x ORDER BY x);
END
$$;
REVOKE ALL ON FUNCTION events.check_types(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events.check_types(jsonb) TO tianxing_app;

-- Secrets are made, checked and sealed by the service (src/modules/events/secrets.c): the
-- database only ever holds them sealed under a master key (0042), so none of these functions
-- sees one in clear. The generator and checker that were here went to C with the sealing.
DROP FUNCTION IF EXISTS events.secret(text);
DROP FUNCTION IF EXISTS events.secret_store(uuid, text, boolean);

-- Stores a subscription's sealed secret (admins only): a new one, or a rotation that keeps the
-- current one as the previous secret when p_keep_previous. A row still in clear (made before 0042
-- and not yet sealed by the service) cannot pass its secret on as the previous one: SQL cannot
-- seal it, and the constraint refuses text; the service seals such rows within a minute
-- (webhooks.sweep), so the rotation is refused meanwhile rather than silently ending the overlap.
CREATE OR REPLACE FUNCTION events.secret_store(p_id uuid, p_key_id text, p_sealed bytea,
                                               p_keep_previous boolean)
  RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  PERFORM api.require_role('admin');
  IF p_keep_previous AND EXISTS (SELECT FROM events.webhook_secrets s
                                  WHERE s.webhook_id = p_id AND s.secret IS NOT NULL) THEN
    PERFORM api.fail('TXCON', NULL, 'the current secret is not sealed yet (upgrade in progress): '
                                    'retry in a minute, or rotate with overlap_seconds 0');
  END IF;
  INSERT INTO events.webhook_secrets AS s (webhook_id, key_id, sealed) VALUES (p_id, p_key_id, p_sealed)
  ON CONFLICT (webhook_id) DO UPDATE
    SET previous_key_id = CASE WHEN p_keep_previous THEN s.key_id END,
        previous_sealed = CASE WHEN p_keep_previous THEN s.sealed END,
        key_id = EXCLUDED.key_id, sealed = EXCLUDED.sealed, secret = NULL, previous_secret = NULL;
END
$$;
REVOKE ALL ON FUNCTION events.secret_store(uuid, text, bytea, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events.secret_store(uuid, text, bytea, boolean) TO tianxing_app;

-- A secret as the service opens it: {key_id, sealed (hex)}, or {plain} for a row not sealed yet.
CREATE OR REPLACE FUNCTION events.secret_ref(p_key_id text, p_sealed bytea, p_plain text) RETURNS jsonb
  LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT CASE WHEN p_sealed IS NOT NULL
              THEN jsonb_build_object('key_id', p_key_id, 'sealed', encode(p_sealed, 'hex'))
              WHEN p_plain IS NOT NULL THEN jsonb_build_object('plain', p_plain) END
$$;
REVOKE ALL ON FUNCTION events.secret_ref(text, bytea, text) FROM PUBLIC;

-- The current secret of a subscription, sealed, for the replay of its create (admins; the
-- service opens it: a client whose first answer was lost gets the secret on its retry).
CREATE OR REPLACE FUNCTION events.secret_current(p_id uuid) RETURNS jsonb
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  PERFORM api.require_role('admin');
  RETURN (SELECT events.secret_ref(s.key_id, s.sealed, s.secret)
            FROM events.webhook_secrets s WHERE s.webhook_id = p_id);
END
$$;
REVOKE ALL ON FUNCTION events.secret_current(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events.secret_current(uuid) TO tianxing_app;

-- The rows the service must (re)seal, locked: those still in clear and, when p_rewrap (a master
-- key rotation), those sealed under another key than p_current. The scheduler only (the job
-- webhooks.sweep, `tianxingd rotate-master-key`): it opens and seals them, then writes them back
-- with events.secret_reseal in the same transaction.
CREATE OR REPLACE FUNCTION events.secrets_to_seal(p_current text, p_rewrap boolean, p_limit int)
  RETURNS TABLE (webhook_id uuid, cur jsonb, prev jsonb)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  PERFORM events.require_system();
  RETURN QUERY
    SELECT s.webhook_id, events.secret_ref(s.key_id, s.sealed, s.secret),
           events.secret_ref(s.previous_key_id, s.previous_sealed, s.previous_secret)
      FROM events.webhook_secrets s
     WHERE s.secret IS NOT NULL OR s.previous_secret IS NOT NULL
        OR (p_rewrap AND (s.key_id <> p_current OR s.previous_key_id <> p_current))
     ORDER BY s.webhook_id LIMIT p_limit
       FOR UPDATE SKIP LOCKED;
END
$$;
REVOKE ALL ON FUNCTION events.secrets_to_seal(text, boolean, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events.secrets_to_seal(text, boolean, int) TO tianxing_app;

CREATE OR REPLACE FUNCTION events.secret_reseal(p_id uuid, p_key_id text, p_sealed bytea,
                                                p_prev_key_id text, p_prev_sealed bytea)
  RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  PERFORM events.require_system();
  UPDATE events.webhook_secrets s
     SET key_id = p_key_id, sealed = p_sealed, previous_key_id = p_prev_key_id,
         previous_sealed = p_prev_sealed, secret = NULL, previous_secret = NULL
   WHERE s.webhook_id = p_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'webhook secret % vanished while resealed', p_id USING ERRCODE = 'P0002';
  END IF;
END
$$;
REVOKE ALL ON FUNCTION events.secret_reseal(uuid, text, bytea, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events.secret_reseal(uuid, text, bytea, text, bytea) TO tianxing_app;

-- Once no row is in clear, the NOT VALID constraint of 0042 is validated: from then on the
-- catalogue itself says no plaintext secret can exist (pg_constraint.convalidated). True when it
-- is (now or already). As the owner: validating needs the table's owner.
CREATE OR REPLACE FUNCTION events.secrets_validate() RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  PERFORM events.require_system();
  IF (SELECT c.convalidated FROM pg_constraint c
       WHERE c.conname = 'webhook_secrets_sealed' AND c.conrelid = 'events.webhook_secrets'::regclass) THEN
    RETURN true;
  END IF;
  IF EXISTS (SELECT FROM events.webhook_secrets s WHERE s.secret IS NOT NULL OR s.previous_secret IS NOT NULL) THEN
    RETURN false;
  END IF;
  ALTER TABLE events.webhook_secrets VALIDATE CONSTRAINT webhook_secrets_sealed;
  RETURN true;
END
$$;
REVOKE ALL ON FUNCTION events.secrets_validate() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events.secrets_validate() TO tianxing_app;

-- POST /v1/webhooks (admin). The service made or checked the secret, sealed it for the id it chose
-- (p_id: the seal is bound to it) and adds it to this answer: the only time it is shown.
DROP FUNCTION IF EXISTS api.webhook_create(jsonb, text);
CREATE OR REPLACE FUNCTION api.webhook_create(p_body jsonb, p_allow_loopback text, p_id uuid,
                                              p_key_id text, p_sealed text) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  w events.webhooks;
BEGIN
  PERFORM api.require_role('admin');
  PERFORM api.body_keys(p_body, '{url,event_types,description,active}');
  INSERT INTO events.webhooks (id, url, event_types, description, active, created_by)
  VALUES (p_id, events.check_url(api.body_text(p_body, 'url', true, 2000), p_allow_loopback = 'true'),
          events.check_types(p_body),
          api.body_text(p_body, 'description', false, 500),
          coalesce(api.body_bool(p_body, 'active', false), true),
          tx.user_id())
  RETURNING * INTO w;
  PERFORM events.secret_store(w.id, p_key_id, decode(p_sealed, 'hex'), false);
  RETURN events.webhook_json(w)::json;
END
$$;
REVOKE ALL ON FUNCTION api.webhook_create(jsonb, text, uuid, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.webhook_create(jsonb, text, uuid, text, text) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.webhook_list(p_limit int, p_cursor text) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  v_after uuid;
  v_out json;
BEGIN
  PERFORM api.require_role('admin');
  v_after := api.cursor_uuid(p_cursor);
  WITH page AS (
    SELECT w, w.id, row_number() OVER (ORDER BY w.id) AS rn
      FROM events.webhooks w
     WHERE v_after IS NULL OR w.id > v_after
     ORDER BY w.id LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(events.webhook_json(p.w) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN (max(p.id::text) FILTER (WHERE p.rn = v_limit)) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.webhook_list(int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.webhook_list(int, text) TO tianxing_app;

CREATE OR REPLACE FUNCTION api.webhook_get(p_id uuid) RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE w events.webhooks;
BEGIN
  PERFORM api.require_role('admin');
  SELECT * INTO w FROM events.webhooks x WHERE x.id = p_id;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  RETURN events.webhook_json(w)::json;
END
$$;
REVOKE ALL ON FUNCTION api.webhook_get(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.webhook_get(uuid) TO tianxing_app;

-- PATCH /v1/webhooks/{id} (If-Match): url, event_types, description, active.
CREATE OR REPLACE FUNCTION api.webhook_update(p_id uuid, p_version int, p_body jsonb, p_allow_loopback text)
  RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE w events.webhooks;
BEGIN
  PERFORM api.require_role('admin');
  SELECT * INTO w FROM events.webhooks x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  PERFORM api.body_keys(p_body, '{url,event_types,description,active}');
  PERFORM api.check_version(p_version, w.version);
  UPDATE events.webhooks x SET
    url = CASE WHEN p_body ? 'url'
               THEN events.check_url(api.body_text(p_body, 'url', true, 2000), p_allow_loopback = 'true')
               ELSE x.url END,
    event_types = CASE WHEN p_body ? 'event_types' THEN events.check_types(p_body) ELSE x.event_types END,
    description = CASE WHEN p_body ? 'description' THEN api.body_text(p_body, 'description', false, 500)
                       ELSE x.description END,
    active = CASE WHEN p_body ? 'active' THEN api.body_bool(p_body, 'active', true) ELSE x.active END,
    version = x.version + 1, updated_at = now()
   WHERE x.id = p_id
  RETURNING * INTO w;
  RETURN events.webhook_json(w)::json;
END
$$;
REVOKE ALL ON FUNCTION api.webhook_update(uuid, int, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.webhook_update(uuid, int, jsonb, text) TO tianxing_app;

-- DELETE /v1/webhooks/{id}: the subscription and its delivery log (queued attempts find nothing).
CREATE OR REPLACE FUNCTION api.webhook_delete(p_id uuid) RETURNS json
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM api.require_role('admin');
  -- Its secrets, deliveries and attempts go with it (ON DELETE CASCADE, run as their owner).
  DELETE FROM events.webhooks w WHERE w.id = p_id;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  RETURN json_build_object('id', p_id, 'deleted', true);
END
$$;
REVOKE ALL ON FUNCTION api.webhook_delete(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.webhook_delete(uuid) TO tianxing_app;

-- POST /v1/webhooks/{id}/rotate-secret: a new secret (given or made), the old one kept for
-- overlap_seconds (default a day, at most a week; 0 ends it at once) during which every delivery
-- carries both signatures. A rotation during an overlap drops the oldest secret.
-- The new secret comes sealed from the service (p_key_id, p_sealed), which adds it to the answer.
DROP FUNCTION IF EXISTS api.webhook_rotate_secret(uuid, jsonb);
CREATE OR REPLACE FUNCTION api.webhook_rotate_secret(p_id uuid, p_body jsonb, p_key_id text, p_sealed text)
  RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  w events.webhooks;
  v_overlap jsonb;
  v_seconds int := 86400;
BEGIN
  PERFORM api.require_role('admin');
  SELECT * INTO w FROM events.webhooks x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  PERFORM api.body_keys(p_body, '{overlap_seconds}');
  v_overlap := p_body -> 'overlap_seconds';
  IF v_overlap IS NOT NULL AND jsonb_typeof(v_overlap) <> 'null' THEN
    IF jsonb_typeof(v_overlap) <> 'number' OR (v_overlap #>> '{}') !~ '^[0-9]{1,6}$'
       OR (v_overlap #>> '{}')::int > 604800 THEN
      PERFORM api.fail('TXVAL', 'overlap_seconds', 'must be an integer from 0 to 604800');
    END IF;
    v_seconds := (v_overlap #>> '{}')::int;
  END IF;
  PERFORM events.secret_store(p_id, p_key_id, decode(p_sealed, 'hex'), v_seconds > 0);
  UPDATE events.webhooks x SET
    previous_secret_until = CASE WHEN v_seconds > 0 THEN now() + make_interval(secs => v_seconds) END,
    version = x.version + 1, updated_at = now()
   WHERE x.id = p_id
  RETURNING * INTO w;
  RETURN events.webhook_json(w)::json;
END
$$;
REVOKE ALL ON FUNCTION api.webhook_rotate_secret(uuid, jsonb, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.webhook_rotate_secret(uuid, jsonb, text, text) TO tianxing_app;

-- SECURITY DEFINER: the event's id and type whoever may see its subject (the caller already
-- passed the admin policy of the delivery it hands in).
CREATE OR REPLACE FUNCTION events.delivery_json(d events.deliveries) RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT jsonb_build_object(
    'id', d.id, 'webhook_id', d.webhook_id, 'event_id', o.id, 'event_type', o.type,
    'event', events.envelope(o),
    'event_position', d.event_position, 'state', d.state, 'attempt_count', d.attempts,
    'next_attempt_at', CASE WHEN d.state = 'pending' THEN api.ts(d.next_attempt_at) END,
    'last_status', d.last_status, 'last_error', d.last_error,
    'delivered_at', api.ts(d.delivered_at), 'created_at', api.ts(d.created_at),
    'attempts', coalesce((SELECT jsonb_agg(jsonb_build_object(
                             'attempt', a.attempt, 'manual', a.manual, 'outcome', a.outcome,
                             'started_at', api.ts(a.started_at), 'finished_at', api.ts(a.finished_at),
                             'duration_ms', a.duration_ms, 'status_code', a.status_code,
                             'error', a.error, 'response_excerpt', a.response_excerpt)
                             ORDER BY a.attempt)
                            FROM events.attempts a WHERE a.delivery_id = d.id), '[]'::jsonb))
    FROM events.outbox o WHERE o.position = d.event_position
$$;
REVOKE ALL ON FUNCTION events.delivery_json(events.deliveries) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events.delivery_json(events.deliveries) TO tianxing_app;

-- GET /v1/webhooks/{id}/deliveries: newest first, each with its attempts; filter by state.
CREATE OR REPLACE FUNCTION api.webhook_deliveries(p_id uuid, p_state text, p_limit int, p_cursor text)
  RETURNS json
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE
  v_limit int := api.page_limit(p_limit);
  c events.deliveries;
  v_out json;
BEGIN
  PERFORM api.require_role('admin');
  IF NOT EXISTS (SELECT FROM events.webhooks w WHERE w.id = p_id) THEN
    RETURN NULL;
  END IF;
  IF p_state IS NOT NULL AND p_state NOT IN ('pending', 'delivered', 'dead') THEN
    PERFORM api.fail('TXVAL', 'state', 'must be pending, delivered or dead');
  END IF;
  IF p_cursor IS NOT NULL THEN
    SELECT * INTO c FROM events.deliveries d WHERE d.id = api.cursor_uuid(p_cursor) AND d.webhook_id = p_id;
    IF NOT FOUND THEN
      PERFORM api.fail('TXVAL', 'cursor', 'is not a cursor of this list');
    END IF;
  END IF;
  WITH page AS (
    SELECT d, d.id, row_number() OVER (ORDER BY d.created_at DESC, d.id DESC) AS rn
      FROM events.deliveries d
     WHERE d.webhook_id = p_id AND (p_state IS NULL OR d.state = p_state)
       AND (c.id IS NULL OR (d.created_at, d.id) < (c.created_at, c.id))
     ORDER BY d.created_at DESC, d.id DESC
     LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce(json_agg(events.delivery_json(p.d) ORDER BY p.rn)
                               FILTER (WHERE p.rn <= v_limit), '[]'::json),
           'next_cursor', CASE WHEN count(*) > v_limit
                               THEN (max(p.id::text) FILTER (WHERE p.rn = v_limit)) END)
    INTO v_out FROM page p;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION api.webhook_deliveries(uuid, text, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.webhook_deliveries(uuid, text, int, text) TO tianxing_app;

-- Makes the next attempt of a delivery due at p_at (its job, deduplicated per attempt number).
CREATE OR REPLACE FUNCTION events.schedule_attempt(d events.deliveries, p_at timestamptz, p_manual boolean)
  RETURNS void
  LANGUAGE sql
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT jobs.enqueue('webhooks.deliver', p_at,
                      jsonb_build_object('delivery_id', d.id, 'attempt', d.attempts + 1, 'manual', p_manual),
                      NULL, d.id || ':' || (d.attempts + 1))
$$;
REVOKE ALL ON FUNCTION events.schedule_attempt(events.deliveries, timestamptz, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events.schedule_attempt(events.deliveries, timestamptz, boolean) TO tianxing_app;

-- POST /v1/webhooks/{id}/deliveries/{delivery_id}/redeliver: one more attempt now, whatever the
-- state (a dead delivery after the receiver was fixed; a delivered one the receiver lost). 409
-- while an attempt is in flight or already queued.
CREATE OR REPLACE FUNCTION api.webhook_redeliver(p_id uuid, p_delivery uuid) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE d events.deliveries;
BEGIN
  PERFORM api.require_role('admin');
  SELECT * INTO d FROM events.deliveries x WHERE x.id = p_delivery AND x.webhook_id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF (d.state = 'pending' AND d.lease_until > now())
     OR EXISTS (SELECT FROM jobs.jobs j WHERE j.kind = 'webhooks.deliver'
                   AND j.dedupe_key = d.id || ':' || (d.attempts + 1) AND j.state IN ('due', 'running')) THEN
    PERFORM api.fail('TXCON', NULL, 'an attempt of this delivery is already queued or in flight');
  END IF;
  UPDATE events.deliveries x SET state = 'pending', delivered_at = NULL, next_attempt_at = now(),
                                 updated_at = now()
   WHERE x.id = d.id RETURNING * INTO d;
  PERFORM events.schedule_attempt(d, now(), true);
  RETURN events.delivery_json(d)::json;
END
$$;
REVOKE ALL ON FUNCTION api.webhook_redeliver(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.webhook_redeliver(uuid, uuid) TO tianxing_app;

-- The scheduler only (claims tx.roles = 'system', src/jobs).
CREATE OR REPLACE FUNCTION events.require_system() RETURNS void
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF tx.user_id() IS NOT NULL OR NOT tx.has_role('system') THEN
    RAISE EXCEPTION 'only the scheduler delivers webhooks' USING ERRCODE = '42501';
  END IF;
END
$$;
REVOKE ALL ON FUNCTION events.require_system() FROM PUBLIC;

-- First half of an attempt, in the job's transaction: the attempt it was queued for, if it is
-- still the next one (a manual redelivery or a sweep may have taken it), is recorded as sending
-- with a lease (p_lease_ms: the HTTP timeout and a margin); the answer is what the deliverer
-- needs (URL, the secrets in force, the message id and the exact body it signs). NULL: nothing
-- to send (delivered, dead, deleted, inactive, in flight elsewhere).
CREATE OR REPLACE FUNCTION events.delivery_start(p_payload jsonb, p_lease_ms int) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  d events.deliveries;
  w events.webhooks;
  o events.outbox;
BEGIN
  PERFORM events.require_system();
  SELECT * INTO d FROM events.deliveries x
   WHERE x.id = (p_payload ->> 'delivery_id')::uuid FOR UPDATE;
  IF NOT FOUND OR d.state <> 'pending' OR d.lease_until > now()
     OR d.attempts + 1 <> (p_payload ->> 'attempt')::int THEN
    RETURN NULL;
  END IF;
  SELECT * INTO w FROM events.webhooks x WHERE x.id = d.webhook_id;
  IF NOT w.active THEN
    RETURN NULL;  -- stays pending: a redelivery sends it once the subscription is active again
  END IF;
  SELECT * INTO o FROM events.outbox x WHERE x.position = d.event_position;
  UPDATE events.deliveries x SET attempts = x.attempts + 1,
                                 lease_until = now() + make_interval(secs => p_lease_ms / 1000.0),
                                 updated_at = now()
   WHERE x.id = d.id RETURNING * INTO d;
  INSERT INTO events.attempts (delivery_id, attempt, manual, outcome)
  VALUES (d.id, d.attempts, coalesce((p_payload ->> 'manual')::boolean, false), 'sending');
  RETURN jsonb_build_object(
    'delivery_id', d.id, 'attempt', d.attempts, 'webhook_id', w.id, 'url', w.url, 'message_id', o.id,
    -- Sealed (the deliverer opens them outside any transaction); a row not sealed yet since 0042
    -- still signs, in clear, until the sweep seals it.
    'secrets', (SELECT to_jsonb(array_remove(ARRAY[events.secret_ref(s.key_id, s.sealed, s.secret),
                                                   CASE WHEN w.previous_secret_until > now()
                                                        THEN events.secret_ref(s.previous_key_id, s.previous_sealed,
                                                                               s.previous_secret) END], NULL))
                  FROM events.webhook_secrets s WHERE s.webhook_id = w.id),
    'body', events.envelope(o)::text);
END
$$;
REVOKE ALL ON FUNCTION events.delivery_start(jsonb, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events.delivery_start(jsonb, int) TO tianxing_app;

-- Second half, after the HTTP call (no transaction was open during it): the attempt's outcome;
-- a 2xx answer delivers; anything else is retried after p_backoff_ms * 2^(attempt-1) (at most a
-- day) until p_max_attempts, then the delivery is dead (the dead letters: GET
-- /v1/webhooks/{id}/deliveries?state=dead, redelivered by hand).
CREATE OR REPLACE FUNCTION events.delivery_finish(p_result jsonb, p_max_attempts int, p_backoff_ms int)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  d events.deliveries;
  v_status int := (p_result ->> 'status_code')::int;
  v_ok boolean := coalesce(v_status BETWEEN 200 AND 299, false);
  v_error text := left(p_result ->> 'error', 500);
  v_next timestamptz;
BEGIN
  PERFORM events.require_system();
  SELECT * INTO d FROM events.deliveries x
   WHERE x.id = (p_result ->> 'delivery_id')::uuid FOR UPDATE;
  -- Only the attempt in flight may finish (a sweep may have declared it lost meanwhile).
  IF NOT FOUND OR d.attempts <> (p_result ->> 'attempt')::int
     OR NOT EXISTS (SELECT FROM events.attempts a WHERE a.delivery_id = d.id
                       AND a.attempt = d.attempts AND a.outcome = 'sending') THEN
    RETURN 'stale';
  END IF;
  UPDATE events.attempts a SET
    outcome = CASE WHEN v_ok THEN 'delivered' ELSE 'failed' END, finished_at = now(),
    duration_ms = greatest((p_result ->> 'duration_ms')::int, 0),
    status_code = CASE WHEN v_status BETWEEN 100 AND 599 THEN v_status END,
    error = CASE WHEN NOT v_ok THEN coalesce(v_error, format('HTTP %s', v_status)) END,
    response_excerpt = left(p_result ->> 'response_excerpt', 256)
   WHERE a.delivery_id = d.id AND a.attempt = d.attempts;
  RETURN events.after_attempt(d, v_ok, v_status, coalesce(v_error, CASE WHEN NOT v_ok THEN format('HTTP %s', v_status) END),
                              p_max_attempts, p_backoff_ms);
END
$$;
REVOKE ALL ON FUNCTION events.delivery_finish(jsonb, int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events.delivery_finish(jsonb, int, int) TO tianxing_app;

-- The delivery after an attempt: delivered, due again after the backoff, or dead.
CREATE OR REPLACE FUNCTION events.after_attempt(d events.deliveries, p_ok boolean, p_status int,
                                                p_error text, p_max_attempts int, p_backoff_ms int)
  RETURNS text
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE v_next timestamptz;
BEGIN
  IF p_ok THEN
    UPDATE events.deliveries x SET state = 'delivered', delivered_at = now(), lease_until = NULL,
                                   next_attempt_at = NULL, last_status = p_status, last_error = NULL,
                                   updated_at = now()
     WHERE x.id = d.id;
    RETURN 'delivered';
  END IF;
  IF d.attempts >= p_max_attempts THEN
    UPDATE events.deliveries x SET state = 'dead', lease_until = NULL, next_attempt_at = NULL,
                                   last_status = p_status, last_error = p_error, updated_at = now()
     WHERE x.id = d.id;
    RETURN 'dead';
  END IF;
  v_next := now() + least(make_interval(secs => p_backoff_ms / 1000.0 * 2 ^ (d.attempts - 1)),
                          interval '1 day');
  UPDATE events.deliveries x SET lease_until = NULL, next_attempt_at = v_next,
                                 last_status = p_status, last_error = p_error, updated_at = now()
   WHERE x.id = d.id RETURNING * INTO d;
  PERFORM events.schedule_attempt(d, v_next, false);
  RETURN 'retry';
END
$$;
REVOKE ALL ON FUNCTION events.after_attempt(events.deliveries, boolean, int, text, int, int) FROM PUBLIC;

-- The job kind 'webhooks.sweep' (every minute, 0041): attempts whose lease ran out without an
-- outcome (the instance died or lost its database during the HTTP call) are lost; the delivery
-- is retried like after a failure. The receiver may have got the message: it deduplicates by
-- webhook-id, which stays the same (delivery is at least once).
CREATE OR REPLACE FUNCTION events.sweep(p_payload jsonb) RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  d events.deliveries;
  n int := 0;
BEGIN
  PERFORM events.require_system();
  FOR d IN SELECT * FROM events.deliveries x
            WHERE x.state = 'pending' AND x.lease_until < now()
            ORDER BY x.lease_until LIMIT 1000 FOR UPDATE SKIP LOCKED LOOP
    UPDATE events.attempts a SET outcome = 'lost', finished_at = now(),
                                 error = 'no outcome before the lease ran out'
     WHERE a.delivery_id = d.id AND a.attempt = d.attempts AND a.outcome = 'sending';
    PERFORM events.after_attempt(d, false, NULL, 'no outcome before the lease ran out',
                                 coalesce((p_payload ->> 'max_attempts')::int, 8),
                                 coalesce((p_payload ->> 'backoff_ms')::int, 30000));
    n := n + 1;
  END LOOP;
  RETURN n;
END
$$;
REVOKE ALL ON FUNCTION events.sweep(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events.sweep(jsonb) TO tianxing_app;

-- The backlog /metrics shows (tianxing_webhook_pending, ..._oldest_pending_seconds): read by the
-- job webhooks.sweep, which runs every minute anyway, so that a scrape never queries the database.
CREATE OR REPLACE FUNCTION events.backlog(OUT pending bigint, OUT oldest_s bigint)
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  PERFORM events.require_system();
  SELECT count(*), coalesce(extract(epoch FROM now() - min(d.created_at))::bigint, 0)
    INTO pending, oldest_s
    FROM events.deliveries d WHERE d.state = 'pending';
END
$$;
REVOKE ALL ON FUNCTION events.backlog() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events.backlog() TO tianxing_app;
