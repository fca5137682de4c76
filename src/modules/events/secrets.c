/**
 * @file modules/events/secrets.c
 * @brief Webhook secrets at rest (secrets.h) and the two routes that make one: POST /v1/webhooks
 * and POST /v1/webhooks/{id}/rotate-secret. The secret is made or checked here and reaches the
 * database sealed only; the answer carries it in clear, once. A replay of the create (same
 * Idempotency-Key) keeps no copy of that answer: it reads the subscription again and opens its
 * current secret, so the idempotency record holds no secret either.
 */
#include "modules/events/secrets.h"
#include "core/call.h"
#include "core/idempotency.h"
#include "core/request.h"
#include "crypto/encoding.h"
#include "db/tx.h"
#include "modules/events/events.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEW_SECRET_BYTES 32

/* The additional data a secret is sealed with: moved to another subscription, it does not open. */
static void context(const char *webhook_id, char *out, size_t len)
{
  snprintf(out, len, "tianxing-webhook-secret:%s", webhook_id);
}

int tx_webhook_secret_make(const char *given, char out[TX_WEBHOOK_SECRET_MAX], const char **why)
{
  static const char prefix[] = "whsec_";
  if (!given) {
    unsigned char key[NEW_SECRET_BYTES];
    if (RAND_bytes(key, sizeof key) != 1) {
      *why = "no random bytes";
      return -1;
    }
    char *b64 = tx_b64_encode(key, sizeof key, false);
    OPENSSL_cleanse(key, sizeof key);
    if (!b64) {
      *why = "out of memory";
      return -1;
    }
    /* Padded, as the Standard Webhooks libraries write and read secrets. */
    size_t bl = strlen(b64);
    snprintf(out, TX_WEBHOOK_SECRET_MAX, "%s%s%.*s", prefix, b64, (int)((4 - bl % 4) % 4), "==");
    OPENSSL_cleanse(b64, bl);
    free(b64);
    return 0;
  }
  size_t len = strlen(given), key_len = 0;
  if (strncmp(given, prefix, sizeof prefix - 1) || len <= 6 || len >= TX_WEBHOOK_SECRET_MAX ||
      strspn(given + 6, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != len - 6) {
    *why = "must be whsec_ followed by base64";
    return -1;
  }
  unsigned char *key = tx_b64_decode(given + 6, len - 6, false, &key_len);
  if (!key) {
    *why = "must be whsec_ followed by base64";
    return -1;
  }
  OPENSSL_cleanse(key, key_len);
  free(key);
  if (key_len < 24 || key_len > 64) {
    *why = "must hold 24 to 64 bytes";
    return -1;
  }
  memcpy(out, given, len + 1);
  return 0;
}

int tx_webhook_secret_seal(const char *webhook_id, const char *secret, char key_id[TX_KEY_ID_MAX],
                           char **hex)
{
  char aad[96];
  unsigned char *sealed = NULL;
  size_t len = 0;
  context(webhook_id, aad, sizeof aad);
  if (tx_master_seal(aad, (const unsigned char *)secret, strlen(secret), key_id, &sealed, &len))
    return -1;
  *hex = malloc(2 * len + 1);
  if (*hex)
    tx_hex(sealed, len, *hex);
  free(sealed);
  return *hex ? 0 : -1;
}

char *tx_webhook_secret_open(const char *webhook_id, const json_t *ref)
{
  const char *plain = json_string_value(json_object_get(ref, "plain"));
  if (plain) /* a row made before 0042 that the sweep has not sealed yet */
    return strdup(plain);
  const char *key_id = json_string_value(json_object_get(ref, "key_id"));
  const char *hex = json_string_value(json_object_get(ref, "sealed"));
  if (!key_id || !hex || !webhook_id)
    return NULL;
  size_t len = 0, got = 0;
  unsigned char *sealed = tx_unhex(hex, strlen(hex), &len);
  char aad[96], *out = malloc(TX_WEBHOOK_SECRET_MAX);
  context(webhook_id, aad, sizeof aad);
  if (!sealed || !out ||
      tx_master_open(key_id, aad, sealed, len, (unsigned char *)out, TX_WEBHOOK_SECRET_MAX - 1, &got)) {
    free(sealed);
    free(out);
    return NULL;
  }
  free(sealed);
  out[got] = '\0';
  return out;
}

static void free_secret(char *s)
{
  if (s) {
    OPENSSL_cleanse(s, strlen(s));
    free(s);
  }
}

long tx_webhook_secrets_seal(PGconn *pg, bool rewrap, int limit, char *err, size_t errlen)
{
  char current[TX_KEY_ID_MAX], lim[16];
  if (tx_envelope_current_key_id(current)) {
    snprintf(err, errlen, "no master keys loaded (TIANXING_MASTER_KEYS_FILE)");
    return -1;
  }
  snprintf(lim, sizeof lim, "%d", limit);
  const char *p[] = {current, rewrap ? "true" : "false", lim};
  PGresult *res = PQexecParams(pg, "SELECT webhook_id::text, cur::text, prev::text"
                                   " FROM events.secrets_to_seal($1, $2::boolean, $3::int)",
                               3, NULL, p, NULL, NULL, 0);
  long done = 0;
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    snprintf(err, errlen, "secrets_to_seal: %s", PQresultErrorMessage(res));
    PQclear(res);
    return -1;
  }
  for (int i = 0; i < PQntuples(res); i++) {
    const char *id = PQgetvalue(res, i, 0);
    char kid[2][TX_KEY_ID_MAX] = {"", ""}, *hex[2] = {NULL, NULL};
    int rc = 0;
    for (int slot = 0; slot < 2 && rc == 0; slot++) {
      if (PQgetisnull(res, i, 1 + slot))
        continue; /* no previous secret */
      json_t *ref = json_loads(PQgetvalue(res, i, 1 + slot), 0, NULL);
      char *secret = ref ? tx_webhook_secret_open(id, ref) : NULL;
      json_decref(ref);
      rc = secret && tx_webhook_secret_seal(id, secret, kid[slot], &hex[slot]) == 0 ? 0 : -1;
      free_secret(secret);
    }
    if (rc) {
      snprintf(err, errlen, "the secret of webhook %s cannot be opened with the keys in "
                            "TIANXING_MASTER_KEYS_FILE", id);
    } else {
      const char *u[] = {id, kid[0], hex[0], hex[1] ? kid[1] : NULL, hex[1]};
      PGresult *w = PQexecParams(pg, "SELECT events.secret_reseal($1::uuid, $2, decode($3, 'hex'), $4,"
                                     " decode($5, 'hex'))", 5, NULL, u, NULL, NULL, 0);
      if (PQresultStatus(w) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "secret_reseal: %s", PQresultErrorMessage(w));
        rc = -1;
      }
      PQclear(w);
    }
    free(hex[0]);
    free(hex[1]);
    if (rc) {
      PQclear(res);
      return -1;
    }
    done++;
  }
  PQclear(res);
  /* Every row sealed: make the 0042 constraint valid (a no-op once it is). */
  if (done < limit) {
    res = PQexec(pg, "SELECT events.secrets_validate()");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      snprintf(err, errlen, "secrets_validate: %s", PQresultErrorMessage(res));
      done = -1;
    }
    PQclear(res);
  }
  return done;
}

