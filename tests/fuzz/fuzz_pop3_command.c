/*
 * libFuzzer target for pop3/command: the input is a stream of command
 * lines as a client would pipeline them.  Each is parsed, the result
 * checked against the parser's promises, and the line consumed, so the
 * stream stays in step whatever it holds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "core/log.h"
#include "pop3/command.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t left = size;

	while (left > 0) {
		struct pop3_command cmd;
		const char *error = NULL;
		size_t used = 0;
		enum pop3_parse_result r = pop3_command_parse(p, left, &cmd,
							      &used, &error);
		if (r == POP3_PARSE_NEED_MORE) {
			if (left >= POP3_LINE_MAX || memchr(p, '\n', left))
				panic("need more with a complete line");
			break;
		}
		if (r == POP3_PARSE_TOOLONG) {
			/* the session skips through the next LF */
			const char *lf = memchr(p, '\n', left);
			if (lf == NULL)
				break;
			used = (size_t)(lf - p) + 1;
		} else {
			if (used == 0 || used > left || used > POP3_LINE_MAX ||
			    p[used - 1] != '\n')
				panic("bad consumed count %zu", used);
			if (r == POP3_PARSE_ERROR) {
				if (error == NULL || cmd.arg != NULL)
					panic("error without reason");
			} else {
				if ((unsigned)cmd.verb >= POP3_CMD_COUNT)
					panic("bad verb");
				if (cmd.arg != NULL && strlen(cmd.arg) >= used)
					panic("argument longer than its line");
				(void)pop3_verb_name(cmd.verb);
				pop3_command_clear(&cmd);
			}
		}
		p += used;
		left -= used;
	}
	return 0;
}
