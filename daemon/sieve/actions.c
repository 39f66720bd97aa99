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

/* Whether s[i] makes its word an encoded one: an 8-bit byte, a control
 * character (TAB apart), or "=?" starting a word (it would read as an
 * encoded word). */
static bool
needs_encoding(const char *s, size_t i)
{
	unsigned char c = (unsigned char)s[i];
	if (c == '=')
		return s[i + 1] == '?' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t');
	return c >= 128 || (c < 32 && c != '\t');
}

/* Whether a UTF-8 sequence starts at s (its length in *n), else *n 1. */
static bool
utf8_char(const unsigned char *s, size_t len, size_t *n)
{
	size_t want = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
		    : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	*n = 1;
	if (want == 0 || want > len)
		return false;
	for (size_t k = 1; k < want; k++)
		if ((s[k] & 0xc0) != 0x80)
			return false;
	*n = want;
	return true;
}

/*
 * The text of an unstructured field (a Subject) as RFC 2047 needs it and
 * as Pigeonhole writes its vacation Subject (Dovecot's header encoder):
 * the words from the first to the last one that needs encoding become
 * encoded words, "Q" unless it is more than half again as long as "B",
 * lines of at most 76 characters folded before an encoded word goes past
 * them; what is around them stays as it is.  Invalid UTF-8 becomes U+FFFD.
 */
static void
header_text(struct buf *out, const char *s)
{
	size_t len = strlen(s), first = 0, last = 0, enc = 0;
	bool eight = false;
	for (size_t i = 0; i < len; i++)
		eight = eight || (unsigned char)s[i] >= 128;
	while (eight && first < len && !needs_encoding(s, first))
		first++;
	if (!eight || first == len) {
		/* ASCII is written as it is (Pigeonhole encodes only UTF-8) */
		buf_puts(out, s);
		return;
	}
	while (first > 0 && s[first - 1] != ' ' && s[first - 1] != '\t')
		first--;
	for (size_t i = first; i < len; i++)
		if (needs_encoding(s, i)) {
			last = i + 1;
			enc++;
		}
	while (last < len && s[last] != ' ' && s[last] != '\t')
		last++;
	buf_append(out, s, first);
	const unsigned char *p = (const unsigned char *)s + first;
	size_t n = last - first;
	/* 12: "=?utf-8?q?" and "?=" */
	size_t room = first >= 76 - 12 - 3 ? 76 - 12 - 1 : 76 - 12 - first;
	if (first >= 76 - 12 - 3)
		buf_puts(out, "\r\n\t");
	bool use_q = (n + enc * 3) * 2 / 3 <= (n + 2) / 3 * 4;
	if (use_q) {
		buf_puts(out, "=?utf-8?q?");
		for (size_t i = 0; i < n;) {
			size_t k;
			bool valid = utf8_char(p + i, n - i, &k);
			const unsigned char *c = valid ? p + i : (const unsigned char *)"\xef\xbf\xbd";
			size_t kc = valid ? k : 3;
			bool plain = kc == 1 && c[0] > 32 && c[0] < 127 && c[0] != '=' &&
				     c[0] != '?' && c[0] != '_';
			size_t w = c[0] == ' ' || plain ? 1 : kc * 3;
			if (room < w) {
				buf_puts(out, "?=\r\n\t=?utf-8?q?");
				room = 76 - 12 - 1;
			}
			if (c[0] == ' ')
				buf_putc(out, '_');
			else if (plain)
				buf_putc(out, (char)c[0]);
			else
				for (size_t j = 0; j < kc; j++)
					buf_printf(out, "=%02X", c[j]);
			room -= w;
			i += k;
		}
		buf_puts(out, "?=");
	} else {
		size_t line = first >= 76 - 12 ? 1 : first;
		for (size_t i = 0; i < n;) {
			/* whole characters whose base64 fits what is left */
			size_t max = (76 - 12 - line) / 4 * 3;
			size_t k = n - i < max ? n - i : max;
			while (k > 0 && i + k < n && (p[i + k] & 0xc0) == 0x80)
				k--;
			if (k == 0)
				k = n - i < max ? n - i : max;
			struct buf b = BUF_INIT;
			base64_encode(&b, (const char *)p + i, k);
			buf_printf(out, "=?utf-8?b?%s?=", buf_cstr(&b));
			buf_free(&b);
			i += k;
			if (i < n) {
				buf_puts(out, "\r\n\t");
				line = 1;
			}
		}
	}
	buf_puts(out, s + last);
}

/* Appends "name: body" and CRLF, folded as Pigeonhole folds the fields it
 * writes: a line that a further word would take past 80 characters ends
 * before that word, the white space before it becoming CRLF and a TAB;
 * the folds body has (CRLF and a TAB) are kept. */
