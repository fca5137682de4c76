-- Tianxing database bootstrap: run ONCE per cluster by a superuser (or a DBA role with CREATEROLE
-- and CREATEDB), before the first `tianxingd migrate`. Idempotent.
--
--   psql -v ON_ERROR_STOP=1 -v db=tianxing -v owner_password=... -v app_password=... -f sql/bootstrap.sql
--
-- Two login roles (DESIGN.md, security model):
--   tianxing_owner  owns the database and every object; used only by migrations.
--   tianxing_app    the runtime role the service connects as: not superuser, not BYPASSRLS, owns
--                   nothing. Row-level security therefore always applies to it.
--   tianxing_audit  NOLOGIN; owns the append-only audit schema, so that no login role owns the
--                   audit trail. tianxing_owner is a member, to create objects owned by it.
-- Empty passwords mean "no password" (socket/peer authentication, e.g. a private local cluster).
\set ON_ERROR_STOP 1
\if :{?owner_password}
\else
\set owner_password ''
\endif
\if :{?app_password}
\else
\set app_password ''
\endif
\if :{?db}
\else
\set db tianxing
\endif

-- Passed to the DO block through settings (psql variables do not reach inside $$ quotes); the
-- output is discarded so that passwords never land on a terminal or in a log.
\o /dev/null
SELECT set_config('tx_boot.owner_password', :'owner_password', false),
       set_config('tx_boot.app_password', :'app_password', false);
\o

DO $$
DECLARE
  owner_pw text := current_setting('tx_boot.owner_password');
  app_pw   text := current_setting('tx_boot.app_password');
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tianxing_owner') THEN
    CREATE ROLE tianxing_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tianxing_app') THEN
    CREATE ROLE tianxing_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tianxing_audit') THEN
    CREATE ROLE tianxing_audit NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
  END IF;
  ALTER ROLE tianxing_audit NOLOGIN NOSUPERUSER NOBYPASSRLS;
  GRANT tianxing_audit TO tianxing_owner;
  -- Re-assert the attributes: a role created by hand earlier must not keep dangerous ones.
  ALTER ROLE tianxing_app NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  ALTER ROLE tianxing_owner NOSUPERUSER NOBYPASSRLS;
  IF owner_pw <> '' THEN
    EXECUTE format('ALTER ROLE tianxing_owner PASSWORD %L', owner_pw);
  END IF;
  IF app_pw <> '' THEN
    EXECUTE format('ALTER ROLE tianxing_app PASSWORD %L', app_pw);
  END IF;
END
$$;

RESET tx_boot.owner_password;
RESET tx_boot.app_password;

SELECT format('CREATE DATABASE %I OWNER tianxing_owner ENCODING ''UTF8'' TEMPLATE template0', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
\gexec

\connect :db
-- The owner creates schemas; nobody else creates anything in public.
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO tianxing_app;
GRANT ALL ON DATABASE :"db" TO tianxing_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
-- pgcrypto / pg_trgm are created by migrations as the owner; trusted extensions need no superuser.
