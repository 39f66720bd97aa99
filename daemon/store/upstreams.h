/*
 * upstreams: the store side of the upstream fetcher (daemon/fetch/).
 *
 * An upstream account belongs to a local user and names a POP3 or IMAP
 * server, how to reach it (TLS mode, certificate check), how to log in
 * (username, and the password sealed by the caller with core/seal.h: the
 * store only ever sees sealed text), which folders to fetch into which
 * local mailbox, and what to do with fetched messages upstream.  Beside the
 * settings it keeps the state the API shows (last success, last error in
 * plain words, count fetched) and what the fetcher remembers so that it
 * fetches nothing twice: per IMAP folder the UIDVALIDITY and the last UID,
 * per POP3 account the UIDLs, per account the SHA-256 of every message.
 *
 * store_upstream_deliver() appends a fetched message and records it as
 * fetched in one transaction: after a crash at any instant either the
 * message is in the mailbox and known as fetched, or neither.  The fetcher
 * deletes upstream only what this function has committed.
 */
#ifndef MAILHUB_STORE_UPSTREAMS_H
#define MAILHUB_STORE_UPSTREAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

enum upstream_protocol {
	UPSTREAM_IMAP,
	UPSTREAM_POP3,
};

enum upstream_tls {
	UPSTREAM_TLS_IMPLICIT,
	UPSTREAM_TLS_STARTTLS,
	UPSTREAM_TLS_NONE,
};

/* How the account logs in: with a password, or with an OAuth2 access
 * token (SASL XOAUTH2 or OAUTHBEARER, RFC 7628) that the fetcher gets
 * from the provider with the account's refresh token (fetch/oauth.c). */
enum upstream_auth {
	UPSTREAM_AUTH_PASSWORD,
	UPSTREAM_AUTH_OAUTH2,
};
/* The longest provider name (a [oauth2_NAME] section of the config). */
#define UPSTREAM_PROVIDER_MAX 32

/* Bounds of the settings (checked by upstream_settings_check). */
#define UPSTREAM_HOST_MAX 253
#define UPSTREAM_USERNAME_MAX 320
#define UPSTREAM_FOLDERS_MAX 100
#define UPSTREAM_INTERVAL_MIN 10
#define UPSTREAM_INTERVAL_MAX 86400
#define UPSTREAM_INTERVAL_DEFAULT 300
/* The longest last_error kept. */
#define UPSTREAM_ERROR_MAX 500

/* The settings of an account, as the CLI and the API give them. */
struct upstream_settings {
	enum upstream_protocol protocol;
	char *host;
	unsigned port;			/* 0: the protocol's default for the TLS mode */
	enum upstream_tls tls;
	char *tls_verify;		/* "system", "off" or "pin:" + 64 lowercase hex */
	char *username;
	char **folders;			/* IMAP folders (UTF-8), at least one */
	size_t n_folders;
	char *target;			/* local mailbox name */
	bool keep;			/* leave fetched mail upstream */
	bool idle;			/* IMAP IDLE push when offered */
	bool dedupe;			/* skip mail the user already got (Message-ID + body) */
	bool mirror;			/* IMAP: upstream folder F into local target/F
					 * (else every folder into target); folder
					 * "*" is every folder the server lists */
	unsigned interval;		/* seconds between polls */
	bool enabled;
	bool two_way;			/* IMAP, keep: local flag changes, moves and
					 * deletions go back upstream (fetch/twoway.c) */
	enum upstream_auth auth;
	char *provider;			/* oauth2: the provider's name, else NULL */
};

/* An account as stored. */
struct store_upstream {
	int64_t id;
	int64_t user_id;
	char *owner;			/* the user's address */
	struct upstream_settings set;
	char *password_sealed;		/* seal.h text: the password, or for
					 * oauth2 the grant's refresh token */
	char *oauth_access_sealed;	/* oauth2: the access token (NULL: none) */
	int64_t oauth_expires;		/* ... valid until then (unix seconds) */
	bool reconnect;			/* oauth2: the grant was refused: paused
					 * until the user connects it again */
	int64_t last_ok;		/* 0: never */
	int64_t last_attempt;		/* 0: never */
	char *last_error;		/* NULL after a success */
	uint64_t fetched;
	unsigned failures;		/* failures in a row */
	int64_t generation;		/* bumped on every change of the settings */
	bool fetch_requested;
	int64_t created;
};

