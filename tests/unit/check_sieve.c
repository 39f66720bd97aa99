/* Unit tests for sieve/: the parser's errors, and the interpreter's
 * actions over messages. */
#include <string.h>

#include "core/buf.h"
#include "sieve/sieve.h"
#include "tests/unit/runner.h"

static const char MSG[] =
	"From: Alice <alice@example.com>\r\n"
	"To: bob@example.org\r\n"
	"Subject: [users] hello there\r\n"
	"List-Id: Users <users.example.com>\r\n"
	"Message-ID: <m1@example.com>\r\n"
	"Date: Tue, 01 Apr 2025 10:00:00 +0200\r\n"
	"\r\n"
	"body text\r\n";

/* The result of script over msg, as `mailhub sieve test` prints it. */
static char *
run_on(const char *script, const char *msg, const char *sender)
{
	struct buf errors = BUF_INIT, out = BUF_INIT;
	struct sieve_script *s;
	int ret = sieve_compile(script, strlen(script), &s, &errors);
	ck_assert_msg(ret == 0, "%s: %s", script, buf_cstr(&errors));
	struct sieve_env env;
	memset(&env, 0, sizeof env);
	env.msg = msg;
	env.msg_len = strlen(msg);
	env.sender = sender;
	env.recipient = "bob@example.org";
	env.now = 1743500000;
	env.spam_percent = -1;
	struct sieve_result r;
	sieve_run(s, &env, &r);
	sieve_result_write(&r, &out);
	sieve_result_clear(&r);
	sieve_script_free(&s);
	buf_free(&errors);
	return buf_steal(&out);
}

static void
ck_run(const char *script, const char *want)
{
	char *got = run_on(script, MSG, "alice@example.com");
	ck_assert_msg(strcmp(got, want) == 0, "%s\n got: %s\nwant: %s", script, got, want);
	free(got);
}

static void
ck_error(const char *script, const char *want)
{
	struct buf errors = BUF_INIT;
	struct sieve_script *s;
	ck_assert_msg(sieve_compile(script, strlen(script), &s, &errors) < 0, "%s", script);
	ck_assert_msg(strstr(buf_cstr(&errors), want) != NULL, "%s: %s", script,
		      buf_cstr(&errors));
	buf_free(&errors);
}

START_TEST(test_errors)
{
	ck_error("fileinto \"x\";", "line 1: error: unknown command 'fileinto'");
	ck_error("require \"fileinto\";\n\nfileinto;", "line 3: error:");
	ck_error("if true { keep; ", "missing '}'");
	ck_error("keep", "line 1: error:");
	ck_error("require \"nosuch\";", "unknown Sieve capability 'nosuch'");
	ck_error("keep;\nrequire \"fileinto\";", "line 2: error: the require command");
	ck_error("if header :contains :is \"a\" \"b\" { keep; }", "conflicts");
	ck_error("if header :regex \"a\" \"b\" { keep; }", "needs the 'regex' extension");
	ck_error("require \"regex\"; if header :regex \"a\" \"(\" { keep; }",
		 "invalid regular expression");
	ck_error("redirect \"not an address\";", "invalid");
	ck_error("else { keep; }", "must follow an if");
	ck_error("/* unterminated", "unterminated comment");
	ck_error("\"string\";", "expected a command");
	ck_error("if size :over 10 keep;", "line 1: error:");
	ck_error("require \"relational\"; if header :value \"xx\" \"a\" \"b\" { keep; }",
		 "invalid relational match");
	/* multi-line string and line counting */
	ck_error("require \"vacation\";\nvacation text:\nline\n.\n;\nnosuch;",
		 "line 6: error: unknown command 'nosuch'");
}
END_TEST

START_TEST(test_basic)
{
	ck_run("keep;", "keep\n");
	ck_run("", "implicit keep\n");
	ck_run("discard;", "discard\n");
	ck_run("require \"fileinto\"; if header :contains \"list-id\" \"users\" "
	       "{ fileinto \"Lists\"; }", "fileinto \"Lists\"\n");
	ck_run("require \"fileinto\"; if address :domain :is \"from\" \"example.com\" "
	       "{ fileinto \"A\"; stop; } fileinto \"B\";", "fileinto \"A\"\n");
	ck_run("if not exists \"x-nope\" { redirect \"c@example.net\"; }",
	       "redirect <c@example.net>\n");
	ck_run("require \"copy\"; redirect :copy \"c@example.net\";",
	       "redirect <c@example.net> :copy\nimplicit keep\n");
	ck_run("if size :over 1M { discard; } elsif size :under 10 { discard; } else { keep; }",
	       "keep\n");
	ck_run("if anyof (false, header :matches \"subject\" \"*hello*\") { keep; }", "keep\n");
	ck_run("if allof (true, false) { discard; }", "implicit keep\n");
	/* the same fileinto twice is done once */
	ck_run("require \"fileinto\"; fileinto \"X\"; fileinto \"X\";", "fileinto \"X\"\n");
}
END_TEST

