/**
 * @file core/call.c
 * @brief One SQL API function per route (see core/call.h): arguments are checked for shape here
 * (a malformed id or query value never reaches the database), meaning is checked in SQL.
 */
#include "core/call.h"
#include "core/csv_export.h"
#include "core/formats.h"
#include "core/idempotency.h"
#include "core/routes.h"
#include "core/json_spec.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ulfius.h>

static bool matches(const char *s, size_t max, const char *extra)
{
  size_t n = 0;
  for (; s[n]; n++)
    if (n >= max || !(isalnum((unsigned char)s[n]) || strchr(extra, s[n])))
      return false;
  return n > 0;
}

/* One element of an If-Match list at @p *p: 1 and a version when it is "N", 0 when it is another
 * entity tag (weak, or not a version), -1 when it is no entity tag at all. */
static int if_match_element(const char **p, char version[16])
{
  const char *s = *p + strspn(*p, " \t");
  int rc = 0;
  if (!strncmp(s, "W/", 2))
    s += 2, rc = -2; /* weak: never matches a strong comparison */
  if (*s != '"')
    return -1;
  const char *end = strchr(s + 1, '"');
  if (!end)
    return -1;
  size_t len = (size_t)(end - s - 1);
  if (rc == 0 && len >= 1 && len <= 9 && strspn(s + 1, "0123456789") == len) {
    memcpy(version, s + 1, len);
    version[len] = '\0';
    rc = 1;
  }
  s = end + 1 + strspn(end + 1, " \t");
  if (*s && *s != ',')
    return -1;
  *p = *s ? s + 1 : s;
  return rc == 1 ? 1 : 0;
}

int tx_call_if_match(struct tx_req *r, struct tx_if_match *m)
{
  m->n = 0;
  const char *h = u_map_get_case(r->u->map_header, "If-Match");
  if (!h)
    return tx_reply_problem(r, TX_E_PRECONDITION_REQUIRED,
                            "Send If-Match with the ETag you read, so that no update is lost.", NULL);
  /* `*` matches whatever is there: the blind overwrite If-Match is required to prevent. */
  const char *t = h + strspn(h, " \t");
  if (t[0] == '*' && !t[1 + strspn(t + 1, " \t")])
    return tx_reply_problem(r, TX_E_PRECONDITION_REQUIRED,
                            "If-Match: * would overwrite any version: send the ETag you read.", NULL);
  size_t tags = 0;
  while (*(t + strspn(t, " \t"))) {
    char v[16];
    int rc = if_match_element(&t, v);
    if (rc < 0)
      return tx_reply_problem(r, TX_E_PRECONDITION_FAILED, "If-Match does not match any version.", NULL);
    if (++tags > TX_IF_MATCH_MAX) {
      char detail[96];
      snprintf(detail, sizeof detail, "If-Match may list at most %d entity tags.", TX_IF_MATCH_MAX);
      return tx_reply_problem(r, TX_E_BAD_REQUEST, detail, NULL);
    }
    if (rc == 1) {
      /* Highest first (the version a client is likeliest to hold current), no repeats. */
      long n = atol(v);
      size_t i = m->n;
      while (i > 0 && atol(m->version[i - 1]) < n)
        i--;
      if (!(i > 0 && atol(m->version[i - 1]) == n)) {
        memmove(m->version[i + 1], m->version[i], (m->n - i) * sizeof m->version[0]);
        memcpy(m->version[i], v, sizeof v);
        m->n++;
      }
    }
  }
  if (!m->n)
    return tx_reply_problem(r, TX_E_PRECONDITION_FAILED, "If-Match does not match any version.", NULL);
  return 0;
}

/* A route's statement timeout (struct tx_call.timeout_ms), local to its transaction. */
static const struct tx_sql sql_set_timeout = {
  "call_statement_timeout", "SELECT set_config('statement_timeout', $1, true)", 1};

const char *tx_call_path_uuid(struct tx_req *r, const char *name)
{
  const char *v = tx_req_param(r, name);
  if (tx_uuid_valid(v))
    return v;
  tx_reply_problem(r, TX_E_NOT_FOUND, "No such resource.", NULL);
  return NULL;
}

