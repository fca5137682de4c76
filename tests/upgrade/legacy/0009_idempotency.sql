-- 0009 Idempotency-Key on creates (DESIGN.md, issue 4): a client that retries a create with the
-- same key gets the first answer again instead of a second record.
--
-- One row per (employee, key) for 24 hours. The row is written by the create's own statement, in
-- its transaction: either both the record and the key exist, or neither. Two concurrent retries
-- collide on the primary key; the loser's transaction, record included, rolls back and it
-- answers with the winner's result.

CREATE TABLE tx_meta.idempotency (
  employee_id  uuid NOT NULL,
  key          text NOT NULL CHECK (key ~ '^[\x21-\x7e]{1,255}$'),
  route        text NOT NULL,
  request_hash text NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
  status       int NOT NULL,
  body         text,       -- NULL where the answer is rebuilt from the resource (customers: PII)
  resource_id  text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (employee_id, key)
);
CREATE INDEX idempotency_created_idx ON tx_meta.idempotency (created_at);

-- Each employee sees and writes only their own keys.
ALTER TABLE tx_meta.idempotency ENABLE ROW LEVEL SECURITY;
ALTER TABLE tx_meta.idempotency FORCE ROW LEVEL SECURITY;
CREATE POLICY idempotency_own ON tx_meta.idempotency
  USING (employee_id = (SELECT tx.user_id()))
  WITH CHECK (employee_id = (SELECT tx.user_id()));
GRANT SELECT, INSERT, DELETE ON tx_meta.idempotency TO tianxing_app;

-- Called in the WHERE clause of the create's statement; true, or an error that rolls it back.
CREATE FUNCTION tx.idempotency_store(p_key text, p_route text, p_hash text, p_status int,
                                     p_body text, p_resource text) RETURNS boolean
  LANGUAGE plpgsql
  AS $$
BEGIN
  -- An expired key may be used again.
  DELETE FROM tx_meta.idempotency i
   WHERE i.employee_id = tx.user_id() AND i.key = p_key AND i.created_at < now() - interval '24 hours';
  INSERT INTO tx_meta.idempotency (employee_id, key, route, request_hash, status, body, resource_id)
  VALUES (tx.user_id(), p_key, p_route, p_hash, p_status, p_body, p_resource);
  RETURN true;
END
$$;

CREATE FUNCTION tx.idempotency_lookup(p_key text)
  RETURNS TABLE (route text, request_hash text, status int, body text, resource_id text)
  LANGUAGE sql STABLE
  AS $$
  SELECT i.route, i.request_hash, i.status, i.body, i.resource_id FROM tx_meta.idempotency i
   WHERE i.employee_id = tx.user_id() AND i.key = p_key AND i.created_at >= now() - interval '24 hours'
$$;

REVOKE ALL ON FUNCTION tx.idempotency_store(text, text, text, int, text, text),
                       tx.idempotency_lookup(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tx.idempotency_store(text, text, text, int, text, text),
                          tx.idempotency_lookup(text) TO tianxing_app;