START_TEST(test_flags_variables)
{
	ck_run("require [\"imap4flags\", \"fileinto\"]; addflag \"\\\\Seen\"; "
	       "addflag [\"a\", \"b a\"]; removeflag \"A\"; fileinto \"F\";",
	       "fileinto \"F\" flags=\"\\Seen b\"\n");
	ck_run("require [\"imap4flags\"]; setflag \"x\"; keep :flags \"y\";",
	       "keep flags=\"y\"\n");
	ck_run("require [\"imap4flags\"]; setflag \"x\";", "implicit keep flags=\"x\"\n");
	ck_run("require [\"variables\", \"fileinto\"]; "
	       "if header :matches \"subject\" \"[*] *\" { fileinto \"${1}/${2}\"; }",
	       "fileinto \"users/hello there\"\n");
	ck_run("require [\"variables\", \"fileinto\"]; set :upper :length \"a\" \"abc\"; "
	       "set :upperfirst \"b\" \"xyz\"; fileinto \"${a}-${b}-${nosuch}\";",
	       "fileinto \"3-Xyz-\"\n");
	ck_run("require [\"variables\", \"regex\", \"fileinto\"]; "
	       "if header :regex \"from\" \"^(.*) <(.*)@\" { fileinto \"${2}\"; }",
	       "fileinto \"alice\"\n");
	ck_run("require [\"variables\", \"relational\", \"comparator-i;ascii-numeric\"]; "
	       "if string :count \"eq\" :comparator \"i;ascii-numeric\" [\"a\", \"\", \"b\"] \"2\" "
	       "{ discard; }", "discard\n");
}
END_TEST

START_TEST(test_vacation)
{
	const char *v = "require \"vacation\"; vacation :days 3 :subject \"away\" \"I am away\";";
	char *got = run_on(v, MSG, "alice@example.com");
	/* a list message: no reply */
	ck_assert_msg(strstr(got, "vacation skip") != NULL, "%s", got);
	free(got);
	const char *plain = "From: Alice <alice@example.com>\r\nTo: bob@example.org\r\n"
			    "Subject: hi\r\nMessage-ID: <p@x>\r\n\r\nhello\r\n";
	got = run_on(v, plain, "alice@example.com");
	ck_assert_msg(strstr(got, "vacation send to=<alice@example.com> seconds=259200") != NULL,
		      "%s", got);
	ck_assert_msg(strstr(got, "  Auto-Submitted: auto-replied (vacation)") != NULL, "%s", got);
	ck_assert_msg(strstr(got, "  In-Reply-To: <p@x>") != NULL, "%s", got);
	free(got);
	/* never to the null sender, nor to a robot */
	got = run_on(v, plain, "");
	ck_assert_msg(strstr(got, "vacation skip") != NULL, "%s", got);
	free(got);
	got = run_on(v, plain, "owner-list@example.com");
	ck_assert_msg(strstr(got, "vacation skip") != NULL, "%s", got);
	free(got);
}
END_TEST

START_TEST(test_runtime_limits)
{
	/* the fifth redirect is over the limit: only the implicit keep stays */
	char *got = run_on("redirect \"a@x.org\"; redirect \"b@x.org\"; redirect \"c@x.org\";"
			   "redirect \"d@x.org\"; redirect \"e@x.org\";", MSG, "a@b.c");
	ck_assert_msg(strncmp(got, "error: total number of redirect", 31) == 0, "%s", got);
	ck_assert_msg(strstr(got, "\nimplicit keep\n") != NULL, "%s", got);
	free(got);
	/* reject conflicts with keep */
	got = run_on("require \"reject\"; reject \"no\"; keep;", MSG, "a@b.c");
	ck_assert_msg(strncmp(got, "error: ", 7) == 0, "%s", got);
	free(got);
}
END_TEST

START_TEST(test_editheader_date)
{
	ck_run("require [\"editheader\", \"fileinto\"]; addheader \"X-Tag\" \"yes\"; "
	       "if header :is \"x-tag\" \"yes\" { fileinto \"T\"; }", "fileinto \"T\"\n");
	ck_run("require [\"editheader\"]; deleteheader \"list-id\"; "
	       "if exists \"list-id\" { discard; }", "implicit keep\n");
	/* a header read before an edit is read again after it (the run keeps
	 * decoded values only while the header stays as it is) */
	ck_run("require [\"editheader\", \"fileinto\"]; "
	       "if header :is \"x-tag\" \"yes\" { fileinto \"Before\"; } "
	       "addheader \"X-Tag\" \"yes\"; "
	       "if header :is \"x-tag\" \"yes\" { fileinto \"After\"; } "
	       "if header :contains \"subject\" \"hello\" { fileinto \"S1\"; } "
	       "deleteheader \"subject\"; "
	       "if header :contains \"subject\" \"hello\" { fileinto \"S2\"; }",
	       "fileinto \"After\"\nfileinto \"S1\"\n");
	ck_run("require [\"date\", \"relational\", \"fileinto\"]; "
	       "if date :zone \"+0000\" :value \"eq\" \"date\" \"hour\" \"08\" { fileinto \"UTC8\"; }",
	       "fileinto \"UTC8\"\n");
	ck_run("require [\"date\", \"fileinto\"]; "
	       "if date :originalzone \"date\" \"iso8601\" \"2025-04-01T10:00:00+02:00\" "
	       "{ fileinto \"ISO\"; }", "fileinto \"ISO\"\n");
}
END_TEST

/* Feeding the parser a script cut at every byte never crashes and always
 * says where the error is. */
START_TEST(test_truncated)
{
	const char *s = "require [\"fileinto\", \"variables\"];\n"
			"if header :matches \"subject\" \"*\" { set \"s\" \"${1}\"; }\n"
			"/* c */ # x\n fileinto text:\nINBOX\n.\n;";
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		struct buf errors = BUF_INIT;
		struct sieve_script *sc = NULL;
		char *part = strndup(s, i);
		if (sieve_compile(part, i, &sc, &errors) < 0)
			ck_assert_msg(strncmp(buf_cstr(&errors), "line ", 5) == 0, "%zu", i);
		sieve_script_free(&sc);
		free(part);
		buf_free(&errors);
	}
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("sieve");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_flags_variables);
	tcase_add_test(tc, test_vacation);
	tcase_add_test(tc, test_runtime_limits);
	tcase_add_test(tc, test_editheader_date);
	tcase_add_test(tc, test_truncated);
	suite_add_tcase(s, tc);
	return s;
}
