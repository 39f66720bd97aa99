/*
 * sink: one fetched message on its way into the store.  The bytes go to a
 * temporary blob file of the run's batch as they arrive (never the whole
 * message in memory; store_upstream_batch_*), and fetch_flush() makes a
 * batch durable and delivers it in one commit; beside them the
 * SHA-256 of the raw bytes (to know the message again after a UIDVALIDITY
 * change or from a POP3 server without UIDL) and, for the per-user dedupe,
 * the SHA-256 of the body and the Message-ID from the header.
 */
#include <poll.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "fetch/fetch_int.h"
#include "mail/header.h"
#include "store/store.h"

void
fetch_sink_init(struct fetch_sink *s, struct fetch_run *run)
{
	memset(s, 0, sizeof *s);
	s->run = run;
	buf_init(&s->header, FETCH_HEADER_KEEP);
}

bool
fetch_should_stop(const struct fetch_run *run)
{
	if (run->stop_fd < 0)
		return false;
	struct pollfd p = { .fd = run->stop_fd, .events = POLLIN };
	return poll(&p, 1, 0) > 0;
}

/* RFC 5322 §3.3 date-time in UTC, locale independent. */
static void
rfc5322_date(struct buf *out, time_t t)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	gmtime_r(&t, &tm);
	buf_printf(out, "%s, %d %s %d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
		   months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The message's bytes after the filter of a checked one, into the batch. */
static int
filter_write(void *ctx, const void *p, size_t n)
{
	struct fetch_sink *s = ctx;
	s->filter_ret = store_upstream_batch_write(s->run->batch, p, n, &s->filter_error);
	return s->filter_ret == STORE_OK ? 0 : -1;
}

int
fetch_sink_begin(struct fetch_sink *s, const char *protocol, const char **error_r)
{
	const struct store_upstream *up = s->run->up;
	fetch_sink_abort(s);
	/* the Received field counts against the size limit too */
	if (store_upstream_batch_begin(s->run->batch, s->run->max_size, error_r) != STORE_OK)
		return -1;
	s->open = true;
	s->raw = sha256_new();
	s->body = sha256_new();
	buf_reset(&s->header);
	s->header_done = false;
	s->header_cut = false;
	s->eol = 0;
	s->raw_size = 0;
	/* RFC 5321 §4.4 style trace field naming the upstream account */
	struct buf rcv = BUF_INIT;
	buf_printf(&rcv, "Received: from %s\r\n\tby %s (mailhub upstream %lld %s@%s)\r\n"
			 "\twith %s%s for <%s>; ",
		   up->set.host, s->run->hostname, (long long)up->id, up->set.username,
		   up->set.host, protocol, up->set.tls != UPSTREAM_TLS_NONE ? "S" : "",
		   up->owner);
	rfc5322_date(&rcv, time(NULL));
	buf_puts(&rcv, "\r\n");
	int ret = store_upstream_batch_write(s->run->batch, rcv.data, rcv.len, error_r);
	buf_free(&rcv);
	if (ret != STORE_OK) {
		fetch_sink_abort(s);
		return -1;
	}
	s->spam_check = fetch_spam_applies(s->run, s->folder);
	if (s->spam_check)
		mail_hdr_filter_init(&s->filter, fetch_spam_fields(), filter_write, s);
	return 0;
}

int
fetch_sink_write(struct fetch_sink *s, const void *p, size_t n, const char **error_r)
{
	if (!s->open) {
		*error_r = "message data outside a message";
		return -1;
	}
	int ret;
	if (s->spam_check) {
		s->filter_ret = STORE_OK;
		ret = mail_hdr_filter_feed(&s->filter, p, n) == 0 ? STORE_OK : s->filter_ret;
		if (ret != STORE_OK)
			*error_r = s->filter_error;
	} else {
		ret = store_upstream_batch_write(s->run->batch, p, n, error_r);
	}
	if (ret == STORE_INVALID) {
		*error_r = errfmt("a message is larger than the limit of %llu bytes",
				  (unsigned long long)s->run->max_size);
		return -1;
	}
	if (ret != STORE_OK)
		return -1;
	sha256_update(s->raw, p, n);
	s->raw_size += n;
	const char *b = p;
	size_t i = 0;
	while (!s->header_done && i < n) {
		/* the header ends at the first empty line (CRLF or bare LF);
		 * eol: 0 at the start of a line, 1 after a lone CR, 2 inside */
		char ch = b[i++];
		if (ch == '\n') {
			if (s->eol < 2)
				s->header_done = true;
			s->eol = 0;
		} else {
			s->eol = ch == '\r' && s->eol == 0 ? 1 : 2;
		}
	}
	if (!s->header_cut && buf_append(&s->header, b, i) < 0)
		s->header_cut = true;
	/* the body's hash only matters for the per-user dedupe */
	if (i < n && s->run->up->set.dedupe)
		sha256_update(s->body, b + i, n - i);
	return 0;
}

void
fetch_sink_abort(struct fetch_sink *s)
{
	if (s->open)
		store_upstream_batch_abort_message(s->run->batch);
	s->open = false;
	if (s->raw != NULL) {
		char dummy[SHA256_HEX_LEN + 1];
		sha256_finish_hex(&s->raw, dummy);
	}
	if (s->body != NULL) {
		char dummy[SHA256_HEX_LEN + 1];
		sha256_finish_hex(&s->body, dummy);
	}
}

/* SHA-256 of Message-ID and body hash; false when there is no Message-ID. */
static bool
dedupe_key(struct fetch_sink *s, const char *body_hash, char out[SHA256_HEX_LEN + 1])
{
	if (s->header_cut)
		return false;
	struct buf mid = BUF_INIT;
	buf_init(&mid, 4096);
	size_t hlen = mail_header_size(s->header.data != NULL ? s->header.data : "",
				       s->header.len);
	int found = mail_header_get(&mid, buf_cstr(&s->header), hlen, "Message-ID");
	bool ok = false;
	if (found == 1) {
		/* trim white space around the id */
		const char *v = buf_cstr(&mid);
		size_t len = mid.len;
		while (len > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			len--;
		}
		while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
			len--;
		if (len > 0) {
			struct buf k = BUF_INIT;
			buf_append(&k, v, len);
			buf_putc(&k, '\n');
			buf_puts(&k, body_hash);
			sha256_hex(k.data, k.len, out);
			buf_free(&k);
			ok = true;
		}
	}
	buf_free(&mid);
	return ok;
}

int
fetch_sink_end(struct fetch_sink *s, uint32_t uid, const char *uidl,
	       int64_t internal_date, unsigned flags, const char *keywords,
	       uint64_t gm_msgid, const char **error_r)
{
	struct fetch_run *run = s->run;
	char raw_hash[SHA256_HEX_LEN + 1], body_hash[SHA256_HEX_LEN + 1];
	char key[SHA256_HEX_LEN + 1];
	if (!s->open) {
		*error_r = "no message to end";
		return -1;
	}
	struct fetch_spam_verdict spam;
	memset(&spam, 0, sizeof spam);
	/* the envelope sender, for rspamd and Sieve */
	char *sender = s->spam_check || run->sieve
		? fetch_return_path(s->header.data, s->header.len) : NULL;
	if (s->spam_check) {
		/* what the filter holds, then rspamd's verdict in front */
		s->filter_ret = STORE_OK;
		int ret = mail_hdr_filter_end(&s->filter) == 0 ? STORE_OK : s->filter_ret;
		if (ret != STORE_OK) {
			*error_r = ret == STORE_INVALID
				? errfmt("a message is larger than the limit of %llu bytes",
					 (unsigned long long)run->max_size)
				: s->filter_error;
			free(sender);
			fetch_sink_abort(s);
			return -1;
		}
		if (fetch_spam_check(run, sender, &spam, error_r) < 0) {
			free(sender);
			fetch_sink_abort(s);
			return -1;
		}
	}
	sha256_finish_hex(&s->raw, raw_hash);
	sha256_finish_hex(&s->body, body_hash);
	struct upstream_delivery d = {
		.upstream_id = run->up->id,
		.user_id = run->up->user_id,
		.mailbox_id = run->mailbox_id,
		.internal_date = internal_date != 0 ? internal_date : (int64_t)time(NULL),
		.raw_hash = raw_hash,
		.skip_known_hash = s->refetch,
		.folder = s->folder,
		.uidvalidity = s->uidvalidity,
		.uid = uid,
		.uidl = uidl,
		.flags = flags,
		.keywords = keywords != NULL && *keywords != '\0' ? keywords : NULL,
		.gm_msgid = gm_msgid,
		.two_way = run->up->set.two_way,
		.junk = spam.junk,
	};
	if (run->up->set.dedupe && dedupe_key(s, body_hash, key))
		d.dedupe_key = key;
	s->open = false;
	/* the folder it goes to without a script (fetch_folder_mailbox) */
	char *target = run->up->set.mirror && s->folder != NULL
		? xasprintf("%s/%s", run->up->set.target, s->folder)
		: xstrdup(run->up->set.target);
	int ret = fetch_sieve_end(run, &d, sender, &spam, target, error_r);
	free(target);
	free(sender);
	if (ret == STORE_INVALID)
		*error_r = errfmt("a message is larger than the limit of %llu bytes",
				  (unsigned long long)run->max_size);
	return ret == STORE_OK ? 0 : -1;
}

void
fetch_sink_clear(struct fetch_sink *s)
{
	fetch_sink_abort(s);
	buf_free(&s->header);
}

/* The local mailbox name (the owner's), created when missing, into
 * run->mailbox_id. */
static int
use_mailbox(struct fetch_run *run, const char *name, const char **error_r)
{
	struct store_mailbox mb;
	const struct store_upstream *up = run->up;
	int ret = store_mailbox_get(fetch_run_store(run), up->user_id, name, &mb, error_r);
	if (ret == STORE_NOTFOUND) {
		ret = store_mailbox_create(fetch_run_store(run), up->user_id, name, NULL, true,
					   error_r);
		if (ret == STORE_OK || ret == STORE_EXISTS)
			ret = store_mailbox_get(fetch_run_store(run), up->user_id, name, &mb,
						error_r);
	}
	if (ret != STORE_OK) {
		*error_r = errfmt("target mailbox %s: %s", esc_str(name), *error_r);
		return -1;
	}
	run->mailbox_id = mb.id;
	store_mailbox_clear(&mb);
	return 0;
}

int
fetch_target_mailbox(struct fetch_run *run, const char **error_r)
{
	return use_mailbox(run, run->up->set.target, error_r);
}

int
fetch_folder_mailbox(struct fetch_run *run, const char *folder, const char **error_r)
{
	if (!run->up->set.mirror)
		return fetch_target_mailbox(run, error_r);
	/* one local folder per upstream folder: target/F, the upstream's
	 * hierarchy below it ('/' is the local separator) */
	char *name = xasprintf("%s/%s", run->up->set.target, folder);
	int ret = use_mailbox(run, name, error_r);
	free(name);
	return ret;
}
