/* libFuzzer target: the streaming DATA reader.  The input is fed whole and
 * again in pieces whose sizes come from the input; both must agree.  When
 * the reader says the data ended, the bytes it took must end in CRLF "."
 * CRLF (or be ".\r\n" alone): nothing else is an end of data, whatever
 * came before (issue 14).  The same input through the chunked (BDAT) mode
 * never ends, and whole and in pieces it finds the same errors. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "smtp/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
sink(void *ctx, const void *p, size_t n)
{
	return buf_append(ctx, p, n);
}

/* Feeds data in pieces of step bytes until done; the bytes consumed. */
static size_t
feed_pieces(struct smtp_data *d, const uint8_t *data, size_t size, unsigned step)
{
	size_t used = 0;
	while (used < size && !d->done) {
		size_t n = size - used < step ? size - used : step;
		size_t took = smtp_data_feed(d, data + used, n);
		if (!d->done && took != n)
			abort();
		used += took;
	}
	return used;
}

static void
check_end(const uint8_t *data, size_t used)
{
	if (used == 3 && memcmp(data, ".\r\n", 3) == 0)
		return;
	if (used < 5 || memcmp(data + used - 5, "\r\n.\r\n", 5) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	struct smtp_data da, db;

	if (size < 1)
		return 0;
	unsigned step = data[0] % 17 + 1;
	data++;
	size--;
	smtp_data_init(&da, 1000, sink, &a);
	size_t used_a = smtp_data_feed(&da, data, size);

	smtp_data_init(&db, 1000, sink, &b);
	size_t used_b = feed_pieces(&db, data, size, step);
	if (used_a != used_b || da.done != db.done || da.errors != db.errors ||
	    da.bytes_out != db.bytes_out)
		abort();
	if (da.errors == 0 && (a.len != b.len || (a.len > 0 && memcmp(a.data, b.data, a.len) != 0)))
		abort();
	if (a.len > size)
		abort();
	if (da.done)
		check_end(data, used_a);
	buf_free(&a);
	buf_free(&b);

	/* BDAT: all of it is message, in any chunks */
	smtp_data_init_chunked(&da, 1000, sink, &a);
	if (smtp_data_feed(&da, data, size) != size || da.done)
		abort();
	smtp_data_end(&da);
	smtp_data_init_chunked(&db, 1000, sink, &b);
	if (feed_pieces(&db, data, size, step) != size)
		abort();
	smtp_data_end(&db);
	if (da.errors != db.errors || da.bytes_out != size || db.bytes_out != size)
		abort();
	/* a refused body is not passed on (how much went before the error
	 * depends on the pieces); a good one passes whole and unchanged */
	if (da.errors == 0 && (a.len != size || b.len != size ||
			       (size > 0 && (memcmp(a.data, data, size) != 0 ||
					     memcmp(b.data, data, size) != 0))))
		abort();
	buf_free(&a);
	buf_free(&b);
	return 0;
}
