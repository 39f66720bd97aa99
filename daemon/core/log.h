/*
 * log: one line per event, key=value, on stderr (the journal under systemd),
 * plus an in-memory ring of recent events that the admin panel shows.
 *
 * Lines look like
 *   2026-11-23T08:30:00Z info imap[12] login user=alice@example.org ip=192.0.2.4
 * The caller writes the part after the level.  Anything a peer sent must go
 * through esc() first; passwords and tokens are never logged.
 *
 * Three kinds of trouble, three functions: log_error() for an ordinary error
 * the program survives; fatal() when the environment is broken (cannot open
 * the data folder, out of memory) and the process must exit; panic() for a
 * bug (a broken invariant), which aborts for a core dump.
 *
 * The module owns its state (minimum level, ring) behind its own lock.
 */
#ifndef MAILHUB_CORE_LOG_H
#define MAILHUB_CORE_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/xmalloc.h"

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_ERROR,
};

/* How many events the ring keeps, and the longest line it keeps of each. */
#define LOG_RING_SIZE 500
#define LOG_RING_LINE 512

struct log_event {
	uint64_t seq;		/* increasing, from 1 */
	time_t time;
	enum log_level level;
	char text[LOG_RING_LINE];
};

/* Sets the lowest level written (default: info; MAILHUB_DEBUG=1 in the
 * environment means debug).  Thread-safe; may be called at any time. */
void log_set_level(enum log_level min);
/* When quiet, lines go only to the ring, not to stderr (CLI commands use it). */
void log_set_quiet(int quiet);

void log_msg(enum log_level level, const char *fmt, ...) MH_PRINTF(2, 3);
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

/* The environment is broken: log and exit(1). */
MH_NORETURN void fatal(const char *fmt, ...) MH_PRINTF(1, 2);
/* A bug: log and abort(). */
MH_NORETURN void panic(const char *fmt, ...) MH_PRINTF(1, 2);

/* Copies the events with seq > after_seq, oldest first, at most max of them,
 * into out; returns how many. */
size_t log_ring_read(uint64_t after_seq, struct log_event *out, size_t max);

const char *log_level_name(enum log_level level);

/*
 * esc: peer data made safe for a log line or an error message: non-printable
 * bytes as \xHH, quotes escaped, cut at 200 bytes with "...".  The result lives
 * in a small per-thread ring of buffers: valid until the eighth next call on
 * the same thread, so several may appear in one log call.
 */
const char *esc(const void *data, size_t len);
const char *esc_str(const char *s);

/*
 * errfmt: formats an error message for a `const char **error_r` output.
 * Like esc(), the text lives in a per-thread ring (eight slots of 1 KiB):
 * callers that keep it longer copy it.
 */
const char *errfmt(const char *fmt, ...) MH_PRINTF(1, 2);

#endif
