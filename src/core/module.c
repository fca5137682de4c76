/**
 * @file core/module.c
 * @brief The module registry (see core/module.h): lists that grow with the modules, filled once
 * at start-up before any thread is started, read-only afterwards.
 */
#include "core/module.h"

#include <stdlib.h>
#include <string.h>

static const struct tx_module **modules;
static size_t nmodules;

static bool command_taken(const char *name)
{
  return tx_command_find(name) != NULL;
}

int tx_module_register(const struct tx_module *m, char *err, size_t errlen)
{
  char why[400];
  const struct tx_module **grown = NULL;
  size_t routes_before = tx_routes_count;
  int rc = -1;
  for (size_t i = 0; i < m->ncommands; i++) {
    const char *name = m->commands[i].name;
    bool twice = false;
    for (size_t j = 0; j < i; j++)
      twice = twice || !strcmp(m->commands[j].name, name);
    if (!m->commands[i].run || twice || command_taken(name)) {
      snprintf(err, errlen, "module %s: command %s is registered twice or has no function", m->name,
               name);
      goto out;
    }
  }
  if (tx_routes_add(m->routes, m->nroutes, why, sizeof why)) {
    snprintf(err, errlen, "module %s: %s", m->name, why);
    goto out;
  }
  grown = realloc(modules, (nmodules + 1) * sizeof *modules);
  if (!grown) {
    snprintf(err, errlen, "module %s: out of memory", m->name);
    tx_routes_count = routes_before;
    goto out;
  }
  modules = grown;
  modules[nmodules++] = m;
  rc = 0;
out:
  return rc;
}

const struct tx_command *tx_command_find(const char *name)
{
  for (size_t i = 0; i < nmodules; i++)
    for (size_t j = 0; j < modules[i]->ncommands; j++)
      if (!strcmp(modules[i]->commands[j].name, name))
        return &modules[i]->commands[j];
  return NULL;
}

void tx_commands_usage(FILE *f)
{
  for (size_t i = 0; i < nmodules; i++)
    for (size_t j = 0; j < modules[i]->ncommands; j++)
      fputs(modules[i]->commands[j].usage, f);
}

void tx_modules_reset(void)
{
  free(modules);
  modules = NULL;
  nmodules = 0;
  tx_routes_reset();
}
