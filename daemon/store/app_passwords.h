/*
 * app_passwords: what mail clients log in with besides the user's password:
 * app passwords, and the SCRAM-SHA-256 keys of both.
 *
 * An app password is made by the server (core/password.h: 16 random
 * letters, "abcd-efgh-ijkl-mnop"), shown once, and is good for IMAP, POP3
 * and SMTP AUTH only: never for the panel, whose login checks the user's
 * password alone.  Each has a name (the mail client), its last use (time
 * and protocol), and can be revoked.  A new password for the user, or
 * disabling them, revokes them all (triggers of sql/007_app_passwords.sql),
 * as it does API tokens: whoever knew the old password may have made some.
 *
 * One login costs one slow hash check, however many app passwords a user
 * has.  With each app password the store keeps a tag, HMAC-SHA-256 under a
 * key derived from data_dir/secret.key (core/seal.h seal_mac) over the
 * canonical password: a login that looks like an app password computes
 * the tag, finds at most one candidate row by (user, tag), and checks only
 * that row's yescrypt hash; a login that finds none checks the user's
 * password instead.  The tag alone does not let a copy of the database
 * check guesses (the key is not in it), and the yescrypt hash stays the
 * authority, in the same {CRYPT} form as user passwords.
 *
 * SCRAM: the server must announce one salt before it knows which password
 * the client holds (RFC 5802 §5.1), so all SCRAM keys of a user share the
 * user's salt: made at random with the first keys and used for every app
 * password made after them (a new password, which revokes the app
 * passwords, starts with a new salt).  A SCRAM login then checks the
 * client's proof against each of the user's keys, which costs an HMAC and a
 * SHA-256 each (the PBKDF2 work is the client's).
 */
#ifndef MAILHUB_STORE_APP_PASSWORDS_H
#define MAILHUB_STORE_APP_PASSWORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/scram.h"
#include "store/store.h"

/* A name: 1..APP_PASSWORD_NAME_MAX bytes of UTF-8 without control
 * characters.  A user has at most APP_PASSWORDS_MAX app passwords. */
#define APP_PASSWORD_NAME_MAX 64
#define APP_PASSWORDS_MAX 50
/* The tag's purpose label for seal_mac() (never change: tags would stop
 * matching). */
#define APP_PASSWORD_TAG_PURPOSE "mailhub app-password tag v1"

struct store_app_password {
	int64_t id;
	int64_t user_id;
	char *user;		/* the owner's address */
	char *name;
	int64_t created;
	int64_t last_used;	/* 0: never */
	char *last_protocol;	/* "imap", "pop3", "smtp"; NULL: never */
};

/*
 * Makes a new app password named name for the user at address: generates
 * it, stores its hash, tag and SCRAM keys, and returns the password once in
 * *password_r (malloc'd; the caller shows it and wipes it) and the row in
 * *ap_r.  STORE_NOTFOUND for no such user, STORE_EXISTS for a name the user
 * has already, STORE_INVALID for a bad name or too many app passwords,
 * STORE_ERROR also when no sealing key is loaded.
 */
int store_app_password_create(struct store *st, const char *address, const char *name,
			      char **password_r, struct store_app_password *ap_r,
			      const char **error_r);
/* The app passwords of the user at address, or of every user (address
 * NULL), by owner and id. */
int store_app_password_list(struct store *st, const char *address,
			    struct store_app_password **list_r, size_t *n_r,
			    const char **error_r);
int store_app_password_get(struct store *st, int64_t id,
			   struct store_app_password *ap_r, const char **error_r);
/* Revokes one; STORE_NOTFOUND when there is no such id. */
int store_app_password_del(struct store *st, int64_t id, const char **error_r);
void store_app_password_clear(struct store_app_password *ap);
void store_app_password_list_free(struct store_app_password **list, size_t n);

/* What store_app_password_find() found for a login. */
struct store_app_password_match {
	int64_t id;
	char *password_hash;	/* "{CRYPT}$y$..." */
};

/*
 * For a login of user_id with password: when password has an app
 * password's shape, finds the app password whose tag matches (1, *match_r
 * filled), else 0 (check the user's password).  -1 on a store error.
 */
int store_app_password_find(struct store *st, int64_t user_id, const char *password,
			    struct store_app_password_match *match_r, const char **error_r);
void store_app_password_match_clear(struct store_app_password_match *m);
/* Records a login with app password id over protocol (last use). */
int store_app_password_used(struct store *st, int64_t id, const char *protocol,
			    const char **error_r);

/*
 * Sets the SCRAM keys of the user at address from their new password (the
 * user's salt, SCRAM_ITERATIONS).  Call after store_user_add() and
 * store_user_set_password(), which drops the keys of the old password.
 */
int store_user_set_scram(struct store *st, const char *address, const char *password,
			 const char **error_r);

/* A user's SCRAM keys: the password's (if any) and the app passwords',
 * those with the salt and count of the first. */
struct store_scram_keys {
	int64_t user_id;
	struct scram_keys *keys;
	int64_t *app_ids;	/* per key: the app password's id, 0 for the password */
	size_t n;
};

/* Looks up the SCRAM keys of the user at address: STORE_OK (n may be 0 for
 * a user without any), STORE_NOTFOUND, or STORE_ERROR.  Disabled users
 * have none. */
int store_scram_keys_get(struct store *st, const char *address,
			 struct store_scram_keys *keys_r, const char **error_r);
void store_scram_keys_clear(struct store_scram_keys *keys);

#endif
