/*
 * imap/client: the IMAP client state machine over a conn (see client.h).
 */
#include <stdarg.h>
#include <string.h>

#include "core/base64.h"
#include "core/client_conn.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/oauth2.h"
#include "imap/client.h"
#include "imap/client_int.h"
#include "imap/utf7.h"
#include "mail/date.h"

enum imapc_state {
	IMAPC_NOT_AUTHENTICATED,
	IMAPC_AUTHENTICATED,
	IMAPC_SELECTED,
	IMAPC_LOGOUT,
};

struct imap_client {
	struct conn *conn;
	enum imapc_state state;
	uint64_t id;
	unsigned caps;
	bool failed;		/* a command failed: no polite LOGOUT */
	unsigned tag_seq;
	char tag[16];
	char cert_sha256[65];
	const struct upstream_settings *set;
	bool news_any;		/* flag changes and expunges are news too */
	bool qresync;		/* ENABLE QRESYNC answered (RFC 7162 §3.2.3) */
	unsigned caps_told;	/* how many times the server listed them */
	/* imap_client_select_ahead(): the SELECT to write behind the next
	 * command (queued), or written and its answer not read yet (sent) */
	char *ahead_folder;
	bool ahead_queued, ahead_sent;
	char ahead_tag[16];
};

static int wait_tagged(struct imap_client *c, struct cmd_ctx *x, const char *what,
		       const char **error_r);
static int ahead_write(struct imap_client *c);
static int ahead_read(struct imap_client *c, struct imapc_mailbox *mb_r, const char **error_r);


static void
set_state(struct imap_client *c, enum imapc_state state)
{
	static const char *const names[] = { "not-authenticated", "authenticated",
					     "selected", "logout" };
	log_debug("imapc[%llu] state=%s", (unsigned long long)c->id, names[state]);
	c->state = state;
}

static int
send_error(struct imap_client *c, const char **error_r)
{
	c->failed = true;
	*error_r = errfmt("cannot send to the server: %s", conn_error(c->conn));
	return -1;
}

/* Starts a command "TAG text" (not flushed: reading flushes).  A SELECT
 * written ahead is answered first (its answer read and dropped: the
 * caller wants something else). */
static int
send_cmd(struct imap_client *c, const char *fmt, ...)
{
	va_list ap;
	if (c->ahead_sent) {
		const char *error;
		struct imapc_mailbox mb;
		if (ahead_read(c, &mb, &error) < 0) {
			log_info("imapc[%llu] %s", (unsigned long long)c->id, error);
			return -1;
		}
	}
	snprintf(c->tag, sizeof c->tag, "A%04u", ++c->tag_seq % 10000);
	if (conn_puts(c->conn, c->tag) < 0 || conn_puts(c->conn, " ") < 0)
		return -1;
	struct buf b = BUF_INIT;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	int ret = conn_write(c->conn, b.data, b.len);
	buf_free(&b);
	return ret < 0 || conn_puts(c->conn, "\r\n") < 0 ? -1 : 0;
}

/*
 * What the server sent is never put in an error: errors reach the user
 * (the account's state, the API's connection test), and the peer may be
 * any host that a user named, sending anything it likes.  The text is
 * logged, escaped, with the session id; the error says in plain words what
 * failed, using the RFC 5530 response code when there is one we know.
 */
static void
log_peer_text(const struct imap_client *c, const char *what, const char *line, size_t len)
{
	log_info("imapc[%llu] %s: the server sent %s", (unsigned long long)c->id, what,
		 esc(line, len));
}

static const char *
code_words(const struct imapc_resp *r)
{
	static const struct {
		const char *code;
		const char *words;
	} codes[] = {
		{ "AUTHENTICATIONFAILED", "the server rejected the username or password" },
		{ "AUTHORIZATIONFAILED", "the server does not let this username use the account" },
		{ "EXPIRED", "the password has expired" },
		{ "PRIVACYREQUIRED", "the server wants TLS first" },
		{ "CONTACTADMIN", "the server asks to contact its administrator" },
		{ "UNAVAILABLE", "the server is unavailable for now" },
		{ "NOPERM", "no permission" },
		{ "INUSE", "it is in use by another session" },
		{ "LIMIT", "a limit of the server was reached" },
		{ "NONEXISTENT", "it does not exist on the server" },
		{ "OVERQUOTA", "the account is over its quota" },
		{ "SERVERBUG", "the server reported an internal error" },
		{ "CANNOT", "the server cannot do that" },
	};
	if (r->code == NULL)
		return NULL;
	size_t n = 0;
	while (n < r->code_len && r->code[n] != ' ')
		n++;
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		if (strlen(codes[i].code) == n && mem_eq_nocase(r->code, codes[i].code, n))
			return codes[i].words;
	return NULL;
}

/* A tagged NO or BAD as "what: reason". */
static const char *
refusal(const struct imap_client *c, const struct cmd_ctx *x, const char *what,
	const struct imapc_resp *r, const char *line, size_t len)
{
	log_peer_text(c, what, line, len);
	const char *words = code_words(r);
	if (words != NULL && x->login && c->set->auth == UPSTREAM_AUTH_OAUTH2 &&
	    strcmp(words, "the server rejected the username or password") == 0)
		words = "the server rejected the OAuth2 access token";
	if (words == NULL && x->login && imapc_resp_is(r, "NO"))
		/* RFC 3501 §6.2.3: NO to LOGIN is "user name or password rejected" */
		words = c->set->auth == UPSTREAM_AUTH_OAUTH2
			? "the server rejected the OAuth2 access token"
			: "the server rejected the username or password";
	if (words == NULL)
		words = imapc_resp_is(r, "NO") ? "the server answered NO"
		      : "the server answered BAD (it did not understand the command)";
	return errfmt("%s: %s", what, words);
}

static const char *
read_error(struct imap_client *c, enum conn_result r)
{
	if (r == CONN_EOF)
		return "the server closed the connection";
	if (r == CONN_TOOLONG)
		return "the server sent an overlong line";
	return errfmt("cannot read from the server: %s", conn_error(c->conn));
}

/* Reads a literal of n bytes to the sink's write (or discards it). */
static int
read_literal(struct imap_client *c, uint64_t n, const struct imapc_fetch_sink *sink,
	     struct buf *into, const char **error_r)
{
	char chunk[16384];
	while (n > 0) {
		size_t want = n < sizeof chunk ? (size_t)n : sizeof chunk;
		ssize_t got = conn_read(c->conn, chunk, want);
		if (got <= 0) {
			*error_r = got == 0
				? "the server closed the connection in the middle of a message"
				: errfmt("cannot read from the server: %s", conn_error(c->conn));
			return -1;
		}
		if (sink != NULL && sink->write(sink->ctx, chunk, (size_t)got, error_r) < 0)
			return -1;
		if (into != NULL && buf_append(into, chunk, (size_t)got) < 0) {
			*error_r = "the server sent an overlong literal";
			return -1;
		}
		n -= (uint64_t)got;
	}
	return 0;
}

/* A BODY[] sent as a quoted string: its escapes undone, to the sink. */
static int
write_quoted(const struct imapc_fetch_sink *sink, const char *p, size_t n,
	     const char **error_r)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\\' && i + 1 < n)
			i++;
		buf_putc(&b, p[i]);
	}
	int ret = sink->begin(sink->ctx, b.len, error_r);
	if (ret == 0)
		ret = sink->write(sink->ctx, b.data != NULL ? b.data : "", b.len, error_r);
	buf_free(&b);
	return ret;
}

