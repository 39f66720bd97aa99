/* libFuzzer target: Unicode case folding, which SEARCH runs over every
 * byte of the messages a peer sent.  Besides not crashing, folding must
 * stay within CASEFOLD_GROWTH_MAX, be idempotent (the same bytes after a
 * second pass, malformed ones included), and fold a string the same way
 * whether it comes whole or cut in two between characters. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mail/casefold.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t l1, l2;
	char *once = casefold_dup(data, size, &l1);
	if (l1 > size * CASEFOLD_GROWTH_MAX)
		abort();
	char *twice = casefold_dup(once, l1, &l2);
	if (l1 != l2 || memcmp(once, twice, l1) != 0)
		abort();

	/* cut before a byte that is not a continuation byte: no character
	 * spans the cut, whether the bytes around it are well-formed or not */
	size_t cut = size / 2;
	while (cut < size && (data[cut] & 0xc0) == 0x80)
		cut++;
	struct buf parts = BUF_INIT;
	if (casefold_append(&parts, data, cut) < 0 ||
	    casefold_append(&parts, data + cut, size - cut) < 0)
		abort();
	if (parts.len != l1 || (l1 > 0 && memcmp(parts.data, once, l1) != 0))
		abort();

	/* a bounded buffer keeps a prefix of the folding */
	struct buf small;
	buf_init(&small, size / 2 + 1);
	int r = casefold_append(&small, data, size);
	if (small.len > l1 || (r == 0 && small.len != l1) ||
	    (small.len > 0 && memcmp(small.data, once, small.len) != 0))
		abort();

	buf_free(&small);
	buf_free(&parts);
	free(once);
	free(twice);
	return 0;
}
