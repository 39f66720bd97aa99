/*
 * store: flags (RFC 3501 §2.3.2) and the commands that change messages:
 * STORE, COPY, MOVE (RFC 6851), EXPUNGE and UID EXPUNGE (RFC 4315), CLOSE,
 * UNSELECT (RFC 3691) and CHECK.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/limits.h"
#include "core/config.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "imap/imap.h"
#include "store/imapdb.h"

static const struct {
	const char *name;
	unsigned bit;
} system_flags[] = {
	{ "\\Answered", STORE_FLAG_ANSWERED },
	{ "\\Flagged", STORE_FLAG_FLAGGED },
	{ "\\Deleted", STORE_FLAG_DELETED },
	{ "\\Seen", STORE_FLAG_SEEN },
	{ "\\Draft", STORE_FLAG_DRAFT },
};

void
imap_append_flags(struct buf *out, unsigned flags, const char *keywords,
		  bool recent)
{
	bool first = true;
	buf_putc(out, '(');
	for (size_t i = 0; i < sizeof system_flags / sizeof system_flags[0]; i++) {
		if (!(flags & system_flags[i].bit))
			continue;
		if (!first)
			buf_putc(out, ' ');
		buf_puts(out, system_flags[i].name);
		first = false;
	}
	if (recent) {
		if (!first)
			buf_putc(out, ' ');
		buf_puts(out, "\\Recent");
		first = false;
	}
	if (keywords != NULL && *keywords != '\0') {
		if (!first)
			buf_putc(out, ' ');
		buf_puts(out, keywords);
	}
	buf_putc(out, ')');
}

/* RFC 3501 §9: flag-keyword = atom (no '\\', no ']'), at most a sane size */
static bool
keyword_valid(const char *s, size_t len)
{
	if (len == 0 || len > 128)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

static int
parse_one_flag(const struct imap_arg *a, unsigned *flags, struct buf *kw,
	       const char **error_r)
{
	if (!imap_arg_is_atom(a)) {
		*error_r = "Flags must be atoms";
		return -1;
	}
	if (a->str[0] == '\\') {
		for (size_t i = 0; i < sizeof system_flags / sizeof system_flags[0]; i++) {
			if (str_eq_nocase(a->str, system_flags[i].name)) {
				*flags |= system_flags[i].bit;
				return 0;
			}
		}
		/* \Recent is the server's (RFC 3501 §2.3.2) */
		*error_r = str_eq_nocase(a->str, "\\Recent") ?
			"\\Recent cannot be set" : "Unknown system flag";
		return -1;
	}
	if (!keyword_valid(a->str, a->len)) {
		*error_r = "Invalid keyword";
		return -1;
	}
	/* no duplicates (case-insensitive) */
	const char *p = kw->data;
	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, ' ');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == a->len && mem_eq_nocase(p, a->str, l))
			return 0;
		p = e ? e + 1 : NULL;
	}
	if ((kw->len > 0 && buf_putc(kw, ' ') < 0) ||
	    buf_append(kw, a->str, a->len) < 0) {
		*error_r = "Too many keywords";
		return -1;
	}
	return 0;
}

int
imap_parse_flags(const struct imap_arg *a, unsigned *flags_r,
		 char **keywords_r, const char **error_r)
{
	struct buf kw;
	buf_init(&kw, MESSAGE_KEYWORDS_MAX);
	*flags_r = 0;
	*keywords_r = NULL;
	if (imap_arg_is_list(a)) {
		for (size_t i = 0; i < a->n; i++) {
			if (parse_one_flag(&a->list[i], flags_r, &kw, error_r) < 0) {
				buf_free(&kw);
				return -1;
			}
		}
	} else if (parse_one_flag(a, flags_r, &kw, error_r) < 0) {
		buf_free(&kw);
		return -1;
	}
	if (kw.len > 0)
		*keywords_r = buf_steal(&kw);
	buf_free(&kw);
	return 0;
}

/* The view indexes of a set argument; answers BAD itself on error. */
static int
set_indexes(struct imap_session *s, const struct imap_arg *a, size_t **idx_r,
	    size_t *n_r)
{
	if (!imap_arg_is_atom(a) ||
	    imap_seqset_to_indexes(s->view, a->str, s->uid_cmd, idx_r, n_r) < 0) {
		imap_bad(s, "Invalid message set");
		return -1;
	}
	return 0;
}

