/**
 * @file base/embedded.h
 * @brief Files built into the binary by cmake/embed.cmake: the contract, the SQL migrations and
 * the SQL code files (sql/code).
 */
#ifndef TX_BASE_EMBEDDED_H
#define TX_BASE_EMBEDDED_H

#include <stddef.h>

struct tx_embedded_file {
  const char *name;
  const unsigned char *data; /* NUL-terminated for convenience; len excludes the NUL */
  size_t len;
};

extern const struct tx_embedded_file tx_embedded_openapi;
extern const struct tx_embedded_file tx_embedded_migrations[]; /* sorted by name, {0} ended */
extern const size_t tx_embedded_migrations_count;
/* sql/code: ORDER and every module's .sql file, named relative to sql/code ("kit/010_errors.sql") */
extern const struct tx_embedded_file tx_embedded_code[];
extern const size_t tx_embedded_code_count;

#endif
