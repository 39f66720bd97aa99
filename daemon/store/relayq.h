/*
 * relayq: what the outbound relay keeps in the store beyond the queue table
 * of queue.h (sql/005_relay.sql): worker leases and per-domain batches, the
 * outcome of attempts, the DSN sweep, the smarthost setting and the DKIM
 * keys of the local domains.
 *
 * Leases: relayq_claim() takes the due recipients of one domain in one
 * transaction and leases them (lease_until, and next_attempt moved to the
 * same time so the due index skips them); relayq_record() ends the lease
 * with the outcome.  A leased recipient is never claimed by another worker
 * while its lease runs, even if `queue flush` or `queue retry` made it due.
 * The daemon drops every lease at start (relayq_release_all()): a crash
 * mid-delivery is retried at once after the restart.
 *
 * For the queue API (web/) and CLI: list, get, retry, delete and flush are
 * store_queue_list/get/retry/delete/flush of queue.h; a retry or flush
 * marks recipients due now and the workers notice within a second.
 *
 * Functions return STORE_OK or a negative enum store_status with *error_r.
 */
#ifndef MAILHUB_STORE_RELAYQ_H
#define MAILHUB_STORE_RELAYQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "store/queue.h"
#include "store/store.h"

/* One queued message with some of its recipients. */
struct relayq_item {
	struct store_queue_message msg;	/* counts (n_recipients...) not filled */
	struct store_queue_recipient *rcpts;
	size_t n_rcpts;
};

struct relayq_batch {
	char *domain;		/* the recipients' domain (lowercase) */
	struct relayq_item *items;	/* by message id */
	size_t n_items;
};

/* Drops every lease and makes those recipients due now (daemon start). */
int relayq_release_all(struct store *st, unsigned *n_r, const char **error_r);

/*
 * Claims, in one transaction, the due and unleased open recipients of one
 * domain (the domain of the earliest due recipient): at most max_rcpts
 * recipients of at most max_messages messages, leased until lease_until.
 * An empty batch (n_items 0) when nothing is due.
 */
int relayq_claim(struct store *st, int64_t now, int64_t lease_until,
		 size_t max_rcpts, size_t max_messages,
		 struct relayq_batch *batch_r, const char **error_r);
void relayq_batch_clear(struct relayq_batch *batch);

/* The earliest next_attempt of an open recipient, 0 when none. */
int relayq_next_due(struct store *st, int64_t *when_r, const char **error_r);

/* The outcome of one attempt for one recipient. */
struct relayq_outcome {
	int64_t rcpt_id;
	enum store_queue_state state;	/* DELIVERED, DEFERRED or FAILED */
	int64_t next_attempt;		/* for DEFERRED */
	const char *reply;		/* the remote reply or our reason */
	const char *host;		/* the host tried, or NULL */
	bool dsn_passed;		/* DELIVERED to a server that took NOTIFY
					 * (RFC 3461 §5.2.2.1: it owes any DSN) */
};

/* Records outcomes in one transaction: attempts + 1, last_attempt now,
 * the lease ended; a change of state clears dsn_sent.  A recipient deleted
 * meanwhile (`queue delete`) is skipped. */
int relayq_record(struct store *st, const struct relayq_outcome *o, size_t n,
		  const char **error_r);

/*
 * The recipients that may owe a DSN, grouped by message, at most max
 * recipients: failed ones without dsn_sent, and deferred ones without
 * dsn_sent whose message is older than delayed_before (the delay notice),
 * of "relay" messages with a sender (RFC 3461 §6.2: never a DSN about a
 * DSN, never to the null reverse-path).  The caller applies NOTIFY and
 * marks them with relayq_dsn_done().
 */
int relayq_dsn_due(struct store *st, int64_t delayed_before, size_t max,
		   struct relayq_item **items_r, size_t *n_r,
		   const char **error_r);
void relayq_items_free(struct relayq_item **items, size_t n);
/* Sets dsn_sent on these recipients, in one transaction. */
int relayq_dsn_done(struct store *st, const int64_t *rcpt_ids, size_t n,
		    const char **error_r);
/* Fails the open, unleased recipients of messages created before
 * created_before (the queue lifetime), with reason; *n_r counts them. */
int relayq_expire(struct store *st, int64_t created_before, const char *reason,
		  unsigned *n_r, const char **error_r);

/* ---- smarthost --------------------------------------------------------- */

