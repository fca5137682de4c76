/**
 * @file core/http.h
 * @brief The request context that handlers receive, and the ways to answer.
 *
 * jansson ownership (project-wide): inputs are borrowed (`const json_t *`), functions that build
 * JSON return new references, `o` steals and `O` shares in json_pack, JSON variables are `j_*`.
 */
#ifndef TX_CORE_HTTP_H
#define TX_CORE_HTTP_H

#include "core/problem.h"
#include "core/jwt.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct _u_request;
struct _u_response;
struct tx_route;

#define TX_MAX_PATH_PARAMS 4
#define TX_REQUEST_ID_MAX 128

/** @brief One request as the handlers see it. Lives for the duration of the callback. */
struct tx_req {
  const struct _u_request *u;
  struct _u_response *resp;
  const struct tx_route *route; /* NULL when no route matched */
  char request_id[TX_REQUEST_ID_MAX + 1];
  const char *method;
  const char *path;
  json_t *j_body; /* parsed JSON body, or NULL when the request had none */
  struct {
    const char *name;
    char *value;
  } params[TX_MAX_PATH_PARAMS];
  int nparams;
  bool zh; /* Accept-Language prefers Chinese */
  const char *user; /* authenticated subject, NULL for anonymous */
  struct tx_principal principal; /* valid when user != NULL */
  int status;       /* status of the answer, set by the tx_reply_* functions */
  unsigned format;  /* the representation Accept chose (enum tx_format, core/formats.h); GET only */
  struct tx_stream *stream; /* set by tx_reply_stream: the answer is a stream, not the body */
};

/** @brief A handler answers with exactly one tx_reply_* call and returns its result. */
typedef int (*tx_handler)(struct tx_req *r);

/** @brief Answers with JSON text produced elsewhere (e.g. by SQL); sent as-is. */
int tx_reply_json_text(struct tx_req *r, int status, const char *json, size_t len);
/** @brief Answers with @p j_body (borrowed). */
int tx_reply_json(struct tx_req *r, int status, const json_t *j_body);
/** @brief Answers with any content type. */
int tx_reply_raw(struct tx_req *r, int status, const char *content_type, const void *body,
                 size_t len);
/** @brief Answers with a problem document; @p j_errors is stolen (may be NULL). */
int tx_reply_problem(struct tx_req *r, enum tx_code code, const char *detail, json_t *j_errors);
/** @brief Answers with problem document @p j_p (stolen, from tx_problem_new), at its status. */
int tx_reply_problem_doc(struct tx_req *r, json_t *j_p);
/** @brief Adds a response header. */
void tx_reply_header(struct tx_req *r, const char *name, const char *value);

/** One streamed answer (Server-Sent Events, CSV exports): chunked, open until its producer ends
 * it or the client goes. While nothing is ready its connection is suspended: it holds no thread
 * and no database connection. Opaque; core/server.c. */
struct tx_stream;

#define TX_STREAM_END (-1)
#define TX_STREAM_FAILED (-2)

/** What a stream's producer provides. */
struct tx_stream_source {
  /* On a network thread, never blocking (no database): copies up to @p max ready bytes to @p buf
   * and returns how many; 0 when nothing is ready (the connection sleeps until tx_stream_wake);
   * TX_STREAM_END to end the answer cleanly (the last chunk is sent); TX_STREAM_FAILED to cut it:
   * the connection is closed without the last chunk, so the client sees an incomplete transfer,
   * never a whole answer. */
  long (*read)(void *cls, char *buf, size_t max);
  /* The stream is over (ended, client gone, shutdown): called once, on a network thread; the
   * handle is invalid once it returns, so the producer must stop calling tx_stream_wake first. */
  void (*closed)(void *cls);
  void *cls;
};

/**
 * @brief Answers with a stream fed by @p src. The connection stays open after the handler returns;
 * each chunk is sent as the producer makes it ready. The shutdown drain waits for open streams to
 * end (the producer watches tx_app.draining).
 * @return the handle the producer wakes the stream with (NULL when memory ran out: then the
 *         request is answered 503 and @p src is not used)
 */
struct tx_stream *tx_reply_stream(struct tx_req *r, int status, const char *content_type,
                                  const struct tx_stream_source *src);

/** @brief Any thread: something is ready (or the end). Valid until the source's `closed`. */
void tx_stream_wake(struct tx_stream *s);

struct tx_db_outcome;
struct tx_claims;

/**
 * @brief Answers with the problem a failed database run calls for (db/tx.h), and releases what
 * @p out holds (tx_db_outcome_free). A DETAIL our SQL gives (SQLSTATE TX*) is shown only when it
 * is a JSON object: its `errors` (array of {field, code, message}) join the problem's `errors`,
 * its other members become extension members, except the problem's own (type, title, status,
 * detail, code, request_id, instance, errors).
 */
int tx_reply_db_error(struct tx_req *r, struct tx_db_outcome *out);

/** @brief The problem document tx_reply_db_error answers with (new reference; unit-tested). */
json_t *tx_problem_from_db(const struct tx_db_outcome *out, int zh, const char *request_id,
                           const char *instance);

/** @brief The claims of this request for the transaction runner. */
void tx_req_claims(const struct tx_req *r, struct tx_claims *c);

struct tx_field;

/**
 * @brief Checks the request body against a field spec (core/json_spec.h). A missing body counts
 * as {} (so required fields are reported), a non-object body is 400 `bad_request`, field errors
 * are 422 `validation_failed` listing every field at once.
 * @return 0 when valid; otherwise the request was answered
 */
int tx_req_body(struct tx_req *r, const struct tx_field *spec, size_t n);

/** @brief Value of the path parameter @p name, or NULL. */
const char *tx_req_param(const struct tx_req *r, const char *name);

#endif
