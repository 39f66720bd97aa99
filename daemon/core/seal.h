/*
 * seal: secrets the daemon must be able to read back (upstream and smarthost
 * passwords) are sealed with AES-256-GCM under a 32-byte key kept in
 * data_dir/secret.key (mode 0600, created by `mailhub init`).
 *
 * A sealed value is text: "v1:" + base64(12-byte nonce || ciphertext || tag),
 * so it fits a TEXT column.  The key is loaded once per process.
 */
#ifndef MAILHUB_CORE_SEAL_H
#define MAILHUB_CORE_SEAL_H

#include <stddef.h>

#define SEAL_KEY_FILE "secret.key"

/* Creates data_dir/secret.key with 32 random bytes unless it exists. */
int seal_key_create(const char *data_dir, const char **error_r);
/* Loads the key (refusing a key file readable by group or others). */
int seal_key_load(const char *data_dir, const char **error_r);

/* Seals plaintext into *sealed_r (malloc'd text). */
int seal(const char *plaintext, size_t len, char **sealed_r, const char **error_r);
/* Opens a sealed value into *plain_r (malloc'd, NUL-terminated) and *len_r.
 * Fails on a wrong key or any tampering. */
int unseal(const char *sealed, char **plain_r, size_t *len_r, const char **error_r);

#endif