/* The rest of a "* N FETCH (...)" response, with its literals. */
static int
handle_fetch(struct imap_client *c, struct cmd_ctx *x, const char *rest,
	     size_t rest_len, const char **error_r)
{
	struct imapc_fetch f;
	const struct imapc_fetch_sink *sink = x->sink;
	bool begun = false;
	imapc_fetch_init(&f);
	enum imapc_fetch_result res = imapc_fetch_feed(&f, rest, rest_len);
	for (;;) {
		if (res == IMAPC_FETCH_ERROR) {
			*error_r = "the server sent a malformed FETCH response";
			goto fail;
		}
		if (f.quoted_body != NULL && sink != NULL) {
			if (write_quoted(sink, f.quoted_body, f.quoted_body_len, error_r) < 0)
				goto fail;
			begun = true;
		}
		if (res == IMAPC_FETCH_DONE)
			break;
		if (res == IMAPC_FETCH_BODY && sink != NULL) {
			if (sink->begin(sink->ctx, f.literal, error_r) < 0)
				goto fail;
			begun = true;
			if (read_literal(c, f.literal, sink, NULL, error_r) < 0)
				goto fail;
		} else {
			/* RFC 3501 §7.4.2: values we did not ask for; bounded */
			if (f.literal > IMAPC_SMALL_LITERAL_MAX) {
				*error_r = "the server sent an overlong literal";
				goto fail;
			}
			if (read_literal(c, f.literal, NULL, NULL, error_r) < 0)
				goto fail;
		}
		const char *line;
		size_t len;
		enum conn_result r = conn_read_line(c->conn, IMAPC_LINE_MAX, &line, &len);
		if (r != CONN_OK) {
			*error_r = read_error(c, r);
			goto fail;
		}
		res = imapc_fetch_feed(&f, line, len);
	}
	if (!begun && x->flags_fn != NULL && f.have_flags && f.uid != 0)
		return x->flags_fn(x->flags_ctx, f.uid, f.flags, f.keywords, error_r);
	if (begun) {
		time_t t = 0;
		int tz;
		if (f.have_date && imap_date_time_parse(f.date, strlen(f.date), &t, &tz) < 0)
			t = 0;
		if (f.uid == 0) {
			*error_r = "the server sent a message without its UID";
			goto fail;
		}
		struct imapc_message_meta meta = {
			.uid = f.uid,
			.internal_date = t,
			.flags = f.flags,
			.keywords = f.keywords,
			.gm_msgid = f.gm_msgid,
		};
		if (sink->end(sink->ctx, &meta, error_r) < 0)
			return -1;
	}
	return 0;
fail:
	if (begun && sink->abort != NULL)
		sink->abort(sink->ctx);
	return -1;
}

/* A LIST response: the name is the last astring (quoted, atom or literal). */
static void
handle_list(struct cmd_ctx *x, const char *p, size_t len)
{
	if (x->names == NULL || *x->n_names >= 100000)
		return;
	/* skip "(flags) delim " */
	const char *close = memchr(p, ')', len);
	if (close == NULL)
		return;
	/* RFC 3501 §7.2.2, RFC 5258 §3: no messages can be selected there */
	for (const char *f = p; f + 9 <= close; f++) {
		if (mem_eq_nocase(f, "\\Noselect", 9) ||
		    (f + 12 <= close && mem_eq_nocase(f, "\\NonExistent", 12)))
			return;
	}
	size_t pos = (size_t)(close - p) + 1;
	while (pos < len && p[pos] == ' ')
		pos++;
	if (pos < len && p[pos] == '"') {
		pos++;
		if (x->delim != NULL && pos < len)
			*x->delim = p[pos] == '\\' && pos + 1 < len ? p[pos + 1] : p[pos];
		while (pos < len && p[pos] != '"')
			pos += p[pos] == '\\' ? 2 : 1;
		pos++;
	} else {
		while (pos < len && p[pos] != ' ')
			pos++;
	}
	while (pos < len && p[pos] == ' ')
		pos++;
	if (pos >= len)
		return;
	struct buf raw = BUF_INIT, utf8 = BUF_INIT;
	if (p[pos] == '"') {
		for (size_t i = pos + 1; i < len && p[i] != '"'; i++) {
			if (p[i] == '\\' && i + 1 < len)
				i++;
			buf_putc(&raw, p[i]);
		}
	} else {
		buf_append(&raw, p + pos, len - pos);
	}
	if (imap_mutf7_to_utf8(raw.data != NULL ? raw.data : "", raw.len, &utf8) < 0) {
		buf_reset(&utf8);
		buf_append(&utf8, raw.data != NULL ? raw.data : "", raw.len);
	}
	*x->names = xreallocarray(*x->names, *x->n_names + 1, sizeof **x->names);
	(*x->names)[(*x->n_names)++] = buf_steal(&utf8);
	buf_free(&raw);
}

static char *status_mailbox(const char *p, size_t len);

/* A STATUS response's "(NAME n NAME n ...)" to fn. */
static void
handle_status(struct cmd_ctx *x, const char *p, size_t len)
{
	char *name = status_mailbox(p, len);
	const char *open = memchr(p, '(', len);
	if (name == NULL || open == NULL) {
		free(name);
		return;
	}
	struct imapc_status st = { 0 };
	const char *end = p + len;
	for (const char *q = open + 1; q < end && *q != ')';) {
		const char *w = q;
		while (q < end && *q != ' ' && *q != ')')
			q++;
		size_t wl = (size_t)(q - w);
		if (q < end && *q == ' ')
			q++;
		uint64_t v = 0;
		while (q < end && *q >= '0' && *q <= '9') {
			v = v < UINT64_MAX / 10 ? v * 10 + (uint64_t)(*q - '0') : v;
			q++;
		}
		if (q < end && *q == ' ')
			q++;
		if (wl == 8 && mem_eq_nocase(w, "MESSAGES", 8))
			st.messages = v <= UINT32_MAX ? (uint32_t)v : UINT32_MAX;
		else if (wl == 7 && mem_eq_nocase(w, "UIDNEXT", 7))
			st.uidnext = v <= UINT32_MAX ? (uint32_t)v : 0;
		else if (wl == 11 && mem_eq_nocase(w, "UIDVALIDITY", 11))
			st.uidvalidity = v <= UINT32_MAX ? (uint32_t)v : 0;
		else if (wl == 13 && mem_eq_nocase(w, "HIGHESTMODSEQ", 13))
			st.highestmodseq = v;
		if (wl == 0)
			break;
	}
	x->status_fn(x->status_ctx, name, &st);
	free(name);
}

static void
handle_status_code(struct imap_client *c, struct cmd_ctx *x, const struct imapc_resp *r)
{
	uint32_t v;
	if (r->code == NULL)
		return;
	/* RFC 7162 §3.2.11: what follows is the newly selected folder's */
	if (r->code_len == 6 && mem_eq_nocase(r->code, "CLOSED", 6))
		x->closed_seen = true;
	if (r->code_len > 11 && mem_eq_nocase(r->code, "CAPABILITY ", 11)) {
		c->caps = imapc_parse_caps(r->code + 11, r->code_len - 11);
		c->caps_told++;
	}
	if (x->mb != NULL && imapc_code_number(r->code, r->code_len, "UIDVALIDITY", &v))
		x->mb->uidvalidity = v;
	if (x->mb != NULL && imapc_code_number(r->code, r->code_len, "UIDNEXT", &v))
		x->mb->uidnext = v;
	if (x->mb != NULL && r->code_len > 14 && mem_eq_nocase(r->code, "HIGHESTMODSEQ ", 14)) {
		/* RFC 7162 §3.1.2.1: a mod-sequence-value, 63 bits (one digit
		 * is enough: "HIGHESTMODSEQ 5") */
		uint64_t m = 0;
		for (size_t i = 14; i < r->code_len && r->code[i] >= '0' && r->code[i] <= '9'; i++)
			m = m < UINT64_MAX / 10 ? m * 10 + (uint64_t)(r->code[i] - '0') : m;
		x->mb->highestmodseq = m;
	}
	if (r->code_len > 8 && mem_eq_nocase(r->code, "COPYUID ", 8) && !x->copyuid_seen &&
	    imapc_parse_copyuid(r->code + 8, r->code_len - 8, &x->copy_uidvalidity,
				&x->copy_src, &x->copy_dst, &x->copy_n) == 0)
		x->copyuid_seen = true;
	if (imapc_code_number(r->code, r->code_len, "APPENDUID", &v)) {
		/* "APPENDUID uidvalidity uid" (one message: one uid) */
		size_t i = 10;
		while (i < r->code_len && r->code[i] != ' ')
			i++;
		uint32_t uid = 0;
		for (i++; i < r->code_len && r->code[i] >= '0' && r->code[i] <= '9'; i++)
			uid = uid <= (UINT32_MAX - 9) / 10 ? uid * 10 + (uint32_t)(r->code[i] - '0') : 0;
		if (uid != 0 && (i == r->code_len || r->code[i] == ']' || r->code[i] == ' ')) {
			x->appenduid_seen = true;
			x->append_uidvalidity = v;
			x->append_uid = uid;
		}
	}
}

/* flags_fn of a FETCH held until [CLOSED] tells whose it is (x). */
static int
hold_flags(void *ctx, uint32_t uid, unsigned flags, const char *keywords, const char **error_r)
{
	struct cmd_ctx *x = ctx;
	if (x->n_held >= IMAPC_SEARCH_MAX) {
		*error_r = "the server sent too many FETCH responses";
		return -1;
	}
	if (x->n_held % 64 == 0)
		x->held = xreallocarray(x->held, x->n_held + 64, sizeof *x->held);
	x->held[x->n_held++] = (struct imapc_held_flags){
		.uid = uid,
		.flags = flags,
		.keywords = xstrdup(keywords != NULL ? keywords : ""),
	};
	return 0;
}

