/*
 * store: the only code that touches SQLite and the message files.
 *
 * A struct store is one handle: a SQLite connection (WAL, synchronous=FULL,
 * busy_timeout, foreign keys on) with its prepared statements, plus the
 * data_dir it lives in.  A handle belongs to one thread; sessions and workers
 * open their own.  Every statement is prepared; no SQL is ever built from
 * user data.
 *
 * Messages are immutable files under data_dir/blobs/ named by their SHA-256
 * (blob.h); rows here reference them.  Durability: a blob is fsynced and
 * renamed (and its directory fsynced) before the transaction that references
 * it commits, and a function that reports success has committed.
 *
 * Addresses are compared without regard to ASCII case and stored lowercased.
 * Functions return STORE_OK (0) or a negative enum store_status, with a
 * human-readable *error_r for anything but STORE_OK.
 */
#ifndef MAILHUB_STORE_STORE_H
#define MAILHUB_STORE_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/hash.h"

enum store_status {
	STORE_OK = 0,
	STORE_ERROR = -1,	/* I/O, SQLite, or something unexpected */
	STORE_NOTFOUND = -2,	/* no such domain, user, alias, mailbox... */
	STORE_EXISTS = -3,	/* already there */
	STORE_INVALID = -4,	/* malformed name or address, bad value */
	STORE_OVERQUOTA = -5,	/* the user's quota would be exceeded */
	STORE_LOOP = -6,	/* an alias chain loops or runs too deep */
	STORE_NOTLOCAL = -7,	/* the address's domain is not a local domain */
	STORE_BUSY = -8,	/* in use (a domain with users, a mailbox with children) */
	STORE_NOSPACE = -9,	/* the disk (or the database) is full: try later */
};

struct store;

/* Opens (creating if needed) data_dir/mailhub.db and data_dir/blobs/, and
 * applies pending migrations from sql/ in order, each in its own transaction,
 * recording them in schema_migrations. */
int store_open(const char *data_dir, struct store **st_r, const char **error_r);
void store_close(struct store **st);
/* SQLite's page cache of this handle's connection, at most kib KiB (it
 * grows only as pages are read; SQLite's default is 2,000 KiB): for the
 * handles that read a large working set again and again (the fetcher's
 * link tables, a bulk import), not for the one of each IMAP session. */
void store_cache_kib(struct store *st, unsigned kib);
/* For a process that runs briefly (a command of the CLI): its commits ask
 * for a checkpoint only once the frames it added itself would have (a
 * pass that fetches thousands of messages checkpoints as it goes).  The
 * frames the WAL held before are the daemon's keeper's to checkpoint on
 * its next commit (or the last connection's to close, when no daemon
 * runs), rather than the command spending its short life copying them
 * and waiting, at its exit, for the fsync of the database that ends a
 * checkpoint.  Its lazy commits are
 * synced at once, behind the work that follows them, rather than after
 * STORE_LAZY_SYNC_MS: store_close() waits for what is not synced yet. */
void store_wal_brief(void);
/* The characters that end a local part and start its subaddress (RFC 5233:
 * "alice+shopping@" is alice's), for every resolution through this handle;
 * NULL or "" (the default): none.  Postfix's recipient_delimiter. */
void store_set_recipient_delimiter(struct store *st, const char *delimiters);
const char *store_data_dir(const struct store *st);
/* The applied migration versions, newest last (for tests and `version`). */
int store_schema_version(struct store *st, int *version_r, const char **error_r);

/* ---- domains ---------------------------------------------------------- */

struct store_domain {
	int64_t id;
	char *name;
	int64_t created;
};

/* A domain name: LDH labels, dots between, at most 253 bytes; lowercased. */
bool store_domain_name_valid(const char *name);
int store_domain_add(struct store *st, const char *name, const char **error_r);
/* STORE_BUSY while users or aliases of the domain exist. */
int store_domain_del(struct store *st, const char *name, const char **error_r);
/* 1 when local, 0 when not, -1 on error. */
int store_domain_is_local(struct store *st, const char *name);
int store_domain_list(struct store *st, struct store_domain **list_r,
		      size_t *n_r, const char **error_r);
