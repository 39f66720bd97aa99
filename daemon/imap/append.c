/*
 * append: APPEND (RFC 3501 §6.3.11) with MULTIAPPEND-style repetition,
 * LITERAL+ (RFC 7888), APPENDUID (RFC 4315) and APPENDLIMIT (RFC 7889).
 *
 * The message literal never sits in memory: the session hands it here as
 * soon as its size is known, and it is streamed into a blob, with bare LF
 * line ends made CRLF so that RFC822.SIZE equals the bytes FETCH sends;
 * a literal8 (RFC 3516 "~{N}") is kept byte for byte instead.
 *
 * A refused message leaves nothing on disk: a missing mailbox or a full
 * quota is refused before the continuation (so a synchronising literal is
 * never sent at all); the literals of a command stay unnamed temporary
 * files until the command has checked them all, and only then become
 * blobs, each thrown away again if its append fails (store/blob.h).
 */
#include <stdio.h>
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
	/* literals of a command that did not take them leave nothing */
	for (size_t i = 0; i < s->n_appends; i++)
		blob_writer_abort(&s->appends[i].w);
	s->n_appends = 0;
	s->append_failed = false;
	s->append_nospace = false;
	s->append_error = NULL;
	s->append_toobig = false;
}

/* RFC 5530 §3: the disk is full (the server's, not the user's quota) */
#define NO_SPACE_TEXT "[SERVERBUG] Not enough disk space, try again later"

/*
 * What refuses the message now announced before any of it is read: the
 * mailbox (RFC 3501 §6.3.11 TRYCREATE) and the quota with the literals
 * of the command so far (RFC 5530 OVERQUOTA).  NULL to go on.  The
 * command checks both again; this spares reading and writing a message
 * that cannot be kept.
 */
static const char *
refusal_before_reading(struct imap_session *s, uint64_t size)
{
	size_t n;
	const struct imap_arg *args = imap_parser_args(s->parser, &n);
	if (n < 3 || !imap_arg_is_astring(&args[2]))
		return NULL;	/* the command says what is wrong */
	struct buf name = BUF_INIT;
	const char *refusal = NULL, *err;
	if (imap_arg_mailbox(s, &args[2], &name) < 0) {
		s->reply = IMAP_REPLY_NONE;	/* the command replies */
		buf_free(&name);
		return NULL;
	}
	struct store_mailbox mb;
	/* both in one read of the store */
	if (store_read_begin(s->st, &err) != STORE_OK) {
		buf_free(&name);
		return NULL;
	}
	int r = store_mailbox_get(s->st, s->user_id, buf_cstr(&name), &mb, &err);
	buf_free(&name);
	if (r == STORE_OK) {
		store_mailbox_clear(&mb);
		uint64_t total = size;
		for (size_t i = 0; i < s->n_appends; i++)
			total += s->appends[i].size;
		if (store_user_quota_fits(s->st, s->user_id, total, &err) == 0)
			refusal = "[OVERQUOTA] Quota exceeded.";
	} else if (r == STORE_NOTFOUND) {
		refusal = "[TRYCREATE] Mailbox does not exist.";
	}
	store_read_end(s->st);
	return refusal;
}