/* No [CLOSED] came: the held FETCH responses were the folder's own. */
static int
held_flags_replay(struct cmd_ctx *x, const char **error_r)
{
	for (size_t i = 0; i < x->n_held; i++)
		if (x->flags_fn(x->flags_ctx, x->held[i].uid, x->held[i].flags,
				x->held[i].keywords, error_r) < 0)
			return -1;
	return 0;
}

static void
held_flags_free(struct cmd_ctx *x)
{
	for (size_t i = 0; i < x->n_held; i++)
		free(x->held[i].keywords);
	xfree(x->held);
	x->n_held = 0;
}

/*
 * Reads responses until the tagged one of the current command (or a "+"
 * when x->want_continue).  Tagged NO/BAD is an error "what: NO text".
 */
static int
wait_tagged(struct imap_client *c, struct cmd_ctx *x, const char *what,
	    const char **error_r)
{
	/* the SELECT queued goes behind every command written so far */
	if (c->ahead_queued && !x->want_continue && ahead_write(c) < 0)
		return send_error(c, error_r);
	struct buf logical = BUF_INIT;
	buf_init(&logical, IMAPC_LINE_MAX + IMAPC_SMALL_LITERAL_MAX);
	int ret = -1;
	for (unsigned long count = 0; count < IMAPC_UNTAGGED_MAX; count++) {
		const char *line;
		size_t len;
		enum conn_result rr = conn_read_line(c->conn, IMAPC_LINE_MAX, &line, &len);
		if (rr != CONN_OK) {
			*error_r = read_error(c, rr);
			goto out;
		}
		struct imapc_resp r;
		if (imapc_parse_response(line, len, &r) < 0) {
			log_peer_text(c, what, line, len);
			*error_r = "the server sent a malformed response";
			goto out;
		}
		if (r.kind == IMAPC_UNTAGGED && imapc_resp_is(&r, "FETCH")) {
			struct cmd_ctx hold, *fx = x;
			if (x->await_closed && !x->closed_seen && x->flags_fn != NULL) {
				/* maybe the old folder's: held (see client_int.h) */
				hold = *x;
				hold.flags_fn = hold_flags;
				hold.flags_ctx = x;
				fx = &hold;
			}
			if (handle_fetch(c, fx, r.rest, r.rest_len, error_r) < 0)
				goto out;
			if (c->news_any && x->sink == NULL && x->flags_fn == NULL)
				x->news = true;
			continue;
		}
		uint64_t lit;
		int has_lit = imapc_line_literal(line, len, IMAPC_SMALL_LITERAL_MAX, &lit);
		if (has_lit < 0) {
			*error_r = "the server sent an overlong literal";
			goto out;
		}
		if (has_lit == 1) {
			/* a small literal inside some other response: put the
			 * whole response together in memory (bounded) */
			buf_reset(&logical);
			for (;;) {
				size_t keep = len;
				while (keep > 0 && line[keep - 1] != '{')
					keep--;
				if (keep > 0)
					keep--;
				if (buf_append(&logical, line, keep) < 0 ||
				    buf_putc(&logical, '"') < 0 ||
				    read_literal(c, lit, NULL, &logical, error_r) < 0 ||
				    buf_putc(&logical, '"') < 0) {
					*error_r = "the server sent an overlong response";
					goto out;
				}
				rr = conn_read_line(c->conn, IMAPC_LINE_MAX, &line, &len);
				if (rr != CONN_OK) {
					*error_r = read_error(c, rr);
					goto out;
				}
				has_lit = imapc_line_literal(line, len, IMAPC_SMALL_LITERAL_MAX, &lit);
				if (has_lit < 0) {
					*error_r = "the server sent an overlong literal";
					goto out;
				}
				if (has_lit == 0)
					break;
			}
			if (buf_append(&logical, line, len) < 0) {
				*error_r = "the server sent an overlong response";
				goto out;
			}
			line = logical.data;
			len = logical.len;
			if (imapc_parse_response(line, len, &r) < 0) {
				*error_r = "the server sent a malformed response";
				goto out;
			}
		}
		switch (r.kind) {
		case IMAPC_CONTINUE:
			if (x->want_continue) {
				x->continued = true;
				ret = 0;
				goto out;
			}
			*error_r = "the server sent an unexpected continuation";
			goto out;
		case IMAPC_TAGGED:
			if (r.tag_len != strlen(c->tag) || memcmp(r.tag, c->tag, r.tag_len) != 0) {
				size_t i = 0;
				while (i < x->pipe_n && (x->pipe_done[i] ||
							 r.tag_len != strlen(x->pipe_tags[i]) ||
							 memcmp(r.tag, x->pipe_tags[i], r.tag_len) != 0))
					i++;
				if (i < x->pipe_n) {
					/* another command of the pipeline, done first */
					if (!imapc_resp_is(&r, "OK") &&
					    !(x->no_ok && imapc_resp_is(&r, "NO"))) {
						*error_r = refusal(c, x, what, &r, line, len);
						goto out;
					}
					x->pipe_done[i] = true;
					continue;
				}
				log_peer_text(c, what, line, len);
				*error_r = "the server answered an unknown tag";
				goto out;
			}
			handle_status_code(c, x, &r);
			if (!imapc_resp_is(&r, "OK") && !(x->no_ok && imapc_resp_is(&r, "NO"))) {
				*error_r = refusal(c, x, what, &r, line, len);
				goto out;
			}
			ret = 0;
			goto out;
		case IMAPC_UNTAGGED:
			break;
		}
		if (imapc_resp_is(&r, "BYE")) {
			if (strcmp(what, "LOGOUT") != 0)	/* RFC 3501 §6.1.3: BYE is its answer */
				log_peer_text(c, what, line, len);
			*error_r = errfmt("%s: the server closed the session", what);
			goto out;
		}
		if (imapc_resp_is(&r, "OK") || imapc_resp_is(&r, "NO") ||
		    imapc_resp_is(&r, "BAD") || imapc_resp_is(&r, "PREAUTH")) {
			handle_status_code(c, x, &r);
		} else if (imapc_resp_is(&r, "CAPABILITY")) {
			c->caps = imapc_parse_caps(r.rest, r.rest_len);
			c->caps_told++;
		} else if (r.has_number && imapc_resp_is(&r, "EXISTS")) {
			if (x->mb != NULL)
				x->mb->exists = r.number;
			x->news = true;
		} else if (imapc_resp_is(&r, "ESEARCH") && x->uids != NULL && x->esearch) {
			if (imapc_parse_esearch_all(r.rest, r.rest_len, x->uids, x->n_uids,
						    IMAPC_SEARCH_MAX) < 0) {
				*error_r = "the server sent a malformed ESEARCH response";
				goto out;
			}
		} else if (imapc_resp_is(&r, "ENABLED")) {
			/* RFC 5161 §3.2 */
			if ((imapc_parse_caps(r.rest, r.rest_len) & IMAPC_CAP_QRESYNC) != 0)
				c->qresync = true;
		} else if (x->vanished != NULL && imapc_resp_is(&r, "VANISHED")) {
			bool earlier;
			uint32_t *v = NULL;
			size_t n = 0;
			if (imapc_parse_vanished(r.rest, r.rest_len, &earlier, &v, &n,
						 IMAPC_SEARCH_MAX, error_r) < 0) {
				log_peer_text(c, what, line, len);
				goto out;
			}
			for (size_t i = 0; earlier && i < n; i++) {
				if (*x->n_vanished >= IMAPC_SEARCH_MAX) {
					free(v);
					*error_r = "the server sent too many VANISHED UIDs";
					goto out;
				}
				if (*x->n_vanished % 1024 == 0)
					*x->vanished = xreallocarray(*x->vanished, *x->n_vanished + 1024,
								     sizeof **x->vanished);
				(*x->vanished)[(*x->n_vanished)++] = v[i];
			}
			free(v);
		} else if (x->flags_fn == NULL && c->news_any &&
			   (imapc_resp_is(&r, "EXPUNGE") || imapc_resp_is(&r, "VANISHED"))) {
			x->news = true;
		} else if (imapc_resp_is(&r, "SEARCH") && x->uids != NULL) {
			if (imapc_parse_search(r.rest, r.rest_len, x->uids, x->n_uids,
					       IMAPC_SEARCH_MAX) < 0) {
				*error_r = "the server sent a malformed SEARCH response";
				goto out;
			}
		} else if (imapc_resp_is(&r, "LIST")) {
			handle_list(x, r.rest, r.rest_len);
		} else if (imapc_resp_is(&r, "STATUS") && x->status_fn != NULL) {
			handle_status(x, r.rest, r.rest_len);
		}
	}
	*error_r = "the server sends responses without end";
out:
	if (ret == 0 && x->await_closed && !x->closed_seen && !x->continued)
		ret = held_flags_replay(x, error_r);
	held_flags_free(x);
	x->await_closed = false;
	if (ret < 0)
		c->failed = true;
	buf_free(&logical);
	return ret;
}

