/* Unit tests for web/path.c (route patterns and static file names) and
 * web/json_nul.c (\u0000 in a JSON text) and web/json_dup.c (names given
 * twice). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/internal.h"
#include "web/json_dup.h"
#include "web/json_nul.h"
#include "tests/unit/runner.h"

static void
free_params(char **params, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(params[i]);
}

START_TEST(test_route_literal)
{
	ck_assert(web_route_match("/api/v1/users", "/api/v1/users", NULL, NULL));
	ck_assert(!web_route_match("/api/v1/users", "/api/v1/users/", NULL, NULL));
	ck_assert(!web_route_match("/api/v1/users", "/api/v1/user", NULL, NULL));
	ck_assert(!web_route_match("/api/v1/users", "/api/v1/usersx", NULL, NULL));
	ck_assert(!web_route_match("/api/v1/users", "", NULL, NULL));
}
END_TEST

START_TEST(test_route_params)
{
	char *params[WEB_PARAMS_MAX];
	size_t n = 99;

	ck_assert(web_route_match("/api/v1/users/{address}", "/api/v1/users/a'b@example.org",
				  params, &n));
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(params[0], "a'b@example.org");
	free_params(params, n);

	ck_assert(web_route_match("/api/v1/queue/{id}/retry", "/api/v1/queue/42/retry",
				  params, &n));
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(params[0], "42");
	free_params(params, n);

	ck_assert(web_route_match("/a/{x}/b/{y}", "/a/1/b/2", params, &n));
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(params[0], "1");
	ck_assert_str_eq(params[1], "2");
	free_params(params, n);
}
END_TEST

START_TEST(test_route_param_never_empty_nor_slashed)
{
	char *params[WEB_PARAMS_MAX];
	size_t n = 0;

	/* An empty segment is not a parameter. */
	ck_assert(!web_route_match("/api/v1/users/{address}", "/api/v1/users/", params, &n));
	/* A '/' ends the segment: the rest must match the pattern. */
	ck_assert(!web_route_match("/api/v1/users/{address}", "/api/v1/users/a/b", params, &n));
	ck_assert(!web_route_match("/api/v1/queue/{id}/retry", "/api/v1/queue/1/retry/x",
				   params, &n));
	ck_assert(!web_route_match("/api/v1/queue/{id}/retry", "/api/v1/queue//retry",
				   params, &n));
	/* A failed match leaves nothing allocated (LeakSanitizer checks). */
	ck_assert(!web_route_match("/a/{x}/b/{y}", "/a/1/c/2", params, &n));
}
END_TEST

START_TEST(test_route_param_limit)
{
	char *params[WEB_PARAMS_MAX];
	size_t n = 0;
	/* One parameter more than WEB_PARAMS_MAX never matches. */
	ck_assert(!web_route_match("/{a}/{b}/{c}/{d}/{e}", "/1/2/3/4/5", params, &n));
	ck_assert(web_route_match("/{a}/{b}/{c}/{d}", "/1/2/3/4", params, &n));
	ck_assert_uint_eq(n, 4);
	free_params(params, n);
}
END_TEST

