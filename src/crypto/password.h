/**
 * @file crypto/password.h
 * @brief Password hashing with scrypt (memory-hard, from OpenSSL 3), stored as a PHC-style string
 * `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` (base64 without padding) so parameters can grow later
 * without invalidating stored hashes.
 */
#ifndef TX_CRYPTO_PASSWORD_H
#define TX_CRYPTO_PASSWORD_H

#include <stdbool.h>

#define TX_PASSWORD_MIN 8
#define TX_PASSWORD_MAX 1024

/** @brief The cost of the dummy hash spent for unknown users: the one new hashes use. */
void tx_password_set_dummy_ln(int log2_n);

/**
 * @brief How many password hashes may run at once (sign-in): @p n, or half the online CPUs (at
 * least 1) when @p n is 0. Each hash takes a core for tens of milliseconds and 32 MiB; without a
 * bound, a storm of sign-ins (valid names or not) starves every other route.
 */
void tx_password_set_concurrency(int n);

/**
 * @brief Takes a hashing slot without waiting: true when one was free (give it back with
 * tx_password_slot_give), false when all are taken and the caller should answer "busy" at once.
 */
bool tx_password_slot_take(void);

/** @brief Gives back a slot taken by tx_password_slot_take. */
void tx_password_slot_give(void);

/** @brief Hashes @p password with fresh salt; malloc'ed string or NULL on failure. */
char *tx_password_hash(const char *password, int log2_n);

/**
 * @brief Verifies in constant time with respect to the stored hash's content.
 * A NULL or malformed @p stored still spends one hash computation, so an unknown user costs the
 * same time as a wrong password.
 */
bool tx_password_verify(const char *password, const char *stored);

#endif