long tx_webhook_secrets_rotate(PGconn *pg)
{
  long total = 0;
  char err[512];
  for (;;) {
    PGresult *res = PQexec(pg, "BEGIN; SELECT set_config('tx.roles', 'system', true),"
                               " set_config('tx.request_id', 'rotate-master-key', true)");
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
      snprintf(err, sizeof err, "%s", PQresultErrorMessage(res));
    PQclear(res);
    long n = ok ? tx_webhook_secrets_seal(pg, true, 500, err, sizeof err) : -1;
    PQclear(PQexec(pg, n < 0 ? "ROLLBACK" : "COMMIT"));
    if (n < 0) {
      fprintf(stderr, "tianxingd: rotate-master-key: webhook secrets: %s\n", err);
      return -1;
    }
    total += n;
    if (n < 500)
      return total;
  }
}

/* ---- the routes ---- */

static const struct tx_sql sql_create = {
  "webhook_create",
  TX_CALL_ROW "api.webhook_create($1::jsonb, $2, $3::uuid, $4, $5) j", 5};
static const struct tx_sql sql_get = {"webhook_get_replay", TX_CALL_ROW "api.webhook_get($1::uuid) j", 1};
static const struct tx_sql sql_current = {"webhook_secret_current",
                                          "SELECT events.secret_current($1::uuid)::text", 1};
