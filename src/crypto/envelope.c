/**
 * @file crypto/envelope.c
 * @brief Envelope encryption (see crypto/envelope.h). AES-256-GCM with 96-bit random nonces: a
 * data key seals at most a few fields per update, far below the 2^32 messages per key where
 * random nonces start to risk collisions.
 */
#include "crypto/envelope.h"
#include "base/files.h"
#include "crypto/encoding.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONCE 12
#define TAG 16
#define FORMAT_V1 0x01

struct master_key {
  char id[TX_KEY_ID_MAX];
  unsigned char key[32];
};

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static struct master_key *masters;
static size_t nmasters;
static unsigned char index_key[32];
static bool ready;

static int decode_key(const char *b64, unsigned char out[32])
{
  size_t len = 0;
  unsigned char *raw = tx_b64_decode(b64, strlen(b64), false, &len);
  int rc = raw && len == 32 ? 0 : -1;
  if (!rc)
    memcpy(out, raw, 32);
  if (raw)
    OPENSSL_cleanse(raw, len);
  free(raw);
  return rc;
}

int tx_envelope_load(const char *master_file, const char *index_file, char *err, size_t errlen)
{
  char *text = NULL, *itext = NULL;
  size_t len;
  struct master_key *keys = NULL;
  size_t n = 0;
  unsigned char ikey[32];
  int rc = -1;

  if (tx_read_file(master_file, 65536, &text, &len, err, errlen) ||
      tx_read_file(index_file, 4096, &itext, &len, err, errlen))
    goto out;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    line[strcspn(line, "\r")] = '\0';
    if (!*line || *line == '#')
      continue;
    char *eq = strchr(line, '=');
    struct master_key *grown = realloc(keys, (n + 1) * sizeof *keys);
    if (!grown) { /* the old block stays in keys: the exit path wipes and frees it */
      snprintf(err, errlen, "out of memory");
      goto out;
    }
    keys = grown;
    if (!eq || eq == line || (size_t)(eq - line) >= TX_KEY_ID_MAX ||
        decode_key(eq + 1, keys[n].key)) {
      snprintf(err, errlen, "TIANXING_MASTER_KEYS_FILE: %s: each line is KEYID=<base64 of 32 bytes>",
               master_file);
      goto out;
    }
    snprintf(keys[n].id, sizeof keys[n].id, "%.*s", (int)(eq - line), line);
    n++;
  }
  itext[strcspn(itext, "\r\n")] = '\0';
  if (!n || decode_key(itext, ikey)) {
    snprintf(err, errlen, "%s", !n ? "TIANXING_MASTER_KEYS_FILE: no key"
                                   : "TIANXING_BLIND_INDEX_KEY_FILE: expected <base64 of 32 bytes>");
    goto out;
  }
  pthread_rwlock_wrlock(&lock);
  if (masters)
    OPENSSL_cleanse(masters, nmasters * sizeof *masters);
  free(masters);
  masters = keys;
  nmasters = n;
  keys = NULL;
  memcpy(index_key, ikey, 32);
  ready = true;
  pthread_rwlock_unlock(&lock);
  rc = 0;
out:
  OPENSSL_cleanse(ikey, sizeof ikey);
  if (text)
    OPENSSL_cleanse(text, strlen(text));
  if (itext)
    OPENSSL_cleanse(itext, strlen(itext));
  free(text);
  free(itext);
  if (keys)
    OPENSSL_cleanse(keys, n * sizeof *keys);
  free(keys);
  return rc;
}

bool tx_envelope_ready(void)
{
  pthread_rwlock_rdlock(&lock);
  bool r = ready;
  pthread_rwlock_unlock(&lock);
  return r;
}

int tx_envelope_current_key_id(char key_id[TX_KEY_ID_MAX])
{
  pthread_rwlock_rdlock(&lock);
  int rc = ready ? 0 : -1;
  if (ready)
    snprintf(key_id, TX_KEY_ID_MAX, "%s", masters[nmasters - 1].id);
  pthread_rwlock_unlock(&lock);
  return rc;
}