/* "imap"/"pop3", "implicit"/"starttls"/"none", and back (-1 unknown). */
const char *upstream_protocol_name(enum upstream_protocol p);
int upstream_protocol_parse(const char *text, enum upstream_protocol *p_r);
const char *upstream_tls_name(enum upstream_tls t);
int upstream_tls_parse(const char *text, enum upstream_tls *t_r);
/* "password"/"oauth2", and back (-1 unknown). */
const char *upstream_auth_name(enum upstream_auth a);
int upstream_auth_parse(const char *text, enum upstream_auth *a_r);
/* 993/143 for IMAP implicit/other, 995/110 for POP3. */
unsigned upstream_default_port(enum upstream_protocol p, enum upstream_tls t);

/* Fills defaults (port, tls_verify "system", folders {"INBOX"}, target
 * "INBOX", interval) into unset fields and checks every field: 0, or -1
 * with *error_r naming the field. */
int upstream_settings_check(struct upstream_settings *set, const char **error_r);
/* Deep copy, and freeing of the fields (the struct itself is the caller's). */
void upstream_settings_copy(struct upstream_settings *dst,
			    const struct upstream_settings *src);
void upstream_settings_clear(struct upstream_settings *set);
/* Sets the folder list to a copy of folders[0..n). */
void upstream_settings_set_folders(struct upstream_settings *set,
				   const char *const *folders, size_t n);

/* Adds an account of the user owner (settings checked first).  STORE_NOTFOUND
 * when owner is no user. */
int store_upstream_add(struct store *st, const char *owner,
		       const struct upstream_settings *set,
		       const char *password_sealed, int64_t *id_r,
		       const char **error_r);
/* Replaces the settings (and the password unless password_sealed is NULL;
 * a new one also forgets the access token and ends a pause for
 * reconnection); bumps the generation and clears the failure count. */
int store_upstream_update(struct store *st, int64_t id,
			  const struct upstream_settings *set,
			  const char *password_sealed, const char **error_r);
/* Deletes the account and everything remembered for it. */
int store_upstream_del(struct store *st, int64_t id, const char **error_r);
int store_upstream_get(struct store *st, int64_t id, struct store_upstream *up_r,
		       const char **error_r);
/* The accounts of user_id, or all when user_id is 0, by id. */
int store_upstream_list(struct store *st, int64_t user_id,
			struct store_upstream **list_r, size_t *n_r,
			const char **error_r);
void store_upstream_clear(struct store_upstream *up);
void store_upstream_list_free(struct store_upstream **list, size_t n);

/* Records the outcome of a fetch run: error NULL for success (last_ok now,
 * failures 0) or the reason in plain words (failures + 1). */
int store_upstream_set_result(struct store *st, int64_t id, const char *error,
			      const char **error_r);

/* ---- per folder state (upstream_state.c, sql/032) ---------------------- */

/* How one folder's pass of a run ended. */
struct upstream_folder_result {
	const char *folder;
	uint32_t messages;		/* the upstream folder's EXISTS */
	const char *error;		/* NULL: synced completely, now */
};
/* store_upstream_set_result() and the folders' results in one (light)
 * transaction: a folder without error gets last_sync now and its message
 * count, one with an error keeps its last sync and gets the error. */
int store_upstream_record_run(struct store *st, int64_t id, const char *error,
			      const struct upstream_folder_result *folders, size_t n,
			      const char **error_r);
/* A folder as remembered (the API's account page). */
struct store_upstream_folder_state {
	char *folder;
	int64_t last_sync;		/* 0: never synced completely */
	uint32_t messages;		/* upstream messages at last_sync */
	int64_t last_attempt;
	char *last_error;		/* NULL: the last pass went well */
};
/* Every folder remembered for the account, by name. */
int store_upstream_folder_states(struct store *st, int64_t id,
				 struct store_upstream_folder_state **list_r, size_t *n_r,
				 const char **error_r);
void store_upstream_folder_states_free(struct store_upstream_folder_state **list, size_t n);
/* Marks an account (or, with id 0, every enabled one) to be fetched soon;
 * STORE_NOTFOUND for an unknown id. */
int store_upstream_request_fetch(struct store *st, int64_t id, const char **error_r);
/* Clears the request marks, returning the ids that had one (malloc'd). */
int store_upstream_take_requests(struct store *st, int64_t **ids_r, size_t *n_r,
				 const char **error_r);