static const struct tx_sql sql_rotate = {
  "webhook_rotate_secret", TX_CALL_ROW "api.webhook_rotate_secret($1::uuid, $2::jsonb, $3, $4) j", 4};

static int require_keys(struct tx_req *r)
{
  if (tx_envelope_ready())
    return 0;
  return tx_reply_problem(r, TX_E_ENCRYPTION_UNAVAILABLE,
                          "Webhook secrets cannot be stored or used without the encryption keys.", NULL);
}

/* The secret of the body ("secret": given, absent or null: made); answered 422 when bad. */
static int body_secret(struct tx_req *r, char out[TX_WEBHOOK_SECRET_MAX])
{
  json_t *j = r->j_body ? json_object_get(r->j_body, "secret") : NULL;
  const char *why = NULL;
  if (j && !json_is_null(j) && (!json_is_string(j) || !json_string_value(j)))
    why = "must be whsec_ followed by base64";
  else if (tx_webhook_secret_make(j && json_is_string(j) ? json_string_value(j) : NULL, out, &why) == 0)
    return 0;
  json_t *j_errors = json_pack("[{ssssss}]", "field", "secret", "code", "format", "message", why);
  return tx_reply_problem(r, TX_E_VALIDATION_FAILED, "The secret is not valid.", j_errors), -1;
}

/* The body as the SQL gets it: without the secret, which never reaches the database in clear. */
static char *body_without_secret(struct tx_req *r)
{
  json_t *copy = r->j_body && json_is_object(r->j_body) ? json_copy(r->j_body) : json_object();
  if (!copy)
    return NULL;
  json_object_del(copy, "secret");
  char *text = json_dumps(copy, JSON_COMPACT);
  json_decref(copy);
  return text;
}

/* Answers the subscription document of @p res with @p secret added. */
static int reply_with_secret(struct tx_req *r, PGresult *res, int status, const char *secret,
                             bool location)
{
  if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
    return tx_reply_problem(r, TX_E_NOT_FOUND, "No such resource.", NULL);
  json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
  if (!j)
    return tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  json_object_set_new(j, "secret", json_string(secret));
  char hdr[128];
  snprintf(hdr, sizeof hdr, "\"%s\"", PQgetvalue(res, 0, 1));
  tx_reply_header(r, "ETag", hdr);
  if (location) {
    snprintf(hdr, sizeof hdr, "/v1/webhooks/%s", PQgetvalue(res, 0, 2));
    tx_reply_header(r, "Location", hdr);
  }
  tx_reply_json(r, status, j);
  /* The answer holds its own copy of the text; this one is wiped with the document. */
  json_t *js = json_object_get(j, "secret");
  if (json_string_value(js))
    OPENSSL_cleanse((char *)json_string_value(js), json_string_length(js));
  json_decref(j);
  return r->status;
}

