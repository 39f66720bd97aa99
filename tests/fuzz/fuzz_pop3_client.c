/*
 * libFuzzer target for the POP3 client's reply parser (pop3/client.h):
 * the input is what a server sends, cut into lines as the client reads
 * them; every line goes through each parser, and their promises are
 * checked (results point into the line, a UIDL keeps its limits).
 */
#include <stdint.h>
#include <string.h>

#include "core/log.h"
#include "pop3/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
in_line(const char *p, size_t n, const char *line, size_t len)
{
	if (p < line || p + n > line + len)
		panic("pointer outside the line");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t left = size;

	while (left > 0) {
		const char *lf = memchr(p, '\n', left);
		size_t len = lf != NULL ? (size_t)(lf - p) + 1 : left;
		const char *t;
		size_t n;
		int ok = pop3c_parse_status(p, len, &t, &n);
		if (ok >= 0)
			in_line(t, n, p, len);
		if (pop3c_unstuff_line(p, len, &t, &n) == 0)
			in_line(t, n, p, len);
		uint32_t m;
		if (pop3c_parse_uidl(p, len, &m, &t, &n) == 0) {
			in_line(t, n, p, len);
			if (n == 0 || n > POP3C_UIDL_MAX || m == 0)
				panic("UIDL out of its limits");
		}
		uint64_t b;
		(void)pop3c_parse_pair(p, len, &m, &b);
		(void)pop3c_parse_capa(p, len);
		p += len;
		left -= len;
	}
	return 0;
}
