/*
 * rspamd: the pure half of the rspamd client (see rspamd.h): request
 * heads, reply heads, the JSON reply and the header fields made from it.
 */
#include "trust/rspamd.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/log.h"
#include "core/utf8.h"
#include "core/xmalloc.h"

/* Scores outside this are cut (a header must stay short and sane). */
#define SCORE_BOUND 1e6
/* RFC 2047 §2: an encoded word is at most 75 characters; 45 bytes of
 * UTF-8 are 60 of base64, and "=?UTF-8?B?" "?=" 12 more. */
#define EW_BYTES 45
/* A printable ASCII Subject longer than this is encoded too, so that it
 * is folded (RFC 5322 §2.1.1: lines of at most 998 characters). */
#define SUBJECT_PLAIN_MAX 900

static const struct {
	const char *name;
	enum rspamd_action action;
} actions[] = {
	{ "no action", RSPAMD_NO_ACTION },
	{ "greylist", RSPAMD_GREYLIST },
	{ "add header", RSPAMD_ADD_HEADER },
	{ "rewrite subject", RSPAMD_REWRITE_SUBJECT },
	{ "soft reject", RSPAMD_SOFT_REJECT },
	{ "reject", RSPAMD_REJECT },
	{ "discard", RSPAMD_DISCARD },
	{ "quarantine", RSPAMD_QUARANTINE },
	/* the spellings rspamd's configuration also takes */
	{ "add_header", RSPAMD_ADD_HEADER },
	{ "rewrite_subject", RSPAMD_REWRITE_SUBJECT },
	{ "soft_reject", RSPAMD_SOFT_REJECT },
	{ "no_action", RSPAMD_NO_ACTION },
	{ "accept", RSPAMD_NO_ACTION },
};

const char *
rspamd_action_name(enum rspamd_action a)
{
	for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
		if (actions[i].action == a)
			return actions[i].name;
	return "custom";
}

bool
rspamd_action_is_spam(enum rspamd_action a)
{
	return a == RSPAMD_ADD_HEADER || a == RSPAMD_REWRITE_SUBJECT || a == RSPAMD_REJECT ||
	       a == RSPAMD_DISCARD || a == RSPAMD_QUARANTINE;
}

void
rspamd_spamtest(const struct rspamd_result *r, int *value_r, int *percent_r)
{
	double share = r->required > 0 ? r->score / r->required : r->score > 0 ? 1 : 0;
	if (!(share > 0))	/* NaN too */
		share = 0;
	if (share > 1)
		share = 1;
	if (rspamd_action_is_spam(r->action)) {
		*value_r = 10;
		*percent_r = 100;
		return;
	}
	*percent_r = (int)(share * 100 + 0.5);
	int v = 1 + (int)(share * 9);
	*value_r = v > 9 ? 9 : v;
}

/* s reduced to printable ASCII (others become '?') and cut at max bytes;
 * malloc'd. */
static char *
ascii_dup(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n > max)
		n = max;
	char *d = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		d[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	d[n] = '\0';
	return d;
}

/* s as a Subject: valid UTF-8 only (an invalid byte becomes '?'), control
 * characters as spaces, cut at a character boundary within max bytes. */
static char *
subject_dup(const char *s, size_t max)
{
	struct buf out = BUF_INIT;
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0;
	while (i < n) {
		size_t l = utf8_char_len(p + i, n - i);
		if (l == 0) {
			if (out.len + 1 > max)
				break;
			buf_putc(&out, '?');
			i++;
			continue;
		}
		if (out.len + l > max)
			break;
		if (l == 1 && (p[i] < 0x20 || p[i] == 0x7f))
			buf_putc(&out, ' ');
		else
			buf_append(&out, p + i, l);
		i += l;
	}
	if (out.data == NULL)
		return xstrdup("");
	return buf_steal(&out);
}

static double
bounded(double v)
{
	if (isnan(v))
		return 0;
	return v > SCORE_BOUND ? SCORE_BOUND : v < -SCORE_BOUND ? -SCORE_BOUND : v;
}