/* A replay of a create: the subscription as it is now, with its current secret opened. */
static int reply_created_again(struct tx_req *r, const char *id)
{
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  struct tx_query q[2] = {{&sql_get, (const char *[]){id}}, {&sql_current, (const char *[]){id}}};
  PGresult *res[2];
  struct tx_db_outcome out;
  if (tx_db_run(&claims, true, q, 2, res, &out))
    return tx_reply_db_error(r, &out);
  json_t *ref = PQntuples(res[1]) == 1 && !PQgetisnull(res[1], 0, 0)
                  ? json_loads(PQgetvalue(res[1], 0, 0), 0, NULL) : NULL;
  char *secret = ref ? tx_webhook_secret_open(id, ref) : NULL;
  json_decref(ref);
  if (PQntuples(res[0]) == 1 && !PQgetisnull(res[0], 0, 0) && !secret)
    tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  else
    reply_with_secret(r, res[0], 201, secret ? secret : "", true);
  free_secret(secret);
  PQclear(res[0]);
  PQclear(res[1]);
  return r->status;
}

/* The body's secret (made when absent), sealed for subscription @p id, and the body the SQL gets;
 * -1 after answering. The caller cleanses @p secret and frees the two strings. */
static int prepare(struct tx_req *r, const char *id, char secret[TX_WEBHOOK_SECRET_MAX],
                   char key_id[TX_KEY_ID_MAX], char **sealed, char **payload)
{
  *sealed = *payload = NULL;
  if (r->j_body && !json_is_object(r->j_body))
    return tx_reply_problem(r, TX_E_BAD_REQUEST, "The body must be a JSON object.", NULL), -1;
  if (body_secret(r, secret))
    return -1;
  if (tx_webhook_secret_seal(id, secret, key_id, sealed) || !(*payload = body_without_secret(r)))
    return tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL), -1;
  return 0;
}

int tx_events_webhook_create(struct tx_req *r)
{
  struct tx_idem idem;
  char secret[TX_WEBHOOK_SECRET_MAX], key_id[TX_KEY_ID_MAX], id[37];
  char *sealed = NULL, *payload = NULL;
  if (require_keys(r) || tx_events_check_body_url(r) ||
      tx_idem_begin(r, &idem, "/v1/webhooks/", reply_created_again))
    return r->status;
  tx_uuid_v4(id); /* chosen here: the seal is bound to it */
  if (prepare(r, id, secret, key_id, &sealed, &payload))
    goto out;
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  const char *params[] = {payload, tx_events_allow_http_loopback_text(), id, key_id, sealed,
                          idem.key, idem.route, idem.hash};
  /* With a key, the answer is not stored (it holds the secret): a replay rebuilds it. */
  struct tx_query q = {idem.key ? tx_idem_sql(&sql_create, false) : &sql_create, params};
  if (!q.sql) {
    tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
    goto out;
  }
  PGresult *res;
  struct tx_db_outcome dbo;
  if (tx_db_run(&claims, false, &q, 1, &res, &dbo)) {
    if (!tx_idem_lost_race(r, &idem, &dbo, "/v1/webhooks/", reply_created_again))
      tx_reply_db_error(r, &dbo);
    tx_db_outcome_free(&dbo);
    goto out;
  }
  reply_with_secret(r, res, 201, secret, true);
  PQclear(res);
out:
  OPENSSL_cleanse(secret, sizeof secret);
  free(sealed);
  free(payload);
  return r->status;
}

int tx_events_webhook_rotate_secret(struct tx_req *r)
{
  const char *id = tx_call_path_uuid(r, "id");
  char secret[TX_WEBHOOK_SECRET_MAX], key_id[TX_KEY_ID_MAX];
  char *sealed = NULL, *payload = NULL;
  if (!id || require_keys(r))
    return r->status;
  if (prepare(r, id, secret, key_id, &sealed, &payload))
    goto out;
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  struct tx_query q = {&sql_rotate, (const char *[]){id, payload, key_id, sealed}};
  PGresult *res;
  struct tx_db_outcome dbo;
  if (tx_db_run(&claims, false, &q, 1, &res, &dbo)) {
    tx_reply_db_error(r, &dbo);
    goto out;
  }
  reply_with_secret(r, res, 200, secret, false);
  PQclear(res);
out:
  OPENSSL_cleanse(secret, sizeof secret);
  free(sealed);
  free(payload);
  return r->status;
}
