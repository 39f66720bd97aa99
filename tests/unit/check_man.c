/* mailhub.conf(5) against the code: every key of the settings table
 * (core/config.c) has an entry of its own in its section, with its default
 * and bounds, so that the page cannot drift from what the parser does.
 * (The commands and options of `mailhub --help` against mailhub(8):
 * tests/integration/test_man.py.) */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/xmalloc.h"
#include "tests/unit/runner.h"

/* A troff line as the reader sees it: a macro line's arguments without
 * quotes, font changes and escapes undone, in lower case. */
static void
plain_line(const char *line, size_t len, struct buf *out)
{
	size_t i = 0;
	if (len > 0 && line[0] == '.') {
		while (i < len && line[i] != ' ')
			i++;
	}
	for (; i < len; i++) {
		char c = line[i];
		if (c == '"')
			continue;
		if (c == '\\' && i + 1 < len) {
			char e = line[++i];
			if (e == 'f' && i + 1 < len) {	/* \fB \fI \fR \fP */
				i++;
				continue;
			}
			if (e == '(' && i + 2 < len) {	/* \(en and such */
				buf_putc(out, '-');
				i += 2;
				continue;
			}
			if (e == '&')
				continue;
			buf_putc(out, e == 'e' ? '\\' : e);	/* \- is '-' */
			continue;
		}
		buf_putc(out, (char)tolower((unsigned char)c));
	}
	buf_putc(out, ' ');
}

/* The text of the entry ".B key" (after a .TP) in section [section] of man,
 * up to the next .TP, .SH or .SS; NULL when there is none.  malloc'd. */
static char *
entry(const char *man, const char *section, const char *key)
{
	char *sh = xasprintf(".SH [%s]", section), *tag = xasprintf(".B %s", key);
	bool in_section = false, prev_tp = false, in_entry = false;
	struct buf text = BUF_INIT;
	char *found = NULL;
	for (const char *p = man; *p != '\0' && found == NULL;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		bool is_sh = strncmp(p, ".SH", 3) == 0;
		bool ends = is_sh || strncmp(p, ".SS", 3) == 0 || strncmp(p, ".TP", 3) == 0;
		if (in_entry && ends) {
			found = buf_steal(&text);
			break;
		}
		if (in_entry)
			plain_line(p, len, &text);
		if (is_sh)
			in_section = len == strlen(sh) && strncmp(p, sh, len) == 0;
		else if (in_section && prev_tp && len == strlen(tag) && strncmp(p, tag, len) == 0)
			in_entry = true;
		prev_tp = strncmp(p, ".TP", 3) == 0 && len == 3;
		p = nl != NULL ? nl + 1 : p + len;
	}
	if (found == NULL && in_entry)
		found = buf_steal(&text);
	buf_free(&text);
	/* one space between words, as the reader sees them */
	if (found != NULL) {
		char *w = found;
		for (const char *r = found; *r != '\0'; r++)
			if (*r != ' ' || (w > found && w[-1] != ' '))
				*w++ = *r;
		*w = '\0';
	}
	free(sh);
	free(tag);
	return found;
}

/* A size as the config file writes it: 1024 as "1k" (lower case, as the
 * entry's text has been made). */
static char *
size_text(uint64_t v)
{
	static const struct {
		uint64_t unit;
		char suffix;
	} units[] = { { 1ull << 30, 'g' }, { 1ull << 20, 'm' }, { 1ull << 10, 'k' } };
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (v != 0 && v % units[i].unit == 0)
			return xasprintf("%" PRIu64 "%c", v / units[i].unit, units[i].suffix);
	return xasprintf("%" PRIu64, v);
}

/* True when text holds word (lower case) not followed by a letter, digit
 * or '_' (so "default 10" is not found in "default 100"). */
static bool
has_word(const char *text, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = strstr(text, word); p != NULL; p = strstr(p + 1, word)) {
		unsigned char next = (unsigned char)p[n];
		if (!isalnum(next) && next != '_')
			return true;
	}
	return false;
}

START_TEST(test_every_setting_documented)
{
	char *path = test_srcpath("packaging/man/mailhub.conf.5");
	char *man = test_read_file(path, NULL);
	struct config_setting_info s;
	size_t i, checked = 0;
	struct buf missing = BUF_INIT;
	for (i = 0; config_setting_info(i, &s); i++) {
		char *text = entry(man, s.section, s.key);
		if (text == NULL) {
			buf_printf(&missing, "[%s] %s: no entry \".TP\\n.B %s\" in its section\n",
				   s.section, s.key, s.key);
			continue;
		}
		/* the default, as the file would write it */
		char *want = s.def != NULL ? xasprintf("default %s", s.def) : xstrdup("default");
		for (char *c = want; *c != '\0'; c++)
			*c = (char)tolower((unsigned char)*c);
		if (!has_word(text, want) && !(s.def == NULL && strstr(text, "default") != NULL))
			buf_printf(&missing, "[%s] %s: the entry does not say \"%s\": %s\n",
				   s.section, s.key, want, text);
		free(want);
		if (s.bounded) {
			char *lo = s.size ? size_text(s.min) : xasprintf("%" PRIu64, s.min);
			char *hi = s.size ? size_text(s.max) : xasprintf("%" PRIu64, s.max);
			char *range = xasprintf("%s to %s", lo, hi);
			if (!has_word(text, range))
				buf_printf(&missing, "[%s] %s: the entry does not say \"%s\": %s\n",
					   s.section, s.key, range, text);
			free(lo);
			free(hi);
			free(range);
		}
		free(text);
		checked++;
	}
	ck_assert_uint_ge(i, 40);	/* the table was read */
	ck_assert_msg(missing.len == 0, "%s disagrees with core/config.c:\n%s", path,
		      buf_cstr(&missing));
	buf_free(&missing);
	free(man);
	free(path);
}
END_TEST

/* The checker itself finds what is missing or wrong. */
START_TEST(test_checker_finds_drift)
{
	const char *man =
		".SH [limits]\n.TP\n.B errors\nDefault \\fB10\\fR; 1 to 1000.\nText.\n"
		".TP\n.B other\nDefault 5.\n.SH [fetch]\n.TP\n.BR errors \" (3)\"\n";
	char *t = entry(man, "limits", "errors");
	ck_assert_ptr_nonnull(t);
	ck_assert(has_word(t, "default 10"));
	ck_assert(has_word(t, "1 to 1000"));
	ck_assert(!has_word(t, "default 1"));
	ck_assert(!has_word(t, "1 to 100"));
	ck_assert(strstr(t, "default 5") == NULL);	/* the next entry is not its text */
	free(t);
	ck_assert_ptr_null(entry(man, "fetch", "errors"));	/* not an entry of its own */
	ck_assert_ptr_null(entry(man, "limits", "missing"));
	char *k = size_text(1024), *g = size_text(1ull << 30), *b = size_text(1000);
	ck_assert_str_eq(k, "1k");
	ck_assert_str_eq(g, "1g");
	ck_assert_str_eq(b, "1000");
	free(k);
	free(g);
	free(b);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("man");
	TCase *tc = tcase_create("mailhub.conf.5");
	tcase_add_test(tc, test_every_setting_documented);
	tcase_add_test(tc, test_checker_finds_drift);
	suite_add_tcase(s, tc);
	return s;
}
