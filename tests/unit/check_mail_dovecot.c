/* ENVELOPE, BODYSTRUCTURE and BODY of mail/mime, and the BODY[section]
 * ranges of mime_section_find and mail_header_write_fields, compared byte
 * for byte with what Dovecot 2.3.19 answered for the same messages
 * (check_mail_dovecot.data, check_mail_dovecot_sections.data: realistic
 * and broken shapes of addresses, subjects, Content-* fields, nesting,
 * boundaries, NUL bytes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mail/header.h"
#include "mail/mime.h"
#include "tests/unit/runner.h"

/* Reads "<word> <octets>\n<octets bytes>\n" at *pos. */
static const char *
read_block(const char *d, size_t len, size_t *pos, const char *word,
	   size_t *n_r)
{
	size_t wl = strlen(word);
	ck_assert(*pos + wl + 1 < len);
	ck_assert_int_eq(memcmp(d + *pos, word, wl), 0);
	char *end;
	unsigned long long n = strtoull(d + *pos + wl + 1, &end, 10);
	ck_assert(*end == '\n');
	const char *p = end + 1;
	ck_assert((size_t)(p - d) + n + 1 <= len);
	*pos = (size_t)(p - d) + n + 1;
	*n_r = (size_t)n;
	return p;
}

START_TEST(test_against_dovecot)
{
	size_t len, pos = 0;
	char *path = test_srcpath("tests/unit/check_mail_dovecot.data");
	char *d = test_read_file(path, &len);
	unsigned cases = 0, failed = 0;

	while (pos < len) {
		const char *nl = memchr(d + pos, '\n', len - pos);
		ck_assert_ptr_nonnull(nl);
		if (d[pos] == '#') {
			pos = (size_t)(nl - d) + 1;
			continue;
		}
		ck_assert(d[pos] == '@');
		char *name = strndup(d + pos + 2, (size_t)(nl - d - pos - 2));
		pos = (size_t)(nl - d) + 1;
		size_t mlen, elen;
		const char *m = read_block(d, len, &pos, "message", &mlen);
		const char *e = read_block(d, len, &pos, "expect", &elen);

		/* an exact-size copy, so that reads past the end show */
		char *msg = malloc(mlen > 0 ? mlen : 1);
		memcpy(msg, m, mlen);
		struct mime_part *root = mime_parse(msg, mlen);
		struct buf out = BUF_INIT;
		buf_puts(&out, "ENVELOPE (");
		ck_assert_int_eq(mime_write_envelope(&out, msg, root->hdr_len), 0);
		buf_puts(&out, ") BODYSTRUCTURE (");
		ck_assert_int_eq(mime_write_bodystructure(&out, msg, root, true), 0);
		buf_puts(&out, ") BODY (");
		ck_assert_int_eq(mime_write_bodystructure(&out, msg, root, false), 0);
		buf_puts(&out, ")");
		if (out.len != elen || memcmp(out.data, e, elen) != 0) {
			struct buf shown = BUF_INIT;
			buf_append_escaped(&shown, out.data, out.len, 400);
			buf_puts(&shown, " != ");
			buf_append_escaped(&shown, e, elen, 400);
			fprintf(stderr, "# %s: %s\n", name, buf_cstr(&shown));
			buf_free(&shown);
			failed++;
		}
		cases++;
		buf_free(&out);
		mime_part_free(&root);
		free(msg);
		free(name);
	}
	free(d);
	free(path);
	ck_assert_uint_gt(cases, 200);
	ck_assert_msg(failed == 0, "%u of %u messages differ from Dovecot", failed,
		      cases);
}
END_TEST

/* What mailhub would send for BODY[spec] ("" for a part that does not
 * exist, as Dovecot answers; NUL as 0x80, as Dovecot sends literals). */
