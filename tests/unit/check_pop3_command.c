/* Unit tests for pop3/command: the POP3 command parser. */
#include <string.h>

#include "core/buf.h"
#include "core/limits.h"
#include "pop3/command.h"
#include "tests/unit/runner.h"

/* Parses one whole line and checks the result kind. */
static enum pop3_parse_result
parse(const char *line, struct pop3_command *cmd, const char **error)
{
	size_t used = 0;
	*error = NULL;
	enum pop3_parse_result r = pop3_command_parse(line, strlen(line), cmd,
						      &used, error);
	if (r == POP3_PARSE_OK || r == POP3_PARSE_ERROR)
		ck_assert_uint_eq(used, strlen(line));
	if (r == POP3_PARSE_ERROR)
		ck_assert_ptr_nonnull(*error);
	return r;
}

START_TEST(test_simple_commands)
{
	static const struct {
		const char *line;
		enum pop3_verb verb;
	} cases[] = {
		{ "STAT\r\n", POP3_CMD_STAT },
		{ "stat\r\n", POP3_CMD_STAT },
		{ "NoOp\r\n", POP3_CMD_NOOP },
		{ "RSET\r\n", POP3_CMD_RSET },
		{ "QUIT\r\n", POP3_CMD_QUIT },
		{ "CAPA\r\n", POP3_CMD_CAPA },
		{ "STLS\r\n", POP3_CMD_STLS },
		{ "LIST\r\n", POP3_CMD_LIST },
		{ "UIDL\r\n", POP3_CMD_UIDL },
		{ "AUTH\r\n", POP3_CMD_AUTH },
		/* a bare LF is accepted; trailing spaces are ignored */
		{ "STAT\n", POP3_CMD_STAT },
		{ "QUIT  \r\n", POP3_CMD_QUIT },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct pop3_command cmd;
		const char *error;
		ck_assert_int_eq(parse(cases[i].line, &cmd, &error),
				 POP3_PARSE_OK);
		ck_assert_int_eq(cmd.verb, cases[i].verb);
		ck_assert(!cmd.has_msg);
		ck_assert_ptr_null(cmd.arg);
		pop3_command_clear(&cmd);
	}
}
END_TEST

START_TEST(test_message_numbers)
{
	struct pop3_command cmd;
	const char *error;

	ck_assert_int_eq(parse("RETR 1\r\n", &cmd, &error), POP3_PARSE_OK);
	ck_assert_int_eq(cmd.verb, POP3_CMD_RETR);
	ck_assert(cmd.has_msg);
	ck_assert_uint_eq(cmd.msg, 1);
	pop3_command_clear(&cmd);

	ck_assert_int_eq(parse("list 4294967295\r\n", &cmd, &error),
			 POP3_PARSE_OK);
	ck_assert_int_eq(cmd.verb, POP3_CMD_LIST);
	ck_assert_uint_eq(cmd.msg, 4294967295u);
	pop3_command_clear(&cmd);

	ck_assert_int_eq(parse("TOP 12 0\r\n", &cmd, &error), POP3_PARSE_OK);
	ck_assert_int_eq(cmd.verb, POP3_CMD_TOP);
	ck_assert_uint_eq(cmd.msg, 12);
	ck_assert_uint_eq(cmd.lines, 0);
	pop3_command_clear(&cmd);

	ck_assert_int_eq(parse("DELE 007\r\n", &cmd, &error), POP3_PARSE_OK);
	ck_assert_uint_eq(cmd.msg, 7);
	pop3_command_clear(&cmd);

	/* zero parses; "no such message" is the session's answer */
	ck_assert_int_eq(parse("UIDL 0\r\n", &cmd, &error), POP3_PARSE_OK);
	ck_assert(cmd.has_msg);
	ck_assert_uint_eq(cmd.msg, 0);
	pop3_command_clear(&cmd);
}
END_TEST