static void
folded_field(struct buf *out, const char *name, const char *body)
{
	size_t line = strlen(name) + 2;
	buf_printf(out, "%s: ", name);
	for (size_t i = 0; body[i] != 0;) {
		if (body[i] == '\r' && body[i + 1] == '\n') {
			buf_puts(out, "\r\n");
			i += 2;
			line = 0;
			if (body[i] == '\t' || body[i] == ' ') {
				buf_putc(out, body[i++]);
				line = 1;
			}
			continue;
		}
		size_t j = i, k;
		while (body[j] == ' ' || body[j] == '\t')
			j++;
		k = j;
		while (body[k] != 0 && body[k] != ' ' && body[k] != '\t' && body[k] != '\r')
			k++;
		if (k == j && body[k] == '\r' && body[k + 1] != '\n')
			k++;	/* a lone CR: part of the word */
		if (j > i && line + (k - i) > 80) {
			buf_puts(out, "\r\n\t");
			buf_append(out, body + j, k - j);
			line = 1 + (k - j);
		} else {
			buf_append(out, body + i, k - i);
			line += k - i;
		}
		i = k;
	}
	buf_puts(out, "\r\n");
}

/* Whether name is written without quotes, as Dovecot decides it: one
 * atom (RFC 5322 §3.2.3 atext: "Peggy"), or atoms with one space between
 * them when RFC 2047 encoded words are among them (which a quoted string
 * must not hold, §5). */
static bool
phrase_of_atoms(const char *name)
{
	if (*name == 0 || *name == ' ')
		return false;
	bool words = strstr(name, "=?") != NULL;
	for (const char *p = name; *p != 0; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == ' ') {
			if (!words || p[1] == ' ' || p[1] == 0)
				return false;
		} else if (c <= 32 || c >= 127 || strchr("()<>[]:;@\\,.\"", c) != NULL) {
			return false;
		}
	}
	return true;
}

/*
 * A display name as Pigeonhole's vacation writes it (Dovecot's
 * message_address_write): as it is when phrase_of_atoms() says so, else
 * quoted (RFC 5322 §3.2.4: specials, spaces), a backslash before
 * '"' and '\\'.  One with 8-bit bytes (raw UTF-8) is written as RFC 2047
 * encoded words instead (Pigeonhole quotes it raw, which only an SMTPUTF8
 * message may carry), each of at most 45 bytes of whole characters (60
 * base64 characters: under §2's 75 with its 12 of frame).
 */
static void
display_name(struct buf *out, const char *name)
{
	bool eight = false;
	for (const char *p = name; *p != 0; p++)
		if ((unsigned char)*p >= 128)
			eight = true;
	if (eight) {
		size_t n = strlen(name), at = 0;
		while (at < n) {
			size_t k = n - at > 45 ? 45 : n - at;
			/* not inside a UTF-8 sequence (its continuation bytes) */
			while (at + k < n && k > 1 && ((unsigned char)name[at + k] & 0xc0) == 0x80)
				k--;
			struct buf b = BUF_INIT;
			base64_encode(&b, name + at, k);
			buf_printf(out, "%s=?utf-8?b?%s?=", at > 0 ? " " : "", buf_cstr(&b));
			buf_free(&b);
			at += k;
		}
		return;
	}
	if (phrase_of_atoms(name)) {
		buf_puts(out, name);
		return;
	}
	buf_putc(out, '"');
	for (const char *p = name; *p != 0; p++) {
		if (*p == '\r' || *p == '\n')
			continue;
		if (*p == '"' || *p == '\\')
			buf_putc(out, '\\');
		buf_putc(out, *p);
	}
	buf_putc(out, '"');
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
	 * same address (written as Pigeonhole writes it: see display_name) */
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
	buf_puts(&m, "To: ");
	if (name != NULL && *name != 0) {
		display_name(&m, name);
		buf_putc(&m, ' ');
	}
	buf_printf(&m, "<%s>\r\n", env->sender);
	free(name);
	free(ofrom);
	free(ofrom_addr);
	struct buf subject_text = BUF_INIT;
	if (subj != NULL) {
		header_text(&subject_text, subj);
	} else {
		/* RFC 5230 §4.4: "Auto:" and the original subject, decoded
		 * and unfolded, its tabs spaces (as Pigeonhole writes it);
		 * Pigeonhole's words when there is none */
		size_t nv;
		char **os = sv_header_values(run, "subject", &nv);
		struct buf s = BUF_INIT;
		if (nv > 0) {
			buf_printf(&s, "Auto: %s", os[0]);
			for (size_t i = 0; i < s.len; i++)
				if (s.data[i] == '\t' || s.data[i] == '\r' || s.data[i] == '\n')
					s.data[i] = ' ';
		} else {
			buf_puts(&s, "Automated reply");
		}
		header_text(&subject_text, buf_cstr(&s));
		buf_free(&s);
		sv_strv_free(os, nv);
	}
	folded_field(&m, "Subject", buf_cstr(&subject_text));
	buf_free(&subject_text);
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
