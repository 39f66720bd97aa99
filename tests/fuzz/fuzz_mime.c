/* libFuzzer target: the MIME parser and everything built from it (ENVELOPE,
 * BODY/BODYSTRUCTURE, sections, search text, header selections), plus the
 * dot-stuffing encoder over the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mail/dotstuff.h"
#include "mail/header.h"
#include "mail/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks that a part's ranges lie inside the message. */
static void
check_ranges(const struct mime_part *p, size_t size)
{
	for (; p != NULL; p = p->next) {
		if (p->hdr_off + p->hdr_len > size || p->hdr_off > p->body_off ||
		    p->body_off + p->body_len > size)
			abort();
		check_ranges(p->children, size);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so reads past the end are caught */
	char *msg = malloc(size > 0 ? size : 1);
	memcpy(msg, data, size);

	struct mime_part *root = mime_parse(msg, size);
	check_ranges(root, size);

	struct buf out = BUF_INIT;
	mime_write_bodystructure(&out, msg, root, true);
	mime_write_bodystructure(&out, msg, root, false);
	mime_write_envelope(&out, msg, root->hdr_len);

	static const char *const paths[] = {
		"", "1", "2", "1.1", "1.2", "2.1", "1.1.1", "3.2.1",
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		for (int what = MIME_SECTION_ALL; what <= MIME_SECTION_TEXT; what++) {
			size_t off, len;
			if (mime_section_find(root, paths[i], strlen(paths[i]),
					      (enum mime_section)what, &off,
					      &len) == 0 &&
			    off + len > size)
				abort();
		}
	}
	static const char *const names[] = { "subject", "from", "to" };
	mail_header_write_fields(&out, msg, root->hdr_len, names, 3, false);
	mail_header_write_fields(&out, msg, root->hdr_len, names, 3, true);
	(void)mail_header_get_decoded(&out, msg, root->hdr_len, "subject");

	struct buf text;
	buf_init(&text, 65536);
	mime_search_text(&text, msg, root);
	buf_free(&text);

	struct dotstuff ds;
	dotstuff_init(&ds);
	size_t half = size / 2;
	dotstuff_add(&ds, &out, msg, half);
	dotstuff_add(&ds, &out, msg + half, size - half);
	dotstuff_finish(&ds, &out);

	buf_free(&out);
	mime_part_free(&root);
	free(msg);
	return 0;
}
