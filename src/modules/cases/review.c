/**
 * @file modules/cases/review.c
 * @brief Module P, part D: review rounds (P3.1-P3.3), the files of a case (P3.4, P4.1, C2.2),
 * delivery and the customer's confirmation (P3.4). The rules are the database's
 * (sql/code/cases/050_review.sql, 060_delivery.sql); most routes are one SQL call. C does what SQL
 * should not: sending a file's bytes (below) and drawing and hashing confirmation tokens
 * (delivery.c). modules.c registers tx_module_case_review.
 */
#include "core/call.h"
#include "core/module.h"
#include "crypto/encoding.h"
#include "modules/cases/cases.h"
#include "modules/cases/review.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct tx_sql sql_file_content = {
  "case_file_content",
  "SELECT f.media_type, f.name, f.content FROM api.case_file_content($1::uuid, $2::uuid) f", 2};

/* filename*=UTF-8''... (RFC 6266, RFC 8187): every byte outside the attribute characters is
 * percent-encoded, so no name can break out of the header. */
static void content_disposition(const char *name, char *out, size_t size)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t n = (size_t)snprintf(out, size, "attachment; filename*=UTF-8''");
  for (const unsigned char *p = (const unsigned char *)name; *p && n + 4 < size; p++) {
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
        strchr("!#$&+-.^_`|~", *p)) {
      out[n++] = (char)*p;
    } else {
      out[n++] = '%';
      out[n++] = hex[*p >> 4];
      out[n++] = hex[*p & 15];
    }
  }
  out[n] = '\0';
}

int tx_case_file_content(struct tx_req *r)
{
  const char *id = tx_call_path_uuid(r, "id");
  if (!id)
    return r->status;
  const char *file_id = tx_call_path_uuid(r, "file_id");
  if (!file_id)
    return r->status;
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  struct tx_query q = {&sql_file_content, (const char *[]){id, file_id}};
  PGresult *res;
  struct tx_db_outcome out;
  if (tx_db_run(&claims, true, &q, 1, &res, &out))
    return tx_reply_db_error(r, &out);
  /* bytea arrives in text form, "\x" and hex digits */
  const char *hexed = PQntuples(res) == 1 ? PQgetvalue(res, 0, 2) : NULL;
  size_t len = 0;
  unsigned char *bytes = hexed && !strncmp(hexed, "\\x", 2)
                           ? tx_unhex(hexed + 2, strlen(hexed) - 2, &len)
                           : NULL;
  int status;
  bool empty = hexed && !strcmp(hexed, "\\x");
  if (!bytes && !empty) {
    status = tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  } else {
    char disposition[1024];
    content_disposition(PQgetvalue(res, 0, 1), disposition, sizeof disposition);
    tx_reply_header(r, "Content-Disposition", disposition);
    /* the stored media type was checked to be type/subtype (060_delivery.sql) */
    status = tx_reply_raw(r, 200, PQgetvalue(res, 0, 0), bytes, empty ? 0 : len);
  }
  free(bytes);
  PQclear(res);
  return status;
}

static const struct tx_sql sql_reviews_list = {
  "case_reviews_list", "SELECT api.case_reviews($1::uuid)::text", 1};
static const struct tx_sql sql_review_decide = {
  "case_review_decide", TX_CALL_ROW_UNVERSIONED "api.case_review_decide($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_files_list = {
  "case_files_list", "SELECT api.case_files($1::uuid, $2, $3::int, $4)::text", 4};
static const struct tx_sql sql_file_add = {
  "case_file_add", TX_CALL_ROW_UNVERSIONED "api.case_file_add($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_deliver = {
  "case_deliver", TX_CALL_ROW_UNVERSIONED "api.case_deliver($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_confirmation_record = {
  "case_confirmation_record",
  TX_CALL_ROW_UNVERSIONED "api.case_confirmation_record($1::uuid, $2::jsonb) j", 2};

/* The rows: see src/modules/org/routes.c for the format. Who may read a case is row-level
 * security's (000_access.sql): the read routes admit every role that can see some case. */
static const struct tx_route routes[] = {
  {"GET", "/v1/cases/{id}/reviews", "staff,supervisor,admin,auditor", "P3.1,P3.2,P3.3",
   .call = TX_CALL(.sql = &sql_reviews_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"POST", "/v1/cases/{id}/reviews", "supervisor", "P3.1,P3.2,P3.3",
   .call = TX_CALL(.sql = &sql_review_decide, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"GET", "/v1/cases/{id}/files", "staff,supervisor,admin,auditor", "P3.4,P4.1,C2.2",
   .call = TX_CALL(.sql = &sql_files_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_QUERY_TEXT, "purpose"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"POST", "/v1/cases/{id}/files", "staff,supervisor", "P3.4,P4.1,C2.2",
   .call = TX_CALL(.sql = &sql_file_add, .status = 201,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"GET", "/v1/cases/{id}/files/{file_id}/content", "staff,supervisor,admin,auditor", "P3.4,P4.1",
   .handler = tx_case_file_content},
  {"POST", "/v1/cases/{id}/deliver", "staff,supervisor", "P3.4",
   .call = TX_CALL(.sql = &sql_deliver, .status = 201,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"POST", "/v1/cases/{id}/confirmation-links", "staff,supervisor", "P3.4",
   .handler = tx_case_confirmation_link_create},
  {"POST", "/v1/cases/{id}/confirmations", "staff,supervisor", "P3.4",
   .call = TX_CALL(.sql = &sql_confirmation_record, .status = 201,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"GET", "/v1/confirmations/{token}", "", "P3.4", .handler = tx_confirmation_view},
  {"POST", "/v1/confirmations/{token}", "", "P3.4", .handler = tx_confirmation_answer,
   .body = true},
};

const struct tx_module tx_module_case_review = {
  .name = "case_review",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