/* The untagged FETCH a STORE answers with for view index k. */
static void
send_stored(struct imap_session *s, size_t k, bool silent, bool new_modseq,
	    struct buf *b)
{
	const struct imap_msg *m = &s->view->msgs[k];
	bool condstore = imap_condstore_on(s);
	/* RFC 7162 §3.1.3: a CONDSTORE client hears of the new MODSEQ even
	 * with .SILENT */
	if (silent && !(condstore && new_modseq))
		return;
	buf_reset(b);
	buf_printf(b, "* %zu FETCH (", k + 1);
	const char *sep = "";
	if (!silent) {
		buf_puts(b, "FLAGS ");
		imap_append_flags(b, m->flags, m->keywords,
				  imap_show_recent(s, m->recent));
		sep = " ";
	}
	/* and the UID once QRESYNC is on (RFC 7162 §3.2.4) */
	if (s->uid_cmd || imap_qresync_on(s)) {
		buf_printf(b, "%sUID %u", sep, m->uid);
		sep = " ";
	}
	if (condstore)
		buf_printf(b, "%sMODSEQ (%llu)", sep, (unsigned long long)m->modseq);
	buf_puts(b, ")\r\n");
	imap_write(s, b->data, b->len);
}

void
imap_cmd_store(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	/* RFC 7162 §3.1.3: STORE set [(UNCHANGEDSINCE n)] item flags */
	uint64_t unchangedsince = UINT64_MAX;
	size_t at = 1;
	if (n == 4 && imap_arg_is_list(&args[1])) {
		if (imap_store_modifiers(s, &args[1], &unchangedsince) < 0)
			return;
		at = 2;
	}
	if (n != at + 2 || !imap_arg_is_atom(&args[at])) {
		imap_bad(s, "STORE needs a set, an item and flags");
		return;
	}
	const char *item = args[at].str;
	enum imapdb_flag_mode mode = IMAPDB_FLAGS_REPLACE;
	if (*item == '+') {
		mode = IMAPDB_FLAGS_ADD;
		item++;
	} else if (*item == '-') {
		mode = IMAPDB_FLAGS_REMOVE;
		item++;
	}
	bool silent;
	if (str_eq_nocase(item, "FLAGS"))
		silent = false;
	else if (str_eq_nocase(item, "FLAGS.SILENT"))
		silent = true;
	else {
		imap_bad(s, "Unknown STORE item");
		return;
	}
	unsigned flags;
	char *keywords;
	const char *err;
	if (imap_parse_flags(&args[at + 1], &flags, &keywords, &err) < 0) {
		imap_bad(s, "%s", err);
		return;
	}
	size_t *idx, count;
	if (set_indexes(s, &args[0], &idx, &count) < 0) {
		free(keywords);
		return;
	}
	struct imap_view *v = s->view;
	if (v->readonly) {
		free(idx);
		free(keywords);
		imap_no(s, "[READ-ONLY] Mailbox is read-only.");
		return;
	}
	uint32_t *uids = xreallocarray(NULL, count ? count : 1, sizeof *uids);
	size_t nu = 0;
	for (size_t i = 0; i < count; i++) {
		if (!v->msgs[idx[i]].expunged)
			uids[nu++] = v->msgs[idx[i]].uid;
	}
	struct imapdb_msg *res = xcalloc(nu ? nu : 1, sizeof *res);
	bool *modified = xcalloc(nu ? nu : 1, sizeof *modified);
	int r = nu == 0 ? STORE_OK :
		imapdb_store_flags_cond(s->st, v->mailbox_id, uids, nu, mode,
					flags, keywords, unchangedsince, res,
					modified, &err);
	/* a keyword named in any STORE exists from now on, even one only
	 * removed (as in Dovecot): the client may expect it in FLAGS; and
	 * the FETCHes below tell the flags as they are now, with keywords
	 * other sessions may have set meanwhile: FLAGS first (RFC 3501
	 * §7.2.6) */
	if (r == STORE_OK && count > 0) {
		bool news = imap_view_note_keywords(s, keywords);
		for (size_t i = 0; i < nu; i++)
			if (res[i].uid != 0)
				news |= imap_view_note_keywords(s, res[i].keywords);
		if (news)
			imap_view_send_flags(s);
	}
	if (r != STORE_OK) {
		free(keywords);
		free(idx);
		free(uids);
		free(res);
		free(modified);
		imap_no(s, "[SERVERBUG] %s", err);
		return;
	}
	/* below, the view takes the flags stored: then it is as a look at
	 * the store would leave it, if nothing else changed the mailbox */
	if (nu > 0)
		imap_view_own_change(s);
	struct buf b = BUF_INIT;
	uint32_t *failed = xreallocarray(NULL, nu ? nu : 1, sizeof *failed);
	size_t n_failed = 0;
	for (size_t i = 0; i < nu; i++) {
		if (res[i].uid == 0)
			continue;
		ssize_t k = imap_view_find_uid(v, res[i].uid);
		if (k < 0)
			continue;
		if (modified[i]) {
			/* RFC 7162 §3.1.3: MODIFIED lists sequence numbers,
			 * or UIDs for UID STORE */
			failed[n_failed++] = s->uid_cmd ? res[i].uid : (uint32_t)k + 1;
			continue;
		}
		struct imap_msg *m = &v->msgs[k];
		bool new_modseq = res[i].modseq > m->modseq;
		m->flags = res[i].flags;
		free(m->keywords);
		m->keywords = res[i].keywords;
		res[i].keywords = NULL;
		if (new_modseq)
			m->modseq = res[i].modseq;
		send_stored(s, (size_t)k, silent, new_modseq, &b);
	}
	/* messages expunged that the session still sees (RFC 2180 §4.2.1):
	 * the change is made to its view's copy and told as for any other,
	 * since a client that asked for the flags back expects them */
	for (size_t i = 0, j = 0; i < count; i++) {
		struct imap_msg *m = &v->msgs[idx[i]];
		if (!m->expunged) {
			/* and those found gone in the store (res in uids' order) */
			while (j < nu && uids[j] != m->uid)
				j++;
			if (j == nu || res[j].uid != 0)
				continue;
		}
		m->flags = imapdb_flags_apply(m->flags, mode, flags);
		char *nk = imapdb_keywords_apply(m->keywords, mode, keywords);
		free(m->keywords);
		m->keywords = nk;
		send_stored(s, idx[i], silent, false, &b);
	}
	for (size_t i = 0; i < nu; i++)
		free(res[i].keywords);
	free(keywords);
	free(res);
	free(modified);
	free(uids);
	free(idx);
	if (n_failed > 0) {
		/* failed holds ascending numbers: uids and view indexes are */
		buf_reset(&b);
		imap_append_uidset(&b, failed, n_failed);
		imap_ok(s, "[MODIFIED %s] Conditional STORE failed.", buf_cstr(&b));
	} else {
		imap_ok(s, "Store completed.");
	}
	free(failed);
	buf_free(&b);
}