/* A value that is not what the parameter takes: 422 naming it, before any database work. */
static int bad_query(struct tx_req *r, const char *name, const char *what)
{
  json_t *j_errors = json_array();
  char msg[160];
  snprintf(msg, sizeof msg, "%s must be %s", name, what);
  tx_problem_add_field(j_errors, name, "format", msg);
  return tx_reply_problem(r, TX_E_VALIDATION_FAILED, "A query parameter is invalid.", j_errors);
}

/* Fills @p value (a borrowed or owned string in @p own) for one argument; 0 or answered. */
static int resolve(struct tx_req *r, const struct tx_arg *a, const char **value, char **own,
                   struct tx_if_match *im)
{
  const char *q = NULL;
  *value = NULL;
  switch (a->kind) {
  case TX_ARG_PATH_UUID:
    *value = tx_call_path_uuid(r, a->name);
    return *value ? 0 : r->status;
  case TX_ARG_PATH_TEXT:
    *value = tx_req_param(r, a->name);
    if (!*value || !matches(*value, 100, "_.-"))
      return tx_reply_problem(r, TX_E_NOT_FOUND, "No such resource.", NULL);
    return 0;
  case TX_ARG_BODY:
    if (r->j_body && !json_is_object(r->j_body))
      return tx_reply_problem(r, TX_E_BAD_REQUEST, "The request body must be a JSON object.", NULL);
    /* The client's own text, not a re-serialization: jansson holds numbers as doubles, and
     * 0.2 written back out would become 0.20000000000000001 in the database. The gate already
     * proved it is valid JSON without duplicate keys or NULs. */
    *own = r->j_body ? strndup(r->u->binary_body, r->u->binary_body_length) : strdup("{}");
    *value = *own;
    return 0;
  case TX_ARG_IF_MATCH:
    if (tx_call_if_match(r, im))
      return r->status;
    *value = im->version[0]; /* the others are tried by tx_call_run */
    return 0;
  case TX_ARG_MEMBER:
    *value = json_string_value(json_object_get(r->j_body, a->name));
    return 0;
  case TX_ARG_CONST:
    *value = a->name;
    return 0;
  default:
    break;
  }
  q = u_map_get(r->u->map_url, a->name);
  if (!q)
    return 0; /* optional: SQL NULL */
  *value = q;
  switch (a->kind) {
  case TX_ARG_QUERY_INT: {
    char *end;
    long n = strtol(q, &end, 10);
    if (!*q || *end || n < -1000000000 || n > 1000000000)
      return bad_query(r, a->name, "an integer");
    return 0;
  }
  case TX_ARG_QUERY_TEXT:
    /* Generous: keyset cursors carry the sort key (a name can be long); SQL checks meaning. */
    if (strlen(q) > 1000 || !*q)
      return bad_query(r, a->name, "1 to 1000 characters");
    return 0;
  case TX_ARG_QUERY_UUID:
    return tx_uuid_valid(q) ? 0 : bad_query(r, a->name, "a UUID");
  case TX_ARG_QUERY_BOOL:
    return !strcmp(q, "true") || !strcmp(q, "false") ? 0 : bad_query(r, a->name, "true or false");
  case TX_ARG_QUERY_DATE:
    return tx_date_valid(q) ? 0 : bad_query(r, a->name, "a date like 2024-01-31");
  case TX_ARG_QUERY_TIME:
    return tx_rfc3339_valid(q) ? 0
                               : bad_query(r, a->name, "an RFC 3339 timestamp like 2024-01-31T08:00:00Z");
  default:
    return 0;
  }
}

int tx_call_query(const struct tx_call *call, const struct tx_sql *sql,
                  const struct tx_claims *claims, const char **params, PGresult **res,
                  struct tx_db_outcome *out)
{
  /* A route's own statement timeout: set for its transaction only, before the call. */
  char timeout[16];
  snprintf(timeout, sizeof timeout, "%d", call->timeout_ms);
  struct tx_query qs[2] = {{&sql_set_timeout, (const char *[]){timeout}}, {sql, params}};
  size_t nq = call->timeout_ms > 0 ? 2 : 1;
  const struct tx_query *q = call->timeout_ms > 0 ? qs : &qs[1];
  PGresult *results[2] = {NULL, NULL};
  /* A report's transaction on the read replica (when there is one), the rest on the primary. */
  int failed = call->replica ? tx_db_run_replica(claims, q, nq, results, out)
                             : tx_db_run(claims, call->read_only, q, nq, results, out);
  if (!failed && nq == 2)
    PQclear(results[0]);
  *res = failed ? NULL : results[nq - 1];
  return failed;
}

