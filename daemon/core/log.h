/*
 * log: one line per event, key=value, to the configured target (stderr; the
 * systemd journal, with each key=value as a field of its own; or syslog),
 * plus an in-memory ring of recent events that the admin panel searches.
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

#include "core/buf.h"
#include "core/xmalloc.h"

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_ERROR,
};

/* How many events the ring keeps, and the longest line it keeps of each:
 * a busy household's day (at most 2 MiB, touched only as it fills). */
#define LOG_RING_SIZE 4096
#define LOG_RING_LINE 512

/* Where lines go ([log] target). */
enum log_target {
	LOG_TARGET_STDERR,	/* "2026-11-23T08:30:00Z info text" lines */
	LOG_TARGET_JOURNAL,	/* systemd's native protocol, fields MAILHUB_* */
	LOG_TARGET_SYSLOG,	/* syslog(3), facility mail */
};

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
/* Sends lines to target from now on; journal_socket is the journal's
 * socket (for LOG_TARGET_JOURNAL).  0, or -1 with *error_r when the target
 * cannot be used (lines then keep going where they went). */
int log_set_target(enum log_target target, const char *journal_socket,
		   const char **error_r);
/* Parses "debug", "info", "warning", "error": 0 or -1. */
int log_level_parse(const char *name, enum log_level *level_r);

/*
 * Pure: the journal entry of one event, in systemd's native protocol
 * (KEY=value lines): MESSAGE, PRIORITY, SYSLOG_IDENTIFIER and
 * SYSLOG_FACILITY, then the event's own structure as fields: a leading
 * "proto[12]" gives MAILHUB_PROTOCOL=proto and MAILHUB_SESSION=12, and each
 * key=value word MAILHUB_KEY=value (keys of letters, digits and '_', the
 * first 32 of them; a value ends at a space, or is a "quoted" string).
 * So `journalctl MAILHUB_USER=alice@example.org` finds a user's events.
 */
void log_journal_entry(struct buf *out, enum log_level level, const char *line);

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
