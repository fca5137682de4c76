-- 0015 sign-in throttling per account AND source address (issue 10, items 3 and 8;
-- docs/identity.md, "Sign-in throttling"), and no UUID-shaped usernames (item 10).
-- Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`.
--
-- Failed sign-ins used to be counted on the account (auth.credentials.failed_count, locked_until):
-- anyone anywhere could lock the owner out with five wrong passwords, and unknown usernames were
-- never counted, so 429 after three failures told a real account from an unknown name. Now a
-- failure is counted on the pair (the username as typed, in lower case; the source address, IPv6
-- by its /64), whether or not the username exists: the owner signing in from another address is
-- not held back, and an unknown name is throttled exactly like a real one.
--
-- Not audited (no audit.attach): the rows are counters an unauthenticated caller writes at will;
-- hashing each into the audit chain would let anyone grow it without bound. They hold no
-- business data and are forgotten a day after the last failure (auth.login_failed prunes them).
CREATE TABLE auth.login_throttle (
  username       text NOT NULL CHECK (length(username) BETWEEN 1 AND 64),
  source         inet NOT NULL,
  failed_count   int NOT NULL DEFAULT 0 CHECK (failed_count >= 0),
  locked_until   timestamptz,
  last_failed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (username, source)
);
CREATE INDEX login_throttle_last_failed ON auth.login_throttle (last_failed_at);

ALTER TABLE auth.login_throttle ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.login_throttle FORCE ROW LEVEL SECURITY;
REVOKE ALL ON auth.login_throttle FROM PUBLIC;

-- The account-wide counters are no longer read: clear them so that no lock set before this
-- migration outlives it unseen.
UPDATE auth.credentials SET failed_count = 0, locked_until = NULL
 WHERE failed_count <> 0 OR locked_until IS NOT NULL;

-- The sign-in functions change their arguments and results (sql/code/org/020_auth.sql defines
-- the new ones; CREATE OR REPLACE cannot change a result type, and would leave the old overloads).
DROP FUNCTION IF EXISTS auth.login_lookup(text);
DROP FUNCTION IF EXISTS auth.login_failed(uuid, integer, integer);
DROP FUNCTION IF EXISTS auth.login_succeeded(uuid);

-- A username must never read as an employee id: tx.begin_request takes a UUID-shaped token `sub`
-- for an id, so an employee named like another's id would otherwise stand for them (item 10).
-- PostgreSQL reads 32 hex digits with hyphens anywhere between groups of four as a uuid: any
-- username that is that once its hyphens are removed is refused. Validated: a database holding
-- such a name stops here, and the name must be changed first (docs/identity.md).
ALTER TABLE org.employees ADD CONSTRAINT employees_username_not_uuid
  CHECK (replace(username, '-', '') !~ '^[0-9a-f]{32}$');
