/*
 * json_nul: finding "\u0000" in a JSON text (see json_nul.h).
 */
#include "web/json_nul.h"

/* RFC 8259 §7: the escape is a backslash, 'u' and four hex digits, any case. */
static bool
is_nul_escape(const char *p, size_t left)
{
	return left >= 6 && p[0] == '\\' && p[1] == 'u' && p[2] == '0' && p[3] == '0' &&
	       p[4] == '0' && p[5] == '0';
}

bool
json_text_has_nul(const char *text, size_t len, const char **field_r,
		  size_t *field_len_r)
{
	size_t depth = 0;
	const char *member = NULL;	/* the outermost object's current member */
	size_t member_len = 0;

	*field_r = NULL;
	*field_len_r = 0;
	for (size_t i = 0; i < len; i++) {
		char ch = text[i];
		if (ch == '{' || ch == '[') {
			depth++;
			continue;
		}
		if (ch == '}' || ch == ']') {
			if (depth > 0)
				depth--;
			continue;
		}
		if (ch != '"')
			continue;
		/* a string: to its closing quote, escapes skipped whole */
		size_t start = ++i;
		bool nul = false;
		while (i < len && text[i] != '"') {
			if (text[i] == '\\') {
				if (is_nul_escape(text + i, len - i))
					nul = true;
				i++;	/* the escaped character ('"', '\\', 'u', ...) */
			}
			i++;
		}
		size_t slen = (i < len ? i : len) - start;
		/* a member name when a ':' follows (after white space) */
		size_t j = i + 1;
		while (j < len && (text[j] == ' ' || text[j] == '\t' || text[j] == '\n' ||
				   text[j] == '\r'))
			j++;
		bool is_name = j < len && text[j] == ':';
		if (is_name && depth == 1) {
			member = text + start;
			member_len = slen;
		}
		if (nul) {
			if (depth >= 1 && !(is_name && depth == 1)) {
				*field_r = member;
				*field_len_r = member_len;
			}
			return true;
		}
	}
	return false;
}
