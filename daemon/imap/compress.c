/*
 * compress: COMPRESS=DEFLATE (RFC 4978).  The tagged OK goes out as it is;
 * from the byte after it both directions are raw DEFLATE, over TLS when
 * the session has it (conn_compress_start()).  For a phone on a slow link
 * this makes a resynchronisation (mostly FETCH FLAGS lines, alike) a
 * fraction of its size.
 */
#include "core/conn.h"
#include "core/log.h"
#include "imap/imap.h"

void
imap_cmd_compress(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	if (n != 1 || !imap_arg_is_atom(&args[0])) {
		imap_bad(s, "COMPRESS needs a mechanism");
		return;
	}
	if (!imap_arg_atom_eq(&args[0], "DEFLATE")) {
		imap_no(s, "Unsupported compression mechanism.");
		return;
	}
	/* §3: a second COMPRESS is refused with COMPRESSIONACTIVE */
	if (conn_is_compressed(s->c)) {
		imap_no(s, "[COMPRESSIONACTIVE] DEFLATE active via COMPRESS.");
		return;
	}
	imap_printf(s, "%s OK DEFLATE active.\r\n", s->tag);
	s->reply = IMAP_REPLY_NONE;
	const char *err;
	if (conn_compress_start(s->c, &err) < 0) {
		log_info("imap[%llu] compress failed: %s", (unsigned long long)s->id, err);
		imap_session_set_state(s, IMAP_STATE_LOGOUT);
		return;
	}
	log_debug("imap[%llu] compress deflate", (unsigned long long)s->id);
}