static int
simple(struct imap_client *c, const char *what, const char **error_r,
       const char *fmt, const char *arg)
{
	struct cmd_ctx x = { 0 };
	if (send_cmd(c, fmt, arg) < 0)
		return send_error(c, error_r);
	return wait_tagged(c, &x, what, error_r);
}

static int
tls_start(struct imap_client *c, const char **error_r)
{
	return client_conn_tls(c->conn, c->set->host, c->set->tls_verify, c->cert_sha256,
			       "imapc", c->id, error_r);
}

/* An astring for LOGIN: quoted when RFC 3501's quoted allows it, else a
 * literal (sent after the server's "+", or at once with LITERAL+). */
static int
put_astring(struct imap_client *c, struct buf *cmd, const char *s, bool *literal_r)
{
	bool quotable = true;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p >= 0x80 || *p == '\r' || *p == '\n')
			quotable = false;
	}
	*literal_r = !quotable;
	if (quotable) {
		buf_putc(cmd, '"');
		for (const char *p = s; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_putc(cmd, '\\');
			buf_putc(cmd, *p);
		}
		return buf_putc(cmd, '"');
	}
	return buf_printf(cmd, "{%zu%s}", strlen(s),
			  (c->caps & IMAPC_CAP_LITERALPLUS) != 0 ? "+" : "");
}

/* AUTHENTICATE mech with the initial response b64 (raw secret bytes in
 * base64): in the command with RFC 4959 SASL-IR, else after the "+".  b64
 * is wiped and freed.  0 when sent (the tagged answer is not read yet). */
static int
authenticate_start(struct imap_client *c, struct cmd_ctx *x, const char *mech, struct buf *b64,
		   const char **error_r)
{
	int ret;
	if ((c->caps & IMAPC_CAP_SASL_IR) != 0) {
		ret = send_cmd(c, "AUTHENTICATE %s %s", mech, buf_cstr(b64));
	} else {
		ret = send_cmd(c, "AUTHENTICATE %s", mech);
		x->want_continue = true;
		if (ret == 0)
			ret = wait_tagged(c, x, "login failed", error_r);
		else
			send_error(c, error_r);
		x->want_continue = false;
		if (ret == 0 && x->continued) {
			ret = conn_write(c->conn, b64->data, b64->len);
			if (ret == 0)
				ret = conn_puts(c->conn, "\r\n");
		} else if (ret == 0) {
			ret = -1;
			*error_r = "login failed: no continuation for AUTHENTICATE";
		}
	}
	explicit_bzero(b64->data, b64->len);
	buf_free(b64);
	if (ret < 0)
		return *error_r != NULL ? -1 : send_error(c, error_r);
	return 0;
}

/*
 * RFC 7628 §3 (OAUTHBEARER, preferred) or XOAUTH2: the bearer token in the
 * initial response (RFC 4959 SASL-IR when offered, else after the "+").  A
 * server refusing the token first sends its error as a challenge (§3.2.2);
 * the client answers it with a lone ^A (XOAUTH2: an empty line) and the
 * server then ends the exchange with NO.
 */
static int
login_oauth2(struct imap_client *c, const char *token, const char **error_r)
{
	const struct upstream_settings *set = c->set;
	struct cmd_ctx x = { .login = true };
	bool bearer = (c->caps & IMAPC_CAP_AUTH_OAUTHBEARER) != 0;
	if (!bearer && (c->caps & IMAPC_CAP_AUTH_XOAUTH2) == 0) {
		*error_r = "login failed: the server offers no OAuth2 login "
			   "(neither AUTH=OAUTHBEARER nor AUTH=XOAUTH2)";
		return -1;
	}
	const char *mech = bearer ? "OAUTHBEARER" : "XOAUTH2";
	struct buf raw = BUF_INIT, b64 = BUF_INIT;
	if (bearer)
		oauth2_sasl_oauthbearer(&raw, set->username, set->host, set->port, token);
	else
		oauth2_sasl_xoauth2(&raw, set->username, token);
	base64_encode(&b64, raw.data, raw.len);
	explicit_bzero(raw.data, raw.len);
	buf_free(&raw);
	if (authenticate_start(c, &x, mech, &b64, error_r) < 0)
		return -1;
	x.want_continue = true;
	x.continued = false;
	int ret = wait_tagged(c, &x, "login failed", error_r);
	if (ret < 0 || !x.continued)
		return ret;
	/* the error challenge (its JSON is not shown: the server's words) */
	x.want_continue = false;
	if (conn_puts(c->conn, bearer ? "AQ==\r\n" : "\r\n") < 0)
		return send_error(c, error_r);
	if (wait_tagged(c, &x, "login failed", error_r) == 0) {
		*error_r = "login failed: the server accepted an OAuth2 exchange it had refused";
		return -1;
	}
	return -1;
}

static int
login(struct imap_client *c, const char *password, const char **error_r)
{
	const struct upstream_settings *set = c->set;
	struct cmd_ctx x = { .login = true };
	if (set->auth == UPSTREAM_AUTH_OAUTH2)
		return login_oauth2(c, password, error_r);
	bool plain = (c->caps & IMAPC_CAP_AUTH_PLAIN) != 0 &&
		     ((c->caps & IMAPC_CAP_LOGINDISABLED) != 0 ||
		      (c->caps & IMAPC_CAP_SASL_IR) != 0);
	if ((c->caps & IMAPC_CAP_LOGINDISABLED) != 0 && !plain) {
		*error_r = "login failed: the server allows no login here (LOGINDISABLED without AUTH=PLAIN)";
		return -1;
	}
	if (plain) {
		/* RFC 4616 "\0user\0pass", RFC 4959 initial response when offered */
		struct buf raw = BUF_INIT, b64 = BUF_INIT;
		buf_putc(&raw, '\0');
		buf_puts(&raw, set->username);
		buf_putc(&raw, '\0');
		buf_puts(&raw, password);
		base64_encode(&b64, raw.data, raw.len);
		explicit_bzero(raw.data, raw.len);
		buf_free(&raw);
		if (authenticate_start(c, &x, "PLAIN", &b64, error_r) < 0)
			return -1;
		return wait_tagged(c, &x, "login failed", error_r);
	}
	/* LOGIN user pass, with literals where needed */
	struct buf cmd = BUF_INIT;
	const char *parts[2] = { set->username, password };
	int ret = 0;
	snprintf(c->tag, sizeof c->tag, "A%04u", ++c->tag_seq % 10000);
	buf_printf(&cmd, "%s LOGIN ", c->tag);
	for (int i = 0; i < 2 && ret == 0; i++) {
		bool literal;
		put_astring(c, &cmd, parts[i], &literal);
		if (literal) {
			buf_puts(&cmd, "\r\n");
			ret = conn_write(c->conn, cmd.data, cmd.len);
			explicit_bzero(cmd.data, cmd.len);
			buf_reset(&cmd);
			if (ret == 0 && (c->caps & IMAPC_CAP_LITERALPLUS) == 0) {
				x.want_continue = true;
				ret = wait_tagged(c, &x, "login failed", error_r);
				x.want_continue = false;
				if (ret == 0 && !x.continued) {
					*error_r = "login failed: literal refused";
					ret = -1;
				}
				x.continued = false;
			}
			buf_puts(&cmd, parts[i]);
		}
		if (i == 0)
			buf_putc(&cmd, ' ');
	}
	if (ret == 0) {
		buf_puts(&cmd, "\r\n");
		ret = conn_write(c->conn, cmd.data, cmd.len);
	}
	explicit_bzero(cmd.data, cmd.len);
	buf_free(&cmd);
	if (ret < 0)
		return *error_r != NULL ? -1 : send_error(c, error_r);
	return wait_tagged(c, &x, "login failed", error_r);
}

static int
greeting(struct imap_client *c, const char **error_r)
{
	const char *line;
	size_t len;
	struct imapc_resp r;
	enum conn_result rr = conn_read_line(c->conn, IMAPC_LINE_MAX, &line, &len);
	if (rr != CONN_OK) {
		*error_r = read_error(c, rr);
		return -1;
	}
	if (imapc_parse_response(line, len, &r) < 0 || r.kind != IMAPC_UNTAGGED ||
	    !(imapc_resp_is(&r, "OK") || imapc_resp_is(&r, "PREAUTH") ||
	      imapc_resp_is(&r, "BYE"))) {
		log_peer_text(c, "greeting", line, len);
		*error_r = "this is not an IMAP server (its greeting is not an IMAP one)";
		return -1;
	}
	if (imapc_resp_is(&r, "BYE")) {
		/* RFC 3501 §7.1.5: the server will not talk to us now */
		log_peer_text(c, "greeting", line, len);
		*error_r = "the server refused the session (BYE in its greeting)";
		return -1;
	}
	struct cmd_ctx x = { 0 };
	handle_status_code(c, &x, &r);
	return 0;
}