static void
section_of(struct buf *out, const char *msg, const struct mime_part *root,
	   const char *spec)
{
	static const char *const names[] = { "FROM", "SUBJECT", "X-A" };
	enum mime_section what = MIME_SECTION_ALL;
	size_t plen = strlen(spec), off, len;
	const char *dot = strrchr(spec, '.');

	if (strncmp(spec, "HEADER.FIELDS", 13) == 0) {
		/* the data file uses the fields FROM SUBJECT X-A */
		bool not = strncmp(spec, "HEADER.FIELDS.NOT", 17) == 0;
		ck_assert_int_eq(mail_header_write_fields(out, msg, root->hdr_len,
							  names, 3, not), 0);
	} else {
		if (strcmp(spec, "HEADER") == 0) {
			what = MIME_SECTION_HEADER;
			plen = 0;
		} else if (strcmp(spec, "TEXT") == 0) {
			what = MIME_SECTION_TEXT;
			plen = 0;
		} else if (dot != NULL && strcmp(dot, ".MIME") == 0) {
			what = MIME_SECTION_MIME;
			plen = (size_t)(dot - spec);
		} else if (dot != NULL && strcmp(dot, ".HEADER") == 0) {
			what = MIME_SECTION_HEADER;
			plen = (size_t)(dot - spec);
		} else if (dot != NULL && strcmp(dot, ".TEXT") == 0) {
			what = MIME_SECTION_TEXT;
			plen = (size_t)(dot - spec);
		}
		if (mime_section_find(root, spec, plen, what, &off, &len) == 0)
			buf_append(out, msg + off, len);
	}
	for (size_t i = 0; i < out->len; i++) {
		if (out->data[i] == '\0')
			out->data[i] = (char)0x80;
	}
}

START_TEST(test_sections_against_dovecot)
{
	size_t len, pos = 0;
	char *path = test_srcpath("tests/unit/check_mail_dovecot_sections.data");
	char *d = test_read_file(path, &len);
	unsigned sections = 0, failed = 0;
	struct mime_part *root = NULL;
	char *msg = NULL, *name = NULL;

	while (pos < len) {
		const char *nl = memchr(d + pos, '\n', len - pos);
		ck_assert_ptr_nonnull(nl);
		if (d[pos] == '#') {
			pos = (size_t)(nl - d) + 1;
			continue;
		}
		if (d[pos] == '@') {
			mime_part_free(&root);
			free(msg);
			free(name);
			name = strndup(d + pos + 2, (size_t)(nl - d - pos - 2));
			pos = (size_t)(nl - d) + 1;
			size_t mlen;
			const char *m = read_block(d, len, &pos, "message", &mlen);
			msg = malloc(mlen > 0 ? mlen : 1);
			memcpy(msg, m, mlen);
			root = mime_parse(msg, mlen);
			continue;
		}
		ck_assert(strncmp(d + pos, "section ", 8) == 0);
		ck_assert_ptr_nonnull(root);
		char *spec = strndup(d + pos + 8, (size_t)(nl - d - pos - 8));
		pos = (size_t)(nl - d) + 1;
		size_t elen;
		const char *e = read_block(d, len, &pos, "expect", &elen);
		struct buf out = BUF_INIT;
		section_of(&out, msg, root, spec);
		if (out.len != elen || (elen > 0 && memcmp(out.data, e, elen) != 0)) {
			struct buf shown = BUF_INIT;
			buf_append_escaped(&shown, out.data, out.len, 200);
			buf_puts(&shown, " != ");
			buf_append_escaped(&shown, e, elen, 200);
			fprintf(stderr, "# %s BODY[%s]: %s\n", name, spec,
				buf_cstr(&shown));
			buf_free(&shown);
			failed++;
		}
		sections++;
		buf_free(&out);
		free(spec);
	}
	mime_part_free(&root);
	free(msg);
	free(name);
	free(d);
	free(path);
	ck_assert_uint_gt(sections, 1000);
	ck_assert_msg(failed == 0, "%u of %u sections differ from Dovecot", failed,
		      sections);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("mail_dovecot");
	TCase *tc = tcase_create("dovecot");
	tcase_add_test(tc, test_against_dovecot);
	tcase_add_test(tc, test_sections_against_dovecot);
	suite_add_tcase(s, tc);
	return s;
}
