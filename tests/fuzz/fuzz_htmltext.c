/* libFuzzer target: the text of an HTML part (mail/htmltext.h), which
 * SEARCH and the full-text index make of every HTML part a peer sends.
 * Besides not crashing: the white space of the output is collapsed (no
 * tab, CR, LF, FF or U+00A0, no two spaces, none at either end), it is
 * at most twice the input (the longest growth of a reference is 5 bytes
 * to 6), well-formed UTF-8 in gives well-formed UTF-8 out, and the <meta>
 * charset fits what it was given. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/utf8.h"
#include "mail/htmltext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct buf out = BUF_INIT;
	mail_html_text(&out, p, size);
	if (out.len > 2 * size)
		abort();
	const unsigned char *o = (const unsigned char *)out.data;
	for (size_t i = 0; i < out.len; i++) {
		unsigned char c = o[i];
		if (c == '\t' || c == '\r' || c == '\n' || c == '\f')
			abort();
		if (c == ' ' && (i == 0 || i + 1 == out.len || o[i + 1] == ' '))
			abort();
	}
	if (utf8_valid(p, size)) {
		if (!utf8_valid(out.data, out.len))
			abort();
		/* (in malformed input, a lone 0xc2 and 0xa0 may meet) */
		if (out.len > 0 && memmem(out.data, out.len, "\xc2\xa0", 2) != NULL)
			abort();
	}

	char name[MAIL_HTML_CHARSET_MAX];
	memset(name, 'x', sizeof name);
	if (mail_html_meta_charset(p, size, name, sizeof name) &&
	    (strlen(name) == 0 || strlen(name) >= sizeof name))
		abort();

	/* a reference alone takes at least one byte and no more than it has */
	if (size > 0 && p[0] == '&') {
		struct buf ref = BUF_INIT;
		size_t used = mail_html_charref(&ref, p, size);
		if (used < 1 || used > size)
			abort();
		buf_free(&ref);
	}
	buf_free(&out);
	return 0;
}