static int
cmp_symbol(const void *a, const void *b)
{
	const struct rspamd_symbol *x = a, *y = b;
	double ax = fabs(x->score), ay = fabs(y->score);
	if (ax != ay)
		return ax > ay ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void
symbol_clear(struct rspamd_symbol *s)
{
	free(s->name);
	for (size_t i = 0; i < s->n_options; i++)
		free(s->options[i]);
	free(s->options);
	memset(s, 0, sizeof *s);
}

static void
parse_symbols(const cJSON *obj, struct rspamd_result *r)
{
	size_t n = (size_t)cJSON_GetArraySize(obj), k = 0;
	if (n == 0)
		return;
	struct rspamd_symbol *list = xcalloc(n, sizeof *list);
	const cJSON *it;
	cJSON_ArrayForEach(it, obj)
	{
		if (k == n || it->string == NULL || !cJSON_IsObject(it))
			continue;
		struct rspamd_symbol *s = &list[k++];
		s->name = ascii_dup(it->string, RSPAMD_TEXT_MAX);
		const cJSON *score = cJSON_GetObjectItemCaseSensitive(it, "score");
		s->score = cJSON_IsNumber(score) ? bounded(score->valuedouble) : 0;
		const cJSON *opts = cJSON_GetObjectItemCaseSensitive(it, "options");
		if (!cJSON_IsArray(opts))
			continue;
		const cJSON *o;
		cJSON_ArrayForEach(o, opts)
		{
			if (s->n_options == RSPAMD_OPTIONS_MAX)
				break;
			if (!cJSON_IsString(o))
				continue;
			if (s->options == NULL)
				s->options = xcalloc(RSPAMD_OPTIONS_MAX, sizeof *s->options);
			s->options[s->n_options++] = ascii_dup(o->valuestring, RSPAMD_TEXT_MAX);
		}
	}
	qsort(list, k, sizeof *list, cmp_symbol);
	while (k > RSPAMD_SYMBOLS_MAX)
		symbol_clear(&list[--k]);
	r->symbols = list;
	r->n_symbols = k;
}

int
rspamd_reply_parse(const char *json, size_t len, struct rspamd_result *r, const char **error_r)
{
	memset(r, 0, sizeof *r);
	if (len > RSPAMD_REPLY_MAX) {
		*error_r = "reply too large";
		return -1;
	}
	cJSON *root = cJSON_ParseWithLength(json, len);
	if (root == NULL || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		*error_r = "reply is not a JSON object";
		return -1;
	}
	const cJSON *action = cJSON_GetObjectItemCaseSensitive(root, "action");
	const cJSON *score = cJSON_GetObjectItemCaseSensitive(root, "score");
	if (!cJSON_IsString(action) || !cJSON_IsNumber(score)) {
		cJSON_Delete(root);
		*error_r = "reply has no action or score";
		return -1;
	}
	r->action = RSPAMD_CUSTOM;
	for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
		if (strcmp(action->valuestring, actions[i].name) == 0) {
			r->action = actions[i].action;
			break;
		}
	}
	r->score = bounded(score->valuedouble);
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(root, "required_score");
	r->required = cJSON_IsNumber(req) ? bounded(req->valuedouble) : 0;
	r->skipped = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "is_skipped"));
	const cJSON *subject = cJSON_GetObjectItemCaseSensitive(root, "subject");
	if (cJSON_IsString(subject))
		r->subject = subject_dup(subject->valuestring, RSPAMD_SUBJECT_MAX);
	const cJSON *messages = cJSON_GetObjectItemCaseSensitive(root, "messages");
	const cJSON *smtp = cJSON_GetObjectItemCaseSensitive(messages, "smtp_message");
	if (cJSON_IsString(smtp) && smtp->valuestring[0] != '\0')
		r->message = ascii_dup(smtp->valuestring, RSPAMD_TEXT_MAX);
	const cJSON *symbols = cJSON_GetObjectItemCaseSensitive(root, "symbols");
	if (cJSON_IsObject(symbols))
		parse_symbols(symbols, r);
	cJSON_Delete(root);
	return 0;
}