int
imap_append_literal(struct imap_session *s, const char *tag, uint64_t size,
		    bool sync, bool binary)
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
	const char *refusal = s->append_failed ? NULL : refusal_before_reading(s, size);
	if (refusal != NULL) {
		imap_printf(s, "%s NO %s\r\n", tag, refusal);
		return 1;
	}
	if (sync) {
		imap_printf(s, "+ OK\r\n");
		if (conn_flush(s->c) < 0)
			return -1;
	}
	struct blob_writer *w = NULL;
	const char *err = NULL;
	int r;
	/* deferred: a message that fits the writer's buffer and was stored
	 * before (the same content APPENDed again, or delivered to another
	 * user) is then not written and synced a second time */
	if (!s->append_failed &&
	    (r = blob_writer_new_deferred(s->st, 0, &w, &err)) != STORE_OK) {
		s->append_failed = true;
		s->append_nospace = r == STORE_NOSPACE;
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
		/* RFC 3516 §4.2: a literal8 is kept as sent, so that
		 * BINARY.SIZE is what the client gave */
		const char *data = in;
		size_t o = (size_t)got;
		if (!binary) {
			o = 0;
			for (ssize_t i = 0; i < got; i++) {
				if (in[i] == '\n' && !prev_cr)
					out[o++] = '\r';
				out[o++] = in[i];
				prev_cr = in[i] == '\r';
			}
			data = out;
		}
		if ((r = blob_write(w, data, o, &err)) != STORE_OK) {
			blob_writer_abort(&w);
			s->append_failed = true;
			s->append_nospace = r == STORE_NOSPACE;
			s->append_error = err;
		}
	}
	if (w == NULL)
		return 0;
	/* durable, but a blob only once the command takes it */
	if ((r = blob_writer_finish(w, &err)) != STORE_OK) {
		blob_writer_abort(&w);
		s->append_failed = true;
		s->append_nospace = r == STORE_NOSPACE;
		s->append_error = err;
		return 0;
	}
	struct imap_append_blob b = { .w = w, .size = blob_writer_size(w) };
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
		if (s->append_nospace)
			imap_no(s, NO_SPACE_TEXT);
		else
			imap_no(s, "[SERVERBUG] %s", s->append_error ?
				s->append_error : "cannot store the message");
		goto out;
	}
	if (blob != s->n_appends)
		panic("imap append: %zu literals but %zu blobs", blob, s->n_appends);

	struct store_mailbox mb;
	const char *err;
	/* the mailbox and the quota in one read of the store */
	if (store_read_begin(s->st, &err) != STORE_OK) {
		imap_no(s, "[SERVERBUG] %s", err);
		goto out;
	}
	int r = store_mailbox_get(s->st, s->user_id, buf_cstr(&name), &mb, &err);
	if (r == STORE_NOTFOUND) {
		store_read_end(s->st);
		/* RFC 3501 §6.3.11 */
		imap_no(s, "[TRYCREATE] Mailbox does not exist.");
		goto out;
	}
	if (r != STORE_OK) {
		store_read_end(s->st);
		imap_no(s, "[SERVERBUG] %s", err);
		goto out;
	}
	/* all of them or none: the quota for the command's messages together */
	uint64_t total = 0;
	for (size_t i = 0; i < nm; i++)
		total += s->appends[msgs[i].blob].size;
	r = store_user_quota_fits(s->st, s->user_id, total, &err);
	store_read_end(s->st);
	if (r <= 0) {
		if (r == 0)
			imap_no(s, "[OVERQUOTA] Quota exceeded.");
		else
			imap_no(s, "[SERVERBUG] %s", err);
		store_mailbox_clear(&mb);
		goto out;
	}
	uint32_t *uids = xcalloc(nm, sizeof *uids);
	size_t done = 0;
	for (size_t i = 0; i < nm; i++) {
		struct imap_append_blob *b = &s->appends[msgs[i].blob];
		char hash[SHA256_HEX_LEN + 1];
		uint64_t size;
		r = blob_writer_place(b->w, hash, &size, &err);
		if (r == STORE_OK)
			r = store_append(s->st, mb.id, hash, size, msgs[i].date,
					 msgs[i].flags, msgs[i].keywords, false, &uids[i],
					 &err);
		if (r != STORE_OK) {
			/* not taken: the blob goes unless it is shared */
			blob_writer_abort(&b->w);
			break;
		}
		blob_writer_release(&b->w);
		done++;
		/* a client that moves by APPEND teaches the spam filter as a
		 * MOVE would (store/spam.h); the APPEND stands either way */
		const char *lerr;
		if (s->cfg->rspamd_controller != NULL &&
		    store_learn_append(s->st, mb.id, hash, &lerr) != STORE_OK)
			log_error("imap[%llu] cannot queue a learning job: %s",
				  (unsigned long long)s->id, lerr);
	}
	if (r == STORE_OVERQUOTA) {
		imap_no(s, "[OVERQUOTA] Quota exceeded.");
	} else if (r == STORE_NOSPACE) {
		imap_no(s, NO_SPACE_TEXT);
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
