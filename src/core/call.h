/**
 * @file core/call.h
 * @brief Routes that are one SQL API function: where each argument comes from, and the answer.
 *
 * The statement must select (json text, version text or NULL, id text or NULL), e.g.
 *   SELECT j::text, j->>'version', j->>'id' FROM api.department_get($1::uuid) j
 * A NULL json means "not there, or not yours": 404 (row-level security hides rows without telling).
 */
#ifndef TX_CORE_CALL_H
#define TX_CORE_CALL_H

#include "core/http.h"
#include "core/json_spec.h"
#include "db/tx.h"

#include <stdbool.h>

enum tx_arg_kind {
  TX_ARG_PATH_UUID, /* a path parameter that must be a UUID (else 404: no such resource) */
  TX_ARG_PATH_TEXT, /* a path parameter, 1..100 characters of [A-Za-z0-9_.-] */
  TX_ARG_QUERY_INT, /* ?name=N, optional, an integer */
  TX_ARG_QUERY_TEXT,/* ?name=..., optional, at most 200 characters */
  TX_ARG_QUERY_UUID,/* ?name=uuid, optional */
  TX_ARG_QUERY_BOOL,/* ?name=true|false, optional */
  TX_ARG_QUERY_DATE,/* ?name=YYYY-MM-DD, optional */
  TX_ARG_QUERY_TIME,/* ?name=RFC 3339 timestamp, optional */
  TX_ARG_BODY,      /* the JSON body as text ({} when absent); must be an object */
  TX_ARG_IF_MATCH,  /* the version in If-Match: "N" (428 when missing, 412 when malformed) */
  TX_ARG_MEMBER,    /* a string member of the body (checked by body_spec), or NULL */
  TX_ARG_CONST,     /* the literal text in name */
};

struct tx_arg {
  enum tx_arg_kind kind;
  const char *name;
};

/** A route row's declarative call (core/routes.h), e.g.
 * TX_CALL(.sql = &s, .status = 200, .args = {{TX_ARG_PATH_UUID, "id"}}). */
#define TX_CALL(...) (&(const struct tx_call){__VA_ARGS__})

/* The select lists of a row-returning API function j, versioned (ETag) or not. */
#define TX_CALL_ROW "SELECT j::text, j->>'version', j->>'id' FROM "
#define TX_CALL_ROW_UNVERSIONED "SELECT j::text, NULL, j->>'id' FROM "

#define TX_CALL_MAX_ARGS 12

struct tx_call {
  const struct tx_sql *sql;
  bool read_only;
  /* A report: read-only AND content with data a moment old. Its transaction runs on the read
   * replica when TIANXING_READ_DATABASE_URL is set (db/tx.h, tx_db_run_replica), which may lag the
   * primary. Never on a route a client reads right after its own write (it could miss that
   * write), nor one whose SQL writes anything (a hot standby refuses it). Needs read_only. */
  bool replica;
  int status;                 /* 200, or 201 for creates */
  const char *location;       /* creates: Location prefix, the id is appended */
  const struct tx_field *body_spec; /* when set, the body is checked against it first */
  size_t body_nspec;
  struct tx_arg args[TX_CALL_MAX_ARGS];
  /* 0: the service's statement timeout (TIANXING_DB_STATEMENT_TIMEOUT_MS). A route whose one
   * statement is known to take longer (computing an assessment period for a whole company) names
   * its own bound, for that transaction only. */
  int timeout_ms;
};

/** @brief The path parameter @p name when it is a UUID; otherwise answers 404 and gives NULL. */
const char *tx_call_path_uuid(struct tx_req *r, const char *name);

/** At most this many entity tags in one If-Match list. */
#define TX_IF_MATCH_MAX 8

/** The versions an If-Match list names, highest first (the current one is likeliest). */
struct tx_if_match {
  size_t n;
  char version[TX_IF_MATCH_MAX][16];
};

/**
 * @brief The versions the request's If-Match names (`"N"`, N of at most nine digits; a list
 * `"3", "4"` matches when any of its tags is current, RFC 9110 section 13.1.1) into @p m.
 * Weak tags and tags that are no version never match (strong comparison) and are skipped.
 * Otherwise answers the problem and returns -1: 428 without If-Match or with `*` (it matches any
 * version, the blind overwrite If-Match is there to prevent: C4.2), 412 when it names no version
 * that can exist (weak, malformed), 400 for a list of more than TX_IF_MATCH_MAX tags.
 * The caller tries each version in turn until one is not refused as stale (TX_E_PRECONDITION_FAILED):
 * versions only grow, so at most one can match and a refused try wrote nothing.
 */
int tx_call_if_match(struct tx_req *r, struct tx_if_match *m);

/**
 * @brief One transaction of @p call running @p sql (call->sql, or a variant of it) with @p params:
 * the route's statement timeout, on the read replica when the call is a report.
 * @return 0 with the statement's result in @p res (caller PQclear()s), or -1 with @p out filled;
 *         @p out is released by the caller either way (tx_db_outcome_free)
 */
int tx_call_query(const struct tx_call *call, const struct tx_sql *sql,
                  const struct tx_claims *claims, const char **params, PGresult **res,
                  struct tx_db_outcome *out);

/** @brief Runs @p call for @p r and answers. */
int tx_call_run(struct tx_req *r, const struct tx_call *call);

#endif