START_TEST(test_static_path_ok)
{
	static const char *const good[] = {
		"index.html", "js/app.js", "js/views/users.js", "a-b_c.d.e", "x",
	};
	static const char *const bad[] = {
		"", "..", "../etc/passwd", "js/../../x", "js/..", ".hidden", "js/.x.js",
		"/etc/passwd", "js//app.js", "js/", "a\\b", "a%2e%2e", "a b", "a\x01",
		"é.js", "a:b", "a?b", "a#b", "./x",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		ck_assert_msg(web_static_path_ok(good[i]), "%s", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(!web_static_path_ok(bad[i]), "%s", bad[i]);

	char *longp = malloc(WEB_STATIC_PATH_MAX + 2);
	memset(longp, 'a', WEB_STATIC_PATH_MAX);
	longp[WEB_STATIC_PATH_MAX] = '\0';
	ck_assert(web_static_path_ok(longp));
	longp[WEB_STATIC_PATH_MAX] = 'a';
	longp[WEB_STATIC_PATH_MAX + 1] = '\0';
	ck_assert(!web_static_path_ok(longp));
	free(longp);
}
END_TEST

/* The member json_text_has_nul names for text, "" for none, NULL when no
 * NUL was found. */
static const char *
nul_in(const char *text)
{
	static char name[64];
	const char *f;
	size_t n;
	if (!json_text_has_nul(text, strlen(text), &f, &n))
		return NULL;
	if (f == NULL)
		return "";
	ck_assert_uint_lt(n, sizeof name);
	memcpy(name, f, n);
	name[n] = '\0';
	return name;
}

START_TEST(test_json_nul)
{
	ck_assert_ptr_null(nul_in("{}"));
	ck_assert_ptr_null(nul_in("{\"name\": \"ab\"}"));
	ck_assert_ptr_null(nul_in("{\"name\": \"a\\u0001b\\u1000\"}"));
	/* an escaped backslash and then "u0000" is text, not the escape */
	ck_assert_ptr_null(nul_in("{\"name\": \"a\\\\u0000b\"}"));
	ck_assert_ptr_null(nul_in("{\"n\\\"x\": \"\\\\u0000\", \"b\": 1}"));
	/* numbers and bare words are no strings */
	ck_assert_ptr_null(nul_in("{\"a\": 0000, \"b\": [true, null]}"));

	ck_assert_str_eq(nul_in("{\"name\": \"a\\u0000b\"}"), "name");
	ck_assert_str_eq(nul_in("{\"name\":\"\\u0000\"}"), "name");
	ck_assert_str_eq(nul_in("{ \"a\" : \"x\", \"pw\"\n:\n\"x\\u0000\" }"), "pw");
	/* in a nested value: the outermost member holding it */
	ck_assert_str_eq(nul_in("{\"folders\": [\"INBOX\", \"x\\u0000y\"]}"), "folders");
	ck_assert_str_eq(nul_in("{\"s\": {\"host\": \"h\", \"user\": \"\\u0000\"}}"), "s");
	ck_assert_str_eq(nul_in("{\"arr\": [{\"k\": 1}, \"b\\u0000\"]}"), "arr");
	/* in a member name, and after an escaped backslash */
	ck_assert_str_eq(nul_in("{\"na\\u0000me\": 1}"), "");
	ck_assert_str_eq(nul_in("{\"x\": \"\\\\\\u0000\"}"), "x");
	/* an unfinished text does not read past its end */
	ck_assert_ptr_null(nul_in("{\"x\": \"\\u000"));
	ck_assert_ptr_null(nul_in("{\"x\": \"\\"));
	ck_assert_str_eq(nul_in("[\"\\u0000\"]"), "");
}
END_TEST

/* The name json_duplicate_member finds in text, or NULL. */
static const char *
dup_in(const char *text)
{
	static char name[64];
	cJSON *json = cJSON_Parse(text);
	ck_assert_ptr_nonnull(json);
	const char *d = json_duplicate_member(json);
	if (d != NULL) {
		ck_assert_uint_lt(strlen(d), sizeof name);
		snprintf(name, sizeof name, "%s", d);
	}
	cJSON_Delete(json);
	return d != NULL ? name : NULL;
}

START_TEST(test_json_dup)
{
	ck_assert_ptr_null(dup_in("{}"));
	ck_assert_ptr_null(dup_in("{\"a\": 1, \"b\": 2, \"A\": 3}"));
	/* the same name in different objects is no repeat */
	ck_assert_ptr_null(dup_in("{\"a\": {\"a\": 1}, \"b\": [{\"a\": 1}, {\"a\": 2}]}"));
	ck_assert_str_eq(dup_in("{\"a\": 1, \"b\": 2, \"a\": 3}"), "a");
	/* in a nested object, and in an object inside an array */
	ck_assert_str_eq(dup_in("{\"s\": {\"host\": \"h\", \"host\": 587}}"), "host");
	ck_assert_str_eq(dup_in("{\"x\": [1, {\"k\": 1, \"k\": 1}]}"), "k");
	/* escapes are read: "\u0061" is "a" */
	ck_assert_str_eq(dup_in("{\"a\": 1, \"\\u0061\": 2}"), "a");
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("web");
	TCase *tc = tcase_create("path");
	tcase_add_test(tc, test_route_literal);
	tcase_add_test(tc, test_route_params);
	tcase_add_test(tc, test_route_param_never_empty_nor_slashed);
	tcase_add_test(tc, test_route_param_limit);
	tcase_add_test(tc, test_static_path_ok);
	suite_add_tcase(s, tc);
	tc = tcase_create("json_nul");
	tcase_add_test(tc, test_json_nul);
	tcase_add_test(tc, test_json_dup);
	suite_add_tcase(s, tc);
	return s;
}