struct relayq_smarthost {
	char *host;
	unsigned port;
	char *tls;		/* "implicit" or "starttls" */
	char *username;		/* NULL: no AUTH */
	char *password_sealed;	/* seal() text, NULL with no username */
	int64_t oauth_upstream;	/* not 0: log in with that upstream account's
				 * OAuth2 grant (its username, an access token)
				 * instead of username and password */
	int64_t updated;
};

/* The smarthost, or STORE_NOTFOUND for direct delivery by MX. */
int relayq_smarthost_get(struct store *st, struct relayq_smarthost *sh_r,
			 const char **error_r);
/* Sets the smarthost (the password already sealed), or with sh NULL goes
 * back to direct delivery.  STORE_INVALID for a bad host, port or tls. */
int relayq_smarthost_set(struct store *st, const struct relayq_smarthost *sh,
			 const char **error_r);
void relayq_smarthost_clear(struct relayq_smarthost *sh);

/* ---- DKIM keys ----------------------------------------------------------- */

struct relayq_dkim_key {
	char *algorithm;	/* "ed25519" or "rsa" */
	char *selector;
	char *private_key;	/* PKCS#8 PEM (stored sealed, see below) */
	char *public_key;	/* base64, the p= of the DNS record */
	int64_t created;
};

/*
 * The DKIM keys of a local domain (Ed25519 first, then RSA).  With create,
 * a domain without keys gets both now, in one transaction (Ed25519, and
 * RSA-2048; selectors "ed-YYYYMM" and "rsa-YYYYMM"); a concurrent creator
 * wins and its keys are returned.  STORE_NOTFOUND for a domain that is not
 * local, or (without create) one that has no keys yet.
 *
 * The private keys are sealed in the database like the upstream passwords
 * (core/seal.h, data_dir/secret.key), so a copy of the database alone
 * does not sign mail: reading or making them needs the key loaded
 * (seal_key_load()).  A key stored plain by an older version is still
 * read, and sealed by relayq_dkim_seal_plain().
 */
int relayq_dkim_keys(struct store *st, const char *domain, bool create,
		     struct relayq_dkim_key **keys_r, size_t *n_r,
		     const char **error_r);
void relayq_dkim_keys_free(struct relayq_dkim_key **keys, size_t n);
/* Seals the DKIM private keys still stored plain, in one transaction;
 * idempotent (a sealed key is left alone).  Nothing when no seal key is
 * loaded.  *sealed_r (may be NULL): how many it sealed. */
int relayq_dkim_seal_plain(struct store *st, unsigned *sealed_r,
			   const char **error_r);
/* The TXT record's text: "v=DKIM1; k=ed25519; p=BASE64". */
void relayq_dkim_txt(const struct relayq_dkim_key *key, struct buf *out);

/* One DNS record a domain should publish. */
struct relayq_dns_record {
	char *purpose;		/* "receive mail (MX)", "DKIM signing key (ed25519)", ... */
	char *name;		/* "example.org.", "ed-202611._domainkey.example.org." */
	char *type;		/* "MX", "TXT", "CNAME", "SRV" */
	char *value;		/* "10 mail.example.org.", TXT text unquoted */
	char *selector;		/* a DKIM key's selector, else NULL */
};

/*
 * The records a local domain should publish, for `mailhub domain show` and
 * the API's /domains/{name}/dns alike: MX, SPF, the DKIM keys (made now if
 * missing), DMARC, the autoconfig and autodiscover CNAMEs, and the SRV
 * records of RFC 6186 / RFC 8314 with the ports of cfg's listeners (the
 * "not available" form for a listener that is off).  Names end in a dot.
 * When the DKIM keys cannot be had, the other records come without them
 * and *dkim_error_r (malloc'd) says why.  STORE_NOTFOUND for a domain that
 * is not local.
 */
struct config;
int relayq_dns_records(struct store *st, const char *domain, const struct config *cfg,
		       struct relayq_dns_record **list_r, size_t *n_r,
		       char **dkim_error_r, const char **error_r);
void relayq_dns_records_free(struct relayq_dns_record **list, size_t n);

/* The MTA-STS policy this server publishes for its domains (RFC 8461
 * §3.2: [relay] mta_sts_publish mode, [server] hostname as the one mx,
 * [relay] mta_sts_max_age) into text, and its id for the _mta-sts TXT
 * record (16 hex digits of its SHA-256: a changed policy gets a new id,
 * §3.1).  False when publishing is off ("none"). */
bool relayq_mta_sts_policy(const struct config *cfg, struct buf *text, char id[17]);

#endif
