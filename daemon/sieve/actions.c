/*
 * actions: what a script asks to be done, collected in the result: the
 * limits on actions and redirects, the vacation decision and its reply
 * (RFC 5230, RFC 3834), mailto notifications (RFC 5436), editheader (RFC
 * 5293), and the final pass that merges duplicate actions, settles the
 * implicit keep (RFC 5228 §2.10.2) and checks conflicts (RFC 5429 §2.1).
 */
#include <ctype.h>
#include <string.h>

#include "core/base64.h"
#include "core/hash.h"
#include "core/xmalloc.h"
#include "mail/address.h"
#include "mail/date.h"
#include "mail/header.h"
#include "sieve/sieve_int.h"

struct sieve_action *
sv_action_new(struct sv_run *run, enum sieve_action_kind kind)
{
	struct sieve_result *r = run->r;
	if (run->stop)
		return NULL;
	if (r->n_actions >= SIEVE_MAX_ACTIONS) {
		sv_fail(run, "total number of actions exceeds policy limit (%d)", SIEVE_MAX_ACTIONS);
		return NULL;
	}
	if (kind == SIEVE_ACT_REDIRECT && ++run->n_redirects > SIEVE_MAX_REDIRECTS) {
		sv_fail(run, "total number of redirect actions exceeds policy limit (%d)",
			SIEVE_MAX_REDIRECTS);
		return NULL;
	}
	r->actions = xreallocarray(r->actions, r->n_actions + 1, sizeof *r->actions);
	struct sieve_action *a = &r->actions[r->n_actions++];
	memset(a, 0, sizeof *a);
	a->kind = kind;
	a->send = true;
	return a;
}

/* ---- vacation (RFC 5230, RFC 3834) -------------------------------------- */

/* The address part of a header value, lower case; NULL if none. */
static char *
addr_of(const char *value)
{
	struct mail_address *list = mail_address_parse(value, strlen(value), 100);
	char *out = NULL;
	for (struct mail_address *a = list; a != NULL && out == NULL; a = a->next) {
		if (a->mailbox == NULL || a->domain == NULL || a->invalid)
			continue;
		out = xasprintf("%s@%s", a->mailbox, a->domain);
	}
	mail_address_free(&list);
	if (out != NULL)
		str_lower(out);
	return out;
}

static bool
header_has(struct sv_run *run, const char *name)
{
	struct mail_header_field f;
	return mail_header_find(run->hdr, run->hdr_len, name, false, &f);
}

static char *
first_value(struct sv_run *run, const char *name)
{
	size_t n;
	char **v = sv_header_values(run, name, &n);
	char *out = n > 0 ? xstrdup(v[0]) : NULL;
	sv_strv_free(v, n);
	return out;
}

/* The raw (unfolded, not decoded) first value of a field. */
static char *
raw_value(struct sv_run *run, const char *name)
{
	struct mail_header_field f;
	if (!mail_header_find(run->hdr, run->hdr_len, name, false, &f))
		return NULL;
	struct buf b = BUF_INIT;
	mail_header_value_unfold(&b, &f);
	buf_puts(&b, "");
	return buf_steal(&b);
}

/* Whether one of addrs (lower case) is among the addresses of the
 * recipient fields (RFC 5230 §4.5). */
static bool
addressed(struct sv_run *run, char **addrs, size_t n)
{
	static const char *const fields[] = { "to", "cc", "bcc", "resent-to", "resent-cc",
					      "resent-bcc" };
	for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
		size_t nv;
		char **v = sv_header_values(run, fields[f], &nv);
		bool hit = false;
		for (size_t i = 0; i < nv && !hit; i++) {
			struct mail_address *list = mail_address_parse(v[i], strlen(v[i]), 1000);
			for (struct mail_address *a = list; a != NULL && !hit; a = a->next) {
				if (a->mailbox == NULL || a->domain == NULL)
					continue;
				char *x = xasprintf("%s@%s", a->mailbox, a->domain);
				for (size_t k = 0; k < n && !hit; k++)
					hit = str_eq_nocase(x, addrs[k]);
				free(x);
			}
			mail_address_free(&list);
		}
		sv_strv_free(v, nv);
		if (hit)
			return true;
	}
	return false;
}