void store_domain_list_free(struct store_domain **list, size_t n);

/* ---- users ------------------------------------------------------------ */

struct store_user {
	int64_t id;
	char *address;
	char *password_hash;	/* "{CRYPT}$y$..." */
	bool admin;
	bool enabled;
	uint64_t quota;		/* bytes, 0: unlimited */
	uint64_t used;		/* bytes stored in all mailboxes */
	int64_t created;
	uint64_t quota_messages;	/* RFC 9208 MESSAGE limit, 0: none */
	uint64_t messages;	/* messages in all mailboxes */
};

/* "local@domain" with a valid domain, local part of RFC 5321 dot-atom
 * characters (no quoting), at most 64 + 1 + 255 bytes. */
bool store_address_valid(const char *address);

/* Adds a user of a local domain with its mailboxes (INBOX, Drafts, Sent,
 * Trash, Junk, Archive with their SPECIAL-USE attributes).  STORE_NOTLOCAL
 * when the domain is not local; STORE_EXISTS when the address is taken by a
 * user or an alias. */
int store_user_add(struct store *st, const char *address,
		   const char *password_hash, bool admin, uint64_t quota,
		   const char **error_r);
int store_user_set_password(struct store *st, const char *address,
			    const char *password_hash, const char **error_r);
int store_user_set_admin(struct store *st, const char *address, bool admin,
			 const char **error_r);
int store_user_set_quota(struct store *st, const char *address, uint64_t quota,
			 const char **error_r);
/* The most messages the user may keep (QUOTA's MESSAGE resource, RFC 9208
 * §5.2), 0: no limit. */
int store_user_set_quota_messages(struct store *st, const char *address,
				  uint64_t messages, const char **error_r);
int store_user_set_enabled(struct store *st, const char *address, bool enabled,
			   const char **error_r);
/* Deletes the user, their mailboxes, messages and tokens.  Blob files no
 * longer referenced are left for store_blob_gc(). */
int store_user_del(struct store *st, const char *address, const char **error_r);
int store_user_get(struct store *st, const char *address,
		   struct store_user *user_r, const char **error_r);
int store_user_get_by_id(struct store *st, int64_t id,
			 struct store_user *user_r, const char **error_r);
int store_user_list(struct store *st, struct store_user **list_r, size_t *n_r,
		    const char **error_r);
void store_user_clear(struct store_user *user);
void store_user_list_free(struct store_user **list, size_t n);
/* Checks address and password of an enabled user: STORE_OK and *user_r,
 * or STORE_NOTFOUND for any failure (unknown user, wrong password, disabled)
 * so callers cannot tell them apart to the peer. */
int store_user_authenticate(struct store *st, const char *address,
			    const char *password, struct store_user *user_r,
			    const char **error_r);
/* Number of users, and of admins (for `serve` creating a first admin). */
int store_user_count(struct store *st, bool admins_only, unsigned *n_r,
		     const char **error_r);

/* ---- aliases ---------------------------------------------------------- */

struct store_alias {
	int64_t id;
	char *source;		/* "x@example.org" or "@example.org" (catch-all) */
	char **destinations;	/* addresses, local or remote */
	size_t n_destinations;
	int64_t created;
};

/* Adds an alias of a local domain.  STORE_EXISTS when the source is a user
 * or an alias already; STORE_LOOP when the new alias would make any address
 * resolve into a loop (nothing is written then). */
int store_alias_add(struct store *st, const char *source,
		    const char *const *destinations, size_t n,
		    const char **error_r);
/* Replaces the destinations (same checks). */
int store_alias_set(struct store *st, const char *source,
		    const char *const *destinations, size_t n,
		    const char **error_r);
int store_alias_del(struct store *st, const char *source, const char **error_r);
int store_alias_get(struct store *st, const char *source,
		    struct store_alias *alias_r, const char **error_r);
