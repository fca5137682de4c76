-- 0020 case review and delivery (P3.1-P3.4; module P, part D): the policy parameters the part
-- reads, and the constraints its facts need beyond 0018. Functions, triggers and policies are in
-- sql/code/cases/050_review.sql and 060_delivery.sql.
-- Runs as tianxing_owner inside one transaction opened by `tianxingd migrate`.

-- 1. Policy parameters (validated, effective-dated, four-eyes like every other: 0005, 0017) ------
-- The definitions' rows are written by migrations only; both tables are under forced row-level
-- security whose owner policies only read: lifted for these inserts, restored at the end.
ALTER TABLE org.policy_parameters NO FORCE ROW LEVEL SECURITY;
ALTER TABLE org.policy_values NO FORCE ROW LEVEL SECURITY;

-- cases_file_max_bytes: the largest electronic file a case stores (P4.1: files are stored with a
-- size cap). The request carrying it is JSON with the content in base64 (4 bytes per 3), so the
-- service's body limit (TIANXING_BODY_LIMIT, 1 MiB by default) must leave room for it: the initial
-- 512 KiB travel in about 700 KB. A file over this cap is refused with 413 payload_too_large and
-- the cap in `max_bytes`; a body over the service's limit is refused (413 too) before it is read.
-- The schema's maximum (48 MiB) is what the largest allowed body limit (64 MiB) can carry.
-- confirmation_link_days: how long a one-time confirmation link stays usable (P3.4).
INSERT INTO org.policy_parameters (name, type, description, unit, clause, schema) VALUES
  ('cases_file_max_bytes', 'integer',
   'Largest electronic file (deliverable, document, evidence) stored with a case (P3.4, P4.1).',
   'bytes', 'P3.4', '{"type": "integer", "minimum": 1024, "maximum": 50331648}'),
  ('confirmation_link_days', 'integer',
   'Days a one-time customer confirmation link stays usable after it is issued (P3.4).',
   'days', 'P3.4', '{"type": "integer", "minimum": 1, "maximum": 90}');

INSERT INTO org.policy_values (name, value, effective_from, status, reason, decided_at) VALUES
  ('cases_file_max_bytes', '524288', '2024-01-01', 'approved', 'initial value', now()),
  ('confirmation_link_days', '14', '2024-01-01', 'approved', 'initial value', now());

ALTER TABLE org.policy_values FORCE ROW LEVEL SECURITY;
ALTER TABLE org.policy_parameters FORCE ROW LEVEL SECURITY;

-- 2. Facts of review and delivery -----------------------------------------------------------------
-- One open review round per case at a time (P3.3: a round is decided before the next is opened);
-- binds part C's submission as well as this part's decision.
CREATE UNIQUE INDEX reviews_one_open ON cases.reviews (case_id) WHERE outcome IS NULL;
-- The customer answers a delivery once (P3.4): through the link or as recorded by staff, not both.
-- An objection reopens rectification; the next delivery gets the next answer.
CREATE UNIQUE INDEX confirmations_one_per_delivery ON cases.confirmations (delivery_id);
CREATE INDEX confirmation_links_delivery_idx ON cases.confirmation_links (delivery_id);
