/**
 * @file base/files.c
 * @brief Whole-file reads (see base/files.h).
 */
#include "base/files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tx_read_file(const char *path, size_t max, char **data, size_t *len, char *err, size_t errlen)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  char *buf = NULL;
  size_t size = 0;
  FILE *mem = open_memstream(&buf, &size);
  char chunk[8192];
  size_t got;
  int rc = 0;
  size_t total = 0; /* open_memstream's size is only updated on flush: count here */
  while (mem && total <= max && (got = fread(chunk, 1, sizeof chunk, f)) > 0) {
    fwrite(chunk, 1, got, mem);
    total += got;
  }
  if (ferror(f) || !mem) {
    snprintf(err, errlen, "%s: cannot read", path);
    rc = -1;
  }
  fclose(f);
  if (mem)
    fclose(mem); /* open_memstream keeps the buffer NUL-terminated */
  if (rc == 0 && size > max) {
    snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
    rc = -1;
  }
  if (rc) {
    free(buf);
    return -1;
  }
  *data = buf;
  *len = size;
  return 0;
}