int store_alias_list(struct store *st, struct store_alias **list_r, size_t *n_r,
		     const char **error_r);
void store_alias_clear(struct store_alias *alias);
void store_alias_list_free(struct store_alias **list, size_t n);

/* What one address resolves to. */
struct store_resolution {
	int64_t *user_ids;	/* distinct local users */
	char **user_addresses;	/* their addresses, same order */
	char **details;		/* per user: the delimiter and subaddress it was
				 * reached with ("+shopping", RFC 5233), or NULL */
	size_t n_users;
	char **remote;		/* distinct non-local destinations */
	size_t n_remote;
};

/*
 * Resolves address: a user of that name; else an alias of that name; else,
 * when the local part has a subaddress (store_set_recipient_delimiter()),
 * the user or alias without it (a user keeps the subaddress in details);
 * else the domain's catch-all ("@domain"); alias destinations are resolved
 * again (at most ALIAS_DEPTH_MAX deep; a cycle is STORE_LOOP).  An address
 * of a domain that is not local is STORE_NOTLOCAL; a local domain with no
 * match, or an alias whose only destinations are disabled users,
 * STORE_NOTFOUND.
 */
int store_resolve(struct store *st, const char *address,
		  struct store_resolution *res_r, const char **error_r);
void store_resolution_clear(struct store_resolution *res);
/* True when address resolves (through aliases) to user_id: for submission's
 * "the sender belongs to the authenticated user" check. */
int store_address_owned_by(struct store *st, const char *address,
			   int64_t user_id, bool *owned_r, const char **error_r);

/* ---- mailboxes -------------------------------------------------------- */

struct store_mailbox {
	int64_t id;
	int64_t user_id;
	char *name;		/* "INBOX", "Archive/2024" (delimiter '/') */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	char *special_use;	/* "\\Sent" or NULL */
	bool subscribed;
	uint32_t messages;	/* count of messages */
	uint32_t unseen;	/* messages without \Seen */
	uint32_t first_recent_uid; /* UIDs >= this are \Recent for the next SELECT */
	uint32_t keywords;	/* size of its keyword list (sql/012); read by
				 * the IMAP view's reads only (imapdb.h), else 0 */
};

int store_mailbox_get(struct store *st, int64_t user_id, const char *name,
		      struct store_mailbox *mb_r, const char **error_r);
int store_mailbox_get_by_id(struct store *st, int64_t mailbox_id,
			    struct store_mailbox *mb_r, const char **error_r);
int store_mailbox_list(struct store *st, int64_t user_id,
		       struct store_mailbox **list_r, size_t *n_r,
		       const char **error_r);
int store_mailbox_create(struct store *st, int64_t user_id, const char *name,
			 const char *special_use, bool subscribe,
			 const char **error_r);
void store_mailbox_clear(struct store_mailbox *mb);
void store_mailbox_list_free(struct store_mailbox **list, size_t n);

/* ---- messages --------------------------------------------------------- */

/* System flags as bits; keywords are kept as text. */
enum store_flag {
	STORE_FLAG_SEEN = 1 << 0,
	STORE_FLAG_ANSWERED = 1 << 1,
	STORE_FLAG_FLAGGED = 1 << 2,
	STORE_FLAG_DELETED = 1 << 3,
	STORE_FLAG_DRAFT = 1 << 4,
};

struct store_message {
	int64_t id;
	int64_t mailbox_id;
	uint32_t uid;
	uint64_t modseq;
	char blob[SHA256_HEX_LEN + 1];
	uint64_t size;
	int64_t internal_date;
	unsigned flags;		/* enum store_flag bits */
	char *keywords;		/* space-separated, or NULL */
};

/*
 * Appends a message (its blob already committed) to a mailbox: the next UID,
 * a new MODSEQ, the user's used bytes, the IMAP cache of the blob
 * (store_imap_cache_prepare()), all in one transaction; then notifies the
 * mailbox's watchers.  STORE_OVERQUOTA when the user's quota would be
 * exceeded (unless ignore_quota).
 */