static void
copy_or_move(struct imap_session *s, const struct imap_arg *args, size_t n,
	     bool move)
{
	const char *cmd = move ? "MOVE" : "COPY";
	if (n != 2) {
		imap_bad(s, "%s needs a set and a mailbox", cmd);
		return;
	}
	struct buf name = BUF_INIT;
	if (imap_arg_mailbox(s, &args[1], &name) < 0) {
		buf_free(&name);
		return;
	}
	size_t *idx, count;
	if (set_indexes(s, &args[0], &idx, &count) < 0) {
		buf_free(&name);
		return;
	}
	struct imap_view *v = s->view;
	if (move && v->readonly) {
		free(idx);
		buf_free(&name);
		imap_no(s, "[READ-ONLY] Mailbox is read-only.");
		return;
	}
	struct store_mailbox dst;
	const char *err;
	int r = store_mailbox_get(s->st, s->user_id, buf_cstr(&name), &dst, &err);
	buf_free(&name);
	if (r != STORE_OK) {
		free(idx);
		/* RFC 3501 §6.4.7: TRYCREATE when the target does not exist */
		if (r == STORE_NOTFOUND)
			imap_no(s, "[TRYCREATE] Mailbox does not exist.");
		else
			imap_no(s, "[SERVERBUG] %s", err);
		return;
	}
	uint32_t *uids = xreallocarray(NULL, count ? count : 1, sizeof *uids);
	uint32_t *new_uids = xreallocarray(NULL, count ? count : 1, sizeof *uids);
	size_t nu = 0;
	for (size_t i = 0; i < count; i++) {
		if (!v->msgs[idx[i]].expunged)
			uids[nu++] = v->msgs[idx[i]].uid;
	}
	free(idx);
	uint32_t uidvalidity = dst.uidvalidity;
	r = nu == 0 ? STORE_OK :
		imapdb_copy(s->st, v->mailbox_id, dst.id, uids, nu, move,
			    s->cfg->rspamd_controller != NULL,
			    new_uids, &uidvalidity, &err);
	store_mailbox_clear(&dst);
	if (r != STORE_OK) {
		free(uids);
		free(new_uids);
		if (r == STORE_OVERQUOTA)
			imap_no(s, "[OVERQUOTA] Quota exceeded.");
		else
			imap_no(s, "[SERVERBUG] %s", err);
		return;
	}
	/* RFC 4315 §3: COPYUID with the sources that were copied */
	size_t w = 0;
	for (size_t i = 0; i < nu; i++) {
		if (new_uids[i] != 0) {
			uids[w] = uids[i];
			new_uids[w] = new_uids[i];
			w++;
		}
	}
	struct buf code = BUF_INIT;
	if (w > 0) {
		buf_printf(&code, "[COPYUID %u ", uidvalidity);
		imap_append_uidset(&code, uids, w);
		buf_putc(&code, ' ');
		imap_append_uidset(&code, new_uids, w);
		buf_puts(&code, "] ");
	}
	if (move) {
		/* RFC 6851 §4.3: COPYUID goes in an untagged OK before the
		 * EXPUNGEs, which the sync after the command sends */
		if (w > 0)
			imap_printf(s, "* OK %sMoved UIDs.\r\n", buf_cstr(&code));
		for (size_t i = 0; i < w; i++) {
			ssize_t k = imap_view_find_uid(v, uids[i]);
			if (k >= 0) {
				v->msgs[k].expunged = true;
				v->expunge_pending = true;
			}
		}
		imap_ok(s, "Move completed.");
	} else {
		imap_ok(s, "%sCopy completed.", buf_cstr(&code));
	}
	buf_free(&code);
	free(uids);
	free(new_uids);
}

