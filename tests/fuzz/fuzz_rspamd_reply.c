/* libFuzzer target: what rspamd sends back.  The input is an HTTP reply
 * head (lines up to the empty one) and a JSON body, as the client reads
 * them; the body is parsed as a /checkv2 reply and as a controller's
 * error, and a parsed verdict is turned into its header fields, whose
 * every line must end in CRLF with no CR or LF elsewhere (a reply must
 * never inject a header). */
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "trust/rspamd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every CR starts a CRLF, every LF ends one, and each line after the
 * first of a field is folded (starts with white space). */
static void
check_fields(const struct buf *h)
{
	for (size_t i = 0; i < h->len; i++) {
		char c = h->data[i];
		if (c == '\r' && (i + 1 >= h->len || h->data[i + 1] != '\n'))
			__builtin_trap();
		if (c == '\n' && (i == 0 || h->data[i - 1] != '\r'))
			__builtin_trap();
		if (c == '\0')
			__builtin_trap();
	}
	if (h->len > 0 && (h->len < 2 || memcmp(h->data + h->len - 2, "\r\n", 2) != 0))
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *error;
	struct rspamd_http_head h;

	rspamd_http_head_init(&h);
	size_t pos = 0;
	while (pos < size && !h.done) {
		const char *lf = memchr(p + pos, '\n', size - pos);
		size_t len = lf != NULL ? (size_t)(lf - (p + pos)) + 1 : size - pos;
		if (rspamd_http_head_line(&h, p + pos, len, &error) < 0)
			break;
		pos += len;
	}
	if (strlen(h.reason) > RSPAMD_TEXT_MAX)
		__builtin_trap();

	const char *body = h.done ? p + pos : p;
	size_t blen = h.done ? size - pos : size;
	struct rspamd_result r;
	if (rspamd_reply_parse(body, blen, &r, &error) == 0) {
		if (r.n_symbols > RSPAMD_SYMBOLS_MAX)
			__builtin_trap();
		struct buf fields = BUF_INIT;
		rspamd_result_headers(&r, &fields);
		if (r.subject != NULL)
			rspamd_subject_header(r.subject, &fields);
		check_fields(&fields);
		if (r.message != NULL && strpbrk(r.message, "\r\n") != NULL)
			__builtin_trap();
		buf_free(&fields);
	}
	rspamd_result_clear(&r);
	struct buf e = BUF_INIT;
	if (rspamd_reply_error(body, blen, &e) && strpbrk(buf_cstr(&e), "\r\n") != NULL)
		__builtin_trap();
	buf_free(&e);
	return 0;
}