int store_append(struct store *st, int64_t mailbox_id, const char *blob,
		 uint64_t size, int64_t internal_date, unsigned flags,
		 const char *keywords, bool ignore_quota, uint32_t *uid_r,
		 const char **error_r);
/* The messages of a mailbox with uid >= uid_min, in UID order. */
int store_message_list(struct store *st, int64_t mailbox_id, uint32_t uid_min,
		       struct store_message **list_r, size_t *n_r,
		       const char **error_r);
void store_message_list_free(struct store_message **list, size_t n);
/* Removes the messages with these UIDs (those that exist) from a mailbox in
 * one transaction, lowers the user's used bytes, bumps HIGHESTMODSEQ, and
 * notifies watchers.  *removed_r (may be NULL) counts what was removed. */
int store_expunge(struct store *st, int64_t mailbox_id, const uint32_t *uids,
		  size_t n, size_t *removed_r, const char **error_r);

/*
 * Computes the IMAP ENVELOPE and BODYSTRUCTURE of a committed blob from its
 * file (mime_imap_cache(); the file was just written and is in the page
 * cache) and keeps them on the handle: the next delivery or append of that
 * blob writes them into its message rows, so that FETCH never parses it.
 * store_deliver*() and store_append() call it themselves before their
 * transaction (again for the same blob costs nothing); a caller that runs
 * its deliveries under a lock of its own calls it before taking the lock.
 * Must not be called inside a transaction.
 */
void store_imap_cache_prepare(struct store *st, const char *blob);

/* ---- delivery --------------------------------------------------------- */

/* The outcome for one recipient of store_deliver_many(). */
struct store_delivery {
	int status;		/* STORE_OK or a negative enum store_status */
	char *error;		/* malloc'd reason when status != STORE_OK */
	char **forward;		/* remote destinations reached through aliases */
	size_t n_forward;
};

/*
 * Delivers one stored blob to recipient: resolves it (store_resolve) and
 * appends the message to the INBOX of every local user it reaches, in one
 * transaction, so either all of them have it or none does.  A user reached
 * twice gets one copy.  Remote destinations reached through aliases are not
 * delivered here: they come back in *delivery_r for the caller to queue.
 */
int store_deliver(struct store *st, const char *recipient, const char *blob,
		  uint64_t size, int64_t internal_date,
		  struct store_delivery *delivery_r, const char **error_r);
/*
 * The same for n recipients in one transaction: each recipient gets its own
 * outcome in deliveries[i]; the function returns STORE_OK when the
 * transaction committed (even if some recipients failed), and every local
 * user reached by several recipients gets one copy.
 */
int store_deliver_many(struct store *st, const char *const *recipients,
		       size_t n, const char *blob, uint64_t size,
		       int64_t internal_date, struct store_delivery *deliveries,
		       const char **error_r);
void store_delivery_clear(struct store_delivery *d);
/*
 * What store_deliver_many() would make of the recipients for a message of
 * size bytes, without writing anything: deliveries[i].status and .error as
 * it would set them (forward is not filled).  For a caller to refuse a
 * message nobody would take before its blob is placed, so that a refusal
 * leaves nothing on disk; the delivery itself checks again.  Returns how
 * many recipients would take it, or STORE_ERROR.
 */
int store_deliver_check(struct store *st, const char *const *recipients,
			size_t n, uint64_t size, struct store_delivery *deliveries,
			const char **error_r);
/* Whether a message of size bytes fits the user's quota now: 1, 0, or
 * STORE_ERROR (STORE_NOTFOUND for no such user). */
int store_user_quota_fits(struct store *st, int64_t user_id, uint64_t size,
			  const char **error_r);