/* Why no reply may go to sender (RFC 3834 §2, RFC 5230 §4.5), or NULL. */
static const char *
vacation_refusal(struct sv_run *run, const char *sender, char **mine, size_t n_mine)
{
	static const char *const list_fields[] = { "list-id", "list-owner", "list-subscribe",
						   "list-post", "list-unsubscribe", "list-help",
						   "list-archive" };
	if (*sender == 0)
		return "the envelope sender is null (a bounce)";
	const char *at = strrchr(sender, '@');
	size_t ll = at != NULL ? (size_t)(at - sender) : strlen(sender);
	/* RFC 3834 §2: never to the addresses of robots and lists */
	if ((ll == 13 && mem_eq_nocase(sender, "mailer-daemon", 13)) ||
	    (ll == 8 && mem_eq_nocase(sender, "listserv", 8)) ||
	    (ll == 9 && mem_eq_nocase(sender, "majordomo", 9)) ||
	    (ll >= 8 && mem_eq_nocase(sender + ll - 8, "-request", 8)) ||
	    (ll >= 6 && mem_eq_nocase(sender, "owner-", 6)))
		return "the sender is a system or list address";
	for (size_t i = 0; i < n_mine; i++)
		if (str_eq_nocase(sender, mine[i]))
			return "the sender is the user";
	for (size_t i = 0; i < sizeof list_fields / sizeof list_fields[0]; i++)
		if (header_has(run, list_fields[i]))
			return "the message comes from a mailing list";
	char *v = first_value(run, "auto-submitted");
	if (v != NULL) {
		bool no = str_has_prefix_nocase(v, "no") &&
			  (v[2] == 0 || v[2] == ';' || v[2] == ' ' || v[2] == '(');
		free(v);
		if (!no)
			return "the message is auto-submitted";
	}
	v = first_value(run, "precedence");
	if (v != NULL) {
		bool bulk = str_eq_nocase(v, "bulk") || str_eq_nocase(v, "list") ||
			    str_eq_nocase(v, "junk");
		free(v);
		if (bulk)
			return "the message has a bulk precedence";
	}
	v = first_value(run, "x-auto-response-suppress");
	if (v != NULL) {
		bool sup = strstr(v, "OOF") != NULL || strstr(v, "All") != NULL;
		free(v);
		if (sup)
			return "the message suppresses automatic replies";
	}
	if (!addressed(run, mine, n_mine))
		return "the user is not among the recipient fields";
	return NULL;
}

static void
encoded_word(struct buf *out, const char *s)
{
	bool plain = true;
	for (const char *p = s; *p != 0; p++)
		if ((unsigned char)*p >= 128 || *p == '\r' || *p == '\n')
			plain = false;
	if (plain) {
		buf_puts(out, s);
		return;
	}
	struct buf b = BUF_INIT;
	base64_encode(&b, s, strlen(s));
	buf_printf(out, "=?utf-8?b?%s?=", buf_cstr(&b));
	buf_free(&b);
}

