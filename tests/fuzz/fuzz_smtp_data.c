/* libFuzzer target: the streaming DATA reader.  The input is fed whole and
 * again in pieces whose sizes come from the input; both must agree. */
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
	size_t used_b = 0;
	while (used_b < size && !db.done) {
		size_t n = size - used_b < step ? size - used_b : step;
		used_b += smtp_data_feed(&db, data + used_b, n);
	}
	if (used_a != used_b || da.done != db.done || da.errors != db.errors ||
	    da.bytes_out != db.bytes_out)
		abort();
	if (da.errors == 0 && (a.len != b.len || (a.len > 0 && memcmp(a.data, b.data, a.len) != 0)))
		abort();
	if (a.len > size)
		abort();
	buf_free(&a);
	buf_free(&b);
	return 0;
}