int
imap_client_open(const struct upstream_settings *set, const char *password,
		 const struct client_conn_params *params, uint64_t log_id,
		 struct imap_client **c_r, const char **error_r)
{
	*c_r = NULL;
	*error_r = NULL;
	struct conn *conn = client_conn_open(set->host, set->port, params, error_r);
	if (conn == NULL)
		return -1;
	struct imap_client *c = xcalloc(1, sizeof *c);
	c->conn = conn;
	c->id = log_id;
	c->set = set;
	set_state(c, IMAPC_NOT_AUTHENTICATED);
	if (set->tls == UPSTREAM_TLS_IMPLICIT && tls_start(c, error_r) < 0)
		goto fail;
	if (greeting(c, error_r) < 0)
		goto fail;
	if (set->tls == UPSTREAM_TLS_STARTTLS) {
		/* RFC 3501 §6.2.1: capabilities are asked for again after TLS */
		if (simple(c, "STARTTLS failed", error_r, "STARTTLS", NULL) < 0 ||
		    tls_start(c, error_r) < 0)
			goto fail;
		c->caps = 0;
	}
	if (c->caps == 0 && simple(c, "CAPABILITY failed", error_r, "CAPABILITY", NULL) < 0)
		goto fail;
	*error_r = NULL;
	unsigned told = c->caps_told;
	if (login(c, password, error_r) < 0)
		goto fail;
	/* capabilities may change after login (RFC 3501 §6.2.3); a server
	 * that listed them with its answer to the login (RFC 9051 §6.2.3:
	 * the CAPABILITY response code of the tagged OK) said them already */
	if (c->caps_told == told &&
	    simple(c, "CAPABILITY failed", error_r, "CAPABILITY", NULL) < 0)
		goto fail;
	set_state(c, IMAPC_AUTHENTICATED);
	log_info("imapc[%llu] login host=%s user=%s tls=%s", (unsigned long long)log_id,
		 esc_str(set->host), esc_str(set->username), conn_tls_version(conn));
	*c_r = c;
	return 0;
fail:
	if (params->cert_sha256_r != NULL)
		memcpy(params->cert_sha256_r, c->cert_sha256, sizeof c->cert_sha256);
	c->state = IMAPC_LOGOUT;
	imap_client_free(&c);
	return -1;
}

void
imap_client_free(struct imap_client **cp)
{
	struct imap_client *c = *cp;
	if (c == NULL)
		return;
	if (!c->failed && (c->state == IMAPC_AUTHENTICATED || c->state == IMAPC_SELECTED)) {
		/* RFC 3501 §6.1.3: a polite LOGOUT, not waiting long for BYE */
		const char *err;
		conn_set_timeout(c->conn, 2000);
		c->ahead_queued = false;
		(void)simple(c, "LOGOUT", &err, "LOGOUT", NULL);
	}
	conn_free(&c->conn);
	free(c->ahead_folder);
	free(c);
	*cp = NULL;
}

unsigned
imap_client_caps(const struct imap_client *c)
{
	return c->caps;
}

const char *
imap_client_cert_sha256(const struct imap_client *c)
{
	return c->cert_sha256;
}

const char *
imap_client_tls_version(const struct imap_client *c)
{
	return conn_tls_version(c->conn);
}

/* LIST "" "*" into names_r, and the delimiter into delim_r (may be NULL). */
static int
list_folders(struct imap_client *c, char ***names_r, size_t *n_r, char *delim_r,
	     const char **error_r)
{
	struct cmd_ctx x = { 0 };
	*names_r = NULL;
	*n_r = 0;
	x.names = names_r;
	x.n_names = n_r;
	x.delim = delim_r;
	if (send_cmd(c, "LIST \"\" \"*\"") < 0)
		return send_error(c, error_r);
	if (wait_tagged(c, &x, "LIST failed", error_r) < 0) {
		imapc_names_free(names_r, *n_r);
		return -1;
	}
	return 0;
}

int
imap_client_list(struct imap_client *c, char ***names_r, size_t *n_r,
		 const char **error_r)
{
	return list_folders(c, names_r, n_r, NULL, error_r);
}

int
imap_client_list_folders(struct imap_client *c, char ***names_r, size_t *n_r,
			 char *delim_r, const char **error_r)
{
	*delim_r = '\0';
	return list_folders(c, names_r, n_r, delim_r, error_r);
}

void
imapc_names_free(char ***names, size_t n)
{
	if (*names == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*names)[i]);
	xfree(*names);
}

/* A folder name (UTF-8) as a quoted string in modified UTF-7 (RFC 3501
 * §5.1.3), appended to out: 0, or -1 when it is not UTF-8. */
int
imapc_quote_folder(const char *folder, struct buf *out, const char **error_r)
{
	struct buf name = BUF_INIT;
	if (imap_utf8_to_mutf7(folder, strlen(folder), &name) < 0) {
		buf_free(&name);
		*error_r = errfmt("folder name %s is not valid UTF-8", esc_str(folder));
		return -1;
	}
	buf_putc(out, '"');
	for (size_t i = 0; i < name.len; i++) {
		if (name.data[i] == '"' || name.data[i] == '\\')
			buf_putc(out, '\\');
		buf_putc(out, name.data[i]);
	}
	buf_putc(out, '"');
	buf_free(&name);
	return 0;
}

static int
select_folder(struct imap_client *c, const char *folder, const char *verb, const char *extra,
	      struct imapc_mailbox *mb_r, const char **error_r)
{
	struct buf quoted = BUF_INIT;
	memset(mb_r, 0, sizeof *mb_r);
	if (imapc_quote_folder(folder, &quoted, error_r) < 0)
		return -1;
	struct cmd_ctx x = { 0 };
	x.mb = mb_r;
	c->ahead_queued = false;	/* this SELECT instead */
	const char *what = errfmt("cannot open folder %s", esc_str(folder));
	/* unsolicited FETCHes are not collected here (no flags_fn): no
	 * [CLOSED] to wait for */
	int ret = send_cmd(c, "%s %s%s", verb, buf_cstr(&quoted), extra);
	buf_free(&quoted);
	if (ret < 0)
		return send_error(c, error_r);
	if (wait_tagged(c, &x, what, error_r) < 0)
		return -1;
	if (mb_r->uidvalidity == 0) {
		/* RFC 3501 §6.3.1: the server MUST send UIDVALIDITY */
		*error_r = errfmt("folder %s: the server sent no UIDVALIDITY", esc_str(folder));
		return -1;
	}
	set_state(c, IMAPC_SELECTED);
	return 0;
}

int
imap_client_select(struct imap_client *c, const char *folder, bool readonly,
		   struct imapc_mailbox *mb_r, const char **error_r)
{
	return select_folder(c, folder, readonly ? "EXAMINE" : "SELECT", "", mb_r, error_r);
}

/* Writes the SELECT queued by imap_client_select_ahead (its tag kept
 * apart: the command before it is the one being waited for). */
static int
ahead_write(struct imap_client *c)
{
	char tag[sizeof c->tag];
	memcpy(tag, c->tag, sizeof tag);
	c->ahead_queued = false;
	struct buf quoted = BUF_INIT;
	const char *error;
	int ret = imapc_quote_folder(c->ahead_folder, &quoted, &error);
	if (ret == 0) {
		/* as imap_client_select_rw sends it */
		ret = send_cmd(c, "SELECT %s%s", buf_cstr(&quoted),
			       (c->caps & IMAPC_CAP_CONDSTORE) != 0 ? " (CONDSTORE)" : "");
		memcpy(c->ahead_tag, c->tag, sizeof c->ahead_tag);
		c->ahead_sent = ret == 0;
	}
	buf_free(&quoted);
	memcpy(c->tag, tag, sizeof c->tag);
	return ret;
}

/* Reads the answer of the SELECT written ahead into *mb_r. */
static int
ahead_read(struct imap_client *c, struct imapc_mailbox *mb_r, const char **error_r)
{
	struct cmd_ctx x = { 0 };
	memset(mb_r, 0, sizeof *mb_r);
	x.mb = mb_r;
	c->ahead_sent = false;
	memcpy(c->tag, c->ahead_tag, sizeof c->tag);
	const char *what = errfmt("cannot open folder %s", esc_str(c->ahead_folder));
	if (wait_tagged(c, &x, what, error_r) < 0)
		return -1;
	if (mb_r->uidvalidity == 0) {
		/* RFC 3501 §6.3.1: the server MUST send UIDVALIDITY */
		c->failed = true;
		*error_r = errfmt("folder %s: the server sent no UIDVALIDITY",
				  esc_str(c->ahead_folder));
		return -1;
	}
	set_state(c, IMAPC_SELECTED);
	return 0;
}

