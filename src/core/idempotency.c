/**
 * @file core/idempotency.c
 * @brief Idempotency-Key on creates (see core/idempotency.h).
 */
#include "core/idempotency.h"
#include "core/routes.h"
#include "crypto/encoding.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ulfius.h>

static const struct tx_sql sql_lookup = {
  "tx_idem_lookup", "SELECT route, request_hash, status, body, resource_id FROM tx.idempotency_lookup($1)",
  1};

static bool key_valid(const char *k)
{
  size_t n = strlen(k);
  if (n < 1 || n > 255)
    return false;
  for (; *k; k++)
    if (*k < 0x21 || *k > 0x7e)
      return false;
  return true;
}

static int replay(struct tx_req *r, PGresult *res, const char *location, tx_idem_rebuild rebuild)
{
  const char *resource = PQgetisnull(res, 0, 4) ? NULL : PQgetvalue(res, 0, 4);
  int status = atoi(PQgetvalue(res, 0, 2));
  tx_reply_header(r, "Idempotent-Replayed", "true");
  if (location && resource) {
    char loc[200];
    snprintf(loc, sizeof loc, "%s%s", location, resource);
    tx_reply_header(r, "Location", loc);
  }
  if (PQgetisnull(res, 0, 3))
    return resource && rebuild ? rebuild(r, resource)
                               : tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  return tx_reply_json_text(r, status, PQgetvalue(res, 0, 3), (size_t)PQgetlength(res, 0, 3));
}

/* 1: answered from the record; 0: no record; -1: answered with an error. */
static int lookup(struct tx_req *r, struct tx_idem *st, const char *location, tx_idem_rebuild rebuild)
{
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  struct tx_query q = {&sql_lookup, (const char *[]){st->key}};
  PGresult *res;
  struct tx_db_outcome out;
  if (tx_db_run(&claims, true, &q, 1, &res, &out))
    return tx_reply_db_error(r, &out), -1;
  int rc = 0;
  if (PQntuples(res) == 1) {
    if (strcmp(PQgetvalue(res, 0, 0), st->route) != 0 || strcmp(PQgetvalue(res, 0, 1), st->hash) != 0) {
      tx_reply_problem(r, TX_E_IDEMPOTENCY_KEY_REUSED,
                       "This Idempotency-Key was used for a different request.", NULL);
      rc = -1;
    } else {
      replay(r, res, location, rebuild);
      rc = 1;
    }
  }
  PQclear(res);
  return rc;
}

int tx_idem_begin(struct tx_req *r, struct tx_idem *st, const char *location, tx_idem_rebuild rebuild)
{
  memset(st, 0, sizeof *st);
  const char *key = u_map_get_case(r->u->map_header, "Idempotency-Key");
  if (!key || !r->user)
    return 0;
  if (!key_valid(key)) {
    json_t *j_errors = json_array();
    tx_problem_add_field(j_errors, "Idempotency-Key", "format",
                         "Idempotency-Key must be 1 to 255 visible ASCII characters");
    return tx_reply_problem(r, TX_E_BAD_REQUEST, "The Idempotency-Key header is malformed.", j_errors);
  }
  st->key = key;
  snprintf(st->route, sizeof st->route, "%s %s", r->route->method, r->route->path);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  unsigned char digest[32];
  unsigned int len = 0;
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  EVP_DigestUpdate(md, r->method, strlen(r->method) + 1);
  EVP_DigestUpdate(md, r->path, strlen(r->path) + 1);
  if (r->u->binary_body_length)
    EVP_DigestUpdate(md, r->u->binary_body, r->u->binary_body_length);
  EVP_DigestFinal_ex(md, digest, &len);
  EVP_MD_CTX_free(md);
  tx_hex(digest, sizeof digest, st->hash);
  int rc = lookup(r, st, location, rebuild);
  return rc == 0 ? 0 : r->status;
}

int tx_idem_lost_race(struct tx_req *r, struct tx_idem *st, const struct tx_db_outcome *out,
                      const char *location, tx_idem_rebuild rebuild)
{
  /* A concurrent twin with the same key may have won: then this one failed on the key's primary
   * key, or on a uniqueness rule of the record itself (the twin's record exists now). Either way
   * a conflict, and the key is recorded: answer the twin's result. */
  if (!st->key || out->code != TX_E_CONFLICT)
    return 0;
  int rc = lookup(r, st, location, rebuild);
  if (rc == 0 && !strcmp(out->constraint, "idempotency_pkey"))
    return tx_reply_problem(r, TX_E_CONFLICT, NULL, NULL);
  return rc == 0 ? 0 : r->status;
}

/* Wrapped statements, made once per original and kept for the life of the process. The list grows
 * with the code: a create whose wrap were missing would silently lose its idempotency. Entries
 * are allocated one by one, since the transaction runner knows a statement by its address. */
struct wrap {
  const struct tx_sql *orig;
  struct tx_sql wrapped;
  bool store_body;
};
static pthread_mutex_t wrap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wrap **wraps;
static size_t nwraps, wraps_cap;

/* A new wrap of @p orig, or NULL when memory ran out. */
static struct wrap *wrap_new(const struct tx_sql *orig, bool store_body)
{
  struct wrap *w = calloc(1, sizeof *w);
  char *name = NULL, *text = NULL;
  int n = orig->nparams;
  /* asprintf leaves its pointer undefined on failure: keep only what it made. */
  if (asprintf(&name, "%s_idem%s", orig->name, store_body ? "" : "_nobody") < 0)
    name = NULL;
  if (asprintf(&text,
               "SELECT w.j, w.v, w.id FROM (%s) AS w(j, v, id)"
               " WHERE tx.idempotency_store($%d, $%d, $%d, 201, %s, w.id)",
               orig->text, n + 1, n + 2, n + 3, store_body ? "w.j" : "NULL") < 0)
    text = NULL;
  if (!w || !name || !text) {
    free(w);
    free(name);
    free(text);
    w = NULL;
    goto out;
  }
  *w = (struct wrap){orig, {name, text, n + 3}, store_body};
out:
  return w;
}

const struct tx_sql *tx_idem_sql(const struct tx_sql *orig, bool store_body)
{
  const struct tx_sql *found = NULL;
  pthread_mutex_lock(&wrap_lock);
  for (size_t i = 0; i < nwraps && !found; i++)
    if (wraps[i]->orig == orig && wraps[i]->store_body == store_body)
      found = &wraps[i]->wrapped;
  if (!found && nwraps == wraps_cap) {
    size_t cap = wraps_cap ? 2 * wraps_cap : 32;
    struct wrap **grown = realloc(wraps, cap * sizeof *grown);
    if (grown) {
      wraps = grown;
      wraps_cap = cap;
    }
  }
  if (!found && nwraps < wraps_cap) {
    struct wrap *w = wrap_new(orig, store_body);
    if (w) {
      wraps[nwraps++] = w;
      found = &w->wrapped;
    }
  }
  pthread_mutex_unlock(&wrap_lock);
  return found;
}
