/*
 * libFuzzer target for the IMAP client's response parser (imap/client.h):
 * the input is what a server sends.  It is cut into lines as the client
 * reads them; each is parsed as a response, and a FETCH response runs
 * through the FETCH state machine with its literals taken out by size, as
 * the client does.  The parser's promises are checked: pointers stay in
 * the line, a literal is only announced at the end of a segment.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "imap/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
in_line(const char *p, size_t n, const char *line, size_t len)
{
	if (p != NULL && (p < line || p + n > line + len))
		panic("pointer outside the line");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t left = size;
	unsigned rounds = 0;

	while (left > 0 && rounds++ < 10000) {
		const char *lf = memchr(p, '\n', left);
		size_t len = lf != NULL ? (size_t)(lf - p) + 1 : left;
		struct imapc_resp r;
		if (imapc_parse_response(p, len, &r) == 0) {
			in_line(r.tag, r.tag_len, p, len);
			in_line(r.name, r.name_len, p, len);
			in_line(r.code, r.code_len, p, len);
			in_line(r.rest, r.rest_len, p, len);
			uint32_t v;
			(void)imapc_code_number(r.code, r.code_len, "UIDVALIDITY", &v);
			(void)imapc_parse_caps(r.rest, r.rest_len);
			if (imapc_resp_is(&r, "SEARCH")) {
				uint32_t *uids = NULL;
				size_t n = 0;
				(void)imapc_parse_search(r.rest, r.rest_len, &uids, &n, 1000);
				if (n > 1000)
					panic("search over its maximum");
				free(uids);
			}
			if (r.kind == IMAPC_UNTAGGED && imapc_resp_is(&r, "FETCH")) {
				struct imapc_fetch f;
				imapc_fetch_init(&f);
				const char *seg = r.rest;
				size_t seg_len = (size_t)(p + len - r.rest);
				p += len;
				left -= len;
				for (unsigned k = 0; k < 1000; k++) {
					enum imapc_fetch_result fr = imapc_fetch_feed(&f, seg, seg_len);
					in_line(f.quoted_body, f.quoted_body_len, seg, seg_len);
					if (fr != IMAPC_FETCH_BODY && fr != IMAPC_FETCH_SKIP)
						break;
					if (f.literal > left)
						break;
					p += f.literal;
					left -= (size_t)f.literal;
					lf = memchr(p, '\n', left);
					seg = p;
					seg_len = lf != NULL ? (size_t)(lf - p) + 1 : left;
					p += seg_len;
					left -= seg_len;
				}
				continue;
			}
		}
		uint64_t n;
		(void)imapc_line_literal(p, len, 1 << 20, &n);
		p += len;
		left -= len;
	}
	struct buf b = BUF_INIT;
	uint32_t uids[4];
	size_t k = size < 16 ? size / 4 : 4;
	memcpy(uids, data, k * 4);
	imapc_uidset(&b, uids, k);
	buf_free(&b);
	return 0;
}