bool
imapc_ahead_hold(struct imap_client *c)
{
	bool queued = c->ahead_queued;
	c->ahead_queued = false;
	return queued;
}

void
imapc_ahead_restore(struct imap_client *c, bool queued)
{
	c->ahead_queued = queued;
}

int
imap_client_select_ahead(struct imap_client *c, const char *folder, bool now,
			 const char **error_r)
{
	if (c->ahead_queued || c->ahead_sent)
		return 0;	/* one at a time */
	free(c->ahead_folder);
	c->ahead_folder = xstrdup(folder);
	c->ahead_queued = true;
	if (!now)
		return 0;
	if (ahead_write(c) < 0 || conn_flush(c->conn) < 0)
		return send_error(c, error_r);
	return 0;
}

int
imap_client_select_rw(struct imap_client *c, const char *folder, struct imapc_mailbox *mb_r,
		      const char **error_r)
{
	c->ahead_queued = false;
	if (c->ahead_sent && strcmp(c->ahead_folder, folder) == 0)
		return ahead_read(c, mb_r, error_r);
	/* RFC 7162 §3.1.8: the CONDSTORE parameter enables it at once */
	return select_folder(c, folder, "SELECT",
			     (c->caps & IMAPC_CAP_CONDSTORE) != 0 ? " (CONDSTORE)" : "", mb_r,
			     error_r);
}

void
imapc_sort_unique(uint32_t *u, size_t *n)
{
	for (size_t i = 1; i < *n; i++) {
		uint32_t v = u[i];
		size_t j = i;
		while (j > 0 && u[j - 1] > v) {
			u[j] = u[j - 1];
			j--;
		}
		u[j] = v;
	}
	size_t m = 0;
	for (size_t i = 0; i < *n; i++)
		if (m == 0 || u[m - 1] != u[i])
			u[m++] = u[i];
	*n = m;
}

/*
 * SELECT folder with args, then the commands more[0..n_more), sent at once
 * (RFC 3501 §5.5: the ones after the SELECT run on the folder it opens; a
 * server runs a pipeline's commands in order when one depends on the
 * mailbox state another sets): one round trip.  x collects every answer
 * (each fills its own part of it); x->mb is set to mb_r here.
 */
static int
select_pipelined(struct imap_client *c, const char *folder, const char *args,
		 const char *const *more, size_t n_more, struct cmd_ctx *x,
		 struct imapc_mailbox *mb_r, const char **error_r)
{
	memset(mb_r, 0, sizeof *mb_r);
	struct buf quoted = BUF_INIT;
	if (imapc_quote_folder(folder, &quoted, error_r) < 0)
		return -1;
	char tags[4][sizeof c->tag];
	bool done[4] = { false, false, false, false };
	c->ahead_queued = false;	/* this SELECT instead */
	if (n_more + 1 > sizeof tags / sizeof tags[0])
		panic("imapc: %zu commands after a SELECT", n_more);
	size_t k = 0;
	int ret = send_cmd(c, "SELECT %s%s", buf_cstr(&quoted), args);
	buf_free(&quoted);
	if (ret == 0)
		memcpy(tags[k++], c->tag, sizeof c->tag);
	for (size_t i = 0; i < n_more && ret == 0; i++) {
		ret = send_cmd(c, "%s", more[i]);
		if (ret == 0)
			memcpy(tags[k++], c->tag, sizeof c->tag);
	}
	if (ret < 0)
		return send_error(c, error_r);
	x->mb = mb_r;
	x->pipe_tags = tags;
	x->pipe_done = done;
	x->pipe_n = k;
	x->await_closed = c->qresync && c->state == IMAPC_SELECTED;
	const char *what = errfmt("cannot open folder %s", esc_str(folder));
	for (size_t j = 0; j < k && ret == 0; j++) {
		if (done[j])
			continue;
		memcpy(c->tag, tags[j], sizeof c->tag);
		done[j] = true;
		ret = wait_tagged(c, x, j == 0 ? what : "UID SEARCH or FETCH failed", error_r);
	}
	x->pipe_tags = NULL;
	x->pipe_done = NULL;
	x->pipe_n = 0;
	if (ret == 0 && mb_r->uidvalidity == 0) {
		/* RFC 3501 §6.3.1: the server MUST send UIDVALIDITY */
		*error_r = errfmt("folder %s: the server sent no UIDVALIDITY", esc_str(folder));
		ret = -1;
	}
	if (ret < 0) {
		c->failed = true;
		return -1;
	}
	set_state(c, IMAPC_SELECTED);
	return 0;
}

/* What a sync's SELECT and the commands behind it fill: the UIDs a
 * SEARCH (or ESEARCH) returns, and fn for each FETCH of flags. */
static struct cmd_ctx
sync_ctx(uint32_t **uids_r, size_t *n_r, bool esearch, imapc_flags_fn *fn, void *ctx)
{
	struct cmd_ctx x = { 0 };
	x.uids = uids_r;
	x.n_uids = n_r;
	x.esearch = esearch;
	x.flags_fn = fn;
	x.flags_ctx = ctx;
	return x;
}

int
imap_client_select_sync(struct imap_client *c, const char *folder, uint64_t changedsince,
			struct imapc_mailbox *mb_r, uint32_t **uids_r, size_t *n_r,
			imapc_flags_fn *fn, void *ctx, const char **error_r)
{
	*uids_r = NULL;
	*n_r = 0;
	bool condstore = (c->caps & IMAPC_CAP_CONDSTORE) != 0;
	bool esearch = (c->caps & IMAPC_CAP_ESEARCH) != 0;
	const char *more[2];
	size_t n_more = 0;
	char *fetch = NULL;
	more[n_more++] = esearch ? "UID SEARCH RETURN (ALL) ALL" : "UID SEARCH ALL";
	if (condstore && changedsince != 0) {
		fetch = xasprintf("UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE %llu)",
				  (unsigned long long)changedsince);
		more[n_more++] = fetch;
	}
	struct cmd_ctx x = sync_ctx(uids_r, n_r, esearch, fn, ctx);
	int ret = select_pipelined(c, folder, condstore ? " (CONDSTORE)" : "", more, n_more, &x,
				   mb_r, error_r);
	free(fetch);
	if (ret < 0) {
		xfree(*uids_r);
		*n_r = 0;
		return -1;
	}
	imapc_sort_unique(*uids_r, n_r);
	return 0;
}

int
imap_client_enable_qresync(struct imap_client *c, const char **error_r)
{
	if (c->qresync)
		return 0;
	/* RFC 5161 §3.1: ENABLE only in the authenticated state (a kept
	 * session with a folder selected goes on without it) */
	if ((c->caps & IMAPC_CAP_QRESYNC) == 0 || c->state != IMAPC_AUTHENTICATED)
		return 0;
	struct cmd_ctx x = { 0 };
	return imapc_command(c, &x, "ENABLE failed", error_r, "ENABLE QRESYNC");
}

bool
imap_client_qresync(const struct imap_client *c)
{
	return c->qresync;
}

bool
imap_client_loopback(const struct imap_client *c)
{
	return conn_is_loopback(c->conn);
}

int
imap_client_select_qresync(struct imap_client *c, const char *folder, uint32_t uidvalidity,
			   uint64_t modseq, uint32_t from, struct imapc_mailbox *mb_r,
			   uint32_t **uids_r, size_t *n_r, uint32_t **vanished_r,
			   size_t *n_vanished_r, imapc_flags_fn *fn, void *ctx,
			   const char **error_r)
{
	*uids_r = NULL;
	*n_r = 0;
	*vanished_r = NULL;
	*n_vanished_r = 0;
	if (!c->qresync || uidvalidity == 0 || modseq == 0 || from == 0) {
		*error_r = "QRESYNC is not enabled for this session";
		return -1;
	}
	bool esearch = (c->caps & IMAPC_CAP_ESEARCH) != 0;
	/* RFC 7162 §3.2.5: the changes since modseq (VANISHED (EARLIER) and
	 * FETCH of the changed flags) come with the SELECT; the UIDs from
	 * "from" on ("from:*" holds the last UID even below from: dropped) */
	char *args = xasprintf(" (QRESYNC (%u %llu))", uidvalidity, (unsigned long long)modseq);
	char *search = xasprintf("UID SEARCH %sUID %u:*", esearch ? "RETURN (ALL) " : "", from);
	const char *more[1] = { search };
	struct cmd_ctx x = sync_ctx(uids_r, n_r, esearch, fn, ctx);
	x.vanished = vanished_r;
	x.n_vanished = n_vanished_r;
	int ret = select_pipelined(c, folder, args, more, 1, &x, mb_r, error_r);
	free(args);
	free(search);
	if (ret < 0) {
		xfree(*uids_r);
		xfree(*vanished_r);
		*n_r = *n_vanished_r = 0;
		return -1;
	}
	imapc_sort_unique(*uids_r, n_r);
	size_t m = 0;
	for (size_t i = 0; i < *n_r; i++)
		if ((*uids_r)[i] >= from)
			(*uids_r)[m++] = (*uids_r)[i];
	*n_r = m;
	imapc_sort_unique(*vanished_r, n_vanished_r);
	return 0;
}