void
imap_cmd_copy(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	copy_or_move(s, args, n, false);
}

void
imap_cmd_move(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	copy_or_move(s, args, n, true);
}

/* Expunges \Deleted messages (only those in uids when given) and marks
 * them in the view; the sync sends the EXPUNGEs when it may. */
static int
expunge(struct imap_session *s, const uint32_t *uids, size_t nu)
{
	struct imap_view *v = s->view;
	uint32_t *gone;
	size_t ng;
	const char *err;
	if (imapdb_expunge_deleted(s->st, v->mailbox_id, uids, nu, &gone, &ng,
				   &err) != STORE_OK) {
		imap_no(s, "[SERVERBUG] %s", err);
		return -1;
	}
	size_t marked = 0;
	for (size_t i = 0; i < ng; i++) {
		ssize_t k = imap_view_find_uid(v, gone[i]);
		if (k >= 0) {
			v->msgs[k].expunged = true;
			v->expunge_pending = true;
			marked++;
		}
	}
	free(gone);
	/* the view has every message removed: as a look would leave it, if
	 * nothing else changed the mailbox */
	if (ng > 0 && marked == ng)
		imap_view_own_change(s);
	return 0;
}

void
imap_cmd_expunge(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	struct imap_view *v = s->view;
	if (s->uid_cmd ? n != 1 : n != 0) {
		imap_bad(s, s->uid_cmd ? "UID EXPUNGE needs a UID set" :
			 "EXPUNGE takes no arguments");
		return;
	}
	if (v->readonly) {
		imap_no(s, "[READ-ONLY] Mailbox is read-only.");
		return;
	}
	if (s->uid_cmd) {
		size_t *idx, count;
		if (set_indexes(s, &args[0], &idx, &count) < 0)
			return;
		uint32_t *uids = xreallocarray(NULL, count ? count : 1, sizeof *uids);
		for (size_t i = 0; i < count; i++)
			uids[i] = v->msgs[idx[i]].uid;
		free(idx);
		int r = count == 0 ? 0 : expunge(s, uids, count);
		free(uids);
		if (r < 0)
			return;
	} else if (expunge(s, NULL, 0) < 0) {
		return;
	}
	imap_ok(s, "Expunge completed.");
}

void
imap_cmd_close(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	if (n != 0) {
		imap_bad(s, "CLOSE takes no arguments");
		return;
	}
	/* RFC 3501 §6.4.2: expunge silently, unless read-only */
	if (!s->view->readonly && expunge(s, NULL, 0) < 0)
		return;
	imap_session_set_state(s, IMAP_STATE_AUTHENTICATED);
	imap_ok(s, "Close completed.");
}

void
imap_cmd_unselect(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	if (n != 0) {
		imap_bad(s, "UNSELECT takes no arguments");
		return;
	}
	imap_session_set_state(s, IMAP_STATE_AUTHENTICATED);
	imap_ok(s, "Unselect completed.");
}

void
imap_cmd_check(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	if (n != 0) {
		imap_bad(s, "CHECK takes no arguments");
		return;
	}
	/* every change is committed when its command answers */
	imap_ok(s, "Check completed.");
}