START_TEST(test_bad_arguments)
{
	static const char *const bad[] = {
		"RETR\r\n",		/* missing */
		"RETR x\r\n",
		"RETR 1 2\r\n",		/* too many */
		"RETR -1\r\n",
		"RETR +1\r\n",
		"RETR 4294967296\r\n",	/* over 32 bits */
		"RETR 00000000001\r\n",	/* 11 digits */
		"DELE 1x\r\n",
		"TOP 1\r\n",
		"TOP 1 2 3\r\n",
		"TOP x 1\r\n",
		"TOP 1 y\r\n",
		"LIST 1 2\r\n",
		"STAT 1\r\n",
		"QUIT now\r\n",
		"USER\r\n",
		"USER a b\r\n",
		"PASS\r\n",
		"AUTH PLAIN x y\r\n",
		"USER a\x01\r\n",	/* control byte */
		"USER a\rb\r\n",	/* bare CR */
		"\r\n",			/* empty */
		"\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct pop3_command cmd;
		const char *error;
		if (parse(bad[i], &cmd, &error) != POP3_PARSE_ERROR)
			ck_abort_msg("accepted: %s", bad[i]);
		ck_assert_ptr_null(cmd.arg);
		ck_assert_ptr_null(cmd.initial);
	}
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char line[] = "USER a\0b\r\nPASS x\0y\r\n";
	struct pop3_command cmd;
	const char *error = NULL;
	size_t used;

	ck_assert_int_eq(pop3_command_parse(line, 10, &cmd, &used, &error),
			 POP3_PARSE_ERROR);
	ck_assert_uint_eq(used, 10);
	ck_assert_int_eq(pop3_command_parse(line + 10, 10, &cmd, &used,
					    &error), POP3_PARSE_ERROR);
	ck_assert_uint_eq(used, 10);
}
END_TEST

START_TEST(test_user_pass_auth)
{
	struct pop3_command cmd;
	const char *error;

	ck_assert_int_eq(parse("USER alice@example.org\r\n", &cmd, &error),
			 POP3_PARSE_OK);
	ck_assert_int_eq(cmd.verb, POP3_CMD_USER);
	ck_assert_str_eq(cmd.arg, "alice@example.org");
	pop3_command_clear(&cmd);
	ck_assert_ptr_null(cmd.arg);

	/* RFC 1939 §7: spaces belong to the password, leading and trailing */
	ck_assert_int_eq(parse("PASS  two words \r\n", &cmd, &error),
			 POP3_PARSE_OK);
	ck_assert_int_eq(cmd.verb, POP3_CMD_PASS);
	ck_assert_str_eq(cmd.arg, " two words ");
	pop3_command_clear(&cmd);

	ck_assert_int_eq(parse("pass \r\n", &cmd, &error), POP3_PARSE_OK);
	ck_assert_str_eq(cmd.arg, "");
	pop3_command_clear(&cmd);

	/* 8-bit bytes pass (UTF-8 passwords) */
	ck_assert_int_eq(parse("PASS gr\xc3\xbc\xc3\x9f\r\n", &cmd, &error),
			 POP3_PARSE_OK);
	ck_assert_str_eq(cmd.arg, "gr\xc3\xbc\xc3\x9f");
	pop3_command_clear(&cmd);

	ck_assert_int_eq(parse("AUTH PLAIN\r\n", &cmd, &error), POP3_PARSE_OK);
	ck_assert_int_eq(cmd.verb, POP3_CMD_AUTH);
	ck_assert_str_eq(cmd.arg, "PLAIN");
	ck_assert_ptr_null(cmd.initial);
	pop3_command_clear(&cmd);

	ck_assert_int_eq(parse("auth plain AGFsaWNlAHNlY3JldA==\r\n", &cmd,
			       &error), POP3_PARSE_OK);
	ck_assert_str_eq(cmd.arg, "plain");
	ck_assert_str_eq(cmd.initial, "AGFsaWNlAHNlY3JldA==");
	pop3_command_clear(&cmd);

	ck_assert_int_eq(parse("AUTH PLAIN =\r\n", &cmd, &error),
			 POP3_PARSE_OK);
	ck_assert_str_eq(cmd.initial, "=");
	pop3_command_clear(&cmd);
}
END_TEST

