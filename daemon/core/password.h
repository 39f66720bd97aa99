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
#include <stddef.h>

#define PASSWORD_SCHEME_PREFIX "{CRYPT}"
/* Length of the passwords password_generate() makes. */
#define PASSWORD_GENERATE_LEN 20

/* Whether password[0..len) may be set as a password: not empty, at most
 * PASSWORD_MAX bytes, no NUL, CR or LF.  Returns 0, or -1 with *error_r
 * ("the password is empty", ...).  password_hash() applies the same rule. */
int password_acceptable(const char *password, size_t len, const char **error_r);

/* Hashes password into *hash_r (malloc'd "{CRYPT}$y$..."). An empty password
 * or one over PASSWORD_MAX is refused.  Returns 0, or -1 with *error_r. */
int password_hash(const char *password, char **hash_r, const char **error_r);
/* True when password matches stored (compared in constant time).  stored
 * may carry "{CRYPT}" (or Dovecot's {SHA512-CRYPT}, {SHA256-CRYPT},
 * {BLF-CRYPT}, {MD5-CRYPT}, any case) or no prefix; an unknown scheme, a
 * non-"$" hash (locked: "!", "*", "") or an unacceptable password is false. */
bool password_verify(const char *password, const char *stored);
/* Spends the time of one yescrypt check and answers nothing: for a login
 * with an unknown user, so that timing does not tell which users exist. */
void password_verify_dummy(const char *password);
/* A random password of 20 characters from an unambiguous alphabet (for the
 * first admin); malloc'd. */
char *password_generate(void);

/*
 * App passwords (store/app_passwords.h): 16 random lowercase letters in
 * four groups, "abcd-efgh-ijkl-mnop" (about 75 bits; typed on a phone
 * without switching keyboards).  The shown form is the canonical one.
 */
#define PASSWORD_APP_LEN 19
/* A new app password in its canonical form; malloc'd. */
char *password_app_generate(void);
/* Whether what a client sent is an app password as a person may type it
 * (any case, with or without the dashes, or with spaces instead): writes
 * the canonical form into out and returns true; false for anything else. */
bool password_app_canonical(const char *password, char out[PASSWORD_APP_LEN + 1]);

/* The minimum strength of a new user password, in words for the CLI, the
 * API's 422 and the man page. */
#define PASSWORD_MIN_CHARS 10
#define PASSWORD_RULE "a password needs at least 10 characters, and must be " \
	"neither one of the most common passwords, nor one character repeated, " \
	"nor the address or its local part"
/* Whether password may be set for address (NULL: no address to compare):
 * password_acceptable(), at least PASSWORD_MIN_CHARS characters (UTF-8),
 * not one character repeated, not in a built-in list of the most common
 * passwords, not the address or its local part (any case).  Returns 0, or
 * -1 with *error_r (PASSWORD_RULE for a weak one).  Existing passwords are
 * not checked: only new ones are set through here. */
int password_strong_enough(const char *password, const char *address,
			   const char **error_r);

#endif