void tx_envelope_shutdown(void)
{
  pthread_rwlock_wrlock(&lock);
  if (masters)
    OPENSSL_cleanse(masters, nmasters * sizeof *masters);
  free(masters);
  masters = NULL;
  nmasters = 0;
  OPENSSL_cleanse(index_key, sizeof index_key);
  ready = false;
  pthread_rwlock_unlock(&lock);
}

/* The cipher, fetched once: EVP_aes_256_gcm() in an Init call makes OpenSSL 3 look the
 * implementation up again (locks, name comparisons) on every field sealed or opened. A failed
 * fetch leaves NULL, and every Init then fails: sealing fails closed. */
static EVP_CIPHER *aes_gcm;
static pthread_once_t aes_gcm_once = PTHREAD_ONCE_INIT;
static void fetch_aes_gcm(void) { aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL); }
static const EVP_CIPHER *cipher(void)
{
  pthread_once(&aes_gcm_once, fetch_aes_gcm);
  return aes_gcm;
}

/* AES-256-GCM: out = nonce || ciphertext || tag. */
static int gcm_seal(const unsigned char key[32], const unsigned char *aad, size_t aad_len,
                    const unsigned char *in, size_t len, unsigned char *out)
{
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int outl = 0, rc = -1;
  if (ctx && RAND_bytes(out, NONCE) == 1 &&
      EVP_EncryptInit_ex(ctx, cipher(), NULL, key, out) == 1 &&
      EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)aad_len) == 1 &&
      EVP_EncryptUpdate(ctx, out + NONCE, &outl, in, (int)len) == 1 &&
      EVP_EncryptFinal_ex(ctx, out + NONCE + outl, &outl) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG, out + NONCE + len) == 1)
    rc = 0;
  EVP_CIPHER_CTX_free(ctx);
  return rc;
}

static int gcm_open(const unsigned char key[32], const unsigned char *aad, size_t aad_len,
                    const unsigned char *in, size_t len, unsigned char *out)
{
  if (len < NONCE + TAG)
    return -1;
  size_t clen = len - NONCE - TAG;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int outl = 0, rc = -1;
  if (ctx && EVP_DecryptInit_ex(ctx, cipher(), NULL, key, in) == 1 &&
      EVP_DecryptUpdate(ctx, NULL, &outl, aad, (int)aad_len) == 1 &&
      EVP_DecryptUpdate(ctx, out, &outl, in + NONCE, (int)clen) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG, (void *)(in + NONCE + clen)) == 1 &&
      EVP_DecryptFinal_ex(ctx, out + outl, &outl) == 1)
    rc = 0;
  EVP_CIPHER_CTX_free(ctx);
  return rc;
}

int tx_dek_create(const char *customer_id, unsigned char dek[TX_DEK_LEN], char key_id[TX_KEY_ID_MAX],
                  unsigned char **wrapped, size_t *wrapped_len)
{
  if (RAND_bytes(dek, TX_DEK_LEN) != 1)
    return -1;
  return tx_dek_rewrap(dek, customer_id, key_id, wrapped, wrapped_len);
}

int tx_master_seal(const char *context, const unsigned char *data, size_t len,
                   char key_id[TX_KEY_ID_MAX], unsigned char **out, size_t *out_len)
{
  unsigned char *buf = malloc(NONCE + len + TAG);
  int rc = -1;
  if (!buf || !context || len > INT_MAX - NONCE - TAG) {
    free(buf);
    return -1;
  }
  pthread_rwlock_rdlock(&lock);
  if (ready && gcm_seal(masters[nmasters - 1].key, (const unsigned char *)context, strlen(context),
                        data, len, buf) == 0) {
    snprintf(key_id, TX_KEY_ID_MAX, "%s", masters[nmasters - 1].id);
    rc = 0;
  }
  pthread_rwlock_unlock(&lock);
  if (rc) {
    free(buf);
    return -1;
  }
  *out = buf;
  *out_len = NONCE + len + TAG;
  return 0;
}

