/**
 * @file core/routes_match.c
 * @brief Matching a request path against the route table's templates, and the Allow list that
 * makes "wrong method" a 405 rather than a 404.
 */
#include "core/routes.h"

#include <stdlib.h>
#include <string.h>

static const char *const method_order[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};

/* Compares one template with a path segment by segment; `{name}` matches one non-empty segment. */
static bool template_matches(const char *tpl, const char *path, struct tx_req *r)
{
  int nparams = 0;
  while (*tpl && *path) {
    if (*tpl != '/' || *path != '/')
      return false;
    tpl++, path++;
    const char *tend = strchrnul(tpl, '/');
    const char *pend = strchrnul(path, '/');
    if (*tpl == '{') {
      if (pend == path || nparams >= TX_MAX_PATH_PARAMS)
        return false;
      if (r) {
        /* The name is the template text without braces; templates are static strings. */
        r->params[nparams].name = tpl + 1;
        r->params[nparams].value = strndup(path, (size_t)(pend - path));
      }
      nparams++;
    } else if (tend - tpl != pend - path || strncmp(tpl, path, (size_t)(tend - tpl)) != 0) {
      return false;
    }
    tpl = tend, path = pend;
  }
  if (r)
    r->nparams = nparams;
  return !*tpl && !*path;
}

const char *tx_req_param(const struct tx_req *r, const char *name)
{
  size_t len = strlen(name);
  for (int i = 0; i < r->nparams; i++)
    if (!strncmp(r->params[i].name, name, len) && r->params[i].name[len] == '}')
      return r->params[i].value;
  return NULL;
}

void tx_route_params_free(struct tx_req *r)
{
  for (int i = 0; i < r->nparams; i++)
    free(r->params[i].value);
  r->nparams = 0;
}

enum tx_match tx_route_match(const char *method, const char *path, const struct tx_route **route,
                             char *allow, size_t allow_len, struct tx_req *r)
{
  bool methods[sizeof method_order / sizeof method_order[0]] = {false};
  const struct tx_route *found = NULL;
  const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;

  for (size_t i = 0; i < tx_routes_count; i++) {
    const struct tx_route *rt = &tx_routes[i];
    if (!template_matches(rt->path, path, NULL))
      continue;
    for (size_t m = 0; m < sizeof method_order / sizeof method_order[0]; m++)
      if (!strcmp(rt->method, method_order[m]))
        methods[m] = true;
    if (!strcmp(rt->method, "GET"))
      methods[1] = true; /* HEAD is served wherever GET is */
    if (!found && !strcmp(rt->method, want))
      found = rt;
  }

  if (allow_len)
    allow[0] = '\0';
  bool any = false;
  size_t used = 0;
  for (size_t m = 0; m < sizeof method_order / sizeof method_order[0]; m++) {
    if (!methods[m])
      continue;
    any = true;
    size_t need = strlen(method_order[m]) + (used ? 2 : 0);
    if (used + need + 1 > allow_len)
      break;
    if (used) {
      memcpy(allow + used, ", ", 2);
      used += 2;
    }
    strcpy(allow + used, method_order[m]);
    used += strlen(method_order[m]);
  }
  if (!any)
    return TX_MATCH_NONE;
  if (!found)
    return TX_MATCH_PATH_ONLY;
  if (r)
    template_matches(found->path, path, r);
  *route = found;
  return TX_MATCH_OK;
}

size_t tx_route_index(const struct tx_route *route)
{
  return route ? (size_t)(route - tx_routes) : tx_routes_count;
}
