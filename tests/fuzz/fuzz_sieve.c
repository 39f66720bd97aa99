/* libFuzzer target: the Sieve lexer, parser and checker over arbitrary
 * script text, and each script that compiles run over a fixed message
 * (so that the interpreter meets every shape the checker lets through). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "sieve/sieve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char msg[] =
	"Return-Path: <alice@example.com>\r\n"
	"From: Alice <alice+lists@example.com>\r\n"
	"To: bob@example.org, \"Carol\" <carol@example.org>\r\n"
	"Subject: =?utf-8?q?Caf=C3=A9?= [list] hello\r\n"
	"Date: Tue, 1 Apr 2025 10:00:00 +0200\r\n"
	"List-Id: <users.example.com>\r\n"
	"Message-ID: <1@example.com>\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=b\r\n"
	"\r\n"
	"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello world\r\n"
	"--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+aGk8L2I+\r\n"
	"--b--\r\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so reads past the end are caught */
	char *text = malloc(size > 0 ? size : 1);
	memcpy(text, data, size);
	struct buf errors = BUF_INIT;
	struct sieve_script *s = NULL;
	if (sieve_compile(text, size, &s, &errors) == 0) {
		if (errors.len != 0)
			abort();
		struct sieve_env env;
		memset(&env, 0, sizeof env);
		env.msg = msg;
		env.msg_len = sizeof msg - 1;
		env.sender = "alice@example.com";
		env.recipient = "bob@example.org";
		env.now = 1743500000;
		env.spam_percent = -1;
		struct sieve_result r;
		sieve_run(s, &env, &r);
		struct buf out = BUF_INIT;
		sieve_result_write(&r, &out);
		buf_free(&out);
		sieve_result_clear(&r);
		sieve_script_free(&s);
	} else if (errors.len == 0 || strncmp(errors.data, "line ", 5) != 0) {
		abort();	/* every failure says where */
	}
	buf_free(&errors);
	free(text);
	return 0;
}