START_TEST(test_unknown)
{
	static const char *const lines[] = {
		"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n",
		"HELO\r\n", "XTND XMIT\r\n", "RE\r\n", "RETRX 1\r\n",
		" STAT\r\n", "\x80\x81\x82\r\n", "ST\tAT\r\n",
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		struct pop3_command cmd;
		const char *error;
		ck_assert_int_eq(parse(lines[i], &cmd, &error), POP3_PARSE_OK);
		ck_assert_int_eq(cmd.verb, POP3_CMD_UNKNOWN);
		pop3_command_clear(&cmd);
	}
	ck_assert_str_eq(pop3_verb_name(POP3_CMD_TOP), "TOP");
	ck_assert_str_eq(pop3_verb_name(POP3_CMD_UNKNOWN), "?");
	ck_assert_str_eq(pop3_verb_name(POP3_CMD_COUNT), "?");
}
END_TEST

START_TEST(test_line_limit)
{
	/* RFC 2449 §4: 255 octets with CRLF is the longest command */
	struct buf b = BUF_INIT;
	struct pop3_command cmd;
	const char *error = NULL;
	size_t used = 0;

	buf_puts(&b, "PASS ");
	while (b.len < POP3_LINE_MAX - 2)
		buf_putc(&b, 'x');
	buf_puts(&b, "\r\n");
	ck_assert_uint_eq(b.len, POP3_LINE_MAX);
	ck_assert_int_eq(pop3_command_parse(b.data, b.len, &cmd, &used,
					    &error), POP3_PARSE_OK);
	ck_assert_uint_eq(strlen(cmd.arg), POP3_LINE_MAX - 7);
	pop3_command_clear(&cmd);

	/* one more octet is too long, even before its LF has arrived */
	buf_reset(&b);
	buf_puts(&b, "PASS ");
	while (b.len < POP3_LINE_MAX - 1)
		buf_putc(&b, 'x');
	buf_puts(&b, "\r");
	ck_assert_uint_eq(b.len, POP3_LINE_MAX);
	ck_assert_int_eq(pop3_command_parse(b.data, b.len, &cmd, &used,
					    &error), POP3_PARSE_TOOLONG);
	ck_assert_ptr_nonnull(error);
	/* and shorter than that, it is only waiting for more */
	ck_assert_int_eq(pop3_command_parse(b.data, b.len - 1, &cmd, &used,
					    &error), POP3_PARSE_NEED_MORE);
	buf_free(&b);
}
END_TEST

/* A pipelined stream of commands, as RFC 2449 §6.6 PIPELINING allows. */
static const char stream[] =
	"CAPA\r\n"
	"USER alice@example.org\r\n"
	"PASS s3cret pass\r\n"
	"STAT\r\n"
	"LIST 2\r\n"
	"RETR x\r\n"		/* an error in the middle keeps the stream in step */
	"TOP 3 10\n"
	"UIDL\r\n"
	"QUIT\r\n";

/* Parses everything in in, moving parsed lines out of it, and appends one
 * line per command to out ("VERB msg lines arg" or "ERR"). */
static void
drain(struct buf *in, struct buf *out)
{
	for (;;) {
		struct pop3_command cmd;
		const char *error = NULL;
		size_t used = 0;
		enum pop3_parse_result r = pop3_command_parse(in->data, in->len,
							      &cmd, &used,
							      &error);
		if (r == POP3_PARSE_NEED_MORE)
			return;
		ck_assert_int_ne(r, POP3_PARSE_TOOLONG);
		if (r == POP3_PARSE_ERROR) {
			buf_puts(out, "ERR\n");
		} else {
			buf_printf(out, "%s %u %u %s\n",
				   pop3_verb_name(cmd.verb), cmd.msg,
				   cmd.lines, cmd.arg ? cmd.arg : "-");
			pop3_command_clear(&cmd);
		}
		buf_consume(in, used);
	}
}

