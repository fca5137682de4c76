/**
 * @file modules/cases/delivery.c
 * @brief One-time confirmation links (P3.4; docs/cases.md, "Confirmation links"). The token is
 * 256 random bits drawn here (OpenSSL RAND_bytes), given to the customer once as base64url; the
 * database stores only its SHA-256 and never sees the token. Unforgeable because unguessable, and
 * usable once, until its expiry, unless revoked: the row decides (060_delivery.sql says why no
 * HMAC is added). An unknown, malformed, used, revoked or expired token gets one answer, 404
 * without detail, so that the answers tell nothing about which tokens exist.
 */
#include "core/call.h"
#include "core/json_spec.h"
#include "core/module.h"
#include "crypto/encoding.h"
#include "modules/cases/review.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_LEN 43 /* base64url of 32 bytes, unpadded */

static void token_hash(const char *token, char hex[65])
{
  unsigned char md[32];
  unsigned int len;
  EVP_Digest(token, strlen(token), md, &len, EVP_sha256(), NULL);
  tx_hex(md, 32, hex);
}

/* The path's token hashed into @p hex; otherwise answers the one 404 and returns -1. */
static int path_token_hash(struct tx_req *r, char hex[65])
{
  const char *token = tx_req_param(r, "token");
  size_t len = 0;
  unsigned char *raw =
    token && strlen(token) == TOKEN_LEN ? tx_b64_decode(token, TOKEN_LEN, true, &len) : NULL;
  free(raw);
  if (!raw || len != 32) {
    tx_reply_problem(r, TX_E_NOT_FOUND, NULL, NULL);
    return -1;
  }
  token_hash(token, hex);
  return 0;
}

/* Runs one statement and answers its single JSON column with @p status. */
static int run_json(struct tx_req *r, const struct tx_sql *sql, const char *const *params,
                    bool read_only, int status)
{
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  struct tx_query q = {sql, params};
  PGresult *res;
  struct tx_db_outcome out;
  if (tx_db_run(&claims, read_only, &q, 1, &res, &out))
    return tx_reply_db_error(r, &out);
  if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
    status = tx_reply_problem(r, TX_E_NOT_FOUND, NULL, NULL);
  else
    status = tx_reply_json_text(r, status, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
  PQclear(res);
  return status;
}

static const struct tx_sql sql_link_create = {
  "case_confirmation_link_create",
  "SELECT api.case_confirmation_link_create($1::uuid, $2)::text", 2};

int tx_case_confirmation_link_create(struct tx_req *r)
{
  const char *id = tx_call_path_uuid(r, "id");
  if (!id)
    return r->status;
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1)
    abort(); /* a predictable link would let anyone answer for the customer: fail closed */
  char *token = tx_b64_encode(raw, sizeof raw, true);
  if (!token)
    return tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  char hex[65];
  token_hash(token, hex);
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  struct tx_query q = {&sql_link_create, (const char *[]){id, hex}};
  PGresult *res;
  struct tx_db_outcome out;
  int status;
  if (tx_db_run(&claims, false, &q, 1, &res, &out)) {
    free(token);
    return tx_reply_db_error(r, &out);
  }
  json_t *j_link = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
  PQclear(res);
  if (!json_is_object(j_link)) {
    status = tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  } else {
    /* The only time the token is shown: the database cannot give it back. */
    char url[64];
    snprintf(url, sizeof url, "/v1/confirmations/%s", token);
    json_object_set_new(j_link, "token", json_string(token));
    json_object_set_new(j_link, "url", json_string(url));
    status = tx_reply_json(r, 201, j_link);
  }
  json_decref(j_link);
  OPENSSL_cleanse(token, strlen(token));
  free(token);
  return status;
}

static const struct tx_sql sql_view = {"confirmation_view",
                                       "SELECT api.confirmation_view($1)::text", 1};

int tx_confirmation_view(struct tx_req *r)
{
  char hex[65];
  if (path_token_hash(r, hex))
    return r->status;
  return run_json(r, &sql_view, (const char *[]){hex}, true, 200);
}

static const char *const outcomes[] = {"confirmed", "objected", NULL};
static const struct tx_field answer_spec[] = {
  {.name = "outcome", .type = TX_J_STRING, .required = true, .one_of = outcomes},
  {.name = "rating", .type = TX_J_INTEGER, .required = true, .min = 1, .max = 5},
  {.name = "comment", .type = TX_J_STRING, .min_len = 1, .max_len = 2000, .multiline = true},
};
static const struct tx_sql sql_answer = {"confirmation_answer",
                                         "SELECT api.confirmation_answer($1, $2::jsonb)::text", 2};

int tx_confirmation_answer(struct tx_req *r)
{
  char hex[65];
  if (path_token_hash(r, hex))
    return r->status;
  if (tx_req_body(r, answer_spec, TX_COUNT(answer_spec)))
    return r->status;
  char *body = json_dumps(r->j_body, JSON_COMPACT);
  if (!body)
    return tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  int status = run_json(r, &sql_answer, (const char *[]){hex, body}, false, 201);
  free(body);
  return status;
}
