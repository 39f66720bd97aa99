/* libFuzzer target: SMTP command lines, paths and ESMTP parameters. */
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "smtp/command.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf line = BUF_INIT, scratch = BUF_INIT;
	struct smtp_command cmd;
	const char *error;

	if (size > 16384)
		return 0;
	buf_append(&line, data, size);
	if (smtp_command_split(line.data != NULL ? line.data : (char *)"", line.len, &cmd,
			       &error) == 0) {
		struct smtp_mail_args m;
		struct smtp_rcpt_args r;
		uint64_t n;
		bool last;
		const char *mech, *initial;
		if (smtp_parse_mail(cmd.args, &m, &error) == 0)
			smtp_mail_args_clear(&m);
		if (smtp_parse_rcpt(cmd.args, (size & 1) != 0, &r, &error) == 0)
			smtp_rcpt_args_clear(&r);
		smtp_parse_bdat(cmd.args, &n, &last, &error);
		smtp_parse_auth(cmd.args, &scratch, &mech, &initial, &error);
		smtp_helo_valid(cmd.args);
	}
	/* the raw bytes as a path and as xtext, too */
	struct smtp_path p;
	const char *end;
	buf_reset(&line);
	buf_append(&line, data, size);
	if (smtp_parse_path(buf_cstr(&line), true, true, &p, &end, &error) == 0)
		smtp_path_clear(&p);
	struct buf out = BUF_INIT;
	if (smtp_xtext_decode((const char *)data, size, &out) == 0) {
		struct buf again = BUF_INIT;
		smtp_xtext_encode(out.data, out.len, &again);
		buf_free(&again);
	}
	smtp_utf8_valid(data, size);
	buf_free(&out);
	buf_free(&line);
	buf_free(&scratch);
	return 0;
}
