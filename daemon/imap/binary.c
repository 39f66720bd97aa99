/*
 * binary: the decoded content of a body part for FETCH BINARY[...] and
 * BINARY.SIZE[...] (RFC 3516).  The part is found as BODY[...] finds it
 * (mime_section_find()), and its own Content-Transfer-Encoding undone.
 */
#include <string.h>

#include "core/buf.h"
#include "imap/imap.h"
#include "mail/header.h"
#include "mail/mime.h"
#include "mail/rfc2047.h"

int
imap_binary_section(const char *msg, size_t len, const struct mime_part *root,
		    const char *path, struct buf *out)
{
	size_t off, n, hoff, hn;
	/* §4.1: BINARY[] is the whole message, as it is */
	if (*path == '\0') {
		buf_append(out, msg, len);
		return 0;
	}
	if (mime_section_find(root, path, strlen(path), MIME_SECTION_ALL, &off, &n) < 0)
		return 0;	/* no such part: empty, as BODY[] answers */
	struct buf cte = BUF_INIT;
	if (mime_section_find(root, path, strlen(path), MIME_SECTION_MIME,
			      &hoff, &hn) == 0)
		(void)mail_header_get(&cte, msg + hoff, hn, "Content-Transfer-Encoding");
	/* the value without blanks or a comment */
	const char *v = cte.data != NULL ? cte.data : "";
	size_t vl = cte.len;
	while (vl > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	size_t w = 0;
	while (w < vl && v[w] != ' ' && v[w] != '\t' && v[w] != '(' && v[w] != ';')
		w++;
	int r = 0;
	if (w == 0 || (w == 4 && mem_eq_nocase(v, "7bit", 4)) ||
	    (w == 4 && mem_eq_nocase(v, "8bit", 4)) ||
	    (w == 6 && mem_eq_nocase(v, "binary", 6)))
		buf_append(out, msg + off, n);
	else if (w == 6 && mem_eq_nocase(v, "base64", 6))
		mime_base64_decode(out, msg + off, n);
	else if (w == 16 && mem_eq_nocase(v, "quoted-printable", 16))
		mime_qp_decode(out, msg + off, n, false);
	else
		r = -1;		/* §4.3: UNKNOWN-CTE */
	buf_free(&cte);
	return r;
}
