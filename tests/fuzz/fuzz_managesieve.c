/*
 * libFuzzer target for managesieve/parser: the input is a stream of
 * commands as a client would pipeline them, literals included.  Each is
 * parsed, the result checked against the parser's promises, and consumed
 * as the session does (a refused literal skipped with the rest of its
 * line), so the stream stays in step whatever it holds.  The first byte
 * picks the mode and a small literal limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "managesieve/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	enum msieve_parse_mode mode = (data[0] & 1) ? MSIEVE_PARSE_RESPONSE
		: MSIEVE_PARSE_COMMAND;
	size_t literal_max = (size_t)(data[0] >> 1) * 8;
	const char *p = (const char *)data + 1;
	size_t left = size - 1;

	while (left > 0) {
		struct msieve_command cmd;
		const char *error = NULL;
		size_t used = 0, need = 0;
		enum msieve_parse_result r = msieve_parse(p, left, mode, literal_max, &cmd,
							  &used, &need, &error);
		if (r == MSIEVE_PARSE_NEED_MORE)
			break;
		if (used == 0 || used > left)
			panic("bad consumed count %zu of %zu", used, left);
		if (r == MSIEVE_PARSE_TOOBIG) {
			if (need <= literal_max || p[used - 1] != '\n')
				panic("too big, but not over the limit");
			if (need >= left - used)
				break;
			used += need;
			const char *lf = memchr(p + used, '\n', left - used);
			if (lf == NULL)
				break;
			used = (size_t)(lf - p) + 1;
		} else if (r == MSIEVE_PARSE_ERROR) {
			if (error == NULL || cmd.n_args != 0 || p[used - 1] != '\n')
				panic("error without reason");
		} else {
			if (p[used - 1] != '\n' || (unsigned)cmd.verb >= MSIEVE_CMD_COUNT ||
			    cmd.n_args > MSIEVE_ARGS_MAX)
				panic("bad command");
			for (size_t i = 0; i < cmd.n_args; i++) {
				const struct msieve_arg *a = &cmd.args[i];
				if (!a->is_number && (a->str == NULL || a->str[a->len] != '\0' ||
						      a->len > used || (a->len > literal_max &&
									a->len > MSIEVE_QUOTED_MAX)))
					panic("bad argument");
			}
			(void)msieve_verb_name(cmd.verb);
			msieve_command_clear(&cmd);
		}
		p += used;
		left -= used;
	}
	return 0;
}
