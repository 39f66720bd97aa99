/* Unit tests for trust/dkim_verify_tags: tag=value lists (RFC 6376 §3.2),
 * with folding white space, every prefix of a valid list, and the value
 * readers (base64, numbers, colon lists). */
#include <string.h>

#include "core/buf.h"
#include "tests/unit/runner.h"
#include "trust/dkim_verify_tags.h"

static void
value_is(const struct dkim_tags *t, const char *name, const char *want)
{
	const struct dkim_tag *tag = dkim_tags_get(t, name);
	ck_assert_msg(tag != NULL, "no %s=", name);
	ck_assert_msg(tag->value_len == strlen(want) && memcmp(tag->value, want, tag->value_len) == 0,
		      "%s= is \"%.*s\", wanted \"%s\"", name, (int)tag->value_len, tag->value, want);
}

START_TEST(test_parse)
{
	struct dkim_tags t;
	const char *error = NULL;
	const char *s = " v=1; a=rsa-sha256;\r\n\td = example.org ; h=from : to;"
			" b=ab cd\r\n ef==;z=;x_y1=a=b ;";
	ck_assert_msg(dkim_tags_parse(s, strlen(s), &t, &error) == 0, "%s", error);
	ck_assert_uint_eq(t.n, 7);
	value_is(&t, "v", "1");
	value_is(&t, "a", "rsa-sha256");
	value_is(&t, "d", "example.org");
	value_is(&t, "h", "from : to");
	value_is(&t, "b", "ab cd\r\n ef==");
	value_is(&t, "z", "");
	value_is(&t, "x_y1", "a=b");
	ck_assert_ptr_null(dkim_tags_get(&t, "V"));	/* names are case-sensitive */
	const struct dkim_tag *d = dkim_tags_get(&t, "d");
	ck_assert_uint_eq(d->value_off, (size_t)(strstr(s, "example.org") - s));
	/* an empty list and one of only white space have no tags */
	ck_assert_int_eq(dkim_tags_parse("", 0, &t, &error), 0);
	ck_assert_uint_eq(t.n, 0);
	ck_assert_int_eq(dkim_tags_parse(" \r\n ", 4, &t, &error), 0);
	ck_assert_uint_eq(t.n, 0);
}
END_TEST

START_TEST(test_errors)
{
	static const char *const bad[] = {
		"v=1;;a=b",	/* an empty tag-spec inside */
		"v=1; a",	/* no '=' */
		"=1",		/* no name */
		"1v=1",		/* a name starts with a letter */
		"v-x=1",	/* '-' is not ALNUMPUNC */
		"v=1; v=1",	/* twice */
		"v=a\001b",	/* a control character */
		"v=a\x7f",
		";",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct dkim_tags t;
		const char *error = NULL;
		ck_assert_msg(dkim_tags_parse(bad[i], strlen(bad[i]), &t, &error) == -1,
			      "accepted \"%s\"", bad[i]);
		ck_assert_ptr_nonnull(error);
	}
	/* too many tags */
	struct buf b = BUF_INIT;
	for (int i = 0; i <= DKIM_TAGS_MAX; i++)
		buf_printf(&b, "t%d=%d;", i, i);
	struct dkim_tags t;
	const char *error = NULL;
	ck_assert_int_eq(dkim_tags_parse(b.data, b.len, &t, &error), -1);
	ck_assert_str_eq(error, "too many tags");
	buf_free(&b);
}
END_TEST

/* Every prefix of a valid list parses or fails cleanly, and cutting at a
 * ';' gives the tags before it. */
START_TEST(test_prefixes)
{
	const char *s = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQH Og7hcvPapiMlrwIaaPcHURo=";
	size_t len = strlen(s);
	for (size_t n = 0; n <= len; n++) {
		struct dkim_tags t;
		const char *error;
		char *copy = xmemdup(s, n);	/* no NUL after the prefix to lean on */
		int r = dkim_tags_parse(copy, n, &t, &error);
		if (n > 0 && s[n - 1] == ';')
			ck_assert_int_eq(r, 0);
		if (r == 0)
			for (size_t k = 0; k < t.n; k++)
				ck_assert(t.tag[k].value + t.tag[k].value_len <= copy + n);
		free(copy);
	}
}
END_TEST

START_TEST(test_values)
{
	struct dkim_tags t;
	const char *error;
	const char *s = "b=SGVs bG8=; n=0012; big=99999999999999999999999; x=12a; "
			"h= From:to :\r\n\tSubject ; e=; bad=SGVsbG8";
	ck_assert_int_eq(dkim_tags_parse(s, strlen(s), &t, &error), 0);
	struct buf out = BUF_INIT;
	ck_assert_int_eq(dkim_tag_base64(dkim_tags_get(&t, "b"), &out), 0);
	ck_assert_str_eq(buf_cstr(&out), "Hello");
	buf_reset(&out);
	ck_assert_int_eq(dkim_tag_base64(dkim_tags_get(&t, "bad"), &out), -1);
	ck_assert_int_eq(dkim_tag_base64(dkim_tags_get(&t, "e"), &out), 0);
	ck_assert_uint_eq(out.len, 0);
	unsigned long long v;
	ck_assert_int_eq(dkim_tag_uint(dkim_tags_get(&t, "n"), 10, &v), 0);
	ck_assert_uint_eq(v, 12);
	ck_assert_int_eq(dkim_tag_uint(dkim_tags_get(&t, "n"), 3, &v), -1);
	ck_assert_int_eq(dkim_tag_uint(dkim_tags_get(&t, "big"), 76, &v), 0);
	ck_assert(v == UINT64_MAX);
	ck_assert_int_eq(dkim_tag_uint(dkim_tags_get(&t, "x"), 10, &v), -1);
	ck_assert_int_eq(dkim_tag_uint(dkim_tags_get(&t, "e"), 10, &v), -1);

	static const char *const names[] = { "From", "to", "Subject" };
	size_t pos = 0, len, k = 0;
	const char *item;
	const struct dkim_tag *h = dkim_tags_get(&t, "h");
	while (dkim_tag_list_next(h, ':', &pos, &item, &len)) {
		ck_assert_uint_lt(k, 3);
		ck_assert_uint_eq(len, strlen(names[k]));
		ck_assert(memcmp(item, names[k], len) == 0);
		k++;
	}
	ck_assert_uint_eq(k, 3);
	ck_assert(dkim_tag_is(dkim_tags_get(&t, "n"), "0012", false));
	ck_assert(!dkim_tag_is(dkim_tags_get(&t, "n"), "12", false));
	buf_reset(&out);
	dkim_tag_squeeze(h, &out);
	ck_assert_str_eq(buf_cstr(&out), "From:to:Subject");
	buf_free(&out);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("dkim_tags");
	TCase *tc = tcase_create("dkim_tags");
	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_prefixes);
	tcase_add_test(tc, test_values);
	suite_add_tcase(s, tc);
	return s;
}
