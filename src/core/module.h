/**
 * @file core/module.h
 * @brief What a business module hands the core: its route rows, its command-line commands, and
 * (temporarily) how to read older error DETAIL forms of its SQL. main.c registers each module
 * with one line; core never includes a module's header.
 *
 * Adding a module: a folder src/modules/<m>/ with a routes.c that defines
 * `const struct tx_module tx_module_<m>` (see src/modules/org/routes.c for the row format), its
 * declaration in src/modules/<m>/<m>.h, and one line in main.c's module list.
 */
#ifndef TX_CORE_MODULE_H
#define TX_CORE_MODULE_H

#include "core/config.h"
#include "core/routes.h"

#include <jansson.h>
#include <stdio.h>

struct tx_db_outcome;

/** @brief A `tianxingd <name> [args]` command; returns the process exit status. */
struct tx_command {
  const char *name;
  const char *usage; /* the lines `tianxingd --help` shows under "commands:" */
  int (*run)(const struct tx_config *cfg, int argc, char **argv); /* argv after the name */
};

struct tx_module {
  const char *name;
  const struct tx_route *routes;
  size_t nroutes;
  const struct tx_command *commands;
  size_t ncommands;
};

/** Element count of a static array, for the n* members. */
#define TX_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/**
 * @brief Adds @p m's routes to the merged table and its commands to the command list.
 * @return 0, or -1 naming the module and what is wrong in @p err (a malformed row, a method and
 *         path or a command name taken by another module); the process must not start then
 */
int tx_module_register(const struct tx_module *m, char *err, size_t errlen);

/** @brief The registered command @p name, or NULL. */
const struct tx_command *tx_command_find(const char *name);

/** @brief Writes every registered command's usage lines to @p f. */
void tx_commands_usage(FILE *f);

/** @brief Forgets every registration (tests, and the end of the process). */
void tx_modules_reset(void);

#endif