static const char expected[] =
	"CAPA 0 0 -\n"
	"USER 0 0 alice@example.org\n"
	"PASS 0 0 s3cret pass\n"
	"STAT 0 0 -\n"
	"LIST 2 0 -\n"
	"ERR\n"
	"TOP 3 10 -\n"
	"UIDL 0 0 -\n"
	"QUIT 0 0 -\n";

START_TEST(test_byte_at_a_time)
{
	struct buf in = BUF_INIT, out = BUF_INIT;

	for (size_t i = 0; i < sizeof stream - 1; i++) {
		buf_append(&in, &stream[i], 1);
		drain(&in, &out);
	}
	ck_assert_uint_eq(in.len, 0);
	ck_assert_str_eq(buf_cstr(&out), expected);
	buf_free(&in);
	buf_free(&out);
}
END_TEST

START_TEST(test_split_reads)
{
	/* every split into two reads gives the same commands */
	for (size_t cut = 0; cut <= sizeof stream - 1; cut++) {
		struct buf in = BUF_INIT, out = BUF_INIT;
		buf_append(&in, stream, cut);
		drain(&in, &out);
		buf_append(&in, stream + cut, sizeof stream - 1 - cut);
		drain(&in, &out);
		ck_assert_uint_eq(in.len, 0);
		ck_assert_str_eq(buf_cstr(&out), expected);
		buf_free(&in);
		buf_free(&out);
	}
}
END_TEST

START_TEST(test_parse_line)
{
	struct pop3_command cmd;
	const char *error = NULL;

	/* conn_read_line hands lines with or without their terminator */
	ck_assert_int_eq(pop3_command_parse_line("DELE 5", 6, &cmd, &error),
			 POP3_PARSE_OK);
	ck_assert_int_eq(cmd.verb, POP3_CMD_DELE);
	ck_assert_uint_eq(cmd.msg, 5);
	pop3_command_clear(&cmd);
	ck_assert_int_eq(pop3_command_parse_line("DELE 5\r\n", 8, &cmd,
						 &error), POP3_PARSE_OK);
	pop3_command_clear(&cmd);
	/* the length bounds the line: "DELE 5" read as "DELE" */
	ck_assert_int_eq(pop3_command_parse_line("DELE 5", 4, &cmd, &error),
			 POP3_PARSE_ERROR);
}
END_TEST

START_TEST(test_parse_number)
{
	uint32_t v = 99;
	ck_assert_int_eq(pop3_parse_number("0", 1, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(pop3_parse_number("4294967295", 10, &v), 0);
	ck_assert_uint_eq(v, 4294967295u);
	ck_assert_int_eq(pop3_parse_number("4294967296", 10, &v), -1);
	ck_assert_int_eq(pop3_parse_number("9999999999", 10, &v), -1);
	ck_assert_int_eq(pop3_parse_number("", 0, &v), -1);
	ck_assert_int_eq(pop3_parse_number("12a", 3, &v), -1);
	/* only len bytes count */
	ck_assert_int_eq(pop3_parse_number("12a", 2, &v), 0);
	ck_assert_uint_eq(v, 12);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("pop3_command");
	TCase *tc = tcase_create("parser");
	tcase_add_test(tc, test_simple_commands);
	tcase_add_test(tc, test_message_numbers);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_user_pass_auth);
	tcase_add_test(tc, test_unknown);
	tcase_add_test(tc, test_line_limit);
	tcase_add_test(tc, test_byte_at_a_time);
	tcase_add_test(tc, test_split_reads);
	tcase_add_test(tc, test_parse_line);
	tcase_add_test(tc, test_parse_number);
	suite_add_tcase(s, tc);
	return s;
}