/* ---- OAuth2 (upstream_oauth.c) ---------------------------------------- */

/* Records a new access token (sealed) valid until expires, and, unless
 * refresh_sealed is NULL, the refresh token the provider rotated to.  The
 * generation is not bumped: a running IDLE session keeps going. */
int store_upstream_oauth_set_access(struct store *st, int64_t id,
				    const char *access_sealed, int64_t expires,
				    const char *refresh_sealed, const char **error_r);
/* Pauses the account until it is connected again: the provider refused
 * its grant.  reason (plain words) becomes the account's last error. */
int store_upstream_oauth_reconnect(struct store *st, int64_t id, const char *reason,
				   const char **error_r);

/* ---- what the fetcher remembers ---------------------------------------- */

/* The remembered state of an IMAP folder; STORE_NOTFOUND when none yet. */
int store_upstream_folder_get(struct store *st, int64_t id, const char *folder,
			      uint32_t *uidvalidity_r, uint32_t *last_uid_r,
			      bool *refetch_r, const char **error_r);
/* Sets it (insert or replace). */
int store_upstream_folder_set(struct store *st, int64_t id, const char *folder,
			      uint32_t uidvalidity, uint32_t last_uid, bool refetch,
			      const char **error_r);
/* Raises the folder's last UID to uid (when below). */
int store_upstream_folder_advance(struct store *st, int64_t id, const char *folder,
				  uint32_t uid, const char **error_r);
/* 1 when a message with that raw SHA-256 was fetched by the account, 0 when
 * not, -1 on error. */
int store_upstream_hash_known(struct store *st, int64_t id, const char *hash);
/* The POP3 UIDLs remembered for the account (malloc'd strings). */
int store_upstream_uidl_list(struct store *st, int64_t id, char ***uidls_r,
			     size_t *n_r, const char **error_r);
/* Forgets UIDLs the server no longer lists (uidls[0..n) in one transaction). */
int store_upstream_uidl_forget(struct store *st, int64_t id,
			       const char *const *uidls, size_t n,
			       const char **error_r);
void store_upstream_uidls_free(char ***uidls, size_t n);

/* One fetched message, its blob committed. */
struct upstream_delivery {
	int64_t upstream_id;
	int64_t user_id;
	int64_t mailbox_id;		/* the target mailbox */
	const char *blob;
	uint64_t size;
	int64_t internal_date;
	const char *raw_hash;		/* SHA-256 of the bytes as fetched */
	const char *dedupe_key;		/* NULL: no per-user dedupe */
	bool skip_known_hash;		/* refetch after a UIDVALIDITY change:
					 * a known raw hash is recorded, not appended */
	/* IMAP: the folder, its UIDVALIDITY and the UID (folder NULL for POP3) */
	const char *folder;
	uint32_t uidvalidity;
	uint32_t uid;
	/* POP3: the UIDL, or NULL when the server has none */
	const char *uidl;
	/* the flags (enum store_flag) and keywords (space-separated, or
	 * NULL) the message had upstream, given to it here */
	unsigned flags;
	const char *keywords;
	/* Gmail's X-GM-MSGID (0: none): one message under several labels */
	uint64_t gm_msgid;
	/* two-way account: the message is linked to its upstream UID
	 * (store/twoway.h), and a message of an unresolved link (same raw
	 * hash, same folder) is linked again instead of appended */
	bool two_way;
	/* placed: the user's Sieve script decided where it goes: these
	 * copies (folder by name, flags, keywords, blob) are appended
	 * instead of one to mailbox_id, none for a discard or a redirect */
	bool placed;
	const struct store_copy *copies;
	size_t n_copies;
	/* spam (fetch/spam.c): not placed, it goes to the user's Junk folder
	 * (special use, made when missing) instead of mailbox_id */
	bool junk;
};

/*
 * In one transaction: unless the message is known as fetched already (UID
 * not above the folder's last UID under the same UIDVALIDITY, or a known
 * UIDL), appends it to the mailbox (unless its dedupe key is known for the
 * user, or skip_known_hash and its raw hash is known) and records it as fetched (last UID, UIDL, raw hash, dedupe key,
 * count).  *appended_r says whether a copy was added to the mailbox
 * (with placed: whether the message was taken, if only to be discarded).
 * STORE_OVERQUOTA when the user's quota would be exceeded (nothing written).
 */