void
rspamd_result_clear(struct rspamd_result *r)
{
	if (r == NULL)
		return;
	free(r->subject);
	free(r->message);
	for (size_t i = 0; i < r->n_symbols; i++)
		symbol_clear(&r->symbols[i]);
	free(r->symbols);
	memset(r, 0, sizeof *r);
}

bool
rspamd_reply_error(const char *json, size_t len, struct buf *out)
{
	cJSON *root = cJSON_ParseWithLength(json, len > RSPAMD_REPLY_MAX ? 0 : len);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
	bool have = cJSON_IsString(e) && e->valuestring[0] != '\0';
	if (have) {
		char *t = ascii_dup(e->valuestring, RSPAMD_TEXT_MAX);
		buf_puts(out, t);
		free(t);
	}
	cJSON_Delete(root);
	return have;
}

/* ---- header fields ------------------------------------------------------ */

void
rspamd_result_headers(const struct rspamd_result *r, struct buf *out)
{
	bool spam = rspamd_action_is_spam(r->action);
	/* milter_headers' x-spamd-result routine: "default: BOOL [score /
	 * required]", then each symbol, the largest scores first */
	buf_printf(out, "X-Spamd-Result: default: %s [%.2f / %.2f]", spam ? "True" : "False",
		   r->score, r->required);
	for (size_t i = 0; i < r->n_symbols; i++) {
		const struct rspamd_symbol *s = &r->symbols[i];
		buf_printf(out, ";\r\n\t%s(%.2f)[", s->name, s->score);
		for (size_t k = 0; k < s->n_options; k++)
			buf_printf(out, "%s%s", k > 0 ? "," : "", s->options[k]);
		buf_putc(out, ']');
	}
	buf_puts(out, "\r\n");
	/* its x-spam-status routine */
	buf_printf(out, "X-Spam-Status: %s, score=%.2f\r\n", spam ? "Yes" : "No", r->score);
	if (spam)
		buf_puts(out, "X-Spam: Yes\r\n");
}

void
rspamd_unchecked_header(const char *reason, struct buf *out)
{
	buf_printf(out, "X-Spam-Status: unchecked (%s)\r\n", reason);
}

void
rspamd_subject_header(const char *subject, struct buf *out)
{
	size_t n = strlen(subject);
	bool plain = n <= SUBJECT_PLAIN_MAX;
	for (size_t i = 0; i < n && plain; i++)
		plain = subject[i] >= 0x20 && subject[i] < 0x7f;
	buf_puts(out, "Subject:");
	if (plain) {
		buf_printf(out, " %s\r\n", subject);
		return;
	}
	/* RFC 2047 §5(1): words of whole characters (§5: a multi-byte
	 * character is not split between words) */
	const unsigned char *p = (const unsigned char *)subject;
	size_t i = 0;
	bool first = true;
	while (i < n) {
		size_t take = 0;
		while (i + take < n) {
			size_t l = utf8_char_len(p + i + take, n - i - take);
			if (l == 0)
				l = 1;	/* subject_dup() left none; stay safe */
			if (take + l > EW_BYTES)
				break;
			take += l;
		}
		buf_puts(out, first ? " =?UTF-8?B?" : "\r\n =?UTF-8?B?");
		base64_encode(out, p + i, take);
		buf_puts(out, "?=");
		first = false;
		i += take;
	}
	buf_puts(out, "\r\n");
}

/* ---- HTTP --------------------------------------------------------------- */

/* A header value of the request: printable ASCII only, bounded. */
static void
put_header(struct buf *out, const char *name, const char *value)
{
	if (value == NULL)
		return;
	char *v = ascii_dup(value, 1024);
	buf_printf(out, "%s: %s\r\n", name, v);
	free(v);
}

