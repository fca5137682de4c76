/**
 * @file core/routes.c
 * @brief The merged route table (see core/routes.h). Core knows no module: the rows come from
 * tx_module_register. tests/contract/routes.mjs compares `tianxingd routes --json` with
 * openapi.yaml both ways: a route added to a module must be added to the contract, and back.
 */
#include "core/routes.h"
#include "core/call.h"
#include "core/formats.h"
#include "core/problem.h"

#include <ulfius.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct tx_route *table;
static size_t cap;
const struct tx_route *tx_routes;
size_t tx_routes_count;

static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

/* A comma-separated list of non-empty items without spaces; @p may_be_empty for public routes. */
static bool csv_valid(const char *s, bool may_be_empty)
{
  if (!s || (!*s && !may_be_empty))
    return false;
  for (const char *p = s; *p; p++)
    if (*p == ' ' || (*p == ',' && (p == s || p[1] == ',' || !p[1])))
      return false;
  return true;
}

/* Why @p rt cannot be served, or NULL. */
static const char *row_problem(const struct tx_route *rt)
{
  bool known = false;
  for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++)
    known = known || (rt->method && !strcmp(rt->method, methods[m]));
  if (!known)
    return "unknown method";
  if (!rt->path || rt->path[0] != '/')
    return "the path must start with /";
  if (!csv_valid(rt->roles, true))
    return "roles must be a comma-separated list (\"\" for public)";
  if (!csv_valid(rt->clauses, false))
    return "clauses must name at least one clause ID, comma-separated";
  if (!rt->handler == !rt->call)
    return "exactly one of handler and call must be set";
  if (rt->call && (rt->query || rt->body))
    return "a call's query parameters and body come from its args";
  if (rt->query && !csv_valid(rt->query, false))
    return "query must be a comma-separated list of parameter names";
  if (rt->call) {
    const struct tx_call *c = rt->call;
    if (!c->sql || !c->sql->name || !c->sql->text)
      return "the call has no statement";
    if (c->sql->nparams < 0 || c->sql->nparams > TX_CALL_MAX_ARGS)
      return "the call's statement takes more parameters than a call can give";
    if (c->status != 200 && c->status != 201)
      return "a call answers 200 or 201";
    if (!c->body_spec != !c->body_nspec)
      return "body_spec and body_nspec go together";
    /* A hot standby refuses every write, and a replica's lag is only harmless to a read. */
    if (c->replica && (!c->read_only || strcmp(rt->method, "GET") != 0))
      return "a call on the read replica is a read_only GET";
    /* One argument per parameter, and none beyond: a forgotten one would be sent as NULL. */
    for (int i = 0; i < TX_CALL_MAX_ARGS; i++) {
      const struct tx_arg *a = &c->args[i];
      bool unnamed = a->kind == TX_ARG_BODY || a->kind == TX_ARG_IF_MATCH;
      if (i < c->sql->nparams ? !a->name && !unnamed : a->name || a->kind != 0)
        return "the call's args do not match its statement's parameters";
    }
  }
  if (rt->formats) {
    const struct tx_formats *f = rt->formats;
    /* A handler route may offer formats when it answers through tx_call_run, which honours
     * the format negotiated here (the customers list: its filters are prepared in C first). */
    if (strcmp(rt->method, "GET") != 0)
      return "formats are for GET routes";
    if (!rt->call && f->svg)
      return "an SVG renderer needs a call route";
    if (!f->csv != !f->ncsv || (!f->csv && !f->svg))
      return "formats name CSV columns (csv with ncsv) or an SVG renderer";
    for (size_t i = 0; i < f->ncsv; i++)
      if (!f->csv[i].header || !*f->csv[i].header || !f->csv[i].pointer ||
          f->csv[i].pointer[0] != '/')
        return "a CSV column needs a header and a JSON pointer starting with /";
  }
  for (size_t i = 0; i < tx_routes_count; i++)
    if (!strcmp(tx_routes[i].method, rt->method) && !strcmp(tx_routes[i].path, rt->path))
      return "this method and path are registered already";
  return NULL;
}

int tx_routes_add(const struct tx_route *rows, size_t n, char *err, size_t errlen)
{
  size_t before = tx_routes_count;
  if (before + n > cap) {
    size_t ncap = cap ? cap : 64;
    while (ncap < before + n)
      ncap *= 2;
    struct tx_route *grown = realloc(table, ncap * sizeof *grown);
    if (!grown) {
      snprintf(err, errlen, "out of memory for %zu routes", before + n);
      return -1;
    }
    table = grown;
    cap = ncap;
    tx_routes = table;
  }
  for (size_t i = 0; i < n; i++) {
    const char *why = row_problem(&rows[i]);
    if (why) {
      snprintf(err, errlen, "route %s %s: %s", rows[i].method ? rows[i].method : "(null)",
               rows[i].path ? rows[i].path : "(null)", why);
      tx_routes_count = before; /* all or nothing */
      return -1;
    }
    table[tx_routes_count++] = rows[i];
  }
  return 0;
}

