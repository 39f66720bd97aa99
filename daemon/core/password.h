/*
 * password: one-way hashes of user passwords.
 *
 * New hashes are yescrypt through libcrypt (crypt_gensalt_rn + crypt_rn),
 * stored in Dovecot's "{CRYPT}$y$..." form so that hashes move between
 * mailhub and a Dovecot passwd-file both ways.  Checking also accepts the
 * other crypt(3) schemes libcrypt knows ($6$ SHA-512, $2b$ bcrypt, ...), with
 * or without the {CRYPT} prefix, so imported hashes work.
 */
#ifndef MAILHUB_CORE_PASSWORD_H
#define MAILHUB_CORE_PASSWORD_H

#include <stdbool.h>

#define PASSWORD_SCHEME_PREFIX "{CRYPT}"

/* Hashes password into *hash_r (malloc'd "{CRYPT}$y$..."). An empty password
 * or one over PASSWORD_MAX is refused.  Returns 0, or -1 with *error_r. */
int password_hash(const char *password, char **hash_r, const char **error_r);
/* True when password matches stored (compared in constant time). */
bool password_verify(const char *password, const char *stored);
/* A random password of 20 characters from an unambiguous alphabet (for the
 * first admin); malloc'd. */
char *password_generate(void);

#endif
