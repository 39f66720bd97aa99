/*
 * fetch: the upstream fetcher.  Users add their other POP3/IMAP accounts
 * (store/upstreams.h) and their mail arrives in one local mailbox.
 *
 * While the daemon runs, a scheduler thread keeps the accounts on their
 * intervals (with jitter, and exponential backoff after failures so that an
 * account with a wrong password is not hammered), a pool of
 * config->fetch_workers threads runs the fetches (at most that many at
 * once), and each enabled IMAP account with idle on has a thread of its own
 * that waits in IDLE (RFC 2177) on the upstream INBOX, so new upstream mail
 * lands locally within seconds; servers without IDLE are polled.
 *
 * A fetched message goes to a blob and then, in one transaction, into the
 * owner's target mailbox together with the record that it was fetched
 * (store_upstream_deliver); only then is it deleted upstream (delete mode).
 * A crash at any instant loses nothing and duplicates nothing.
 *
 * This module owns its scheduler state behind its own lock; the web and CLI
 * only call the functions below.
 */
#ifndef MAILHUB_FETCH_FETCH_H
#define MAILHUB_FETCH_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/client_conn.h"
#include "core/config.h"
#include "store/upstreams.h"

/* Starts the scheduler, the workers and the IDLE threads.  The seal key
 * must be loaded (serve does it).  0, or -1 with *error_r. */
int fetch_start(const struct config *cfg, const char **error_r);
/* Stops every fetch at its next step, waits for the threads; nothing
 * half-delivered stays behind (SIGTERM).  No-op when not started. */
void fetch_stop(void);
/* Asks for account id to be fetched now (the API's "fetch now").  Returns 0,
 * or -1 when the fetcher is not running in this process (the caller then
 * marks the account in the store: store_upstream_request_fetch). */
int fetch_account_now(int64_t id);

/* A connection test may take each step (connect, each read and write) at
 * most FETCH_TEST_STEP_MS, and all of it (connect, TLS, login, listing) at
 * most FETCH_TEST_TOTAL_MS: a server that answers slowly or never holds
 * the test only that long. */
#define FETCH_TEST_STEP_MS 10000
#define FETCH_TEST_TOTAL_MS 15000

/* What fetch_test_settings found. */
struct fetch_test_result {
	bool ok;
	char *error;		/* plain words, when !ok; never the server's text */
	char *tls;		/* "TLSv1.3" or "none" */
	char cert_sha256[65];	/* the server's certificate, also when its
				 * check failed (to offer pinning); "" without TLS */
	char **folders;		/* IMAP: the folders the server lists */
	size_t n_folders;
	uint32_t messages;	/* POP3: messages in the maildrop */
};

/* Tries the settings without saving them: connect, TLS, login, list the
 * folders (IMAP) or the maildrop (POP3), within the limits above, on a
 * public address unless allow_private ([fetch] allow_private_hosts).
 * cancel (may be NULL) lets another thread end it at once.  Always fills
 * *result (free with fetch_test_result_clear). */
void fetch_test_settings(const struct upstream_settings *set, const char *password,
			 bool allow_private, struct client_conn_cancel *cancel,
			 struct fetch_test_result *result);
void fetch_test_result_clear(struct fetch_test_result *result);

/*
 * Fetches account id once, now, in the calling thread (`mailhub upstream
 * run`), with its own store handle st, recording the result in the
 * account's state.  *fetched_r counts the messages added locally.  0, or
 * -1 with *error_r (also recorded).
 */
int fetch_run_account(const struct config *cfg, struct store *st, int64_t id,
		      unsigned *fetched_r, const char **error_r);

/* How a fetched folder of account id is watched by this process's
 * fetcher now (push.c): by IDLE (RFC 2177), by the account's NOTIFY
 * session (RFC 5465), or not at all (polled on the account's interval,
 * also when the fetcher does not run here).  Any thread. */
enum fetch_push {
	FETCH_PUSH_POLL,
	FETCH_PUSH_IDLE,
	FETCH_PUSH_NOTIFY,
};
enum fetch_push fetch_push_state(int64_t id, const char *folder);
/* "polling", "idle", "notify". */
const char *fetch_push_name(enum fetch_push mode);

#endif
