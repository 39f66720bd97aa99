/* charset: the few charsets mail mostly uses, to UTF-8; see rfc2047.h. */
#include "mail/rfc2047.h"

#include <stdint.h>
#include <string.h>

#include "core/utf8.h"

enum cs { CS_UNKNOWN, CS_UTF8, CS_LATIN1, CS_LATIN9, CS_CP1252 };

static enum cs
charset_lookup(const char *name)
{
	static const struct {
		const char *name;
		enum cs cs;
	} names[] = {
		{ "utf-8", CS_UTF8 }, { "utf8", CS_UTF8 },
		{ "us-ascii", CS_UTF8 }, { "ascii", CS_UTF8 },
		{ "ansi_x3.4-1968", CS_UTF8 }, { "iso-646-us", CS_UTF8 },
		{ "iso-8859-1", CS_LATIN1 }, { "iso8859-1", CS_LATIN1 },
		{ "iso_8859-1", CS_LATIN1 }, { "latin1", CS_LATIN1 },
		{ "l1", CS_LATIN1 }, { "iso-8859-15", CS_LATIN9 },
		{ "iso8859-15", CS_LATIN9 }, { "iso_8859-15", CS_LATIN9 },
		{ "latin-9", CS_LATIN9 }, { "latin9", CS_LATIN9 },
		{ "windows-1252", CS_CP1252 }, { "cp1252", CS_CP1252 },
		{ "x-cp1252", CS_CP1252 },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (str_eq_nocase(name, names[i].name))
			return names[i].cs;
	}
	return CS_UNKNOWN;
}

bool
charset_is_known(const char *charset)
{
	return charset_lookup(charset) != CS_UNKNOWN;
}

/* windows-1252 0x80..0x9f; 0 where the code page has a hole */
static const uint16_t cp1252_high[32] = {
	0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
	0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
};

static uint32_t
single_byte(enum cs cs, unsigned char c)
{
	if (c < 0x80)
		return c;
	if (cs == CS_CP1252 && c < 0xa0)
		return cp1252_high[c - 0x80] != 0 ? cp1252_high[c - 0x80] : c;
	if (cs == CS_LATIN9) {
		switch (c) {
		case 0xa4: return 0x20ac;
		case 0xa6: return 0x0160;
		case 0xa8: return 0x0161;
		case 0xb4: return 0x017d;
		case 0xb8: return 0x017e;
		case 0xbc: return 0x0152;
		case 0xbd: return 0x0153;
		case 0xbe: return 0x0178;
		}
	}
	return c;
}

int
charset_to_utf8(struct buf *out, const char *charset, const void *data,
		size_t n)
{
	const unsigned char *p = data;
	enum cs cs = charset_lookup(charset);
	if (cs == CS_UNKNOWN)
		return 0;
	size_t i = 0;
	while (i < n) {
		if (cs == CS_UTF8) {
			/* copy runs of valid UTF-8 whole */
			size_t j = i + utf8_valid_prefix(p + i, n - i);
			if (j > i && buf_append(out, p + i, j - i) < 0)
				return -1;
			i = j;
			if (i >= n)
				break;
			if (utf8_append(out, single_byte(CS_CP1252, p[i])) < 0)
				return -1;
			i++;
			continue;
		}
		if (utf8_append(out, single_byte(cs, p[i])) < 0)
			return -1;
		i++;
	}
	return 1;
}
