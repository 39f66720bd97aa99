/*
 * condstore: ENABLE (RFC 5161) and the parts of CONDSTORE (RFC 7162 §3.1)
 * that are not a command of their own: the mod-sequence syntax, FETCH's
 * CHANGEDSINCE and STORE's UNCHANGEDSINCE modifiers, SEARCH's MODSEQ key.
 * fetch.c, store.c and search.c call these; qresync.c owns the rest of
 * RFC 7162.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "imap/imap.h"

void
imap_condstore_enable(struct imap_session *s)
{
	if (imap_condstore_on(s))
		return;
	s->enabled |= IMAP_ENABLED_CONDSTORE;
	/* RFC 7162 §3.1: a CONDSTORE-enabling command in the selected state
	 * tells the client the HIGHESTMODSEQ it did not get from SELECT */
	if (s->view != NULL)
		imap_printf(s, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
			    (unsigned long long)s->view->modseq);
}

/* RFC 5161 §3.1: "* ENABLED" lists what this command newly switched on;
 * names we do not know are ignored. */
void
imap_cmd_enable(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	if (n == 0) {
		imap_bad(s, "ENABLE needs at least one capability");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!imap_arg_is_atom(&args[i])) {
			imap_bad(s, "ENABLE takes capability names");
			return;
		}
	}
	struct buf b = BUF_INIT;
	buf_puts(&b, "* ENABLED");
	for (size_t i = 0; i < n; i++) {
		unsigned bit;
		if (imap_arg_atom_eq(&args[i], "CONDSTORE"))
			bit = IMAP_ENABLED_CONDSTORE;
		else if (imap_arg_atom_eq(&args[i], "QRESYNC"))
			bit = IMAP_ENABLED_QRESYNC;
		else if (imap_arg_atom_eq(&args[i], "IMAP4rev2"))
			bit = IMAP_ENABLED_REV2;
		else
			continue;
		if (s->enabled & bit)
			continue;
		/* RFC 7162 §3.2.3: QRESYNC implies CONDSTORE */
		if (bit != IMAP_ENABLED_REV2)
			imap_condstore_enable(s);
		s->enabled |= bit;
		buf_printf(&b, " %s", args[i].str);
	}
	buf_puts(&b, "\r\n");
	imap_write(s, b.data, b.len);
	buf_free(&b);
	imap_ok(s, "Enabled.");
}

int
imap_parse_modseq(const struct imap_arg *a, bool zero_ok, uint64_t *v_r)
{
	/* RFC 7162 §7: mod-sequence-value = 1*DIGIT, at most 2^63 - 1 */
	if (a == NULL || !imap_arg_is_atom(a) || a->len == 0 || a->len > 19)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < a->len; i++) {
		if (a->str[i] < '0' || a->str[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(a->str[i] - '0');
	}
	if (v > (uint64_t)INT64_MAX || (v == 0 && !zero_ok))
		return -1;
	*v_r = v;
	return 0;
}

int
imap_fetch_modifiers(struct imap_session *s, const struct imap_arg *a,
		     uint64_t *changedsince_r, bool *vanished_r)
{
	*changedsince_r = 0;
	*vanished_r = false;
	if (!imap_arg_is_list(a) || a->n == 0) {
		imap_bad(s, "Invalid FETCH modifiers");
		return -1;
	}
	bool have_since = false;
	for (size_t i = 0; i < a->n; i++) {
		const struct imap_arg *m = &a->list[i];
		if (imap_arg_atom_eq(m, "CHANGEDSINCE") && !have_since) {
			/* §3.1.4.1: mod-sequence-value, not zero */
			if (i + 1 >= a->n ||
			    imap_parse_modseq(&m[1], false, changedsince_r) < 0) {
				imap_bad(s, "CHANGEDSINCE needs a mod-sequence");
				return -1;
			}
			have_since = true;
			i++;
		} else if (imap_arg_atom_eq(m, "VANISHED") && !*vanished_r) {
			*vanished_r = true;
		} else {
			imap_bad(s, "Unknown FETCH modifier");
			return -1;
		}
	}
	/* RFC 7162 §3.2.6: VANISHED only in UID FETCH, with CHANGEDSINCE,
	 * once QRESYNC is enabled */
	if (*vanished_r && (!s->uid_cmd || !have_since || !imap_qresync_on(s))) {
		imap_bad(s, "VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC");
		return -1;
	}
	/* §3.1: CHANGEDSINCE is a CONDSTORE-enabling modifier */
	imap_condstore_enable(s);
	return 0;
}

int
imap_store_modifiers(struct imap_session *s, const struct imap_arg *a,
		     uint64_t *unchangedsince_r)
{
	/* §3.1.3: UNCHANGEDSINCE takes mod-sequence-valzer (0 allowed) */
	if (!imap_arg_is_list(a) || a->n != 2 ||
	    !imap_arg_atom_eq(&a->list[0], "UNCHANGEDSINCE") ||
	    imap_parse_modseq(&a->list[1], true, unchangedsince_r) < 0) {
		imap_bad(s, "Invalid STORE modifiers");
		return -1;
	}
	imap_condstore_enable(s);
	return 0;
}

int
imap_search_modseq_key(struct imap_session *s, const struct imap_arg *args,
		       size_t n, size_t *pos, uint64_t *v_r)
{
	/* RFC 7162 §3.1.5: MODSEQ [entry-name entry-type-req] value; the
	 * entry (a flag's own MODSEQ) is accepted and, as in Dovecot, the
	 * message's MODSEQ is used: a flag changes with its message */
	if (*pos < n && imap_arg_is_string(&args[*pos])) {
		const struct imap_arg *e = &args[*pos + 1];
		if (*pos + 1 >= n || !(imap_arg_atom_eq(e, "priv") ||
				       imap_arg_atom_eq(e, "shared") ||
				       imap_arg_atom_eq(e, "all")))
			return -1;
		*pos += 2;
	}
	if (*pos >= n || imap_parse_modseq(&args[*pos], true, v_r) < 0)
		return -1;
	(*pos)++;
	imap_condstore_enable(s);
	return 0;
}

void
imap_append_modseq(struct buf *out, uint64_t modseq)
{
	buf_printf(out, " MODSEQ (%llu)", (unsigned long long)modseq);
}
