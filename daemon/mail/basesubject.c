/* basesubject: RFC 5256 §2.1, see basesubject.h. */
#include "mail/basesubject.h"

#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "core/utf8.h"
#include "mail/sortmap_table.h"
#include "mail/rfc2047.h"

/* subj-blob = "[" *BLOBCHAR "]" *WSP: the length of the blob at p (with
 * its one following space: whitespace is packed), or 0. */
static size_t
blob_len(const char *p)
{
	if (*p != '[')
		return 0;
	size_t i = 1;
	while (p[i] != '\0' && p[i] != '[' && p[i] != ']')
		i++;
	if (p[i] != ']')
		return 0;
	i++;
	if (p[i] == ' ')
		i++;
	return i;
}

/* subj-leader = (*subj-blob subj-refwd) / WSP, where
 * subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":".
 * The length of the leader at p, or 0; *refwd when it was a subj-refwd. */
static size_t
leader_len(const char *p, bool *refwd)
{
	*refwd = false;
	if (*p == ' ')
		return 1;
	size_t i = 0, b;
	while ((b = blob_len(p + i)) > 0)
		i += b;
	if (strncmp(p + i, "RE", 2) == 0)
		i += 2;
	else if (strncmp(p + i, "FWD", 3) == 0)
		i += 3;
	else if (strncmp(p + i, "FW", 2) == 0)
		i += 2;
	else
		return 0;
	if (p[i] == ' ')
		i++;
	i += blob_len(p + i);
	if (p[i] != ':')
		return 0;
	*refwd = true;
	return i + 1;
}

char *
mail_base_subject_extract(char *text, bool *reply_r)
{
	char *p = text;
	size_t len = strlen(text);
	bool again;

	*reply_r = false;
	do {
		/* (2) subj-trailer = "(fwd)" / WSP, repeatedly */
		for (;;) {
			if (len > 0 && p[len - 1] == ' ') {
				len--;
			} else if (len >= 5 && memcmp(p + len - 5, "(FWD)", 5) == 0) {
				len -= 5;
				*reply_r = true;
			} else {
				break;
			}
		}
		p[len] = '\0';
		/* (3), (4), (5) */
		bool found;
		do {
			bool refwd;
			size_t l;
			found = false;
			while ((l = leader_len(p, &refwd)) > 0) {
				p += l;
				len -= l;
				found = true;
				if (refwd)
					*reply_r = true;
			}
			/* (4) a subj-blob, when what is left is a non-empty
			 * subj-base */
			l = blob_len(p);
			if (l > 0 && p[l] != '\0') {
				p += l;
				len -= l;
				found = true;
			}
		} while (found);
		/* (6) subj-fwd = "[fwd:" subject "]" */
		again = len >= 6 && strncmp(p, "[FWD:", 5) == 0 && p[len - 1] == ']';
		if (again) {
			p += 5;
			len -= 6;
			p[len] = '\0';
			*reply_r = true;
		}
	} while (again);
	return p;
}

void
mail_sort_casemap(struct buf *out, const char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x80) {
			buf_putc(out, c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : (char)c);
			i++;
			continue;
		}
		uint32_t cp;
		size_t l = utf8_decode(p + i, n - i, &cp);
		if (l == 0) {
			buf_putc(out, (char)c);	/* not UTF-8: as it is */
			i++;
			continue;
		}
		size_t lo = 0, hi = sortmap_n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (sortmap_keys[mid] < cp)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < sortmap_n && sortmap_keys[lo] == cp) {
			for (uint32_t k = sortmap_offsets[lo]; k < sortmap_offsets[lo + 1]; k++)
				utf8_append(out, sortmap_values[k]);
		} else {
			buf_append(out, p + i, l);
		}
		i += l;
	}
}

bool
mail_base_subject(struct buf *out, const char *value, size_t len)
{
	struct buf dec = BUF_INIT, map = BUF_INIT;

	/* (1) RFC 2047 words to UTF-8; tabs and continuations to spaces,
	 * and runs of them to one */
	rfc2047_decode(&dec, value, len);
	mail_sort_casemap(&map, dec.data != NULL ? dec.data : "", dec.len);
	char *t = xmalloc(map.len + 1);
	size_t n = 0;
	bool space = false;
	for (size_t i = 0; i < map.len; i++) {
		char c = map.data[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			if (!space)
				t[n++] = ' ';
			space = true;
			continue;
		}
		space = false;
		t[n++] = c;
	}
	t[n] = '\0';
	bool reply;
	const char *base = mail_base_subject_extract(t, &reply);
	buf_puts(out, base);
	free(t);
	buf_free(&dec);
	buf_free(&map);
	return reply;
}