/* One user's copy of a message for store_deliver_copies(). */
struct store_copy {
	int64_t user_id;
	const char *mailbox;	/* the folder it asks for (a subaddress), matched
				 * without regard to ASCII case; NULL, or no
				 * such folder: the INBOX */
	const char *special_use;	/* "\\Junk" (spam): the user's folder of
					 * that special use (RFC 6154) instead, made
					 * when the user has none; NULL: mailbox */
	const char *blob;	/* its committed blob */
	uint64_t size;
	unsigned flags;		/* STORE_FLAG_* it is stored with (Sieve) */
	const char *keywords;	/* space-separated keywords, or NULL */
	bool create;		/* make mailbox when the user has none (Sieve
				 * fileinto :create, RFC 5490 §3.2) */
	int status;		/* out: STORE_OK or STORE_OVERQUOTA */
	char *error;		/* out: malloc'd reason when not STORE_OK */
};

/*
 * Appends each copy to its user's mailbox in one transaction: either all
 * that fit the quotas are in, or (STORE_ERROR and the like, for all) none
 * is.  Copies may share a blob.  A user over quota gets STORE_OVERQUOTA in
 * its status and the others are still delivered.
 */
int store_deliver_copies(struct store *st, struct store_copy *copies, size_t n,
			 int64_t internal_date, const char **error_r);
/* Work a caller adds to a transaction of the store's: STORE_OK, or a
 * failure that rolls the whole transaction back. */
typedef int store_tx_fn(struct store *st, void *arg, const char **error_r);
/*
 * Hands m, which the caller holds and by which writers take turns for
 * their transactions, to the end of the next transaction of st: a COMMIT
 * unlocks it as soon as SQLite has the transaction in its WAL, before
 * store_commit() syncs the WAL (a light commit: store_begin_light()), and
 * a ROLLBACK at once; so the next writer does its work while this one
 * waits for the disk, and their flushes are shared.  Nothing becomes
 * durable any later: store_commit() still returns after the sync.
 * store_commit_unlocks_end() unlocks m if no transaction ended (a failed
 * BEGIN) and forgets it.
 */
void store_commit_unlocks(struct store *st, pthread_mutex_t *m);
/* store_commit_unlocks() for a lock the caller does not hold: the store
 * takes m right before the next transaction's BEGIN, so that the work it
 * does first outside the transaction (a delivery parses its blobs for the
 * IMAP cache) is not done in the writers' turn. */
void store_commit_takes(struct store *st, pthread_mutex_t *m);
void store_commit_unlocks_end(struct store *st);
/* store_deliver_copies() that also runs also(st, also_arg) inside the
 * delivery's transaction, after the copies (NULL: nothing more). */
int store_deliver_copies_with(struct store *st, struct store_copy *copies, size_t n,
			      int64_t internal_date, store_tx_fn *also, void *also_arg,
			      const char **error_r);
/* Frees what store_deliver_copies() put in c. */
void store_copy_clear(struct store_copy *c);
/*
 * For a delivery whose blobs were placed by blob_writer_link() (their
 * names not yet known to be durable, sql/054): the next
 * store_deliver_copies*() of st records each blob hash given here in its
 * transaction, so that a crash before the names are durable leaves rows
 * that `mailhub fsck --repair` can tell from any other and remove (the
 * message was never acknowledged).  Once blob_writer_wait_name() succeeded
 * for them, store_name_pending_synced() hands that delivery's records to a
 * later delivery's transaction, which deletes them;
 * store_name_pending_forget() leaves them for fsck (a failed wait).
 * w (NULL: none) is the blob's writer: when its bytes are all in memory
 * and small (blob_writer_bytes()), they go into the record too (sql/056),
 * so that the commit makes the message durable; the writer is told
 * (blob_writer_recorded()), blob_writer_wait_durable() does not wait for
 * it, and its record is deleted once the background fsyncs succeeded,
 * not by store_name_pending_synced().  w must live until that delivery's
 * store_deliver_copies*() returned.
 */
struct blob_writer;
void store_name_pending(struct store *st, const char *hash, struct blob_writer *w);
void store_name_pending_synced(struct store *st);
void store_name_pending_forget(struct store *st);
/*
 * After a crash, before anything reads a blob (serve, at its start): each
 * record that holds its message's bytes (sql/056) is written out
 * (blob_restore()) and deleted; a record whose blob no row references any
 * more (the message was expunged, or its delivery failed) is deleted
 * alone.  *restored_r: the records written out (may be NULL).  A record
 * that cannot be written out stays (logged), for the next start or fsck;
 * STORE_OK when every one was, else the last failure.
 */
