/* libFuzzer target: address lists, RFC 2047 words and dates, which all
 * read header values a peer wrote. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mail/address.h"
#include "mail/date.h"
#include "mail/rfc2047.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size > 0 ? size : 1);
	memcpy(s, data, size);

	struct mail_address *list = mail_address_parse(s, size, 0);
	struct buf out = BUF_INIT;
	mail_address_write_imap(&out, list);
	for (struct mail_address *a = list; a != NULL; a = a->next)
		(void)mail_address_append_addr_spec(&out, a);
	mail_address_free(&list);

	rfc2047_decode(&out, s, size);

	time_t t;
	int tz;
	if (mail_date_parse(s, size, &t, &tz) == 0) {
		(void)mail_date_day(t, tz);
		imap_date_time_format(&out, t, tz);
	}
	if (imap_date_time_parse(s, size, &t, &tz) == 0)
		imap_date_time_format(&out, t, tz);
	(void)imap_date_parse(s, size, &t);

	buf_free(&out);
	free(s);
	return 0;
}