void
sv_vacation(struct sv_run *run, const struct sv_node *n)
{
	const struct sieve_env *env = run->env;
	struct sieve_result *r = run->r;
	for (size_t i = 0; i < r->n_actions; i++)
		if (r->actions[i].kind == SIEVE_ACT_VACATION) {
			/* RFC 5230 §4.7: one vacation per script run */
			sv_fail(run, "there can be only one vacation action");
			return;
		}
	struct sieve_action *a = sv_action_new(run, SIEVE_ACT_VACATION);
	if (a == NULL)
		return;
	struct sv_arg *days = sv_tag(n, "days"), *secs = sv_tag(n, "seconds"),
		      *subject = sv_tag(n, "subject"), *from = sv_tag(n, "from"),
		      *addresses = sv_tag(n, "addresses"), *handle = sv_tag(n, "handle");
	uint64_t period = SIEVE_VACATION_DEFAULT;
	if (days != NULL)
		period = days->num > 1000 ? 1000 * 86400ULL : days->num * 86400;
	else if (secs != NULL)
		period = secs->num;
	if (period < SIEVE_VACATION_MIN && !(secs != NULL && period == 0))
		period = SIEVE_VACATION_MIN;
	if (period > SIEVE_VACATION_MAX)
		period = SIEVE_VACATION_MAX;
	a->seconds = (unsigned)period;
	a->text = sv_expand(run, n->pos[0]->strs[0]);
	char *subj = subject != NULL ? sv_expand(run, subject->strs[0]) : NULL;
	char *fromv = from != NULL ? sv_expand(run, from->strs[0]) : NULL;
	bool mime = sv_has_tag(n, "mime");

	/* the user's addresses: the recipient, the original one, :addresses */
	char **mine = NULL;
	size_t n_mine = 0;
	mine = xcalloc(4, sizeof *mine);
	mine[n_mine++] = xstrdup(env->recipient);
	if (env->orig_recipient != NULL && strcmp(env->orig_recipient, env->recipient) != 0)
		mine[n_mine++] = xstrdup(env->orig_recipient);
	if (addresses != NULL) {
		for (size_t i = 0; i < addresses->n; i++) {
			char *x = sv_expand(run, addresses->strs[i]);
			char *ad = addr_of(x);
			free(x);
			if (ad == NULL)
				continue;
			mine = xreallocarray(mine, n_mine + 1, sizeof *mine);
			mine[n_mine++] = ad;
		}
	}
	/* the memory key: RFC 5230 §4.2's handle (by default the reason,
	 * subject, from and :mime) with the sender */
	struct buf key = BUF_INIT;
	if (handle != NULL) {
		char *h = sv_expand(run, handle->strs[0]);
		buf_puts(&key, h);
		free(h);
	} else {
		buf_printf(&key, "%s%s%s%s", a->text, subj != NULL ? subj : "",
			   fromv != NULL ? fromv : "<default-from>", mime ? "<MIME>" : "<NO-MIME>");
	}
	buf_printf(&key, "\n%s", env->sender);
	sha256_hex(key.data, key.len, a->id);
	buf_free(&key);

	a->reply_to = xstrdup(env->sender);
	const char *why = vacation_refusal(run, env->sender, mine, n_mine);
	if (why == NULL && env->vacation_seen != NULL && a->seconds > 0 &&
	    env->vacation_seen(env->ctx, a->id, a->seconds))
		why = "a reply went to this sender within the period";
	if (why != NULL) {
		a->send = false;
		a->why = xstrdup(why);
		goto out;
	}

	/* the reply (RFC 5230 §5) */
	struct buf m = BUF_INIT;
	char date[64];
	struct tm tm;
	time_t now = env->now;
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_printf(&m, "Date: %s\r\n", date);
	buf_puts(&m, "From: ");
	if (fromv != NULL)
		buf_puts(&m, fromv);
	else
		buf_printf(&m, "<%s>", env->recipient);
	buf_puts(&m, "\r\n");
	/* To: the sender, with the display name of From when it is the
	 * same address (written as Pigeonhole writes it: quoted) */
	char *ofrom = raw_value(run, "from");
	char *ofrom_addr = ofrom != NULL ? addr_of(ofrom) : NULL;
	char *name = NULL;
	if (ofrom_addr != NULL && str_eq_nocase(ofrom_addr, env->sender)) {
		struct mail_address *list = mail_address_parse(ofrom, strlen(ofrom), 1);
		if (list != NULL && list->name != NULL && *list->name != 0) {
			name = xstrdup(list->name);
			size_t nl = strlen(name);
			if (nl >= 2 && name[0] == '"' && name[nl - 1] == '"') {
				memmove(name, name + 1, nl - 2);
				name[nl - 2] = 0;
			}
		}
		mail_address_free(&list);
	}
	if (name != NULL && strncmp(name, "=?", 2) == 0)
		buf_printf(&m, "To: %s <%s>\r\n", name, env->sender);
	else if (name != NULL)
		buf_printf(&m, "To: \"%s\" <%s>\r\n", name, env->sender);
	else
		buf_printf(&m, "To: <%s>\r\n", env->sender);
	free(name);
	free(ofrom);
	free(ofrom_addr);
	buf_puts(&m, "Subject: ");
	if (subj != NULL) {
		encoded_word(&m, subj);
	} else {
		/* RFC 5230 §4.4: "Auto:" and the original subject, as written */
		char *os = raw_value(run, "subject");
		struct buf s = BUF_INIT;
		buf_printf(&s, "Auto: %s", os != NULL ? os : "");
		if (os == NULL)
			buf_truncate(&s, 5);
		buf_puts(&m, buf_cstr(&s));
		buf_free(&s);
		free(os);
	}
	buf_puts(&m, "\r\n");
	char *msgid = raw_value(run, "message-id");
	if (msgid != NULL) {
		char *refs = raw_value(run, "references");
		buf_printf(&m, "In-Reply-To: %s\r\n", msgid);
		if (refs != NULL)
			buf_printf(&m, "References: %s %s\r\n", refs, msgid);
		else
			buf_printf(&m, "References: %s\r\n", msgid);
		free(refs);
		free(msgid);
	}
	/* RFC 3834 §5 */
	buf_puts(&m, "Auto-Submitted: auto-replied (vacation)\r\n");
	buf_puts(&m, "Precedence: bulk\r\n");
	buf_puts(&m, "X-Auto-Response-Suppress: All\r\n");
	buf_puts(&m, "MIME-Version: 1.0\r\n");
	if (!mime)
		buf_puts(&m, "Content-Type: text/plain; charset=utf-8\r\n"
			     "Content-Transfer-Encoding: 8bit\r\n\r\n");
	for (const char *p = a->text; *p != 0; p++) {
		if (*p == '\n' && (p == a->text || p[-1] != '\r'))
			buf_putc(&m, '\r');
		buf_putc(&m, *p);
	}
	if (m.len < 2 || m.data[m.len - 1] != '\n')
		buf_puts(&m, "\r\n");
	a->reply = buf_steal(&m);
	/* RFC 3834 §3.1.2: the reply goes out with the null sender */
	a->reply_from = xstrdup("");
out:
	free(subj);
	free(fromv);
	sv_strv_free(mine, n_mine);
}

