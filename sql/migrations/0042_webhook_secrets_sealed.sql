-- 0042 webhook secrets sealed (issue 16): the signing secrets of events.webhook_secrets are kept
-- sealed under the service's master keys (TIANXING_MASTER_KEYS_FILE, AES-256-GCM bound to the
-- subscription: src/crypto/envelope.h tx_master_seal), like customers' data keys, so that a dump
-- of the database holds no secret a forger could sign with. docs/events.md, "Secrets at rest".
-- Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`.
--
-- SQL cannot seal: the key is the service's, never the database's. So existing rows keep their
-- text until the service seals them (the job webhooks.sweep does, every minute, on any instance
-- holding the master keys; `tianxingd rotate-master-key` does too). The constraint below is
-- NOT VALID: it holds for every row written from now on (no new plaintext can be stored, and a
-- converted row cannot go back), but not yet for the old rows. When the last one is sealed the
-- service validates it (events.secrets_validate), after which pg_constraint.convalidated says the
-- upgrade is complete and the plaintext columns can only ever be NULL.

ALTER TABLE events.webhook_secrets
  ALTER COLUMN secret DROP NOT NULL,
  ADD COLUMN key_id          text CHECK (length(key_id) BETWEEN 1 AND 64),
  ADD COLUMN sealed          bytea CHECK (octet_length(sealed) BETWEEN 28 + 30 AND 28 + 100),
  ADD COLUMN previous_key_id text CHECK (length(previous_key_id) BETWEEN 1 AND 64),
  ADD COLUMN previous_sealed bytea CHECK (octet_length(previous_sealed) BETWEEN 28 + 30 AND 28 + 100);

-- Sealed: no text, the current secret present, the previous one whole or absent.
ALTER TABLE events.webhook_secrets ADD CONSTRAINT webhook_secrets_sealed
  CHECK (secret IS NULL AND previous_secret IS NULL AND key_id IS NOT NULL AND sealed IS NOT NULL
         AND (previous_key_id IS NULL) = (previous_sealed IS NULL)) NOT VALID;

COMMENT ON TABLE events.webhook_secrets IS
  'Webhook signing secrets sealed under a master key (key_id, sealed = nonce || ciphertext || tag, '
  'AAD "tianxing-webhook-secret:<webhook_id>"); secret/previous_secret: plaintext of rows made '
  'before 0042, until the service seals them.';

-- The sealed columns are opaque but still the secret's only copy: kept out of the audit trail
-- like the text was (audit.attach redacts the named columns).
DROP TRIGGER audit_row ON events.webhook_secrets;
DROP TRIGGER audit_truncate ON events.webhook_secrets;
SELECT audit.attach('events.webhook_secrets', '{secret,previous_secret,sealed,previous_sealed}');