int store_names_pending_restore(struct store *st, unsigned *restored_r,
				const char **error_r);
/* One record of those: STORE_OK when it is done with (written out, or no
 * longer needed: *written_r says which) and deleted. */
int store_name_pending_restore_one(struct store *st, int64_t id, bool *written_r,
				   const char **error_r);

/* ---- API tokens ------------------------------------------------------- */

struct store_token {
	int64_t id;
	int64_t user_id;
	char *name;
	char *prefix;		/* the first 8 characters, to tell tokens apart */
	int64_t created;
	int64_t last_used;	/* 0: never; kept to the minute */
	int64_t expires;	/* refused from then on; 0: never */
};

/* Makes a new token of 256 random bits for the user, valid until expires
 * (a Unix time in the future, or 0 for no end); *token_r (malloc'd) is the
 * only time it is seen in clear: only its SHA-256 is stored.  A user's
 * tokens are deleted when their password changes or they are disabled
 * (sql/008's triggers). */
int store_token_create(struct store *st, const char *address, const char *name,
		       int64_t expires, char **token_r, int64_t *id_r,
		       const char **error_r);
/* Finds the enabled user an unexpired token belongs to (STORE_NOTFOUND
 * otherwise) and notes the use. */
int store_token_check(struct store *st, const char *token,
		      struct store_user *user_r, const char **error_r);
int store_token_list(struct store *st, int64_t user_id,
		     struct store_token **list_r, size_t *n_r,
		     const char **error_r);
/* Deletes a token of that user (STORE_NOTFOUND when it is not theirs). */
int store_token_del(struct store *st, int64_t user_id, int64_t token_id,
		    const char **error_r);
void store_token_list_free(struct store_token **list, size_t n);

/* ---- credentials epoch and two-factor sign-in (totp.c) ---------------- */

/*
 * Each user has a credentials epoch, a random number drawn again when their
 * password changes or they are disabled (sql/008's triggers, so that every
 * writer, the CLI in another process included, has the effect) and when
 * their two-factor sign-in is reset.  A panel session keeps the epoch it
 * was made under and ends when the user's moves on.
 */
/* The epoch of user_id.  With password_hash non-NULL, only while the
 * user's hash is still that one: a session is never made under the epoch
 * of a password newer than the one that was checked.  STORE_NOTFOUND when
 * the user is gone or the hash changed. */
int store_user_epoch(struct store *st, int64_t user_id,
		     const char *password_hash, int64_t *epoch_r,
		     const char **error_r);
/* The enabled user user_id, when their epoch is still epoch; otherwise
 * STORE_NOTFOUND (gone, disabled, or the credentials changed). */
int store_user_get_session(struct store *st, int64_t user_id, int64_t epoch,
			   struct store_user *user_r, const char **error_r);

/* A user's TOTP secret (RFC 6238) and what goes with it. */
struct store_totp {
	char *secret_sealed;	/* base32 secret, sealed (core/seal) */
	bool enabled;		/* false from enrolment until the first code */
	int64_t last_step;	/* time step of the last code accepted */
	int64_t created;
	unsigned recovery_left;	/* recovery codes not used yet */
};

/* STORE_NOTFOUND when the user has no TOTP secret, enrolled or not. */
int store_totp_get(struct store *st, int64_t user_id, struct store_totp *t_r,
		   const char **error_r);
void store_totp_clear(struct store_totp *t);
/* Starts an enrolment with a new secret, replacing one not confirmed yet;
 * STORE_EXISTS when two-factor sign-in is on already. */
int store_totp_begin(struct store *st, int64_t user_id,
		     const char *secret_sealed, const char **error_r);
