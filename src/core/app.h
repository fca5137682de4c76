/**
 * @file core/app.h
 * @brief Process-wide state set once at start-up and read by handlers.
 */
#ifndef TX_CORE_APP_H
#define TX_CORE_APP_H

#include "core/config.h"
#include "db/migrate.h"

struct tx_app {
  const struct tx_config *cfg;
  struct tx_migration_set migrations; /* what this build expects the database to have */
  int draining;                       /* set on SIGTERM/SIGINT; read atomically */
};

extern struct tx_app tx_app;

/** @brief Serves until SIGINT/SIGTERM, then drains in-flight requests and returns 0. */
int tx_server_run(const struct tx_config *cfg);

#endif