void tx_routes_reset(void)
{
  free(table);
  table = NULL;
  tx_routes = NULL;
  cap = tx_routes_count = 0;
}

/* Whether @p name is one of the comma-separated @p list. */
static bool csv_has(const char *list, const char *name)
{
  size_t len = strlen(name);
  for (const char *p = list; p && *p;) {
    size_t n = strcspn(p, ",");
    if (n == len && !strncmp(p, name, len))
      return true;
    p += n + (p[n] == ',');
  }
  return false;
}

static bool route_reads_query(const struct tx_route *route, const char *name)
{
  if (!route->call)
    return csv_has(route->query, name);
  for (int i = 0; i < route->call->sql->nparams; i++) {
    const struct tx_arg *a = &route->call->args[i];
    if (a->kind >= TX_ARG_QUERY_INT && a->kind <= TX_ARG_QUERY_TIME && !strcmp(a->name, name))
      return true;
  }
  return false;
}

static bool route_reads_body(const struct tx_route *route)
{
  if (!route->call)
    return route->body;
  if (route->call->body_spec)
    return true;
  for (int i = 0; i < route->call->sql->nparams; i++)
    if (route->call->args[i].kind == TX_ARG_BODY || route->call->args[i].kind == TX_ARG_MEMBER)
      return true;
  return false;
}

/* What the request sends that the route would not read: a filter or a field silently dropped
 * would answer something else than was asked (an unfiltered list, an acknowledgement for
 * someone else). 422 naming each; 0 when there is none. */
static int refuse_unread(const struct tx_route *route, struct tx_req *r)
{
  json_t *j_errors = json_array();
  const char *what = "A query parameter is not one this route takes.";
  const char **keys = u_map_enum_keys(r->u->map_url);
  for (size_t i = 0; keys && keys[i]; i++)
    if (!route_reads_query(route, keys[i])) {
      tx_problem_add_field(j_errors, keys[i], "unknown_parameter",
                           "this route takes no query parameter of that name");
    }
  if (r->j_body && !route_reads_body(route)) {
    if (!json_is_object(r->j_body)) {
      json_decref(j_errors);
      return tx_reply_problem(r, TX_E_BAD_REQUEST, "This route takes no request body.", NULL);
    }
    const char *key;
    json_t *j_v;
    json_object_foreach(r->j_body, key, j_v)
    {
      (void)j_v;
      tx_problem_add_field(j_errors, key, "unknown_field", "this route takes no request body");
      what = "This route takes no request body.";
    }
  }
  if (!json_array_size(j_errors)) {
    json_decref(j_errors);
    return 0;
  }
  return tx_reply_problem(r, TX_E_VALIDATION_FAILED, what, j_errors);
}

/* GET calls (and GET handlers that declare formats): the representation Accept asks for, among
 * those the route gives (JSON always); 406 when none is acceptable. Other methods answer JSON whatever Accept says (RFC 9110 section
 * 12.5.1 lets a server disregard it): their answer is the result of a write, not a
 * representation to choose. Handler routes answer in their own media types (metrics, the
 * contract as YAML, a stored file's content) and are not negotiated here. */
static int negotiate(const struct tx_route *route, struct tx_req *r)
{
  r->format = TX_FORMAT_JSON;
  if (strcmp(route->method, "GET") != 0 || (!route->call && !route->formats))
    return 0;
  unsigned offered = tx_formats_offered(route->formats);
  if (route->formats) { /* caches must key on Accept (CORS may have set Vary: Origin) */
    const char *vary = u_map_get_case(r->resp->map_header, "Vary");
    char both[64];
    snprintf(both, sizeof both, "%s%sAccept", vary ? vary : "", vary ? ", " : "");
    tx_reply_header(r, "Vary", both);
  }
  r->format = tx_accept_choose(u_map_get_case(r->u->map_header, "Accept"), offered);
  if (r->format)
    return 0;
  char types[96], detail[160];
  tx_formats_describe(offered, types, sizeof types);
  snprintf(detail, sizeof detail, "This route gives: %s.", types);
  return tx_reply_problem(r, TX_E_NOT_ACCEPTABLE, detail, NULL);
}

int tx_route_serve(const struct tx_route *route, struct tx_req *r)
{
  if (negotiate(route, r))
    return r->status;
  if (refuse_unread(route, r))
    return r->status;
  return route->handler ? route->handler(r) : tx_call_run(r, route->call);
}