/* Turns it on after the first code (of time step step) and stores the
 * recovery codes (canonical forms, totp_recovery_normalize(); only their
 * SHA-256 is kept), in one transaction.  STORE_NOTFOUND when there is no
 * enrolment, STORE_EXISTS when it is on already. */
int store_totp_enable(struct store *st, int64_t user_id, int64_t step,
		      const char *const *recovery, size_t n,
		      const char **error_r);
/* Uses the code of time step step: STORE_OK once, when it is on and step
 * is later than the last one used; STORE_NOTFOUND otherwise (a replay). */
int store_totp_use_step(struct store *st, int64_t user_id, int64_t step,
			const char **error_r);
/* Uses a recovery code (canonical form): STORE_OK once; STORE_NOTFOUND
 * for a code that is not the user's or was used. */
int store_totp_use_recovery(struct store *st, int64_t user_id,
			    const char *code, const char **error_r);
/* Removes the secret and the recovery codes; with end_sessions (an admin's
 * reset: the device may be in the wrong hands) draws a new epoch as well.
 * STORE_NOTFOUND when there was nothing to remove. */
int store_totp_remove(struct store *st, int64_t user_id, bool end_sessions,
		      const char **error_r);

/* ---- change notification ---------------------------------------------- */

/*
 * A watch on one mailbox: its fd becomes readable after any committed change
 * to the mailbox (new message, flags, expunge) made by this process.  The
 * waiting session then looks at the store and calls store_watch_drain().
 * The registry of watches is owned by this module behind its own lock.
 */
struct store_watch;
/* NULL (logged) when no eventfd can be had: out of file descriptors. */
struct store_watch *store_watch_new(int64_t mailbox_id);
int store_watch_fd(const struct store_watch *w);
void store_watch_drain(struct store_watch *w);
void store_watch_free(struct store_watch **w);
/* Wakes every watch of the mailbox (the store calls it after commits);
 * the count of store_mailbox_gen() before this raised it. */
uint64_t store_notify_mailbox(int64_t mailbox_id);
/* A count that store_notify_mailbox(mailbox_id) raises (and, rarely, that
 * of another mailbox): unchanged since an earlier read means that this
 * process committed no change to the mailbox in between.  Read it before
 * looking at the mailbox.  Another process's commits do not raise it. */
uint64_t store_mailbox_gen(int64_t mailbox_id);
/*
 * A read span: the reads of st between store_read_begin() and
 * store_read_end() (of the store's public read functions, none that
 * writes) see one snapshot and take the database's read lock once.  Any
 * commit, by any connection, makes the next read transaction of every
 * other connection read its pages again: a command that reads several
 * things pays that once.  Inside a transaction of st, nothing (the reads
 * are in it).  store_read_end() always ends what store_read_begin() began.
 */
int store_read_begin(struct store *st, const char **error_r);
void store_read_end(struct store *st);
/*
 * What st's last commit did to mailbox_id, when it changed that mailbox
 * alone and raised its HIGHESTMODSEQ once: *gen_before_r the count of
 * store_mailbox_gen() just before the commit's own raise (so gen_before + 1
 * just after it), *modseq_r the HIGHESTMODSEQ it gave the mailbox.  A
 * caller that looked at the mailbox when it had HIGHESTMODSEQ
 * *modseq_r - 1 knows that no other change, of any process, came between
 * that look and this commit (every change raises it).  False otherwise.
 */
bool store_own_change(const struct store *st, int64_t mailbox_id,
		      uint64_t *gen_before_r, uint64_t *modseq_r);

/*
 * Changes made by another process (the CLI) wake no watch.  A session that
 * holds no handle while it waits compares stamps instead of opening the
 * database to look: a stamp is the size and change time of mailhub.db and
 * of its write-ahead log, read with two stat() calls.  Equal stamps mean
 * that nothing was committed in between, except that a commit within the
 * same clock tick as the earlier stamp that leaves the log's size as it was
 * may go unseen; so the caller still looks now and then regardless.
 */