/* The folders of one write of imap_client_sync_many (two commands each,
 * under 10 KB written before anything is read: the socket's buffers take
 * it while the server answers). */
#define SYNC_MANY_FOLDERS 64

int
imap_client_sync_many(struct imap_client *c, struct imapc_sync_folder *v, size_t n,
		      const char **error_r)
{
	if (!c->qresync) {
		*error_r = "QRESYNC is not enabled for this session";
		return -1;
	}
	const char *gm = (c->caps & IMAPC_CAP_X_GM_EXT_1) != 0 ? " X-GM-MSGID" : "";
	char tags[2 * SYNC_MANY_FOLDERS][sizeof c->tag];
	c->ahead_queued = false;	/* these SELECTs instead */
	for (size_t i = 0; i < n; i += SYNC_MANY_FOLDERS) {
		size_t k = n - i < SYNC_MANY_FOLDERS ? n - i : SYNC_MANY_FOLDERS;
		for (size_t j = 0; j < k; j++) {
			struct imapc_sync_folder *f = &v[i + j];
			struct buf quoted = BUF_INIT;
			memset(&f->mb, 0, sizeof f->mb);
			if (f->uidvalidity == 0 || f->modseq == 0)
				panic("imapc: a QRESYNC SELECT without its parameters");
			if (imapc_quote_folder(f->folder, &quoted, error_r) < 0) {
				c->failed = true;
				return -1;
			}
			int ret = send_cmd(c, "SELECT %s (QRESYNC (%u %llu))", buf_cstr(&quoted),
					   f->uidvalidity, (unsigned long long)f->modseq);
			buf_free(&quoted);
			if (ret == 0)
				memcpy(tags[2 * j], c->tag, sizeof c->tag);
			if (ret == 0 && f->uidset != NULL) {
				ret = send_cmd(c, "UID FETCH %s (UID FLAGS INTERNALDATE%s BODY.PEEK[])",
					       f->uidset, gm);
				memcpy(tags[2 * j + 1], c->tag, sizeof c->tag);
			}
			if (ret < 0)
				return send_error(c, error_r);
		}
		for (size_t j = 0; j < k; j++) {
			struct imapc_sync_folder *f = &v[i + j];
			struct cmd_ctx x = { 0 };
			x.mb = &f->mb;
			x.flags_fn = f->flags_fn;
			x.flags_ctx = f->flags_ctx;
			x.vanished = &f->vanished;
			x.n_vanished = &f->n_vanished;
			/* every SELECT but a first one with none selected
			 * closes the folder before it */
			x.await_closed = j > 0 || c->state == IMAPC_SELECTED;
			memcpy(c->tag, tags[2 * j], sizeof c->tag);
			const char *what = errfmt("cannot open folder %s", esc_str(f->folder));
			if (wait_tagged(c, &x, what, error_r) < 0)
				return -1;
			if (f->mb.uidvalidity == 0) {
				/* RFC 3501 §6.3.1: the server MUST send UIDVALIDITY */
				c->failed = true;
				*error_r = errfmt("folder %s: the server sent no UIDVALIDITY",
						  esc_str(f->folder));
				return -1;
			}
			set_state(c, IMAPC_SELECTED);
			imapc_sort_unique(f->vanished, &f->n_vanished);
			if (f->uidset == NULL)
				continue;
			struct cmd_ctx fx = { 0 };
			fx.sink = f->sink;
			memcpy(c->tag, tags[2 * j + 1], sizeof c->tag);
			if (wait_tagged(c, &fx, "UID FETCH failed", error_r) < 0)
				return -1;
		}
	}
	return 0;
}

int
imap_client_search_from(struct imap_client *c, uint32_t from, uint32_t **uids_r,
			size_t *n_r, const char **error_r)
{
	struct cmd_ctx x = { 0 };
	*uids_r = NULL;
	*n_r = 0;
	x.uids = uids_r;
	x.n_uids = n_r;
	if (send_cmd(c, "UID SEARCH UID %u:*", from) < 0)
		return send_error(c, error_r);
	if (wait_tagged(c, &x, "UID SEARCH failed", error_r) < 0) {
		xfree(*uids_r);
		*n_r = 0;
		return -1;
	}
	/* "from:*" always matches the highest UID, even below from
	 * (RFC 3501 §6.4.8); the order is the server's */
	size_t k = 0;
	for (size_t i = 0; i < *n_r; i++) {
		if ((*uids_r)[i] >= from)
			(*uids_r)[k++] = (*uids_r)[i];
	}
	*n_r = k;
	for (size_t i = 1; i < k; i++) {
		uint32_t v = (*uids_r)[i];
		size_t j = i;
		/* insertion sort: servers send them sorted, so this is linear */
		while (j > 0 && (*uids_r)[j - 1] > v) {
			(*uids_r)[j] = (*uids_r)[j - 1];
			j--;
		}
		(*uids_r)[j] = v;
	}
	return 0;
}

int
imap_client_fetch(struct imap_client *c, const char *uidset,
		  const struct imapc_fetch_sink *sink, const char **error_r)
{
	struct cmd_ctx x = { 0 };
	x.sink = sink;
	/* FLAGS: what the user did upstream (read, flagged, answered) comes
	 * along; X-GM-MSGID lets Gmail's labels be told apart from copies */
	if (send_cmd(c, "UID FETCH %s (UID FLAGS INTERNALDATE%s BODY.PEEK[])", uidset,
		     (c->caps & IMAPC_CAP_X_GM_EXT_1) != 0 ? " X-GM-MSGID" : "") < 0)
		return send_error(c, error_r);
	return wait_tagged(c, &x, "UID FETCH failed", error_r);
}

int
imap_client_delete(struct imap_client *c, const char *uidset, const char **error_r)
{
	struct cmd_ctx x = { 0 };
	/* a SELECT written ahead goes behind the UID EXPUNGE */
	bool ahead = imapc_ahead_hold(c);
	if (send_cmd(c, "UID STORE %s +FLAGS.SILENT (\\Deleted)", uidset) < 0)
		return send_error(c, error_r);
	if (wait_tagged(c, &x, "cannot mark fetched messages deleted", error_r) < 0)
		return -1;
	imapc_ahead_restore(c, ahead);
	/* RFC 4315 §2.1: UID EXPUNGE removes only these; plain EXPUNGE would
	 * also remove what the user marked \Deleted elsewhere.  Not sent
	 * with the STORE: Dovecot may run a pipelined UID EXPUNGE before the
	 * STORE before it is done, expunging nothing */
	if ((c->caps & IMAPC_CAP_UIDPLUS) != 0) {
		if (send_cmd(c, "UID EXPUNGE %s", uidset) < 0)
			return send_error(c, error_r);
	} else if (send_cmd(c, "EXPUNGE") < 0) {
		return send_error(c, error_r);
	}
	return wait_tagged(c, &x, "cannot expunge fetched messages", error_r);
}

/* The mailbox name at the start of a STATUS response's text (an atom or
 * a quoted string; mUTF-7 decoded), or NULL. */
static char *
status_mailbox(const char *p, size_t len)
{
	struct buf raw = BUF_INIT, utf8 = BUF_INIT;
	size_t i = 0;
	if (len > 0 && p[0] == '"') {
		for (i = 1; i < len && p[i] != '"'; i++) {
			if (p[i] == '\\' && i + 1 < len)
				i++;
			buf_putc(&raw, p[i]);
		}
	} else {
		while (i < len && p[i] != ' ' && p[i] != '(')
			buf_putc(&raw, p[i++]);
	}
	char *name = NULL;
	if (raw.len > 0 && imap_mutf7_to_utf8(raw.data, raw.len, &utf8) == 0)
		name = buf_steal(&utf8);
	buf_free(&raw);
	buf_free(&utf8);
	return name;
}

