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

-- A secret given by the caller must be a Standard Webhooks secret of 24 to 64 key bytes; a new one
-- is 32 bytes from gen_random_uuid(), PostgreSQL's cryptographically strong generator (two
-- version-4 UUIDs: 244 random bits; pgcrypto is not installed).
CREATE OR REPLACE FUNCTION events.secret(p_given text) RETURNS text
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE v_len int;
BEGIN
  IF p_given IS NULL THEN
    RETURN 'whsec_' || encode(decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'), 'base64');
  END IF;
  IF p_given !~ '^whsec_[A-Za-z0-9+/]+={0,2}$' THEN
    PERFORM api.fail('TXVAL', 'secret', 'must be whsec_ followed by base64');
  END IF;
  BEGIN
    v_len := octet_length(decode(substr(p_given, 7), 'base64'));
  EXCEPTION WHEN others THEN
    PERFORM api.fail('TXVAL', 'secret', 'must be whsec_ followed by base64');
  END;
  IF v_len NOT BETWEEN 24 AND 64 THEN
    PERFORM api.fail('TXVAL', 'secret', 'must hold 24 to 64 bytes');
  END IF;
  RETURN p_given;
END
$$;
REVOKE ALL ON FUNCTION events.secret(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events.secret(text) TO tianxing_app;

-- Stores a subscription's secret (admins only): a new one, or a rotation that keeps the current
-- one as the previous secret when p_keep_previous.
CREATE OR REPLACE FUNCTION events.secret_store(p_id uuid, p_secret text, p_keep_previous boolean)
  RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  PERFORM api.require_role('admin');
  INSERT INTO events.webhook_secrets AS s (webhook_id, secret) VALUES (p_id, p_secret)
  ON CONFLICT (webhook_id) DO UPDATE
    SET previous_secret = CASE WHEN p_keep_previous THEN s.secret END, secret = EXCLUDED.secret;
END
$$;
REVOKE ALL ON FUNCTION events.secret_store(uuid, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events.secret_store(uuid, text, boolean) TO tianxing_app;

-- POST /v1/webhooks (admin). The answer carries the secret: the only time it is shown.
CREATE OR REPLACE FUNCTION api.webhook_create(p_body jsonb, p_allow_loopback text) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  w events.webhooks;
  v_secret text;
BEGIN
  PERFORM api.require_role('admin');
  PERFORM api.body_keys(p_body, '{url,event_types,description,active,secret}');
  v_secret := events.secret(api.body_text(p_body, 'secret', false, 100));
  INSERT INTO events.webhooks (url, event_types, description, active, created_by)
  VALUES (events.check_url(api.body_text(p_body, 'url', true, 2000), p_allow_loopback = 'true'),
          events.check_types(p_body),
          api.body_text(p_body, 'description', false, 500),
          coalesce(cases.body_bool(p_body, 'active', false), true),
          tx.user_id())
  RETURNING * INTO w;
  PERFORM events.secret_store(w.id, v_secret, false);
  RETURN (events.webhook_json(w) || jsonb_build_object('secret', v_secret))::json;
END
$$;
REVOKE ALL ON FUNCTION api.webhook_create(jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.webhook_create(jsonb, text) TO tianxing_app;

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
    SELECT w, w.id FROM events.webhooks w
     WHERE v_after IS NULL OR w.id > v_after
     ORDER BY w.id LIMIT v_limit + 1)
  SELECT json_build_object(
           'items', coalesce((SELECT json_agg(events.webhook_json(p.w) ORDER BY p.id)
                                FROM (SELECT * FROM page ORDER BY id LIMIT v_limit) p), '[]'::json),
           'next_cursor', CASE WHEN (SELECT count(*) FROM page) > v_limit
                               THEN (SELECT max(x.id)::text FROM (SELECT id FROM page ORDER BY id LIMIT v_limit) x) END)
    INTO v_out;
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
    active = CASE WHEN p_body ? 'active' THEN cases.body_bool(p_body, 'active', true) ELSE x.active END,
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
CREATE OR REPLACE FUNCTION api.webhook_rotate_secret(p_id uuid, p_body jsonb) RETURNS json
  LANGUAGE plpgsql
  AS $$
DECLARE
  w events.webhooks;
  v_overlap jsonb;
  v_seconds int := 86400;
  v_secret text;
BEGIN
  PERFORM api.require_role('admin');
  SELECT * INTO w FROM events.webhooks x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  PERFORM api.body_keys(p_body, '{secret,overlap_seconds}');
  v_overlap := p_body -> 'overlap_seconds';
  IF v_overlap IS NOT NULL AND jsonb_typeof(v_overlap) <> 'null' THEN
    IF jsonb_typeof(v_overlap) <> 'number' OR (v_overlap #>> '{}') !~ '^[0-9]{1,6}$'
       OR (v_overlap #>> '{}')::int > 604800 THEN
      PERFORM api.fail('TXVAL', 'overlap_seconds', 'must be an integer from 0 to 604800');
    END IF;
    v_seconds := (v_overlap #>> '{}')::int;
  END IF;
  v_secret := events.secret(api.body_text(p_body, 'secret', false, 100));
  PERFORM events.secret_store(p_id, v_secret, v_seconds > 0);
  UPDATE events.webhooks x SET
    previous_secret_until = CASE WHEN v_seconds > 0 THEN now() + make_interval(secs => v_seconds) END,
    version = x.version + 1, updated_at = now()
   WHERE x.id = p_id
  RETURNING * INTO w;
  RETURN (events.webhook_json(w) || jsonb_build_object('secret', v_secret))::json;
END
$$;
REVOKE ALL ON FUNCTION api.webhook_rotate_secret(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.webhook_rotate_secret(uuid, jsonb) TO tianxing_app;

-- SECURITY DEFINER: the event's id and type whoever may see its subject (the caller already
-- passed the admin policy of the delivery it hands in).
CREATE OR REPLACE FUNCTION events.delivery_json(d events.deliveries) RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT jsonb_build_object(
    'id', d.id, 'webhook_id', d.webhook_id, 'event_id', o.id, 'event_type', o.type,
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
    'delivery_id', d.id, 'attempt', d.attempts, 'url', w.url, 'message_id', o.id,
    'secrets', (SELECT to_jsonb(array_remove(ARRAY[s.secret, CASE WHEN w.previous_secret_until > now()
                                                                  THEN s.previous_secret END], NULL))
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