struct store_stamp {
	int64_t db_size, db_mtime_ns;
	int64_t wal_size, wal_mtime_ns;
};
void store_stamp_read(const char *data_dir, struct store_stamp *stamp_r);
bool store_stamp_equal(const struct store_stamp *a,
		       const struct store_stamp *b);

/* ---- blob garbage collection ------------------------------------------ */

/*
 * Removes blob files that no row references and whose mtime is older than
 * min_age seconds.  Deleting a blob at the moment it is unreferenced would
 * race with a delivery that has just committed the same content (the file
 * exists, its row is not yet written): blob_writer_place() refreshes the
 * mtime of an existing blob, so a young file is never collected, and a
 * blob a writer holds (store/blob.h) is never collected at all.  A refused
 * message removes its own blob at once; this is the safety net for what a
 * crash left.
 */
int store_blob_gc(struct store *st, unsigned min_age, unsigned *removed_r,
		  const char **error_r);

/* ---- fsck ------------------------------------------------------------- */

struct store_fsck_report {
	unsigned blobs;			/* blob files looked at */
	unsigned rows;			/* message rows looked at */
	unsigned corrupt_blobs;		/* content does not hash to its name */
	unsigned missing_blobs;		/* rows whose blob file is missing */
	unsigned orphan_blobs;		/* files no row references */
	unsigned stray_files;		/* temporary or unknown files */
	unsigned used_fixed;		/* users whose used bytes were wrong */
	unsigned removed;		/* files removed by repair */
	unsigned wrong_modes;		/* files or folders others may read */
	unsigned modes_fixed;		/* of those, tightened by repair */
	/* rows whose blob lost its name in a crash before their message was
	 * acknowledged (sql/054), and of those, the ones repair removed */
	unsigned unacked;
	unsigned unacked_removed;
	/* blobs missing or cut short whose bytes are in their record
	 * (sql/056), and of those, the ones repair wrote out */
	unsigned recorded;
	unsigned recorded_written;
};

/*
 * Checks every blob's hash and every row's blob, each user's used bytes,
 * and the modes of what data_dir holds (the database and its -wal, -shm
 * and -journal, secret.key, the self-signed TLS pair, every folder and
 * blob: more permission than the store gives them is reported).  Problems
 * are printed to out, one line each.  With repair: orphan blobs and stray
 * temporary files older than an hour are removed (younger ones may belong
 * to a delivery in progress), used bytes are recounted, and modes lose the
 * extra bits (never gain any), and the rows of messages never
 * acknowledged whose blob's name a crash took (recorded by sql/054's
 * table, see store_name_pending()) are expunged; a blob whose bytes are in
 * its record (sql/056) is written out instead (its message may have been
 * acknowledged: its rows are never removed); a referenced blob is never removed,
 * and no other row, whatever its state.  Returns STORE_OK when it could run (the report
 * says what it found).
 */
int store_fsck(struct store *st, bool repair, void *out /* FILE * */,
	       struct store_fsck_report *report_r, const char **error_r);

/*
 * A group: one light transaction for many changes of one thread that gate
 * nothing between them (the two-way sync's local changes of a folder
 * pass, fetch/twoway.c).  Between store_group_begin() and store_group_end()
 * each store_begin()/store_begin_light() opens a savepoint, its commit
 * releases it and its rollback undoes it alone; store_group_end() commits
 * the whole (durable on return, as any light commit), and
 * store_group_abort() undoes what is left.  Nothing is durable, nor seen
 * by other connections, before store_group_end().
 */
int store_group_begin(struct store *st, const char **error_r);
int store_group_end(struct store *st, const char **error_r);
/* store_group_end() as a lazy commit (store_begin_lazy(): committed, so a
 * crash of the process loses nothing; made durable by walsync.c within
 * STORE_LAZY_SYNC_MS or by an earlier sync, lost at most by a power failure
 * before that).  For changes that carry no message and that a replay makes
 * again (DESIGN.md's weaker guarantee): two-way sync's merge results. */
int store_group_end_lazy(struct store *st, const char **error_r);
void store_group_abort(struct store *st);

#endif