void
rspamd_request_head(struct buf *out, const char *path, const char *host, unsigned port,
		    const struct rspamd_request *req, const char *password, uint64_t length)
{
	buf_printf(out, "POST %s HTTP/1.0\r\n", path);
	if (strchr(host, ':') != NULL)
		buf_printf(out, "Host: [%s]:%u\r\n", host, port);
	else
		buf_printf(out, "Host: %s:%u\r\n", host, port);
	buf_puts(out, "Connection: close\r\n");
	buf_printf(out, "Content-Length: %llu\r\n", (unsigned long long)length);
	if (req != NULL) {
		put_header(out, "Ip", req->ip);
		put_header(out, "Helo", req->helo);
		/* rspamd reads "From: <>" as no sender; it takes bare addresses */
		put_header(out, "From", req->from != NULL && req->from[0] != '\0' ? req->from : "<>");
		for (size_t i = 0; i < req->n_rcpts; i++)
			put_header(out, "Rcpt", req->rcpts[i]);
		put_header(out, "User", req->user);
		put_header(out, "Queue-Id", req->queue_id);
		put_header(out, "Hostname", req->hostname);
	}
	put_header(out, "Password", password);
	buf_puts(out, "\r\n");
}

void
rspamd_http_head_init(struct rspamd_http_head *h)
{
	memset(h, 0, sizeof *h);
}

/* The value after "Name:" when line[0..len) is that header; NULL else. */
static const char *
header_value(const char *line, size_t len, const char *name, size_t *vlen_r)
{
	size_t n = strlen(name);
	if (len <= n || line[n] != ':' || !mem_eq_nocase(line, name, n))
		return NULL;
	const char *v = line + n + 1;
	size_t vl = len - n - 1;
	while (vl > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	*vlen_r = vl;
	return v;
}

int
rspamd_http_head_line(struct rspamd_http_head *h, const char *line, size_t len,
		      const char **error_r)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (h->done) {
		*error_r = "HTTP head already complete";
		return -1;
	}
	if (++h->lines > RSPAMD_HEAD_LINES_MAX || len > RSPAMD_HEAD_LINE_MAX) {
		*error_r = "HTTP reply head too large";
		return -1;
	}
	if (h->lines == 1) {
		/* RFC 9112 §4: HTTP-version SP 3DIGIT SP [reason-phrase] */
		if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ' ||
		    line[9] < '1' || line[9] > '5' || line[10] < '0' || line[10] > '9' ||
		    line[11] < '0' || line[11] > '9' || (len > 12 && line[12] != ' ')) {
			*error_r = "not an HTTP reply";
			return -1;
		}
		h->status = (unsigned)((line[9] - '0') * 100 + (line[10] - '0') * 10 +
				       (line[11] - '0'));
		char *text = xstrndup(len > 13 ? line + 13 : "", len > 13 ? len - 13 : 0);
		char *reason = ascii_dup(text, RSPAMD_TEXT_MAX);
		memcpy(h->reason, reason, strlen(reason) + 1);
		free(reason);
		free(text);
		return 0;
	}
	if (len == 0) {
		h->done = true;
		return 0;
	}
	size_t vl;
	const char *v;
	if ((v = header_value(line, len, "Content-Length", &vl)) != NULL) {
		uint64_t x = 0;
		if (vl == 0 || vl > 19) {
			*error_r = "bad Content-Length";
			return -1;
		}
		for (size_t i = 0; i < vl; i++) {
			if (v[i] < '0' || v[i] > '9') {
				*error_r = "bad Content-Length";
				return -1;
			}
			x = x * 10 + (uint64_t)(v[i] - '0');
		}
		if (h->have_length && h->length != x) {
			*error_r = "two Content-Lengths";
			return -1;
		}
		h->have_length = true;
		h->length = x;
	} else if ((v = header_value(line, len, "Transfer-Encoding", &vl)) != NULL) {
		if (!(vl == 8 && mem_eq_nocase(v, "identity", 8)))
			h->chunked = true;
	} else if (memchr(line, ':', len) == NULL) {
		*error_r = "malformed HTTP header";
		return -1;
	}
	return 0;
}
