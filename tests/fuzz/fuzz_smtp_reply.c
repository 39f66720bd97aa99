/* libFuzzer target: SMTP replies as the relay's client reads them (one
 * reply after another from the start of the input), the one-line form
 * kept for the queue, and EHLO keyword parsing. */
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "smtp/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply r;
	const char *p = (const char *)data, *error;
	size_t used;

	if (size > 65536)
		return 0;
	smtp_reply_init(&r);
	while (size > 0) {
		int ret = smtp_reply_parse(p, size, &r, &used, &error);
		if (ret <= 0)
			break;
		if (used == 0 || used > size)
			__builtin_trap();	/* the parser must consume what it took */
		struct buf line = BUF_INIT;
		smtp_reply_format(&r, &line);
		struct smtp_caps caps;
		smtp_caps_parse(&r, &caps);
		buf_free(&line);
		p += used;
		size -= used;
	}
	smtp_reply_free(&r);
	return 0;
}
