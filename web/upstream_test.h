/*
 * upstream_test: POST /api/v1/upstreams/test, run off the request threads.
 *
 * A connection test reaches a server that a user named and may wait for it
 * up to FETCH_TEST_TOTAL_MS (fetch.h).  Run on one of libmicrohttpd's
 * threads, a handful of slow tests would hold them all, and with them every
 * connection those threads serve: the whole panel would stall.  So the
 * handler checks the request, hands the test to a thread of its own and
 * suspends the HTTP connection (MHD_suspend_connection); when the test is
 * done, its thread resumes the connection, libmicrohttpd calls the access
 * handler again, and web_test_reply() answers.  The request threads only
 * ever do short work.
 *
 * Limits: at most WEB_TESTS_MAX tests at once in the process and one per
 * user; past them the answer is 429 at once (RFC 6585 §4).  A test counts
 * until its thread ends, even when its request went away, so the limits
 * bound the threads and sockets, not only the requests.
 *
 * This module owns the list of running tests behind its own lock.
 * libmicrohttpd must not be stopped with a suspended connection:
 * web_tests_close() answers every waiting request (503) first.
 */
#ifndef MAILHUB_WEB_UPSTREAM_TEST_H
#define MAILHUB_WEB_UPSTREAM_TEST_H

#include <stdbool.h>

#include "store/upstreams.h"
#include "web/request.h"

/* Tests running at once in the whole process. */
#define WEB_TESTS_MAX 4

/* Starts the test of set (moved: *set is left empty) with password
 * (copied) for the caller r->user, reaching private addresses only when
 * allow_private, and suspends r's connection; or answers 429/503/500 at
 * once.  Returns the MHD result for the handler. */
enum MHD_Result web_test_start(struct web_request *r, struct upstream_settings *set,
			       const char *password, bool allow_private);
/* The answer once the test has resumed r: {"ok","error","tls",
 * "certificate_sha256","folders" | "messages"}, or 503 when the listener
 * was closing. */
enum MHD_Result web_test_reply(struct web_request *r);
/* The request lets go of its test (the completion callback); NULL ok. */
void web_test_release(struct web_test **t);

/* Before libmicrohttpd is stopped: no new test suspends a connection, and
 * every suspended one is resumed to answer 503.  Tests still running go on
 * in their threads and end by their deadline. */
void web_tests_close(void);
/* After a reload: tests may start again. */
void web_tests_open(void);
/* At the end: ends every running test's connection (client_conn_cancel),
 * so that their threads finish at once... */
void web_tests_cancel(void);
/* ...and waits (at most timeout_ms) for the tests' threads to end, so
 * that none is inside OpenSSL while the process exits. */
void web_tests_wait(int timeout_ms);

#endif
