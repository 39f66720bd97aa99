#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "core/buf.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static enum log_level log_min = LOG_LEVEL_INFO;
static int log_min_set;
static int log_quiet;
static struct log_event log_ring[LOG_RING_SIZE];
static uint64_t log_seq;
static enum log_target log_target = LOG_TARGET_STDERR;
static int journal_fd = -1;

/* syslog(3) and the journal's priorities (RFC 5424 severities) */
static const int level_priority[] = {
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_WARNING] = LOG_WARNING,
	[LOG_LEVEL_ERROR] = LOG_ERR,
};

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

int
log_level_parse(const char *name, enum log_level *level_r)
{
	for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*level_r = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

int
log_set_target(enum log_target target, const char *journal_socket,
	       const char **error_r)
{
	int fd = -1;
	if (target == LOG_TARGET_JOURNAL) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		if (journal_socket == NULL ||
		    strlen(journal_socket) >= sizeof sa.sun_path) {
			*error_r = "the journal's socket path is too long";
			return -1;
		}
		memcpy(sa.sun_path, journal_socket, strlen(journal_socket));
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
			*error_r = errfmt("cannot reach the journal at %s: %s",
					  journal_socket, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
	} else if (target == LOG_TARGET_SYSLOG) {
		openlog("mailhub", LOG_PID | LOG_NDELAY, LOG_MAIL);
	}
	pthread_mutex_lock(&log_lock);
	if (journal_fd >= 0)
		close(journal_fd);
	journal_fd = fd;
	log_target = target;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

/* A journal field name from a key: upper case letters, digits and '_'. */
static void
field_name(struct buf *out, const char *key, size_t len)
{
	buf_puts(out, "MAILHUB_");
	for (size_t i = 0; i < len; i++) {
		char c = key[i];
		buf_putc(out, c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c);
	}
}

static bool
key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

void
log_journal_entry(struct buf *out, enum log_level level, const char *line)
{
	buf_printf(out, "MESSAGE=%s\nPRIORITY=%d\nSYSLOG_IDENTIFIER=mailhub\n"
		   "SYSLOG_FACILITY=%d\n", line,
		   level_priority[level <= LOG_LEVEL_ERROR ? level : LOG_LEVEL_ERROR],
		   LOG_MAIL >> 3);
	const char *p = line;
	/* "imap[12] ..." */
	size_t pl = 0;
	while (p[pl] >= 'a' && p[pl] <= 'z' && pl < 16)
		pl++;
	if (pl > 0 && p[pl] == '[') {
		size_t dl = 0;
		while (p[pl + 1 + dl] >= '0' && p[pl + 1 + dl] <= '9' && dl < 20)
			dl++;
		if (dl > 0 && p[pl + 1 + dl] == ']') {
			buf_printf(out, "MAILHUB_PROTOCOL=%.*s\nMAILHUB_SESSION=%.*s\n",
				   (int)pl, p, (int)dl, p + pl + 1);
		}
	}
	unsigned fields = 0;
	while (*p != '\0' && fields < 32) {
		while (*p == ' ')
			p++;
		const char *word = p;
		size_t kl = 0;
		while (key_char(word[kl]) && kl < 64)
			kl++;
		if (kl > 0 && word[kl] == '=') {
			const char *v = word + kl + 1;
			size_t vl;
			if (*v == '"') {
				/* a "quoted" value: to the closing quote */
				const char *e = v + 1;
				while (*e != '\0' && *e != '"')
					e += e[0] == '\\' && e[1] != '\0' ? 2 : 1;
				v++;
				vl = (size_t)(e - v);
				p = *e == '"' ? e + 1 : e;
			} else {
				vl = strcspn(v, " ");
				p = v + vl;
			}
			field_name(out, word, kl);
			buf_putc(out, '=');
			buf_append(out, v, vl);
			buf_putc(out, '\n');
			fields++;
		} else {
			p += strcspn(p, " ");
		}
	}
}

/* With log_lock held: one line to the target. */
static void
emit(enum log_level level, time_t now, const char *line)
{
	if (log_target == LOG_TARGET_JOURNAL && journal_fd >= 0) {
		struct buf b;
		buf_init(&b, 0);
		log_journal_entry(&b, level, line);
		/* Never wait for the journal while holding the lock every
		 * thread logs through: when it is gone or its queue is full,
		 * the line goes to stderr (under systemd, the journal's stream
		 * for the unit) instead. */
		ssize_t r = send(journal_fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
		buf_free(&b);
		if (r >= 0)
			return;
	} else if (log_target == LOG_TARGET_SYSLOG) {
		syslog(level_priority[level], "%s", line);
		return;
	}
	struct tm tm;
	char ts[32];
	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "%s %s %s\n", ts, level_names[level], line);
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
	if (!log_quiet)
		emit(level, now, line);
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
