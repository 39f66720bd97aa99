/*
 * account: one fetch of one account with its result recorded, the backoff
 * rule, "try these settings", and the foreground run of the CLI.
 */
#include <string.h>

#include "core/metrics.h"
#include "core/log.h"
#include "core/seal.h"
#include "fetch/fetch_int.h"
#include "fetch/oauth.h"
#include "imap/client.h"
#include "pop3/client.h"

static uint64_t
next_log_id(void)
{
	static uint64_t seq;
	return __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
}

unsigned
fetch_next_delay(const struct store_upstream *up, bool failed)
{
	unsigned base = up->set.interval;
	if (failed) {
		/* exponential backoff: a wrong password is not retried every
		 * minute; the failure count includes this failure */
		unsigned f = up->failures > 0 ? up->failures : 1;
		uint64_t d = FETCH_BACKOFF_FIRST;
		for (unsigned i = 1; i < f && d < FETCH_BACKOFF_MAX; i++)
			d *= 2;
		if (d > FETCH_BACKOFF_MAX)
			d = FETCH_BACKOFF_MAX;
		base = (unsigned)d > base ? (unsigned)d : base;
	}
	/* up to 10% jitter, so accounts on one server do not all come at once */
	unsigned jitter = 0;
	if (base >= 10) {
		uint32_t r;
		random_bytes(&r, sizeof r);
		jitter = r % (base / 10 + 1);
	}
	return base + jitter;
}

static void
notes_free(struct fetch_run *run, struct upstream_folder_result *folders)
{
	for (size_t i = 0; i < run->n_notes; i++) {
		free(run->notes[i].folder);
		free(run->notes[i].error);
	}
	xfree(run->notes);
	run->n_notes = 0;
	free(folders);
}

int
fetch_account_once(const struct config *cfg, struct store *st,
		   const struct store_upstream *up, int stop_fd,
		   struct imap_client **keep_c, struct fetch_lanes *lanes,
		   const char *only_folder, unsigned *fetched_r, const char **error_r)
{
	struct fetch_run run = {
		.st = st,
		.up = up,
		.hostname = cfg->hostname != NULL ? cfg->hostname : "localhost",
		.max_size = cfg->message_size,
		.stop_fd = stop_fd,
		.connect = {
			.timeout_ms = FETCH_TIMEOUT_MS,
			.allow_private = cfg->fetch_allow_private_hosts,
		},
		.log_id = next_log_id(),
		.lanes = lanes,
	};
	/* two-way: further sessions for the sends, this pass's only unless
	 * the caller keeps them; the account's sessions within [fetch]
	 * idle_connections */
	struct fetch_lanes *own = NULL;
	if (lanes == NULL && up->set.two_way && up->set.protocol == UPSTREAM_IMAP &&
	    cfg->fetch_idle_connections > 1)
		run.lanes = own = fetch_lanes_new(cfg->fetch_idle_connections - 1, false);
	char *password = NULL;
	size_t plen = 0;
	const char *error = NULL;
	int ret = -1;
	*fetched_r = 0;
	if (fetch_oauth_secret(cfg, st, up, false, &password, &plen, &error) < 0)
		goto out;
	if (fetch_target_mailbox(&run, &error) < 0)
		goto out;
	if (fetch_sieve_setup(&run, &error) < 0)
		goto out;
	fetch_spam_setup(&run, cfg);
	if (fetch_committer_new(&run, &error) < 0)
		goto out;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (up->set.protocol == UPSTREAM_IMAP)
			ret = fetch_imap_account(&run, password, keep_c, only_folder, &error);
		else
			ret = fetch_pop3_account(&run, password, &error);
		/* a token the server refused before its time (revoked, or the
		 * provider's clock): one refresh tells a revoked grant (the
		 * account pauses) from a token that was just stale */
		if (ret == 0 || attempt > 0 || up->set.auth != UPSTREAM_AUTH_OAUTH2 ||
		    strstr(error, "rejected the OAuth2 access token") == NULL)
			break;
		fetch_secret_free(&password, plen);
		if (fetch_oauth_secret(cfg, st, up, true, &password, &plen, &error) < 0)
			goto out;
	}
