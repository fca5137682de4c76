/**
 * @file modules/modules.h
 * @brief The list of business modules tianxingd registers. main.c, the unit tests and the fuzzer
 * all register this one list, so a new module is one line in modules.c and every one of them
 * sees it.
 */
#ifndef TX_MODULES_MODULES_H
#define TX_MODULES_MODULES_H

#include "core/module.h"

#include <stddef.h>

/** @brief The modules, in the order their routes are listed and matched. */
extern const struct tx_module *const tx_modules[];
/** @brief The number of entries of tx_modules. */
extern const size_t tx_modules_count;

/**
 * @brief Registers every module of tx_modules.
 * @return 0, or -1 with the first failure in @p err (a malformed or clashing module: the process
 *         must not start)
 */
int tx_modules_register_all(char *err, size_t errlen);

#endif
