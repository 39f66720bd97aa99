/* libFuzzer target: the IMAP command parser and modified UTF-7. */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "imap/parser.h"
#include "imap/utf7.h"

static const struct imap_parser_limits limits = {
	.line_max = 4096,
	.literal_max = 65536,
	.literal_buffer_max = 4096,
	.command_max = 16384,
	.skip_max = 65536,
	.args_max = 1000,
	.depth_max = 16,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser *p = imap_parser_new(&limits);
	size_t pos = 0;
	/* feed in chunks whose size the input's first byte chooses, so that
	 * splits land everywhere */
	size_t step = size > 0 ? (size_t)(data[0] % 16) + 1 : 1;
	while (pos < size) {
		size_t chunk = size - pos < step ? size - pos : step;
		size_t used;
		const char *err;
		enum imap_parse_result r =
			imap_parser_feed(p, data + pos, chunk, &used, &err);
		pos += used;
		if (r == IMAP_PARSE_LITERAL) {
			uint64_t n;
			bool sync;
			imap_parser_literal(p, &n, &sync);
			if (!imap_parser_skipping(p) && (n & 1) && n <= size - pos) {
				pos += (size_t)n;
				imap_parser_literal_streamed(p);
				continue;
			}
			if (!imap_parser_skipping(p) &&
			    imap_parser_literal_accept(p) == 0)
				continue;
			/* refused: the rest of the command is skipped, as the
			 * session does */
			if (!imap_parser_skipping(p))
				imap_parser_skip(p);
			if (sync || imap_parser_literal_accept(p) < 0)
				imap_parser_reset(p);
		} else if (r == IMAP_PARSE_SKIPPED) {
			imap_parser_reset(p);
		} else if (r == IMAP_PARSE_ERROR && imap_parser_skipping(p)) {
			continue;	/* a limit: the rest is parsed, dropped */
		} else if (r == IMAP_PARSE_COMPLETE || r == IMAP_PARSE_ERROR) {
			size_t n;
			const struct imap_arg *args = imap_parser_args(p, &n);
			for (size_t i = 0; i < n; i++) {
				if (!imap_arg_is_string(&args[i]))
					continue;
				struct buf b;
				buf_init(&b, 1 << 16);
				if (imap_mutf7_to_utf8(args[i].str, args[i].len,
						       &b) == 0) {
					struct buf back;
					buf_init(&back, 1 << 17);
					if (imap_utf8_to_mutf7(b.data ? b.data : "", b.len, &back) < 0)
						__builtin_trap();
					buf_free(&back);
				}
				buf_free(&b);
			}
			imap_parser_reset(p);
		}
	}
	imap_parser_free(&p);
	return 0;
}