/* image/svg+xml of a chart route: the route's renderer draws the JSON the SQL answered. */
static int reply_svg(struct tx_req *r, const char *json, size_t json_len)
{
  json_t *j_doc = json_loadb(json, json_len, 0, NULL);
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  int rc = j_doc && out ? r->route->formats->svg(j_doc, out) : -1;
  if (out)
    fclose(out);
  json_decref(j_doc);
  if (rc)
    tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  else
    tx_reply_raw(r, 200, TX_SVG_CONTENT_TYPE, buf, len);
  free(buf);
  return r->status;
}

int tx_call_run(struct tx_req *r, const struct tx_call *call)
{
  const char *params[TX_CALL_MAX_ARGS + 3] = {0}; /* + Idempotency-Key, route, hash */
  char *owned[TX_CALL_MAX_ARGS] = {0};
  int n = call->sql->nparams;
  if (call->body_spec && tx_req_body(r, call->body_spec, call->body_nspec))
    return r->status;
  struct tx_if_match im = {0};
  int im_arg = -1;
  for (int i = 0; i < n; i++) {
    if (resolve(r, &call->args[i], &params[i], &owned[i], &im))
      goto out;
    if (call->args[i].kind == TX_ARG_IF_MATCH)
      im_arg = i;
  }

  if (r->format == TX_FORMAT_CSV) {
    tx_csv_export(r, call, params);
    goto out;
  }

  /* Creates honour Idempotency-Key: a replay answers here, a new key rides along the create. */
  struct tx_idem idem = {0};
  if (call->status == 201 && tx_idem_begin(r, &idem, call->location, NULL))
    goto out;
  const struct tx_sql *sql = call->sql;
  if (idem.key) {
    sql = tx_idem_sql(call->sql, true);
    if (!sql) {
      tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
      goto out;
    }
    params[n] = idem.key;
    params[n + 1] = idem.route;
    params[n + 2] = idem.hash;
  }

  struct tx_claims claims;
  tx_req_claims(r, &claims);
  PGresult *res;
  struct tx_db_outcome outcome;
  int failed = tx_call_query(call, sql, &claims, params, &res, &outcome);
  /* An If-Match list: the next version when this one was stale (nothing was written then). */
  for (size_t v = 1; failed && im_arg >= 0 && v < im.n && outcome.code == TX_E_PRECONDITION_FAILED;
       v++) {
    tx_db_outcome_free(&outcome);
    params[im_arg] = im.version[v];
    failed = tx_call_query(call, sql, &claims, params, &res, &outcome);
  }
  if (failed) {
    if (!tx_idem_lost_race(r, &idem, &outcome, call->location, NULL))
      tx_reply_db_error(r, &outcome);
    tx_db_outcome_free(&outcome);
    goto out;
  }
  if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
    tx_reply_problem(r, TX_E_NOT_FOUND, "No such resource.", NULL);
  } else {
    if (PQnfields(res) > 1 && !PQgetisnull(res, 0, 1)) {
      char etag[32];
      snprintf(etag, sizeof etag, "\"%s\"", PQgetvalue(res, 0, 1));
      tx_reply_header(r, "ETag", etag);
    }
    if (call->location && PQnfields(res) > 2 && !PQgetisnull(res, 0, 2)) {
      char location[200];
      snprintf(location, sizeof location, "%s%s", call->location, PQgetvalue(res, 0, 2));
      tx_reply_header(r, "Location", location);
    }
    if (r->format == TX_FORMAT_SVG)
      reply_svg(r, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
    else
      tx_reply_json_text(r, call->status, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
  }
  PQclear(res);
out:
  for (int i = 0; i < n; i++)
    free(owned[i]);
  return r->status;
}