static int
idle_loop(struct imap_client *c, int stop_fd, int timeout_ms, bool *news_r,
	  imapc_notify_fn *fn, void *ctx, const char **error_r)
{
	struct cmd_ctx x = { 0 };
	*news_r = false;
	if (send_cmd(c, "IDLE") < 0)
		return send_error(c, error_r);
	x.want_continue = true;
	if (wait_tagged(c, &x, "IDLE failed", error_r) < 0)
		return -1;
	if (!x.continued) {
		*error_r = "IDLE ended before it began";
		return -1;
	}
	*news_r = x.news;
	int64_t left = timeout_ms;
	while (!*news_r && left > 0) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int w = conn_wait(c->conn, stop_fd, (int)left);
		if (w < 0) {
			*error_r = errfmt("IDLE: %s", conn_error(c->conn));
			return -1;
		}
		if (w != 1)
			break;	/* stop asked, or time to re-issue */
		const char *line;
		size_t len;
		struct imapc_resp r;
		enum conn_result rr = conn_read_line(c->conn, IMAPC_LINE_MAX, &line, &len);
		if (rr != CONN_OK) {
			*error_r = read_error(c, rr);
			return -1;
		}
		if (imapc_parse_response(line, len, &r) < 0 || r.kind != IMAPC_UNTAGGED) {
			log_peer_text(c, "IDLE", line, len);
			*error_r = "IDLE: the server sent a malformed or unexpected response";
			return -1;
		}
		if (imapc_resp_is(&r, "BYE")) {
			log_peer_text(c, "IDLE", line, len);
			*error_r = "IDLE: the server closed the session";
			return -1;
		}
		if (r.has_number && (imapc_resp_is(&r, "EXISTS") || imapc_resp_is(&r, "RECENT")))
			*news_r = true;
		/* RFC 5465 §5.2-5.3: events of a watched folder that is not
		 * selected come as STATUS; a name sent as a literal is not
		 * read as one (any folder then) */
		if (fn != NULL && imapc_resp_is(&r, "STATUS")) {
			char *name = NULL;
			uint64_t lit = 0;
			int has_lit = imapc_line_literal(line, len, IMAPC_SMALL_LITERAL_MAX, &lit);
			if (has_lit == 1) {
				if (read_literal(c, lit, NULL, NULL, error_r) < 0 ||
				    conn_read_line(c->conn, IMAPC_LINE_MAX, &line, &len) != CONN_OK) {
					*error_r = "IDLE: the server's STATUS could not be read";
					return -1;
				}
			} else {
				name = status_mailbox(r.rest, r.rest_len);
			}
			fn(ctx, name);
			free(name);
			*news_r = true;
			clock_gettime(CLOCK_MONOTONIC, &t1);
			left -= (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
			continue;
		}
		/* two-way: a flag change or an expunge upstream is news too */
		if (c->news_any && (imapc_resp_is(&r, "FETCH") || imapc_resp_is(&r, "EXPUNGE") ||
				    imapc_resp_is(&r, "VANISHED")))
			*news_r = true;
		if (imapc_line_literal(line, len, 0, &(uint64_t){ 0 }) != 0) {
			*error_r = "IDLE: the server sent a literal";
			return -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left -= (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	}
	/* RFC 2177 §3: DONE ends it; the tagged OK follows */
	if (conn_puts(c->conn, "DONE\r\n") < 0)
		return send_error(c, error_r);
	x.want_continue = false;
	if (wait_tagged(c, &x, "IDLE failed", error_r) < 0)
		return -1;
	*news_r = *news_r || x.news;
	return 0;
}

int
imap_client_idle(struct imap_client *c, int stop_fd, int timeout_ms, bool *news_r,
		 const char **error_r)
{
	return idle_loop(c, stop_fd, timeout_ms, news_r, NULL, NULL, error_r);
}

int
imap_client_notify_wait(struct imap_client *c, int stop_fd, int timeout_ms,
			imapc_notify_fn *fn, void *ctx, const char **error_r)
{
	bool news = false;
	return idle_loop(c, stop_fd, timeout_ms, &news, fn, ctx, error_r);
}

int
imap_client_noop(struct imap_client *c, bool *news_r, const char **error_r)
{
	struct cmd_ctx x = { 0 };
	if (send_cmd(c, "NOOP") < 0)
		return send_error(c, error_r);
	int ret = wait_tagged(c, &x, "NOOP failed", error_r);
	*news_r = x.news;
	return ret;
}

/* ---- two-way sync -------------------------------------------------------- */

void
imap_client_set_news_any(struct imap_client *c, bool any)
{
	c->news_any = any;
}

int
imapc_command(struct imap_client *c, struct cmd_ctx *x, const char *what, const char **error_r,
	      const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	int ret = send_cmd(c, "%s", buf_cstr(&b));
	buf_free(&b);
	if (ret < 0)
		return send_error(c, error_r);
	return wait_tagged(c, x, what, error_r);
}

int
imapc_command_literal(struct imap_client *c, struct cmd_ctx *x, const char *what,
		      const char **error_r, const char *head, const void *data, size_t len)
{
	bool plus = (c->caps & IMAPC_CAP_LITERALPLUS) != 0;
	if (send_cmd(c, "%s {%zu%s}", head, len, plus ? "+" : "") < 0)
		return send_error(c, error_r);
	if (!plus) {
		x->want_continue = true;
		int ret = wait_tagged(c, x, what, error_r);
		x->want_continue = false;
		if (ret < 0)
			return -1;
		if (!x->continued) {
			c->failed = true;
			*error_r = errfmt("%s: the server refused the literal", what);
			return -1;
		}
		x->continued = false;
	}
	if (conn_write(c->conn, data, len) < 0 || conn_puts(c->conn, "\r\n") < 0)
		return send_error(c, error_r);
	return wait_tagged(c, x, what, error_r);
}

int
imapc_pipeline(struct imap_client *c, const char *what, char *const *cmds, size_t n,
	       const char **error_r)
{
	return imapc_pipeline_into(c, NULL, what, cmds, n, error_r);
}

int
imap_client_status_many(struct imap_client *c, const char *const *folders, size_t n,
			imapc_status_fn *fn, void *ctx, const char **error_r)
{
	char **cmds = xcalloc(n + 1, sizeof *cmds);
	bool condstore = (c->caps & IMAPC_CAP_CONDSTORE) != 0;
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		struct buf b = BUF_INIT;
		buf_puts(&b, "STATUS ");
		ret = imapc_quote_folder(folders[i], &b, error_r);
		buf_printf(&b, " (MESSAGES UIDNEXT UIDVALIDITY%s)",
			   condstore ? " HIGHESTMODSEQ" : "");
		cmds[i] = buf_steal(&b);
		if (cmds[i] == NULL)
			cmds[i] = xstrdup("");
	}
	struct cmd_ctx x = { 0 };
	x.status_fn = fn;
	x.status_ctx = ctx;
	/* a folder that is not there: no answer for it (its pass says so) */
	x.no_ok = true;
	if (ret == 0)
		ret = imapc_pipeline_into(c, &x, "STATUS failed", cmds, n, error_r);
	for (size_t i = 0; i < n; i++)
		free(cmds[i]);
	free(cmds);
	return ret;
}

int
imapc_pipeline_into(struct imap_client *c, const struct cmd_ctx *shared, const char *what,
		    char *const *cmds, size_t n, const char **error_r)
{
	_Static_assert(sizeof c->tag == 16, "pipe_tags");
	char (*tags)[sizeof c->tag] = xcalloc(IMAPC_PIPELINE_MAX, sizeof *tags);
	bool done[IMAPC_PIPELINE_MAX];
	int ret = 0;
	bool ahead = c->ahead_queued;
	for (size_t i = 0; i < n && ret == 0;) {
		size_t k = n - i < IMAPC_PIPELINE_MAX ? n - i : IMAPC_PIPELINE_MAX;
		/* a SELECT written ahead goes behind the last of them */
		c->ahead_queued = ahead && i + k == n;
		/* RFC 3501 §5.5: commands whose results do not depend on each
		 * other may be sent without waiting, and the server may answer
		 * them in any order */
		for (size_t j = 0; j < k; j++) {
			if (send_cmd(c, "%s", cmds[i + j]) < 0) {
				xfree(tags);
				return send_error(c, error_r);
			}
			memcpy(tags[j], c->tag, sizeof c->tag);
		}
		memset(done, 0, sizeof done);
		for (size_t j = 0; j < k && ret == 0; j++) {
			if (done[j])
				continue;	/* answered while another was awaited */
			struct cmd_ctx x = { 0 };
			if (shared != NULL)
				x = *shared;
			x.pipe_tags = tags;
			x.pipe_done = done;
			x.pipe_n = k;
			memcpy(c->tag, tags[j], sizeof c->tag);
			done[j] = true;
			ret = wait_tagged(c, &x, what, error_r);
		}
		i += k;
	}
	xfree(tags);
	return ret;
}