int store_upstream_deliver(struct store *st, const struct upstream_delivery *d,
			   bool *appended_r, const char **error_r);
/* The same inside the caller's transaction (for the store's own use). */
int store_upstream_deliver_tx(struct store *st, const struct upstream_delivery *d,
			      bool *appended_r, const char **error_r);

/*
 * Many fetched messages made durable and delivered together
 * (upstream_batch.c): each message is kept in memory as it arrives, or
 * written to a temporary blob file once it is large (begin, write, end
 * with its delivery record; the blob field of the record is filled in).
 * Prepare writes the files of those kept in memory.  Commit prepares what
 * is left, makes all the files durable with two syncfs(2) calls, moves
 * them to their names, and delivers every record in one transaction (as
 * store_upstream_deliver, each message on its own savepoint).  A message
 * refused (over quota) ends the batch there: the ones before it are
 * committed (*delivered_r counts them) and its status is returned.
 * Nothing of a batch is recorded before commit returns.
 */
struct upstream_batch;
int store_upstream_batch_new(struct store *st, struct upstream_batch **b_r);
/* Starts a message; max_size (0: none) makes write fail (STORE_INVALID)
 * past it. */
int store_upstream_batch_begin(struct upstream_batch *b, uint64_t max_size,
			       const char **error_r);
int store_upstream_batch_write(struct upstream_batch *b, const void *p, size_t n,
			       const char **error_r);
/* Ends the message, queueing it with its record (copied). */
int store_upstream_batch_end(struct upstream_batch *b,
			     const struct upstream_delivery *d, const char **error_r);
/*
 * For another writer of many messages (store/import.c): the rows of one
 * message are written by rows (inside commit's transaction, on the
 * message's own savepoint) instead of store_upstream_deliver_tx(), which
 * gets the record and the extra given to store_upstream_batch_end_extra()
 * (owned by the batch from then on: extra_free frees it).
 */
typedef int upstream_batch_rows_fn(struct store *st, const struct upstream_delivery *d,
				   void *extra, bool *appended_r, const char **error_r);
void store_upstream_batch_set_rows(struct upstream_batch *b, upstream_batch_rows_fn *rows,
				   void (*extra_free)(void *extra));
int store_upstream_batch_end_extra(struct upstream_batch *b,
				   const struct upstream_delivery *d, void *extra,
				   const char **error_r);
/* For a check of the message begun before it ends (fetch/spam.c: rspamd):
 * a new descriptor reading its bytes so far from the start (the caller
 * closes it), and their number.  The bytes stay the batch's. */
int store_upstream_batch_message_open(struct upstream_batch *b, int *fd_r,
				      uint64_t *size_r, const char **error_r);
/* Puts p[0..n) (header fields) in front of the message begun; not counted
 * against its max_size.  A failure loses the message: abort it. */
int store_upstream_batch_prepend(struct upstream_batch *b, const char *p, size_t n,
				 const char **error_r);
/* Throws away the message begun (not the queued ones). */
void store_upstream_batch_abort_message(struct upstream_batch *b);
size_t store_upstream_batch_count(const struct upstream_batch *b);
/* Does the file work of the messages queued so far (their temporary files
 * written, their IMAP cache computed), which commit would do otherwise.
 * It touches no SQLite handle, so the run's thread may call it while
 * another batch of the same store commits (on the committer's thread).
 * An error is kept and is also what the batch's commit returns. */
int store_upstream_batch_prepare(struct upstream_batch *b, const char **error_r);
int store_upstream_batch_commit(struct upstream_batch *b, unsigned *appended_r,
				unsigned *delivered_r, const char **error_r);
/* After a commit whose messages' bytes went into records (sql/056; see
 * upstream_batch.c): their files and folders fsynced, then the records
 * handed to a later transaction to delete (a failed fsync is logged and
 * leaves them for the next start).  Touches no SQLite handle, so the
 * committer's thread runs it while the run goes on; the batch's next
 * commit and its free run it when no one did.  Nothing to do otherwise. */
void store_upstream_batch_settle(struct upstream_batch *b);
/* Throws away everything not committed, and deletes the records of its
 * synced files (above); NULL ok. */
void store_upstream_batch_free(struct upstream_batch **b);

#endif
