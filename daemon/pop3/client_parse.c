/*
 * pop3/client_parse: the pure half of the POP3 client (see client.h).
 */
#include <string.h>

#include "core/buf.h"
#include "pop3/client.h"

/* The length without a trailing CRLF or LF. */
static size_t
strip_eol(const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	return len;
}

int
pop3c_parse_status(const char *line, size_t len, const char **text_r,
		   size_t *text_len_r)
{
	len = strip_eol(line, len);
	int ok;
	size_t skip;
	/* RFC 1939 §3: "+OK" or "-ERR", case-sensitive per the RFC but some
	 * servers differ; be lenient in what we accept */
	if (len >= 3 && mem_eq_nocase(line, "+OK", 3)) {
		ok = 1;
		skip = 3;
	} else if (len >= 4 && mem_eq_nocase(line, "-ERR", 4)) {
		ok = 0;
		skip = 4;
	} else {
		return -1;
	}
	if (len > skip && line[skip] != ' ')
		return -1;
	while (skip < len && line[skip] == ' ')
		skip++;
	*text_r = line + skip;
	*text_len_r = len - skip;
	return ok;
}

int
pop3c_unstuff_line(const char *line, size_t len, const char **data_r,
		   size_t *data_len_r)
{
	size_t n = strip_eol(line, len);
	if (n == 1 && line[0] == '.')
		return 1;
	if (n > 0 && line[0] == '.') {
		line++;
		n--;
	}
	*data_r = line;
	*data_len_r = n;
	return 0;
}

/* A decimal number of at most max (no sign, no leading junk). */
static int
parse_number(const char *p, size_t len, uint64_t max, uint64_t *v_r)
{
	uint64_t v = 0;
	if (len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		unsigned d = (unsigned)(p[i] - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*v_r = v;
	return 0;
}

int
pop3c_parse_uidl(const char *line, size_t len, uint32_t *msgno_r,
		 const char **uidl_r, size_t *uidl_len_r)
{
	len = strip_eol(line, len);
	const char *sp = memchr(line, ' ', len);
	if (sp == NULL)
		return -1;
	uint64_t n;
	if (parse_number(line, (size_t)(sp - line), UINT32_MAX, &n) < 0 || n == 0)
		return -1;
	const char *u = sp + 1;
	size_t ulen = len - (size_t)(u - line);
	/* RFC 1939 §7: 1 to 70 characters in the range 0x21 to 0x7E */
	if (ulen == 0 || ulen > POP3C_UIDL_MAX)
		return -1;
	for (size_t i = 0; i < ulen; i++) {
		if ((unsigned char)u[i] < 0x21 || (unsigned char)u[i] > 0x7e)
			return -1;
	}
	*msgno_r = (uint32_t)n;
	*uidl_r = u;
	*uidl_len_r = ulen;
	return 0;
}

int
pop3c_parse_pair(const char *line, size_t len, uint32_t *a_r, uint64_t *b_r)
{
	len = strip_eol(line, len);
	const char *sp = memchr(line, ' ', len);
	if (sp == NULL)
		return -1;
	uint64_t a, b;
	const char *second = sp + 1;
	size_t second_len = len - (size_t)(second - line);
	/* STAT's text may go on after the size ("+OK 2 320 messages") */
	const char *sp2 = memchr(second, ' ', second_len);
	if (sp2 != NULL)
		second_len = (size_t)(sp2 - second);
	if (parse_number(line, (size_t)(sp - line), UINT32_MAX, &a) < 0 ||
	    parse_number(second, second_len, UINT64_MAX, &b) < 0)
		return -1;
	*a_r = (uint32_t)a;
	*b_r = b;
	return 0;
}

static bool
word_is(const char *w, size_t n, const char *s)
{
	return strlen(s) == n && mem_eq_nocase(w, s, n);
}

unsigned
pop3c_parse_capa(const char *line, size_t len)
{
	len = strip_eol(line, len);
	const char *sp = memchr(line, ' ', len);
	size_t first = sp != NULL ? (size_t)(sp - line) : len;
	if (word_is(line, first, "STLS"))
		return POP3C_CAP_STLS;
	if (word_is(line, first, "UIDL"))
		return POP3C_CAP_UIDL;
	if (word_is(line, first, "PIPELINING"))
		return POP3C_CAP_PIPELINING;
	if (word_is(line, first, "USER"))
		return POP3C_CAP_USER;
	if (word_is(line, first, "SASL")) {
		size_t pos = first;
		unsigned caps = 0;
		while (pos < len) {
			while (pos < len && line[pos] == ' ')
				pos++;
			size_t start = pos;
			while (pos < len && line[pos] != ' ')
				pos++;
			if (word_is(line + start, pos - start, "PLAIN"))
				caps |= POP3C_CAP_SASL_PLAIN;
			else if (word_is(line + start, pos - start, "XOAUTH2"))
				caps |= POP3C_CAP_SASL_XOAUTH2;
			else if (word_is(line + start, pos - start, "OAUTHBEARER"))
				caps |= POP3C_CAP_SASL_OAUTHBEARER;
		}
		return caps;
	}
	return 0;
}
