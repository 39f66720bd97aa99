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
/* The longest value seal() takes (secrets are passwords, not documents). */
#define SEAL_PLAINTEXT_MAX 65536

/* Creates data_dir/secret.key with 32 random bytes unless it exists
 * (O_EXCL, mode 0600, fsynced with its folder).  An existing file is left
 * alone and is not checked here: seal_key_load() checks it. */
int seal_key_create(const char *data_dir, const char **error_r);
/* Loads the key, replacing any loaded before.  Refuses a key file that is
 * not a regular file (or is a symlink), has any group or other permission
 * bit, or is not exactly 32 bytes; *error_r names the file and the fix. */
int seal_key_load(const char *data_dir, const char **error_r);
/* Wipes the loaded key from memory (tests, shutdown). */
void seal_key_forget(void);

/* A key for another use, derived from the loaded key: HMAC-SHA256(key,
 * label) into out, so that one secret file serves (SRS signs with
 * "mailhub srs v1").  0, or -1 when no key is loaded. */
#define SEAL_DERIVED_LEN 32
int seal_derive(const char *label, unsigned char out[SEAL_DERIVED_LEN],
		const char **error_r);

/* Seals plaintext[0..len) (len <= SEAL_PLAINTEXT_MAX) into *sealed_r
 * (malloc'd text).  Fails when no key is loaded. */
int seal(const char *plaintext, size_t len, char **sealed_r, const char **error_r);
/* Opens a sealed value into *plain_r (malloc'd, NUL-terminated) and *len_r.
 * Fails on a wrong key or any tampering. */
int unseal(const char *sealed, char **plain_r, size_t *len_r, const char **error_r);

/* A keyed MAC of data[0..len) for purpose (a fixed label naming its use):
 * HMAC-SHA-256(HMAC-SHA-256(key, purpose), data), so that one key serves
 * several uses and no use's MACs tell anything about another's.  For
 * looking up secrets by a value that must not be stored in clear (app
 * passwords).  Fails when no key is loaded. */
#define SEAL_MAC_LEN 32
int seal_mac(const char *purpose, const void *data, size_t len,
	     unsigned char out[SEAL_MAC_LEN], const char **error_r);

#endif
