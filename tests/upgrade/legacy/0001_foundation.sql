-- 0001 foundation: the claims helpers every policy reads, and read access to the migration ledger.
-- Runs as tianxing_owner (see sql/bootstrap.sql) inside one transaction opened by `tianxingd migrate`.
-- Migrations are immutable once landed: change behaviour with a new numbered file.

-- Refuse to build on a runtime role that could bypass row-level security (DESIGN.md, security model).
DO $$
DECLARE r pg_roles%ROWTYPE;
BEGIN
  SELECT * INTO r FROM pg_roles WHERE rolname = 'tianxing_app';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'role tianxing_app does not exist: run sql/bootstrap.sql first';
  END IF;
  IF r.rolsuper OR r.rolbypassrls THEN
    RAISE EXCEPTION 'role tianxing_app must be NOSUPERUSER NOBYPASSRLS';
  END IF;
  IF current_user = 'tianxing_app' THEN
    RAISE EXCEPTION 'migrations must run as the owner role, not as tianxing_app';
  END IF;
END
$$;

CREATE SCHEMA tx;
REVOKE ALL ON SCHEMA tx FROM PUBLIC;
GRANT USAGE ON SCHEMA tx TO tianxing_app;

-- Claims are set per transaction by the service with set_config(name, value, true). On a pooled
-- connection a setting that was once set reads back as '' after commit, not NULL: NULLIF makes
-- "no claim" one value. STABLE so that policies can wrap calls as (SELECT tx.user_id()) and have
-- them evaluated once per statement.
CREATE FUNCTION tx.claim(name text) RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT NULLIF(current_setting('tx.' || name, true), '') $$;

CREATE FUNCTION tx.user_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT tx.claim('user_id')::uuid $$;

CREATE FUNCTION tx.department_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT tx.claim('department_id')::uuid $$;

CREATE FUNCTION tx.request_id() RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT tx.claim('request_id') $$;

CREATE FUNCTION tx.roles() RETURNS text[]
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT coalesce(string_to_array(tx.claim('roles'), ','), '{}'::text[]) $$;

CREATE FUNCTION tx.has_role(role text) RETURNS boolean
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT role = ANY (tx.roles()) $$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA tx FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA tx TO tianxing_app;

-- Functions created later by the owner are not executable by everyone by default.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- /readyz compares the applied migrations with the ones built into the binary.
GRANT USAGE ON SCHEMA tx_meta TO tianxing_app;
GRANT SELECT ON tx_meta.schema_migrations TO tianxing_app;
