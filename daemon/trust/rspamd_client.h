/*
 * rspamd_client: the I/O half of the rspamd client (rspamd.h has the
 * protocol): a message from a file descriptor to rspamd's normal worker
 * (POST /checkv2) or to its controller (POST /learnspam, /learnham), one
 * connection per request (HTTP/1.0, Connection: close), within one
 * deadline for the whole exchange.
 *
 * It also owns what the status page shows of rspamd: the outcome and time
 * of the last contact with each worker, kept in memory under its own lock
 * (any thread may record or read it).
 */
#ifndef MAILHUB_TRUST_RSPAMD_CLIENT_H
#define MAILHUB_TRUST_RSPAMD_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"
#include "trust/rspamd.h"

/* Where a worker listens ([spam] rspamd or rspamd_controller). */
struct rspamd_server {
	char *host;
	unsigned port;
	int timeout_ms;		/* the whole request, connect to last byte */
	char *password;		/* the controller's, or NULL */
};

/* From a URL the config has checked; 0, or -1 with *error_r. */
int rspamd_server_init(struct rspamd_server *s, const char *url, unsigned timeout_s,
		       const char *password, const char **error_r);
void rspamd_server_clear(struct rspamd_server *s);

/*
 * Sends the message (size bytes read from fd, from where it stands) with
 * req's envelope to /checkv2.  0 with *r filled (the caller clears it), or
 * -1 with *error_r in plain words ("connection refused", "timed out",
 * "HTTP 500 ...", "bad reply: ...").  Records the outcome for the status.
 */
int rspamd_check(const struct rspamd_server *srv, const struct rspamd_request *req, int fd,
		 uint64_t size, struct rspamd_result *r, const char **error_r);

enum rspamd_learn_result {
	RSPAMD_LEARN_OK,	/* learned */
	RSPAMD_LEARN_DONE,	/* nothing to do: learned already (HTTP 208) */
	RSPAMD_LEARN_REFUSED,	/* a permanent refusal (4xx: too few tokens,
				 * a wrong password...): do not try again */
	RSPAMD_LEARN_FAILED,	/* a temporary failure: try again later */
};

/* Teaches the controller the message (as for rspamd_check()) as spam or
 * ham; why, for anything but OK, in reason. */
enum rspamd_learn_result rspamd_learn(const struct rspamd_server *srv, bool spam, int fd,
				      uint64_t size, struct buf *reason);

/* GET /ping of the normal worker ("pong"): 0, or -1 with *error_r.
 * Records the outcome when it fails, or when no check has been recorded
 * for a while (the status of an idle server stays current). */
int rspamd_ping(const struct rspamd_server *srv, const char **error_r);

/* What the status page shows. */
struct rspamd_status {
	time_t last_contact;	/* 0: never */
	bool ok;		/* the last contact worked */
	char last_result[RSPAMD_TEXT_MAX + 64];	/* "add header, score=6.00" or the error */
	uint64_t checked, unavailable;	/* messages checked / not checked since start */
	time_t last_learn;	/* 0: never */
	bool learn_ok;
	char learn_result[RSPAMD_TEXT_MAX + 64];
	uint64_t learned;
};

void rspamd_status_get(struct rspamd_status *out);
/* Counts a message that could not be checked (rspamd_check() failed, or
 * the message was over the size limit: then with that reason). */
void rspamd_status_unchecked(void);

#endif
