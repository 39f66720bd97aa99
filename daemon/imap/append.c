/*
 * append: APPEND (RFC 3501 §6.3.11) with MULTIAPPEND-style repetition,
 * LITERAL+ (RFC 7888), APPENDUID (RFC 4315) and APPENDLIMIT (RFC 7889).
 *
 * The message literal never sits in memory: the session hands it here as
 * soon as its size is known, and it is streamed into a blob, with bare LF
 * line ends made CRLF so that RFC822.SIZE equals the bytes FETCH sends.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "imap/imap.h"
#include "mail/date.h"
#include "store/blob.h"
#include "store/spam.h"

void
imap_append_reset(struct imap_session *s)
{
	/* blobs read for a command that then failed are left for gc */
	s->n_appends = 0;
	s->append_failed = false;
	s->append_error = NULL;
	s->append_toobig = false;
}

int
imap_append_literal(struct imap_session *s, const char *tag, uint64_t size,
		    bool sync)
{
	/* RFC 7889 / RFC 3501 §7.5: refuse a literal over the limit before
	 * the continuation, so none of it is read (a LITERAL+ one is on its
	 * way anyway: the session skips it) */
	if (size > s->cfg->message_size) {
		imap_printf(s, "%s NO [TOOBIG] Message larger than APPENDLIMIT"
			    " (%llu bytes)\r\n", tag,
			    (unsigned long long)s->cfg->message_size);
		return 1;
	}
	if (sync) {
		imap_printf(s, "+ OK\r\n");
		if (conn_flush(s->c) < 0)
			return -1;
	}
	struct blob_writer *w = NULL;
	const char *err = NULL;
	/* bare LFs made CRLF can at most double the size */
	if (!s->append_failed &&
	    blob_writer_new(s->st, 0, &w, &err) != STORE_OK) {
		s->append_failed = true;
		s->append_error = err;
	}
	char in[8192], out[16384];
	uint64_t left = size;
	bool prev_cr = false;
	while (left > 0) {
		size_t want = left < sizeof in ? (size_t)left : sizeof in;
		ssize_t got = conn_read(s->c, in, want);
		if (got <= 0) {
			blob_writer_abort(&w);
			return -1;
		}
		left -= (uint64_t)got;
		if (w == NULL)
			continue;
		size_t o = 0;
		for (ssize_t i = 0; i < got; i++) {
			if (in[i] == '\n' && !prev_cr)
				out[o++] = '\r';
			out[o++] = in[i];
			prev_cr = in[i] == '\r';
		}
		if (blob_write(w, out, o, &err) != STORE_OK) {
			blob_writer_abort(&w);
			s->append_failed = true;
			s->append_error = err;
		}
	}
	if (w == NULL)
		return 0;
	struct imap_append_blob b;
	if (blob_writer_commit(&w, b.hash, &b.size, &err) != STORE_OK) {
		s->append_failed = true;
		s->append_error = err;
		return 0;
	}
	if (s->n_appends == s->cap_appends) {
		s->cap_appends = s->cap_appends ? s->cap_appends * 2 : 4;
		s->appends = xreallocarray(s->appends, s->cap_appends,
					   sizeof *s->appends);
	}
	s->appends[s->n_appends++] = b;
	return 0;
}

struct append_msg {
	unsigned flags;
	char *keywords;
	int64_t date;
	size_t blob;	/* index into s->appends */
};

void
imap_cmd_append(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	struct append_msg *msgs = NULL;
	size_t nm = 0;
	size_t pos = 1, blob = 0;
	struct buf name = BUF_INIT;

	if (n < 2) {
		imap_bad(s, "APPEND needs a mailbox and a message");
		return;
	}
	if (imap_arg_mailbox(s, &args[0], &name) < 0)
		goto out;
	msgs = xcalloc(n, sizeof *msgs);
	while (pos < n) {
		struct append_msg *m = &msgs[nm];
		m->date = (int64_t)time(NULL);
		if (imap_arg_is_list(&args[pos])) {
			const char *err;
			if (imap_parse_flags(&args[pos], &m->flags, &m->keywords,
					     &err) < 0) {
				imap_bad(s, "%s", err);
				goto out;
			}
			pos++;
		}
		if (pos < n && args[pos].type == IMAP_ARG_QUOTED) {
			time_t t;
			int tz;
			if (imap_date_time_parse(args[pos].str, args[pos].len,
						 &t, &tz) < 0) {
				imap_bad(s, "Invalid date-time");
				goto out;
			}
			m->date = (int64_t)t;
			pos++;
		}
		if (pos >= n || args[pos].type != IMAP_ARG_LITERAL ||
		    !args[pos].streamed) {
			imap_bad(s, "APPEND needs a message literal");
			goto out;
		}
		if (args[pos].len == 0 && !s->append_failed) {
			imap_no(s, "Cannot save an empty message.");
			goto out;
		}
		m->blob = blob++;
		pos++;
		nm++;
	}
	if (s->append_failed) {
		imap_no(s, "[SERVERBUG] %s", s->append_error ?
			s->append_error : "cannot store the message");
		goto out;
	}
	if (blob != s->n_appends)
		panic("imap append: %zu literals but %zu blobs", blob, s->n_appends);

	struct store_mailbox mb;
	const char *err;
	int r = store_mailbox_get(s->st, s->user_id, buf_cstr(&name), &mb, &err);
	if (r == STORE_NOTFOUND) {
		/* RFC 3501 §6.3.11 */
		imap_no(s, "[TRYCREATE] Mailbox does not exist.");
		goto out;
	}
	if (r != STORE_OK) {
		imap_no(s, "[SERVERBUG] %s", err);
		goto out;
	}
	uint32_t *uids = xcalloc(nm, sizeof *uids);
	size_t done = 0;
	for (size_t i = 0; i < nm; i++) {
		struct imap_append_blob *b = &s->appends[msgs[i].blob];
		r = store_append(s->st, mb.id, b->hash, b->size, msgs[i].date,
				 msgs[i].flags, msgs[i].keywords, false, &uids[i],
				 &err);
		if (r != STORE_OK)
			break;
		done++;
		/* a client that moves by APPEND teaches the spam filter as a
		 * MOVE would (store/spam.h); the APPEND stands either way */
		const char *lerr;
		if (s->cfg->rspamd_controller != NULL &&
		    store_learn_append(s->st, mb.id, b->hash, &lerr) != STORE_OK)
			log_error("imap[%llu] cannot queue a learning job: %s",
				  (unsigned long long)s->id, lerr);
	}
	if (r == STORE_OVERQUOTA) {
		imap_no(s, "[OVERQUOTA] Quota exceeded.");
	} else if (r != STORE_OK) {
		imap_no(s, "[SERVERBUG] %s", err);
	} else {
		struct buf set = BUF_INIT;
		imap_append_uidset(&set, uids, done);
		imap_ok(s, "[APPENDUID %u %s] Append completed.", mb.uidvalidity,
			buf_cstr(&set));
		buf_free(&set);
	}
	free(uids);
	store_mailbox_clear(&mb);
out:
	for (size_t i = 0; i < nm + 1 && msgs != NULL && i < n; i++)
		free(msgs[i].keywords);
	free(msgs);
	buf_free(&name);
}
