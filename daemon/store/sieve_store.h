/*
 * sieve_store: the users' Sieve scripts (sql/018_sieve.sql) as
 * ManageSieve (RFC 5804), the panel and the CLI manage them, the one
 * active script that delivery runs, and the memory of vacation replies
 * and duplicates.  Scripts are compiled by the caller before they are
 * stored; the store keeps text only.
 */
#ifndef MAILHUB_STORE_SIEVE_STORE_H
#define MAILHUB_STORE_SIEVE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

#define SIEVE_NAME_MAX 128		/* characters of a script name */
#define SIEVE_SCRIPTS_MAX 64		/* scripts per user */
#define SIEVE_MEMORY_VACATION 1
#define SIEVE_MEMORY_DUPLICATE 2

struct store_sieve_script {
	char *name;
	bool active;
	int64_t updated;
};

/* Whether name is a valid script name (RFC 5804 §1.6: UTF-8, no
 * controls, and no '/' so that it can be a file name elsewhere). */
bool store_sieve_name_valid(const char *name);
int store_sieve_list(struct store *st, int64_t user_id, struct store_sieve_script **list_r,
		     size_t *n_r, const char **error_r);
void store_sieve_list_free(struct store_sieve_script **list, size_t n);
/* Adds or replaces a script (keeps its active mark).  STORE_INVALID for a
 * bad name, STORE_OVERQUOTA past SIEVE_SCRIPTS_MAX scripts. */
int store_sieve_put(struct store *st, int64_t user_id, const char *name, const char *text,
		    size_t len, const char **error_r);
/* The text (malloc'd) and whether it is active (active_r may be NULL). */
int store_sieve_get(struct store *st, int64_t user_id, const char *name, char **text_r,
		    bool *active_r, const char **error_r);
/* The active script, its row id and version (id_r, version_r and name_r
 * may be NULL) and text: STORE_NOTFOUND when the user has none. */
int store_sieve_active(struct store *st, int64_t user_id, int64_t *id_r, int64_t *version_r,
		       char **name_r, char **text_r, const char **error_r);
/* The active script's row id and the version of its text, without the
 * text (sql/051: every change of a script's text, by any process, gives
 * it a version never given before, so (id, version) names one text).
 * STORE_NOTFOUND when the user has none. */
int store_sieve_active_version(struct store *st, int64_t user_id, int64_t *id_r,
			       int64_t *version_r, const char **error_r);
/* Makes name the active script; NULL: none is. */
int store_sieve_activate(struct store *st, int64_t user_id, const char *name,
			 const char **error_r);
/* STORE_BUSY when the script is active (RFC 5804 §2.10). */
int store_sieve_delete(struct store *st, int64_t user_id, const char *name,
		       const char **error_r);
/* STORE_EXISTS when new_name is taken. */
int store_sieve_rename(struct store *st, int64_t user_id, const char *old_name,
		       const char *new_name, const char **error_r);
/* Whether id of kind is remembered for the user and not expired. */
bool store_sieve_memory_seen(struct store *st, int64_t user_id, int kind, const char *id);
/* Remembers id of kind for seconds from now; also forgets expired ids. */
int store_sieve_memory_put(struct store *st, int64_t user_id, int kind, const char *id,
			   unsigned seconds, const char **error_r);
/* Whether upstream account id runs its owner's script on fetched mail. */
int store_upstream_sieve_get(struct store *st, int64_t upstream_id, bool *on_r,
			     const char **error_r);
int store_upstream_sieve_set(struct store *st, int64_t upstream_id, bool on,
			     const char **error_r);

#endif
