-- sql/code/kit/010_errors.sql: errors (api.fail and the TX error codes), the caller checks, timestamps.
-- One current definition per object; `tianxingd migrate` re-applies this file when it changes
-- (sql/code/ORDER, docs/architecture.md).

-- RFC 3339 UTC with milliseconds, the one timestamp format of the API. STABLE, as to_char is:
-- PostgreSQL inlines a SQL function only when it is declared no less volatile than its body, and
-- declared IMMUTABLE it was called as a function instead -- parsed and planned anew in every
-- statement that called it (issue 15: four per customer read, about a quarter of its time).
CREATE OR REPLACE FUNCTION api.ts(p_ts timestamptz) RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT to_char(p_ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;
REVOKE ALL ON FUNCTION api.ts(timestamp with time zone) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.ts(timestamp with time zone) TO tianxing_app;

-- Raises one of the API's errors naming a field: message "<field>: <message>", COLUMN = field.
CREATE OR REPLACE FUNCTION api.fail(p_code text, p_field text, p_message text) RETURNS void
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF p_field IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = p_code, MESSAGE = p_message;
  END IF;
  RAISE EXCEPTION USING ERRCODE = p_code, MESSAGE = p_field || ': ' || p_message,
    COLUMN = p_field;
END
$$;
REVOKE ALL ON FUNCTION api.fail(text,text,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.fail(text,text,text) TO tianxing_app;

-- The caller's employee id; TXAUT when the request carries none, TXDEN (403) when the employee
-- must first change a password somebody else set (tx.begin_request, issue 10 item 9).
CREATE OR REPLACE FUNCTION api.require_user() RETURNS uuid
  LANGUAGE plpgsql STABLE
  AS $$
DECLARE v uuid := tx.user_id();
BEGIN
  IF v IS NULL AND tx.claim('password_change_for') IS NOT NULL THEN
    RAISE EXCEPTION 'change the password an administrator set first (POST /v1/me/password)'
      USING ERRCODE = 'TXDEN';
  END IF;
  IF v IS NULL THEN
    RAISE EXCEPTION 'authentication required' USING ERRCODE = 'TXAUT';
  END IF;
  RETURN v;
END
$$;
REVOKE ALL ON FUNCTION api.require_user() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.require_user() TO tianxing_app;

-- 42501 unless the caller holds one of p_roles.
CREATE OR REPLACE FUNCTION api.require_role(VARIADIC p_roles text[]) RETURNS void
  LANGUAGE plpgsql STABLE
  AS $$
BEGIN
  PERFORM api.require_user();
  IF NOT (tx.roles() && p_roles) THEN
    RAISE EXCEPTION 'this needs the role %', array_to_string(p_roles, ' or ')
      USING ERRCODE = '42501';
  END IF;
END
$$;
REVOKE ALL ON FUNCTION api.require_role(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.require_role(text[]) TO tianxing_app;

-- The expected version of an update (the If-Match header): required, and it must be current.
CREATE OR REPLACE FUNCTION api.check_version(p_expected int, p_current int) RETURNS void
  LANGUAGE plpgsql IMMUTABLE
  AS $$
BEGIN
  IF p_expected IS NULL THEN
    PERFORM api.fail('TXVAL', 'version', 'the expected version (If-Match) is required');
  END IF;
  IF p_expected <> p_current THEN
    RAISE EXCEPTION 'version % is not the current version %', p_expected, p_current
      USING ERRCODE = 'TXPRE';
  END IF;
END
$$;
REVOKE ALL ON FUNCTION api.check_version(integer,integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.check_version(integer,integer) TO tianxing_app;

-- One entry of a problem document's errors[]: {field, code, message}. An error that says more
-- than its message (TXINC, TXDUP) sends as DETAIL a JSON object: its member "errors" is an array
-- of these, and every other member (e.g. existing_id) becomes a member of the problem document.
-- The service renders it without knowing the error (core/reply_db.c); MESSAGE is the detail.
CREATE OR REPLACE FUNCTION api.field_error(p_field text, p_code text, p_message text) RETURNS jsonb
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT jsonb_build_object('field', p_field, 'code', p_code, 'message', p_message) $$;
REVOKE ALL ON FUNCTION api.field_error(text,text,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.field_error(text,text,text) TO tianxing_app;