int tx_master_open(const char *key_id, const char *context, const unsigned char *in, size_t len,
                   unsigned char *out, size_t out_size, size_t *out_len)
{
  int rc = -1;
  if (!key_id || !context || len < NONCE + TAG || len - NONCE - TAG > out_size)
    return -1;
  pthread_rwlock_rdlock(&lock);
  for (size_t i = 0; i < nmasters; i++)
    if (!strcmp(masters[i].id, key_id))
      rc = gcm_open(masters[i].key, (const unsigned char *)context, strlen(context), in, len, out);
  pthread_rwlock_unlock(&lock);
  if (rc == 0)
    *out_len = len - NONCE - TAG;
  return rc;
}

/* A data key is a master-sealed value bound to its customer. */
int tx_dek_rewrap(const unsigned char dek[TX_DEK_LEN], const char *customer_id,
                  char key_id[TX_KEY_ID_MAX], unsigned char **wrapped, size_t *wrapped_len)
{
  char aad[128];
  snprintf(aad, sizeof aad, "tianxing-dek:%s", customer_id);
  return tx_master_seal(aad, dek, TX_DEK_LEN, key_id, wrapped, wrapped_len);
}

int tx_dek_unwrap(const char *key_id, const unsigned char *wrapped, size_t len,
                  const char *customer_id, unsigned char dek[TX_DEK_LEN])
{
  char aad[128];
  size_t got = 0;
  snprintf(aad, sizeof aad, "tianxing-dek:%s", customer_id);
  if (len != NONCE + TX_DEK_LEN + TAG)
    return -1;
  return tx_master_open(key_id, aad, wrapped, len, dek, TX_DEK_LEN, &got) || got != TX_DEK_LEN ? -1 : 0;
}

static int field_aad(const char *customer_id, const char *field, char *aad, size_t len)
{
  int n = snprintf(aad, len, "%s|%s", customer_id, field);
  return n > 0 && (size_t)n < len ? n : -1;
}

int tx_field_seal(const unsigned char dek[TX_DEK_LEN], const char *customer_id, const char *field,
                  const char *plaintext, unsigned char **out, size_t *out_len)
{
  char aad[256];
  int aad_len = field_aad(customer_id, field, aad, sizeof aad);
  size_t plen = strlen(plaintext);
  unsigned char *buf = malloc(1 + NONCE + plen + TAG);
  if (aad_len < 0 || !buf) {
    free(buf);
    return -1;
  }
  buf[0] = FORMAT_V1;
  if (gcm_seal(dek, (unsigned char *)aad, (size_t)aad_len, (const unsigned char *)plaintext, plen,
               buf + 1)) {
    free(buf);
    return -1;
  }
  *out = buf;
  *out_len = 1 + NONCE + plen + TAG;
  return 0;
}

int tx_field_open(const unsigned char dek[TX_DEK_LEN], const char *customer_id, const char *field,
                  const unsigned char *in, size_t len, char **plaintext)
{
  char aad[256];
  int aad_len = field_aad(customer_id, field, aad, sizeof aad);
  if (aad_len < 0 || len < 1 + NONCE + TAG || in[0] != FORMAT_V1)
    return -1;
  size_t plen = len - 1 - NONCE - TAG;
  char *buf = malloc(plen + 1);
  if (!buf || gcm_open(dek, (unsigned char *)aad, (size_t)aad_len, in + 1, len - 1,
                       (unsigned char *)buf)) {
    free(buf);
    return -1;
  }
  buf[plen] = '\0';
  *plaintext = buf;
  return 0;
}

int tx_blind_index(const char *kind, const char *value, unsigned char out[32])
{
  unsigned int len = 0;
  char *msg = NULL;
  if (asprintf(&msg, "%s:%s", kind, value) < 0)
    return -1;
  pthread_rwlock_rdlock(&lock);
  int rc = ready && HMAC(EVP_sha256(), index_key, 32, (unsigned char *)msg, strlen(msg), out, &len)
             ? 0
             : -1;
  pthread_rwlock_unlock(&lock);
  free(msg);
  return rc;
}