out:
	fetch_lanes_free(&own);
	fetch_committer_free(&run);
	fetch_spam_free(&run);
	fetch_secret_free(&password, plen);
	/* the folders' results go with the account's, in one commit */
	struct upstream_folder_result *folders = xcalloc(run.n_notes + 1, sizeof *folders);
	for (size_t i = 0; i < run.n_notes; i++)
		folders[i] = (struct upstream_folder_result){
			run.notes[i].folder, run.notes[i].messages, run.notes[i].error
		};
	*fetched_r = run.appended;
	const char *err2;
	if (ret == 0 || strcmp(error, "stopped") != 0) {
		metrics_fetch_run(up->id, ret != 0, run.appended);
		metrics_fetched(run.appended);
	}
	if (ret == 0) {
		log_info("fetch[%llu] upstream=%lld owner=%s host=%s fetched=%u new=%u",
			 (unsigned long long)run.log_id, (long long)up->id, up->owner,
			 esc_str(up->set.host), run.seen, run.appended);
		if (store_upstream_record_run(st, up->id, NULL, folders, run.n_notes, &err2) !=
		    STORE_OK)
			log_error("fetch upstream=%lld cannot record the result: %s",
				  (long long)up->id, err2);
		notes_free(&run, folders);
		return 0;
	}
	/* "stopped" at shutdown is no failure of the account */
	if (strcmp(error, "stopped") != 0) {
		log_warning("fetch[%llu] upstream=%lld owner=%s host=%s failed fetched=%u error=%s",
			    (unsigned long long)run.log_id, (long long)up->id, up->owner,
			    esc_str(up->set.host), run.appended, error);
		if (store_upstream_record_run(st, up->id, error, folders, run.n_notes, &err2) !=
		    STORE_OK)
			log_error("fetch upstream=%lld cannot record the result: %s",
				  (long long)up->id, err2);
	}
	*error_r = error;
	notes_free(&run, folders);
	return -1;
}

int
fetch_run_account(const struct config *cfg, struct store *st, int64_t id,
		  unsigned *fetched_r, const char **error_r)
{
	struct store_upstream up;
	*fetched_r = 0;
	if (store_upstream_get(st, id, &up, error_r) != STORE_OK)
		return -1;
	int ret = fetch_account_once(cfg, st, &up, -1, NULL, NULL, NULL, fetched_r, error_r);
	if (ret < 0)
		*error_r = errfmt("%s", *error_r);	/* outlive up */
	store_upstream_clear(&up);
	return ret;
}

void
fetch_test_settings(const struct upstream_settings *set, const char *password,
		    bool allow_private, struct client_conn_cancel *cancel,
		    struct fetch_test_result *res)
{
	const char *error = NULL;
	memset(res, 0, sizeof *res);
	uint64_t id = next_log_id();
	const struct client_conn_params params = {
		.timeout_ms = FETCH_TEST_STEP_MS,
		.total_ms = FETCH_TEST_TOTAL_MS,
		.allow_private = allow_private,
		.cancel = cancel,
		.cert_sha256_r = res->cert_sha256,
	};
	if (set->protocol == UPSTREAM_IMAP) {
		struct imap_client *c = NULL;
		if (imap_client_open(set, password, &params, id, &c, &error) == 0 &&
		    imap_client_list(c, &res->folders, &res->n_folders, &error) == 0) {
			res->ok = true;
			res->tls = xstrdup(imap_client_tls_version(c));
			memcpy(res->cert_sha256, imap_client_cert_sha256(c), 65);
		}
		imap_client_free(&c);
	} else {
		struct pop3_client *c = NULL;
		struct pop3c_message *msgs = NULL;
		size_t n = 0;
		if (pop3_client_open(set, password, &params, id, &c, &error) == 0 &&
		    pop3_client_list(c, &msgs, &n, &error) == 0) {
			res->ok = true;
			res->tls = xstrdup(pop3_client_tls_version(c));
			memcpy(res->cert_sha256, pop3_client_cert_sha256(c), 65);
			res->messages = (uint32_t)n;
			(void)pop3_client_quit(c, &error);
		}
		pop3c_messages_free(&msgs, n);
		pop3_client_free(&c);
	}
	if (!res->ok)
		res->error = xstrdup(error != NULL ? error : "unknown error");
}

void
fetch_test_result_clear(struct fetch_test_result *res)
{
	free(res->error);
	free(res->tls);
	imapc_names_free(&res->folders, res->n_folders);
	memset(res, 0, sizeof *res);
}
