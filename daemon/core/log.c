#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static enum log_level log_min = LOG_LEVEL_INFO;
static int log_min_set;
static int log_quiet;
static struct log_event log_ring[LOG_RING_SIZE];
static uint64_t log_seq;

static const char *const level_names[] = {
	[LOG_LEVEL_DEBUG] = "debug",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_WARNING] = "warning",
	[LOG_LEVEL_ERROR] = "error",
};

const char *
log_level_name(enum log_level level)
{
	return level <= LOG_LEVEL_ERROR ? level_names[level] : "?";
}

void
log_set_level(enum log_level min)
{
	pthread_mutex_lock(&log_lock);
	log_min = min;
	log_min_set = 1;
	pthread_mutex_unlock(&log_lock);
}

void
log_set_quiet(int quiet)
{
	pthread_mutex_lock(&log_lock);
	log_quiet = quiet;
	pthread_mutex_unlock(&log_lock);
}

static void
log_vwrite(enum log_level level, const char *fmt, va_list ap)
{
	char line[2048];
	int n = vsnprintf(line, sizeof line, fmt, ap);
	if (n < 0)
		return;
	/* One event is one line: a stray newline in a message would let a
	 * peer forge log lines, so it is replaced. */
	for (char *p = line; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';

	time_t now = time(NULL);
	pthread_mutex_lock(&log_lock);
	if (!log_min_set) {
		const char *d = getenv("MAILHUB_DEBUG");
		log_min = (d != NULL && *d == '1') ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO;
		log_min_set = 1;
	}
	if (level < log_min) {
		pthread_mutex_unlock(&log_lock);
		return;
	}
	uint64_t seq = ++log_seq;
	struct log_event *ev = &log_ring[seq % LOG_RING_SIZE];
	ev->seq = seq;
	ev->time = now;
	ev->level = level;
	size_t tl = strnlen(line, sizeof ev->text - 1);
	memcpy(ev->text, line, tl);
	ev->text[tl] = '\0';
	if (!log_quiet) {
		struct tm tm;
		char ts[32];
		gmtime_r(&now, &tm);
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
		fprintf(stderr, "%s %s %s\n", ts, level_names[level], line);
	}
	pthread_mutex_unlock(&log_lock);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vwrite(level, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_set_quiet(0);
	log_vwrite(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}

void
panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_set_quiet(0);
	log_vwrite(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	abort();
}

size_t
log_ring_read(uint64_t after_seq, struct log_event *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&log_lock);
	uint64_t first = log_seq > LOG_RING_SIZE ? log_seq - LOG_RING_SIZE + 1 : 1;
	if (after_seq + 1 > first)
		first = after_seq + 1;
	for (uint64_t s = first; s <= log_seq && n < max; s++)
		out[n++] = log_ring[s % LOG_RING_SIZE];
	pthread_mutex_unlock(&log_lock);
	return n;
}

#define TLS_SLOTS 8

const char *
esc(const void *data, size_t len)
{
	static __thread char slots[TLS_SLOTS][1024];
	static __thread unsigned next;
	char *out = slots[next++ % TLS_SLOTS];
	struct buf b;

	buf_init(&b, 0);
	buf_append_escaped(&b, data, len, 200);
	size_t n = b.len < sizeof slots[0] - 1 ? b.len : sizeof slots[0] - 1;
	memcpy(out, buf_cstr(&b), n);
	out[n] = '\0';
	buf_free(&b);
	return out;
}

const char *
esc_str(const char *s)
{
	return s == NULL ? "(null)" : esc(s, strlen(s));
}

const char *
errfmt(const char *fmt, ...)
{
	static __thread char slots[TLS_SLOTS][1024];
	static __thread unsigned next;
	char *out = slots[next++ % TLS_SLOTS];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, sizeof slots[0], fmt, ap);
	va_end(ap);
	return out;
}
