/**
 * @file base/files.h
 * @brief Reading a whole (small) file: keys, migrations, configuration inputs.
 */
#ifndef TX_BASE_FILES_H
#define TX_BASE_FILES_H

#include <stddef.h>

/**
 * @brief Reads @p path into a malloc'ed, NUL-terminated buffer (the NUL is not counted).
 * @return 0, or -1 with "path: reason" in @p err (missing, unreadable, larger than @p max)
 */
int tx_read_file(const char *path, size_t max, char **data, size_t *len, char *err, size_t errlen);

#endif
