/* Unit tests for managesieve/parser: the ManageSieve command parser. */
#include <string.h>

#include "managesieve/parser.h"
#include "tests/unit/runner.h"

#define LIT_MAX 1000

/* Parses one whole input as a command; checks the consumed count. */
static enum msieve_parse_result
parse(const char *in, size_t len, struct msieve_command *cmd, const char **error)
{
	size_t used = 0, need = 0;
	enum msieve_parse_result r = msieve_parse(in, len, MSIEVE_PARSE_COMMAND,
						  LIT_MAX, cmd, &used, &need, error);
	if (r == MSIEVE_PARSE_OK || r == MSIEVE_PARSE_ERROR)
		ck_assert_uint_eq(used, len);
	if (r == MSIEVE_PARSE_ERROR)
		ck_assert_ptr_nonnull(*error);
	return r;
}

static enum msieve_parse_result
parse_str(const char *in, struct msieve_command *cmd, const char **error)
{
	return parse(in, strlen(in), cmd, error);
}

START_TEST(test_simple_commands)
{
	static const struct {
		const char *line;
		enum msieve_verb verb;
		size_t n_args;
	} cases[] = {
		{ "CAPABILITY\r\n", MSIEVE_CMD_CAPABILITY, 0 },
		{ "capability\r\n", MSIEVE_CMD_CAPABILITY, 0 },
		{ "StartTls\r\n", MSIEVE_CMD_STARTTLS, 0 },
		{ "LOGOUT\n", MSIEVE_CMD_LOGOUT, 0 },
		{ "LISTSCRIPTS  \r\n", MSIEVE_CMD_LISTSCRIPTS, 0 },
		{ "UNAUTHENTICATE\r\n", MSIEVE_CMD_UNAUTHENTICATE, 0 },
		{ "NOOP\r\n", MSIEVE_CMD_NOOP, 0 },
		{ "NOOP \"tag\"\r\n", MSIEVE_CMD_NOOP, 1 },
		{ "GETSCRIPT \"a b\"\r\n", MSIEVE_CMD_GETSCRIPT, 1 },
		{ "SETACTIVE \"\"\r\n", MSIEVE_CMD_SETACTIVE, 1 },
		{ "DELETESCRIPT \"x\"\r\n", MSIEVE_CMD_DELETESCRIPT, 1 },
		{ "RENAMESCRIPT \"a\" \"b\"\r\n", MSIEVE_CMD_RENAMESCRIPT, 2 },
		{ "AUTHENTICATE \"PLAIN\"\r\n", MSIEVE_CMD_AUTHENTICATE, 1 },
		{ "AUTHENTICATE \"PLAIN\" \"AGEAYg==\"\r\n", MSIEVE_CMD_AUTHENTICATE, 2 },
		{ "HAVESPACE \"s\" 12345\r\n", MSIEVE_CMD_HAVESPACE, 2 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct msieve_command cmd;
		const char *error = NULL;
		ck_assert_msg(parse_str(cases[i].line, &cmd, &error) == MSIEVE_PARSE_OK,
			      "%s: %s", cases[i].line, error);
		ck_assert_int_eq(cmd.verb, cases[i].verb);
		ck_assert_uint_eq(cmd.n_args, cases[i].n_args);
		msieve_command_clear(&cmd);
	}
}
END_TEST

START_TEST(test_strings)
{
	struct msieve_command cmd;
	const char *error;

	ck_assert_int_eq(parse_str("GETSCRIPT \"a\\\"b\\\\c\"\r\n", &cmd, &error),
			 MSIEVE_PARSE_OK);
	ck_assert_str_eq(cmd.args[0].str, "a\"b\\c");
	ck_assert_uint_eq(cmd.args[0].len, 5);
	msieve_command_clear(&cmd);

	ck_assert_int_eq(parse_str("HAVESPACE \"s\" 4294967295\r\n", &cmd, &error),
			 MSIEVE_PARSE_OK);
	ck_assert(cmd.args[1].is_number);
	ck_assert_uint_eq(cmd.args[1].number, 4294967295u);
	msieve_command_clear(&cmd);

	/* a literal, with and without '+', may hold CRLF and NUL */
	static const char lit[] = "PUTSCRIPT \"x\" {9+}\r\nkeep;\r\n\0z\r\n";
	ck_assert_int_eq(parse(lit, sizeof lit - 1, &cmd, &error), MSIEVE_PARSE_OK);
	ck_assert_int_eq(cmd.verb, MSIEVE_CMD_PUTSCRIPT);
	ck_assert_uint_eq(cmd.args[1].len, 9);
	ck_assert_int_eq(memcmp(cmd.args[1].str, "keep;\r\n\0z", 9), 0);
	msieve_command_clear(&cmd);
	ck_assert_int_eq(parse_str("PUTSCRIPT {1}\r\nx {0+}\r\n\r\n", &cmd, &error),
			 MSIEVE_PARSE_OK);
	ck_assert_str_eq(cmd.args[0].str, "x");
	ck_assert_uint_eq(cmd.args[1].len, 0);
	msieve_command_clear(&cmd);
}
END_TEST

START_TEST(test_bad_commands)
{
	static const char *const bad[] = {
		"GETSCRIPT\r\n",			/* missing argument */
		"GETSCRIPT \"a\" \"b\"\r\n",		/* too many */
		"GETSCRIPT 12\r\n",			/* number for a string */
		"HAVESPACE \"a\" \"12\"\r\n",		/* string for a number */
		"HAVESPACE \"a\" 4294967296\r\n",	/* number too large */
		"GETSCRIPT \"a\\x\"\r\n",		/* bad escape */
		"GETSCRIPT \"a\r\n",			/* CR in a quoted string */
		"GETSCRIPT abc\r\n",			/* an atom is no string */
		"GETSCRIPT \"a\"\"b\"\r\n",		/* no space */
		"GETSCRIPT {x}\r\n",			/* bad literal */
		"GETSCRIPT {3} abc\r\n",		/* literal length not last */
		"CAPABILITY \"x\"\r\n",
		"\r\n",					/* empty line */
		"1CAPABILITY\r\n",
		"CAPA-BILITY\r\n",
		"AUTHENTICATE\r\n",
		"NOOP \"a\" \"b\"\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct msieve_command cmd;
		const char *error = NULL;
		ck_assert_msg(parse_str(bad[i], &cmd, &error) == MSIEVE_PARSE_ERROR,
			      "accepted: %s", bad[i]);
		ck_assert_uint_eq(cmd.n_args, 0);
	}
	/* a quoted string of 1024 octets passes, 1025 does not */
	char line[1100];
	for (size_t n = 1024; n <= 1025; n++) {
		struct msieve_command cmd;
		const char *error = NULL;
		memcpy(line, "GETSCRIPT \"", 11);
		memset(line + 11, 'a', n);
		memcpy(line + 11 + n, "\"\r\n", 4);
		ck_assert_int_eq(parse_str(line, &cmd, &error),
				 n == 1024 ? MSIEVE_PARSE_OK : MSIEVE_PARSE_ERROR);
		msieve_command_clear(&cmd);
	}
}
END_TEST

START_TEST(test_unknown)
{
	struct msieve_command cmd;
	const char *error;
	/* unknown atoms parse, with their arguments read past literals */
	ck_assert_int_eq(parse_str("XYZZY \"a\" {3+}\r\nabc 1 2 3 \"b\"\r\n", &cmd, &error),
			 MSIEVE_PARSE_OK);
	ck_assert_int_eq(cmd.verb, MSIEVE_CMD_UNKNOWN);
	ck_assert_uint_eq(cmd.n_args, 0);
	msieve_command_clear(&cmd);
	ck_assert_int_eq(parse_str("PUTSCRIPTX\r\n", &cmd, &error), MSIEVE_PARSE_OK);
	ck_assert_int_eq(cmd.verb, MSIEVE_CMD_UNKNOWN);
	ck_assert_str_eq(msieve_verb_name(MSIEVE_CMD_RENAMESCRIPT), "RENAMESCRIPT");
	ck_assert_str_eq(msieve_verb_name(MSIEVE_CMD_COUNT), "?");
}
END_TEST

START_TEST(test_literal_limit)
{
	struct msieve_command cmd;
	const char *error;
	size_t used, need;
	static const char in[] = "PUTSCRIPT \"a\" {1001+}\r\nxxx";
	ck_assert_int_eq(msieve_parse(in, sizeof in - 1, MSIEVE_PARSE_COMMAND, LIT_MAX,
				      &cmd, &used, &need, &error), MSIEVE_PARSE_TOOBIG);
	ck_assert_uint_eq(used, sizeof in - 4);
	ck_assert_uint_eq(need, 1001);
	/* at the limit: asks for the rest */
	static const char in2[] = "PUTSCRIPT \"a\" {1000+}\r\nxxx";
	ck_assert_int_eq(msieve_parse(in2, sizeof in2 - 1, MSIEVE_PARSE_COMMAND, LIT_MAX,
				      &cmd, &used, &need, &error), MSIEVE_PARSE_NEED_MORE);
	ck_assert_uint_eq(need, 997);
}
END_TEST

START_TEST(test_responses)
{
	struct msieve_command cmd;
	const char *error;
	size_t used, need;
	static const char *const good[] = { "\"AGEAYg==\"\r\n", "{4+}\r\nAGEA\r\n", "\"\"\n", "\"*\"\r\n" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		ck_assert_int_eq(msieve_parse(good[i], strlen(good[i]), MSIEVE_PARSE_RESPONSE,
					      LIT_MAX, &cmd, &used, &need, &error),
				 MSIEVE_PARSE_OK);
		ck_assert_uint_eq(used, strlen(good[i]));
		ck_assert_uint_eq(cmd.n_args, 1);
		msieve_command_clear(&cmd);
	}
	static const char *const bad[] = { "AGEA\r\n", "12\r\n", "\"a\" \"b\"\r\n" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_int_eq(msieve_parse(bad[i], strlen(bad[i]), MSIEVE_PARSE_RESPONSE,
					      LIT_MAX, &cmd, &used, &need, &error),
				 MSIEVE_PARSE_ERROR);
}
END_TEST

/* Every prefix of a valid command asks for more; literal prefixes say
 * how many octets are missing. */
START_TEST(test_byte_at_a_time)
{
	static const char in[] = "PUTSCRIPT \"my \\\"s\\\"\" {12+}\r\nkeep;\r\nstop;\r\n";
	size_t n = sizeof in - 1;
	size_t header = strlen("PUTSCRIPT \"my \\\"s\\\"\" {12+}\r\n");
	for (size_t i = 0; i < n; i++) {
		struct msieve_command cmd;
		const char *error;
		size_t used, need;
		ck_assert_int_eq(msieve_parse(in, i, MSIEVE_PARSE_COMMAND, LIT_MAX, &cmd,
					      &used, &need, &error), MSIEVE_PARSE_NEED_MORE);
		if (i >= header && i < header + 12)
			ck_assert_uint_eq(need, header + 12 - i);
		else
			ck_assert_uint_eq(need, 0);
	}
	struct msieve_command cmd;
	const char *error;
	ck_assert_int_eq(parse(in, n, &cmd, &error), MSIEVE_PARSE_OK);
	ck_assert_str_eq(cmd.args[0].str, "my \"s\"");
	ck_assert_str_eq(cmd.args[1].str, "keep;\r\nstop;");
	msieve_command_clear(&cmd);
}
END_TEST

/* Pipelined commands: each parse takes one, the next starts after it. */
START_TEST(test_pipelined)
{
	static const char in[] = "NOOP\r\nGETSCRIPT {1+}\r\na\r\nLOGOUT\r\n";
	static const enum msieve_verb verbs[] = { MSIEVE_CMD_NOOP, MSIEVE_CMD_GETSCRIPT,
						   MSIEVE_CMD_LOGOUT };
	size_t pos = 0;
	for (size_t i = 0; i < 3; i++) {
		struct msieve_command cmd;
		const char *error;
		size_t used, need;
		ck_assert_int_eq(msieve_parse(in + pos, sizeof in - 1 - pos, MSIEVE_PARSE_COMMAND,
					      LIT_MAX, &cmd, &used, &need, &error),
				 MSIEVE_PARSE_OK);
		ck_assert_int_eq(cmd.verb, verbs[i]);
		msieve_command_clear(&cmd);
		pos += used;
	}
	ck_assert_uint_eq(pos, sizeof in - 1);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("managesieve_parser");
	TCase *tc = tcase_create("parser");
	tcase_add_test(tc, test_simple_commands);
	tcase_add_test(tc, test_strings);
	tcase_add_test(tc, test_bad_commands);
	tcase_add_test(tc, test_unknown);
	tcase_add_test(tc, test_literal_limit);
	tcase_add_test(tc, test_responses);
	tcase_add_test(tc, test_byte_at_a_time);
	tcase_add_test(tc, test_pipelined);
	suite_add_tcase(s, tc);
	return s;
}