/* ---- enotify mailto (RFC 5436) ----------------------------------------- */

static int
hexval(char c)
{
	return isdigit((unsigned char)c) ? c - '0'
	       : isxdigit((unsigned char)c) ? tolower((unsigned char)c) - 'a' + 10 : -1;
}

static char *
pct_decode(const char *s, size_t n)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "");
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			buf_putc(&b, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
			i += 2;
		} else {
			buf_putc(&b, s[i]);
		}
	}
	return buf_steal(&b);
}

/* mailto:a,b?subject=..&body=.. into recipients, subject and body. */
static bool
mailto_parse(const char *uri, char ***to, size_t *nto, char **subject, char **body)
{
	if (!str_has_prefix_nocase(uri, "mailto:"))
		return false;
	const char *p = uri + 7;
	const char *q = strchr(p, '?');
	size_t tl = q != NULL ? (size_t)(q - p) : strlen(p);
	char *tos = pct_decode(p, tl);
	bool ok = true;
	char *save = NULL;
	for (char *t = strtok_r(tos, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		if (!sv_address_ok(t))
			ok = false;
		else if (to != NULL && *nto < 16) {
			*to = xreallocarray(*to, *nto + 1, sizeof **to);
			(*to)[(*nto)++] = xstrdup(t);
		}
	}
	free(tos);
	while (q != NULL && ok) {
		const char *h = q + 1;
		q = strchr(h, '&');
		size_t hl = q != NULL ? (size_t)(q - h) : strlen(h);
		const char *eq = memchr(h, '=', hl);
		if (eq == NULL)
			continue;
		char *name = pct_decode(h, (size_t)(eq - h));
		char *val = pct_decode(eq + 1, hl - (size_t)(eq - h) - 1);
		if (str_eq_nocase(name, "subject") && subject != NULL) {
			free(*subject);
			*subject = val;
			val = NULL;
		} else if (str_eq_nocase(name, "body") && body != NULL) {
			free(*body);
			*body = val;
			val = NULL;
		} else if (str_eq_nocase(name, "to") && to != NULL && *val != 0) {
			if (!sv_address_ok(val))
				ok = false;
			else if (*nto < 16) {
				*to = xreallocarray(*to, *nto + 1, sizeof **to);
				(*to)[(*nto)++] = xstrdup(val);
			}
		}
		free(name);
		free(val);
	}
	return ok && (to == NULL || *nto > 0 || tl > 0);
}

bool
sv_notify_uri_ok(const char *uri)
{
	return mailto_parse(uri, NULL, NULL, NULL, NULL) && strchr(uri + 7, '@') != NULL;
}

void
sv_notify(struct sv_run *run, const struct sv_node *n)
{
	char *uri = sv_expand(run, n->pos[0]->strs[0]);
	char **to = NULL, *subject = NULL, *body = NULL;
	size_t nto = 0;
	if (!mailto_parse(uri, &to, &nto, &subject, &body) || nto == 0) {
		sv_fail(run, "notify: invalid or unsupported method '%s'", uri);
		free(uri);
		sv_strv_free(to, nto);
		free(subject);
		free(body);
		return;
	}
	struct sieve_action *a = sv_action_new(run, SIEVE_ACT_NOTIFY);
	if (a == NULL) {
		free(uri);
		sv_strv_free(to, nto);
		free(subject);
		free(body);
		return;
	}
	a->target = uri;
	struct sv_arg *msg = sv_tag(n, "message"), *from = sv_tag(n, "from"),
		      *imp = sv_tag(n, "importance");
	if (msg != NULL) {
		free(subject);
		subject = sv_expand(run, msg->strs[0]);
	} else if (subject == NULL) {
		/* RFC 5435 §3.5: the default message names sender and subject */
		char *f = first_value(run, "from"), *s = first_value(run, "subject");
		subject = xasprintf("[SIEVE] New mail from %s: %s", f != NULL ? f : "",
				    s != NULL ? s : "");
		free(f);
		free(s);
	}
	a->text = xstrdup(subject);
	char *v = first_value(run, "auto-submitted");
	if (v != NULL && !str_eq_nocase(v, "no")) {
		/* RFC 5436 §2.7: no notification of auto-submitted mail */
		a->send = false;
		a->why = xstrdup("the message is auto-submitted");
	}
	free(v);
	a->reply_to = xstrdup(to[0]);
	struct buf m = BUF_INIT;
	char date[64];
	struct tm tm;
	time_t now = run->env->now;
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_printf(&m, "Date: %s\r\n", date);
	if (from != NULL) {
		char *fv = sv_expand(run, from->strs[0]);
		buf_printf(&m, "From: %s\r\n", fv);
		free(fv);
	} else {
		buf_printf(&m, "From: <%s>\r\n", run->env->recipient);
	}
	buf_puts(&m, "To: ");
	for (size_t i = 0; i < nto; i++)
		buf_printf(&m, "%s<%s>", i > 0 ? ", " : "", to[i]);
	buf_puts(&m, "\r\nSubject: ");
	encoded_word(&m, subject);
	buf_puts(&m, "\r\n");
	if (imp != NULL) {
		char *iv = sv_expand(run, imp->strs[0]);
		if (strcmp(iv, "1") == 0)
			buf_puts(&m, "X-Priority: 1 (Highest)\r\nImportance: High\r\n");
		else if (strcmp(iv, "3") == 0)
			buf_puts(&m, "X-Priority: 5 (Lowest)\r\nImportance: Low\r\n");
		free(iv);
	}
	/* RFC 5436 §2.7 */
	buf_printf(&m, "Auto-Submitted: auto-notified; owner-email=\"%s\"\r\n",
		   run->env->recipient);
	buf_puts(&m, "Precedence: bulk\r\nMIME-Version: 1.0\r\n"
		     "Content-Type: text/plain; charset=utf-8\r\n"
		     "Content-Transfer-Encoding: 8bit\r\n\r\n");
	buf_puts(&m, body != NULL ? body : "Notification of new message.");
	buf_puts(&m, "\r\n");
	a->reply = buf_steal(&m);
	a->reply_from = xstrdup("");
	/* the first recipient is target of record; the rest in the text */
	for (size_t i = 1; i < nto; i++) {
		char *t = xasprintf("%s,%s", a->reply_to, to[i]);
		free(a->reply_to);
		a->reply_to = t;
	}
	sv_strv_free(to, nto);
	free(subject);
	free(body);
}

/* ---- editheader (RFC 5293) ---------------------------------------------- */

static bool
protected_field(const char *name)
{
	/* RFC 5293 §6, and Pigeonhole: these are never edited */
	return str_eq_nocase(name, "received") || str_eq_nocase(name, "auto-submitted");
}

static void
edit_begin(struct sv_run *run)
{
	if (run->is_edited)
		return;
	buf_reset(&run->edited);
	buf_append(&run->edited, run->hdr, run->hdr_len);
	buf_puts(&run->edited, "");
	run->is_edited = true;
	run->hdr = run->edited.data;
}

static void
edit_sync(struct sv_run *run)
{
	sv_hvals_clear(run);
	run->hdr = run->edited.data;
	run->hdr_len = run->edited.len;
}

void
sv_addheader(struct sv_run *run, const struct sv_node *n)
{
	char *name = sv_expand(run, n->pos[0]->strs[0]);
	char *value = sv_expand(run, n->pos[1]->strs[0]);
	bool ok = *name != 0 && strlen(name) < 200;
	for (const char *p = name; *p != 0; p++)
		if ((unsigned char)*p <= 32 || (unsigned char)*p >= 127 || *p == ':')
			ok = false;
	if (!ok) {
		sv_fail(run, "addheader: invalid field name '%s'", name);
	} else if (!protected_field(name) && run->hdr_len + strlen(value) < 1024 * 1024) {
		edit_begin(run);
		struct buf line = BUF_INIT;
		buf_printf(&line, "%s: ", name);
		/* no bare line ends in a value */
		struct buf v = BUF_INIT;
		buf_puts(&v, "");
		for (const char *p = value; *p != 0; p++)
			if (*p != '\r' && *p != '\n')
				buf_putc(&v, *p);
		encoded_word(&line, buf_cstr(&v));
		buf_free(&v);
		buf_puts(&line, "\r\n");
		struct buf *e = &run->edited;
		if (sv_has_tag(n, "last")) {
			/* before the empty line that ends the header */
			size_t at = e->len;
			if (at >= 2 && e->data[at - 1] == '\n' && e->data[at - 2] == '\r' &&
			    (at == 2 || e->data[at - 3] == '\n'))
				at -= 2;
			else if (at >= 1 && e->data[at - 1] == '\n' && (at == 1 || e->data[at - 2] == '\n'))
				at -= 1;
			struct buf nb = BUF_INIT;
			buf_append(&nb, e->data, at);
			if (at > 0 && e->data[at - 1] != '\n')
				buf_puts(&nb, "\r\n");
			buf_append(&nb, line.data, line.len);
			buf_append(&nb, e->data + at, e->len - at);
			if (at == e->len)
				buf_puts(&nb, "\r\n");
			buf_free(e);
			*e = nb;
		} else {
			struct buf nb = BUF_INIT;
			buf_append(&nb, line.data, line.len);
			buf_append(&nb, e->data, e->len);
			if (e->len == 0)
				buf_puts(&nb, "\r\n");
			buf_free(e);
			*e = nb;
		}
		buf_puts(e, "");
		buf_free(&line);
		edit_sync(run);
	}
	free(name);
	free(value);
}

void
sv_deleteheader(struct sv_run *run, const struct sv_node *n)
{
	char *name = sv_expand(run, n->pos[0]->strs[0]);
	if (protected_field(name)) {
		free(name);
		return;
	}
	size_t total;
	char **vals = sv_header_values(run, name, &total);
	if (total == 0) {
		sv_strv_free(vals, total);
		free(name);
		return;
	}
	edit_begin(run);
	struct buf out = BUF_INIT;
	struct mail_header_iter it;
	struct mail_header_field f;
	size_t nl = strlen(name), k = 0, last_end = 0;
	struct buf *e = &run->edited;
	mail_header_iter_init(&it, e->data, e->len);
	while (mail_header_iter_next(&it, &f)) {
		buf_append(&out, e->data + last_end, f.raw_off - last_end);
		last_end = f.raw_off + f.raw_len;
		bool del = false;
		if (f.name_len == nl && mem_eq_nocase(f.name, name, nl)) {
			k++;
			size_t want = (size_t)n->index;
			bool picked = n->index == 0 || (n->last ? total + 1 - k == want : k == want);
			if (picked && k - 1 < total) {
				del = true;
				if (n->pos[1] != NULL) {
					char *one[2] = { vals[k - 1], NULL };
					del = sv_match_values(run, n, one, 1, n->pos[1]);
				}
			}
		}
		if (!del)
			buf_append(&out, e->data + f.raw_off, f.raw_len);
	}
	buf_append(&out, e->data + last_end, e->len - last_end);
	buf_puts(&out, "");
	buf_free(e);
	*e = out;
	edit_sync(run);
	sv_strv_free(vals, total);
	free(name);
}

/* ---- the result ---------------------------------------------------------- */

static bool
stores(const struct sieve_action *a)
{
	return a->kind == SIEVE_ACT_KEEP || a->kind == SIEVE_ACT_FILEINTO;
}

static bool
same_folder(const char *a, const char *b)
{
	/* INBOX is the same in any case (RFC 3501 §5.1) */
	return strcmp(a, b) == 0 || (str_eq_nocase(a, "INBOX") && str_eq_nocase(b, "INBOX"));
}

void
sv_finish(struct sv_run *run)
{
	struct sieve_result *r = run->r;
	/* RFC 5228 §2.10.3: the same store or redirect twice is done once */
	for (size_t i = 0; i < r->n_actions; i++) {
		struct sieve_action *a = &r->actions[i];
		for (size_t j = i + 1; j < r->n_actions;) {
			struct sieve_action *b = &r->actions[j];
			bool dup = (stores(a) && stores(b) && same_folder(a->target, b->target)) ||
				   (a->kind == SIEVE_ACT_REDIRECT && b->kind == SIEVE_ACT_REDIRECT &&
				    str_eq_nocase(a->target, b->target)) ||
				   (a->kind == SIEVE_ACT_DISCARD && b->kind == SIEVE_ACT_DISCARD);
			if (!dup) {
				j++;
				continue;
			}
			if (stores(a)) {
				for (size_t k = 0; k < b->n_flags; k++)
					sv_flags_add(&a->flags, &a->n_flags, b->flags[k]);
				if (b->kind == SIEVE_ACT_KEEP)
					a->kind = SIEVE_ACT_KEEP;
				a->create |= b->create;
			}
			a->copy &= b->copy;
			free(b->target);
			sv_strv_free(b->flags, b->n_flags);
			free(b->text);
			free(b->why);
			free(b->reply_to);
			free(b->reply_from);
			free(b->reply);
			memmove(b, b + 1, (r->n_actions - j - 1) * sizeof *b);
			r->n_actions--;
		}
	}
	bool reject = false, other = false;
	for (size_t i = 0; i < r->n_actions; i++) {
		struct sieve_action *a = &r->actions[i];
		switch (a->kind) {
		case SIEVE_ACT_KEEP:
		case SIEVE_ACT_DISCARD:
			r->implicit_keep = false;
			other = true;
			break;
		case SIEVE_ACT_FILEINTO:
		case SIEVE_ACT_REDIRECT:
			if (!a->copy)
				r->implicit_keep = false;
			other = true;
			break;
		case SIEVE_ACT_REJECT:
		case SIEVE_ACT_EREJECT:
			r->implicit_keep = false;
			reject = true;
			break;
		default:
			break;
		}
	}
	/* RFC 5429 §2.1: reject cannot go with a delivery */
	if (reject && other)
		sv_fail(run, "the reject action conflicts with other actions");
}

static void
write_flags(struct buf *out, char **flags, size_t n)
{
	if (n == 0)
		return;
	buf_puts(out, " flags=\"");
	for (size_t i = 0; i < n; i++)
		buf_printf(out, "%s%s", i > 0 ? " " : "", flags[i]);
	buf_puts(out, "\"");
}

static void
write_text(struct buf *out, const char *s)
{
	buf_putc(out, '"');
	for (; *s != 0; s++) {
		if (*s == '"' || *s == '\\')
			buf_printf(out, "\\%c", *s);
		else if (*s == '\r')
			buf_puts(out, "\\r");
		else if (*s == '\n')
			buf_puts(out, "\\n");
		else
			buf_putc(out, *s);
	}
	buf_putc(out, '"');
}

void
sieve_result_write(const struct sieve_result *r, struct buf *out)
{
	if (r->error != NULL)
		buf_printf(out, "error: %s\n", r->error);
	for (size_t i = 0; i < r->n_actions; i++) {
		const struct sieve_action *a = &r->actions[i];
		switch (a->kind) {
		case SIEVE_ACT_KEEP:
			buf_puts(out, "keep");
			write_flags(out, a->flags, a->n_flags);
			break;
		case SIEVE_ACT_FILEINTO:
			buf_puts(out, "fileinto ");
			write_text(out, a->target);
			write_flags(out, a->flags, a->n_flags);
			if (a->create)
				buf_puts(out, " :create");
			if (a->copy)
				buf_puts(out, " :copy");
			break;
		case SIEVE_ACT_REDIRECT:
			buf_printf(out, "redirect <%s>%s", a->target, a->copy ? " :copy" : "");
			break;
		case SIEVE_ACT_DISCARD:
			buf_puts(out, "discard");
			break;
		case SIEVE_ACT_REJECT:
		case SIEVE_ACT_EREJECT:
			buf_puts(out, a->kind == SIEVE_ACT_REJECT ? "reject " : "ereject ");
			write_text(out, a->text);
			break;
		case SIEVE_ACT_VACATION:
		case SIEVE_ACT_NOTIFY:
			buf_printf(out, "%s %s to=<%s> seconds=%u", a->kind == SIEVE_ACT_VACATION
				   ? "vacation" : "notify", a->send ? "send" : "skip",
				   a->reply_to != NULL ? a->reply_to : "", a->seconds);
			if (!a->send)
				buf_printf(out, " why=\"%s\"", a->why);
			if (a->reply != NULL) {
				buf_puts(out, "\n");
				/* the reply's header, indented */
				const char *p = a->reply;
				while (*p != 0 && !(p[0] == '\r' && p[1] == '\n')) {
					const char *e = strstr(p, "\r\n");
					if (e == NULL)
						break;
					buf_printf(out, "  %.*s\n", (int)(e - p), p);
					p = e + 2;
				}
				buf_puts(out, "  body ");
				write_text(out, p[0] == '\r' ? p + 2 : p);
			}
			break;
		}
		buf_puts(out, "\n");
	}
	if (r->implicit_keep) {
		buf_puts(out, "implicit keep");
		write_flags(out, r->implicit_flags, r->n_implicit_flags);
		buf_puts(out, "\n");
	}
}
