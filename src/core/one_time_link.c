/**
 * @file core/one_time_link.c
 * @brief One-time links (see one_time_link.h): minting, and the public view and answer.
 */
#include "core/one_time_link.h"

#include "core/call.h"
#include "crypto/encoding.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINK_TOKEN_LEN 43 /* base64url of 32 bytes, unpadded */

/* SHA-256 of the token's text, as 64 lower-case hex digits. */
static void token_hash(const char *token, char hex[65])
{
  unsigned char md[32];
  unsigned int len;
  EVP_Digest(token, strlen(token), md, &len, EVP_sha256(), NULL);
  tx_hex(md, 32, hex);
}

/* The path's token hashed into @p hex; a token of the wrong shape answers the one 404 (-1). */
static int path_token_hash(struct tx_req *r, char hex[65])
{
  const char *token = tx_req_param(r, "token");
  size_t len = 0;
  unsigned char *raw =
    token && strlen(token) == LINK_TOKEN_LEN ? tx_b64_decode(token, LINK_TOKEN_LEN, true, &len)
                                             : NULL;
  free(raw);
  if (!raw || len != 32) {
    tx_reply_problem(r, TX_E_NOT_FOUND, NULL, NULL);
    return -1;
  }
  token_hash(token, hex);
  return 0;
}

/* Runs one statement and answers its single JSON column with @p status (no row: the one 404). */
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

int tx_link_mint(struct tx_req *r, const struct tx_sql *sql, const char *url_prefix)
{
  const char *id = tx_call_path_uuid(r, "id");
  if (!id)
    return r->status;
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1)
    abort(); /* a predictable link would let anyone answer for the customer: fail closed */
  char *token = tx_b64_encode(raw, sizeof raw, true);
  OPENSSL_cleanse(raw, sizeof raw);
  if (!token)
    return tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  char hex[65];
  token_hash(token, hex);
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  struct tx_query q = {sql, (const char *[]){id, hex}};
  PGresult *res;
  struct tx_db_outcome out;
  int status;
  if (tx_db_run(&claims, false, &q, 1, &res, &out)) {
    OPENSSL_cleanse(token, strlen(token));
    free(token);
    return tx_reply_db_error(r, &out);
  }
  json_t *j_link = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
  PQclear(res);
  char *url = NULL;
  if (!json_is_object(j_link) || asprintf(&url, "%s%s", url_prefix, token) < 0) {
    url = NULL;
    status = tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  } else {
    /* The only time the token is shown: the database keeps its hash alone. */
    json_object_set_new(j_link, "token", json_string(token));
    json_object_set_new(j_link, "url", json_string(url));
    status = tx_reply_json(r, 201, j_link);
  }
  json_decref(j_link);
  free(url);
  OPENSSL_cleanse(token, strlen(token));
  free(token);
  return status;
}

int tx_link_view(struct tx_req *r, const struct tx_sql *sql)
{
  char hex[65];
  if (path_token_hash(r, hex))
    return r->status;
  return run_json(r, sql, (const char *[]){hex}, true, 200);
}

int tx_link_answer(struct tx_req *r, const struct tx_field *spec, size_t n, const struct tx_sql *sql)
{
  char hex[65];
  if (path_token_hash(r, hex))
    return r->status;
  if (tx_req_body(r, spec, n))
    return r->status;
  char *body = json_dumps(r->j_body, JSON_COMPACT);
  if (!body)
    return tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  int status = run_json(r, sql, (const char *[]){hex, body}, false, 201);
  free(body);
  return status;
}
