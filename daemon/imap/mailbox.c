/*
 * mailbox: SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE,
 * LIST and LSUB (RFC 3501 §6.3, LIST-EXTENDED RFC 5258, LIST-STATUS RFC
 * 5819, SPECIAL-USE RFC 6154, CHILDREN RFC 3348) and STATUS.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "imap/imap.h"
#include "imap/utf7.h"
#include "core/config.h"
#include "store/imapdb.h"
#include "store/imapsync.h"

/* The store's rules for a name (store/mailboxes.c), checked here too so
 * that RENAME refuses what CREATE would. */
static bool
name_valid(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > MAILBOX_NAME_MAX)
		return false;
	if (name[0] == '/' || name[len - 1] == '/' || strstr(name, "//") != NULL)
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '*' || *p == '%')
			return false;
	}
	return true;
}

static void
select_or_examine(struct imap_session *s, const struct imap_arg *args,
		  size_t n, bool readonly)
{
	if (n != 1 && n != 2) {
		imap_bad(s, "%s needs a mailbox", readonly ? "EXAMINE" : "SELECT");
		return;
	}
	struct buf name = BUF_INIT;
	/* RFC 7162 §3.2.11: the mailbox closed by this SELECT is announced */
	if (s->state == IMAP_STATE_SELECTED)
		imap_printf(s, "* OK [CLOSED] Previous mailbox closed.\r\n");
	/* RFC 3501 §6.3.1: a failed SELECT leaves no mailbox selected */
	imap_session_set_state(s, IMAP_STATE_AUTHENTICATED);
	/* RFC 7162: (CONDSTORE) or (QRESYNC (...)) */
	struct imap_select_params params;
	memset(&params, 0, sizeof params);
	if (n == 2 && imap_select_params_parse(s, &args[1], &params) < 0)
		return;
	if (imap_arg_mailbox(s, &args[0], &name) < 0) {
		buf_free(&name);
		imap_select_params_clear(&params);
		return;
	}
	struct store_mailbox mb;
	const char *err;
	int r = store_mailbox_get(s->st, s->user_id, buf_cstr(&name), &mb, &err);
	buf_free(&name);
	if (r == STORE_NOTFOUND) {
		imap_select_params_clear(&params);
		imap_no(s, "[NONEXISTENT] Mailbox does not exist.");
		return;
	}
	if (r != STORE_OK) {
		imap_select_params_clear(&params);
		imap_no(s, "[SERVERBUG] %s", err);
		return;
	}
	if (imap_view_open(s, &mb, readonly) == 0) {
		/* RFC 8474 §4.2 */
		struct buf id = BUF_INIT;
		imap_append_mailboxid(&id, &mb);
		imap_printf(s, "* OK [MAILBOXID (%s)] Ok\r\n", buf_cstr(&id));
		buf_free(&id);
		imap_qresync_select(s, &params);
		imap_ok(s, "[%s] %s completed.", readonly ? "READ-ONLY" : "READ-WRITE",
			readonly ? "Examine" : "Select");
	}
	imap_select_params_clear(&params);
	store_mailbox_clear(&mb);
}

void
imap_cmd_select(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	select_or_examine(s, args, n, false);
}

void
imap_cmd_examine(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	select_or_examine(s, args, n, true);
}

/* RFC 6154 §3: CREATE's "(USE (\\Sent))"; the store keeps one use per
 * mailbox, and \\All and \\Flagged would be virtual mailboxes, which
 * mailhub has not: NO [USEATTR].  0, or -1 with the reply set. */
static int
create_use(struct imap_session *s, const struct imap_arg *a, const char **use_r)
{
	static const char *const uses[] = {
		"\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash",
	};
	if (!imap_arg_is_list(a) || a->n != 2 ||
	    !imap_arg_atom_eq(&a->list[0], "USE") || !imap_arg_is_list(&a->list[1])) {
		imap_bad(s, "Invalid CREATE parameters");
		return -1;
	}
	const struct imap_arg *l = &a->list[1];
	if (l->n > 1) {
		imap_no(s, "[USEATTR] One special use per mailbox.");
		return -1;
	}
	*use_r = NULL;
	for (size_t i = 0; i < l->n; i++) {
		if (!imap_arg_is_atom(&l->list[i])) {
			imap_bad(s, "Invalid CREATE parameters");
			return -1;
		}
		for (size_t k = 0; k < sizeof uses / sizeof uses[0]; k++)
			if (str_eq_nocase(l->list[i].str, uses[k]))
				*use_r = uses[k];
		if (*use_r == NULL) {
			imap_no(s, "[USEATTR] Unsupported special use.");
			return -1;
		}
	}
	return 0;
}

void
imap_cmd_create(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	if (n != 1 && n != 2) {
		imap_bad(s, "CREATE needs a mailbox");
		return;
	}
	const char *use = NULL;
	if (n == 2 && create_use(s, &args[1], &use) < 0)
		return;
	struct buf name = BUF_INIT;
	if (imap_arg_mailbox(s, &args[0], &name) < 0) {
		buf_free(&name);
		return;
	}
	/* RFC 3501 §6.3.3: a trailing delimiter only says that children are
	 * planned */
	if (name.len > 1 && name.data[name.len - 1] == '/')
		buf_truncate(&name, name.len - 1);
	const char *full = buf_cstr(&name);
	if (!name_valid(full)) {
		buf_free(&name);
		imap_no(s, "[CANNOT] Invalid mailbox name.");
		return;
	}
	struct store_mailbox mb;
	const char *err;
	if (store_mailbox_get(s->st, s->user_id, full, &mb, &err) == STORE_OK) {
		store_mailbox_clear(&mb);
		buf_free(&name);
		imap_no(s, "[ALREADYEXISTS] Mailbox exists.");
		return;
	}
	/* RFC 3501 §6.3.3: superior names are created too (SHOULD) */
	int r = STORE_OK;
	for (size_t i = 1; i < name.len && r == STORE_OK; i++) {
		if (name.data[i] != '/')
			continue;
		char *parent = xstrndup(name.data, i);
		if (store_mailbox_get(s->st, s->user_id, parent, &mb, &err) == STORE_OK)
			store_mailbox_clear(&mb);
		else
			r = store_mailbox_create(s->st, s->user_id, parent, NULL, false, &err);
		free(parent);
	}
	if (r == STORE_OK)
		r = store_mailbox_create(s->st, s->user_id, full, use, false, &err);
	/* RFC 8474 §4.1: the new mailbox's MAILBOXID in the OK */
	struct buf id = BUF_INIT;
	if (r == STORE_OK &&
	    store_mailbox_get(s->st, s->user_id, full, &mb, &err) == STORE_OK) {
		buf_puts(&id, "[MAILBOXID (");
		imap_append_mailboxid(&id, &mb);
		buf_puts(&id, ")] ");
		store_mailbox_clear(&mb);
	}
	buf_free(&name);
	if (r == STORE_EXISTS)
		imap_no(s, "[ALREADYEXISTS] Mailbox exists.");
	else if (r == STORE_INVALID)
		imap_no(s, "[CANNOT] %s", err);
	else if (r != STORE_OK)
		imap_no(s, "[SERVERBUG] %s", err);
	else
		imap_ok(s, "%sCreate completed.", buf_cstr(&id));
	buf_free(&id);
}

void
imap_cmd_delete(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	if (n != 1) {
		imap_bad(s, "DELETE needs a mailbox");
		return;
	}
	struct buf name = BUF_INIT;
	if (imap_arg_mailbox(s, &args[0], &name) < 0) {
		buf_free(&name);
		return;
	}
	const char *err;
	if (s->view != NULL && strcmp(s->view->name, buf_cstr(&name)) == 0)
		imap_session_set_state(s, IMAP_STATE_AUTHENTICATED);
	int r = imapdb_mailbox_delete(s->st, s->user_id, buf_cstr(&name), &err);
	buf_free(&name);
	if (r == STORE_NOTFOUND)
		imap_no(s, "[NONEXISTENT] Mailbox does not exist.");
	else if (r == STORE_INVALID)
		imap_no(s, "[CANNOT] INBOX cannot be deleted.");
	else if (r != STORE_OK)
		imap_no(s, "[SERVERBUG] %s", err);
	else
		imap_ok(s, "Delete completed.");
}

void
imap_cmd_rename(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	if (n != 2) {
		imap_bad(s, "RENAME needs two mailboxes");
		return;
	}
	struct buf from = BUF_INIT, to = BUF_INIT;
	if (imap_arg_mailbox(s, &args[0], &from) < 0 ||
	    imap_arg_mailbox(s, &args[1], &to) < 0)
		goto out;
	if (to.len > 1 && to.data[to.len - 1] == '/')
		buf_truncate(&to, to.len - 1);
	if (!name_valid(buf_cstr(&to)) || str_eq_nocase(buf_cstr(&to), "INBOX")) {
		imap_no(s, "[CANNOT] Invalid target name.");
		goto out;
	}
	/* renaming a mailbox into its own hierarchy would loop */
	if (to.len > from.len && memcmp(to.data, from.data, from.len) == 0 &&
	    to.data[from.len] == '/' && strcmp(buf_cstr(&from), "INBOX") != 0) {
		imap_no(s, "[CANNOT] Cannot rename a mailbox under itself.");
		goto out;
	}
	const char *err;
	int r = imapdb_mailbox_rename(s->st, s->user_id, buf_cstr(&from),
				      buf_cstr(&to), &err);
	if (r == STORE_NOTFOUND)
		imap_no(s, "[NONEXISTENT] Mailbox does not exist.");
	else if (r == STORE_EXISTS)
		imap_no(s, "[ALREADYEXISTS] Target mailbox exists.");
	else if (r == STORE_INVALID)
		imap_no(s, "[CANNOT] %s", err);
	else if (r != STORE_OK)
		imap_no(s, "[SERVERBUG] %s", err);
	else
		imap_ok(s, "Rename completed.");
out:
	buf_free(&from);
	buf_free(&to);
}

static void
subscribe(struct imap_session *s, const struct imap_arg *args, size_t n,
	  bool on)
{
	if (n != 1) {
		imap_bad(s, "%s needs a mailbox", on ? "SUBSCRIBE" : "UNSUBSCRIBE");
		return;
	}
	struct buf name = BUF_INIT;
	if (imap_arg_mailbox(s, &args[0], &name) < 0) {
		buf_free(&name);
		return;
	}
	/* RFC 3501 §6.3.6: a name may be subscribed before its mailbox
	 * exists, or after it is gone; unsubscribing one that is not
	 * subscribed is no error either (as in Dovecot) */
	if (on && !name_valid(buf_cstr(&name))) {
		buf_free(&name);
		imap_no(s, "[CANNOT] Invalid mailbox name.");
		return;
	}
	const char *err;
	int r = imapdb_mailbox_subscribe(s->st, s->user_id, buf_cstr(&name), on,
					 &err);
	buf_free(&name);
	if (r != STORE_OK && r != STORE_NOTFOUND)
		imap_no(s, "[SERVERBUG] %s", err);
	else
		imap_ok(s, "%s completed.", on ? "Subscribe" : "Unsubscribe");
}

void
imap_cmd_subscribe(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	subscribe(s, args, n, true);
}

void
imap_cmd_unsubscribe(struct imap_session *s, const struct imap_arg *args,
		     size_t n)
{
	subscribe(s, args, n, false);
}

/* ---- STATUS ---------------------------------------------------------- */

enum {
	ST_MESSAGES = 1 << 0,
	ST_RECENT = 1 << 1,
	ST_UIDNEXT = 1 << 2,
	ST_UIDVALIDITY = 1 << 3,
	ST_UNSEEN = 1 << 4,
	ST_HIGHESTMODSEQ = 1 << 5,	/* RFC 7162 §3.1.2.3 */
	ST_SIZE = 1 << 6,		/* RFC 8438 */
	ST_APPENDLIMIT = 1 << 7,	/* RFC 7889 §4 */
	ST_MAILBOXID = 1 << 8,		/* RFC 8474 §4.3 */
	ST_DELETED = 1 << 9,		/* RFC 9051 §6.3.11 */
};

static int
parse_status_items(const struct imap_arg *a, unsigned *items_r)
{
	static const struct { const char *name; unsigned bit; } names[] = {
		{ "MESSAGES", ST_MESSAGES }, { "RECENT", ST_RECENT },
		{ "UIDNEXT", ST_UIDNEXT }, { "UIDVALIDITY", ST_UIDVALIDITY },
		{ "UNSEEN", ST_UNSEEN }, { "HIGHESTMODSEQ", ST_HIGHESTMODSEQ },
		{ "SIZE", ST_SIZE }, { "APPENDLIMIT", ST_APPENDLIMIT },
		{ "MAILBOXID", ST_MAILBOXID }, { "DELETED", ST_DELETED },
	};
	*items_r = 0;
	if (!imap_arg_is_list(a) || a->n == 0)
		return -1;
	for (size_t i = 0; i < a->n; i++) {
		size_t k;
		for (k = 0; k < sizeof names / sizeof names[0]; k++) {
			if (imap_arg_atom_eq(&a->list[i], names[k].name)) {
				*items_r |= names[k].bit;
				break;
			}
		}
		if (k == sizeof names / sizeof names[0])
			return -1;
	}
	return 0;
}

/* Writes "* STATUS name (...)"; -1 with a NO reply on error. */
static int
write_status(struct imap_session *s, const struct store_mailbox *mb,
	     unsigned items)
{
	uint32_t recent = 0, deleted = 0;
	uint64_t size = 0;
	const char *err;
	if ((items & ST_DELETED) &&
	    imapsync_mailbox_deleted(s->st, mb->id, &deleted, &err) != STORE_OK) {
		imap_no(s, "[SERVERBUG] %s", err);
		return -1;
	}
	if ((items & ST_RECENT) &&
	    imapdb_count_recent(s->st, mb->id, &recent, &err) != STORE_OK) {
		imap_no(s, "[SERVERBUG] %s", err);
		return -1;
	}
	if ((items & ST_SIZE) &&
	    imapsync_mailbox_size(s->st, mb->id, &size, &err) != STORE_OK) {
		imap_no(s, "[SERVERBUG] %s", err);
		return -1;
	}
	struct buf b = BUF_INIT;
	buf_puts(&b, "* STATUS ");
	imap_append_mailbox(&b, mb->name);
	buf_puts(&b, " (");
	size_t start = b.len;
	if (items & ST_MESSAGES)
		buf_printf(&b, " MESSAGES %u", mb->messages);
	if (items & ST_RECENT)
		buf_printf(&b, " RECENT %u", recent);
	if (items & ST_UIDNEXT)
		buf_printf(&b, " UIDNEXT %u", mb->uidnext);
	if (items & ST_UIDVALIDITY)
		buf_printf(&b, " UIDVALIDITY %u", mb->uidvalidity);
	if (items & ST_UNSEEN)
		buf_printf(&b, " UNSEEN %u", mb->unseen);
	if (items & ST_HIGHESTMODSEQ)
		buf_printf(&b, " HIGHESTMODSEQ %llu",
			   (unsigned long long)mb->highestmodseq);
	if (items & ST_SIZE)
		buf_printf(&b, " SIZE %llu", (unsigned long long)size);
	if (items & ST_DELETED)
		buf_printf(&b, " DELETED %u", deleted);
	if (items & ST_APPENDLIMIT)
		buf_printf(&b, " APPENDLIMIT %llu",
			   (unsigned long long)s->cfg->message_size);
	if (items & ST_MAILBOXID) {
		buf_puts(&b, " MAILBOXID (");
		imap_append_mailboxid(&b, mb);
		buf_putc(&b, ')');
	}
	/* drop the first space */
	memmove(b.data + start, b.data + start + 1, b.len - start - 1);
	buf_truncate(&b, b.len - 1);
	buf_puts(&b, ")\r\n");
	imap_write(s, b.data, b.len);
	buf_free(&b);
	return 0;
}

int
imap_arg_mailbox_get(struct imap_session *s, const struct imap_arg *a,
		     struct store_mailbox *mb_r)
{
	struct buf name = BUF_INIT;
	if (imap_arg_mailbox(s, a, &name) < 0) {
		buf_free(&name);
		return -1;
	}
	const char *err;
	int r = store_mailbox_get(s->st, s->user_id, buf_cstr(&name), mb_r, &err);
	buf_free(&name);
	if (r == STORE_NOTFOUND) {
		imap_no(s, "[NONEXISTENT] Mailbox does not exist.");
		return -1;
	}
	if (r != STORE_OK) {
		imap_no(s, "[SERVERBUG] %s", err);
		return -1;
	}
	return 0;
}

void
imap_cmd_status(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	unsigned items;
	if (n != 2 || parse_status_items(&args[1], &items) < 0) {
		imap_bad(s, "STATUS needs a mailbox and a list of items");
		return;
	}
	/* RFC 7162 §3.1: a CONDSTORE-enabling command */
	if (items & ST_HIGHESTMODSEQ)
		imap_condstore_enable(s);
	struct store_mailbox mb;
	if (imap_arg_mailbox_get(s, &args[0], &mb) < 0)
		return;
	if (write_status(s, &mb, items) == 0)
		imap_ok(s, "Status completed.");
	store_mailbox_clear(&mb);
}

/* ---- LIST and LSUB ----------------------------------------------------- */

/* RFC 3501 §6.3.8: '*' matches anything, '%' anything but the delimiter.
 * Dynamic programming, so no pattern can make it exponential. */
static bool
pattern_match(const char *pat, const char *name)
{
	size_t np = strlen(pat), nn = strlen(name);
	unsigned char *row = xcalloc(nn + 1, 1), *next = xcalloc(nn + 1, 1);
	row[0] = 1;
	for (size_t j = 1; j <= nn; j++)
		row[j] = 0;
	for (size_t i = 0; i < np; i++) {
		char c = pat[i];
		memset(next, 0, nn + 1);
		if (c == '*' || c == '%') {
			next[0] = row[0];
			for (size_t j = 1; j <= nn; j++)
				next[j] = row[j] ||
					(next[j - 1] && (c == '*' || name[j - 1] != '/'));
		} else {
			for (size_t j = 1; j <= nn; j++)
				next[j] = row[j - 1] && name[j - 1] == c;
		}
		unsigned char *t = row;
		row = next;
		next = t;
	}
	bool ok = row[nn] != 0;
	free(row);
	free(next);
	return ok;
}

/* INBOX matches case-insensitively (RFC 3501 §5.1). */
static bool
name_matches(const char *pat, const char *name)
{
	if (pattern_match(pat, name))
		return true;
	if (strncmp(name, "INBOX", 5) == 0 && strlen(pat) >= 5 &&
	    mem_eq_nocase(pat, "INBOX", 5)) {
		char *p = xstrdup(pat);
		memcpy(p, "INBOX", 5);
		bool ok = pattern_match(p, name);
		free(p);
		return ok;
	}
	return false;
}

struct list_entry {
	const struct store_mailbox *mb;	/* NULL: no mailbox of this name */
	char *name;
	bool implied;		/* a parent of a mailbox: listed by LIST */
	bool subscribed;
	bool children;		/* has a mailbox (or implied parent) below */
};

struct list_opts {
	bool subscribed;	/* selection */
	bool recursive;
	bool special_only;
	bool ret_subscribed;
	bool ret_children;
	bool ret_special;
	unsigned status;	/* RETURN (STATUS (...)) */
	bool extended;		/* any LIST-EXTENDED syntax was used */
	bool lsub;
};

static int
cmp_entry(const void *a, const void *b)
{
	const struct list_entry *x = a, *y = b;
	/* INBOX first, then by name */
	bool xi = strcmp(x->name, "INBOX") == 0, yi = strcmp(y->name, "INBOX") == 0;
	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->name, y->name);
}

struct entries {
	struct list_entry *e;
	size_t n, cap;
};

/* The entry of name, made when missing (a linear search: a household's
 * mailboxes are counted in tens or hundreds). */
static struct list_entry *
entry_of(struct entries *es, const char *name, size_t len)
{
	for (size_t k = 0; k < es->n; k++) {
		if (strlen(es->e[k].name) == len && memcmp(es->e[k].name, name, len) == 0)
			return &es->e[k];
	}
	if (es->n == es->cap) {
		es->cap = es->cap == 0 ? 16 : es->cap * 2;
		es->e = xreallocarray(es->e, es->cap, sizeof *es->e);
	}
	struct list_entry *e = &es->e[es->n++];
	memset(e, 0, sizeof *e);
	e->name = xstrndup(name, len);
	return e;
}

/* Every mailbox, every subscribed name, and their parents; with what LIST
 * and LSUB need to know of each. */
static struct list_entry *
collect(const struct store_mailbox *list, size_t n, char **subs, size_t nsubs,
	size_t *count_r)
{
	struct entries es = { NULL, 0, 0 };
	for (size_t i = 0; i < n; i++)
		entry_of(&es, list[i].name, strlen(list[i].name))->mb = &list[i];
	for (size_t i = 0; i < n; i++) {
		const char *name = list[i].name;
		for (const char *p = strchr(name, '/'); p; p = strchr(p + 1, '/')) {
			struct list_entry *e = entry_of(&es, name, (size_t)(p - name));
			e->implied = true;
			e->children = true;
		}
	}
	for (size_t i = 0; i < nsubs; i++) {
		entry_of(&es, subs[i], strlen(subs[i]))->subscribed = true;
		for (const char *p = strchr(subs[i], '/'); p; p = strchr(p + 1, '/'))
			(void)entry_of(&es, subs[i], (size_t)(p - subs[i]));
	}
	for (size_t i = 0; i < es.n; i++) {
		if (es.e[i].mb == NULL)
			continue;
		const char *name = es.e[i].name;
		/* a mailbox's parents have children */
		for (const char *p = strchr(name, '/'); p; p = strchr(p + 1, '/'))
			entry_of(&es, name, (size_t)(p - name))->children = true;
	}
	qsort(es.e, es.n, sizeof *es.e, cmp_entry);
	*count_r = es.n;
	return es.e;
}

static int
parse_list_opts(struct imap_session *s, const struct imap_arg **args,
		size_t *n, struct list_opts *o)
{
	if (*n > 0 && imap_arg_is_list(&(*args)[0])) {
		const struct imap_arg *l = (*args)[0].list;
		o->extended = true;
		for (size_t i = 0; i < (*args)[0].n; i++) {
			if (imap_arg_atom_eq(&l[i], "SUBSCRIBED"))
				o->subscribed = o->ret_subscribed = true;
			else if (imap_arg_atom_eq(&l[i], "RECURSIVEMATCH"))
				o->recursive = true;
			else if (imap_arg_atom_eq(&l[i], "SPECIAL-USE"))
				o->special_only = o->ret_special = true;
			else if (imap_arg_atom_eq(&l[i], "REMOTE"))
				;
			else {
				imap_bad(s, "Unknown LIST selection option");
				return -1;
			}
		}
		/* RFC 5258 §3.1: RECURSIVEMATCH needs another option */
		if (o->recursive && !o->subscribed && !o->special_only) {
			imap_bad(s, "RECURSIVEMATCH alone is not allowed");
			return -1;
		}
		(*args)++;
		(*n)--;
	}
	if (*n >= 4 && imap_arg_atom_eq(&(*args)[2], "RETURN") &&
	    imap_arg_is_list(&(*args)[3])) {
		const struct imap_arg *l = (*args)[3].list;
		o->extended = true;
		for (size_t i = 0; i < (*args)[3].n; i++) {
			if (imap_arg_atom_eq(&l[i], "SUBSCRIBED"))
				o->ret_subscribed = true;
			else if (imap_arg_atom_eq(&l[i], "CHILDREN"))
				o->ret_children = true;
			else if (imap_arg_atom_eq(&l[i], "SPECIAL-USE"))
				o->ret_special = true;
			else if (imap_arg_atom_eq(&l[i], "STATUS") && i + 1 < (*args)[3].n &&
				 parse_status_items(&l[i + 1], &o->status) == 0)
				i++;
			else {
				imap_bad(s, "Unknown LIST return option");
				return -1;
			}
		}
		*n -= 2;
	}
	return 0;
}

/* Patterns that could not be decoded are NULL and match nothing. */
static bool
any_matches(char **patterns, size_t npats, const char *name)
{
	for (size_t k = 0; k < npats; k++) {
		if (patterns[k] != NULL && name_matches(patterns[k], name))
			return true;
	}
	return false;
}

/* Whether a subscribed name below e[i] is one that no pattern lists. */
static bool
unlisted_subscribed_child(const struct list_entry *e, size_t ne, size_t i,
			  char **patterns, size_t npats)
{
	size_t len = strlen(e[i].name);
	for (size_t k = 0; k < ne; k++) {
		if (k != i && e[k].subscribed &&
		    strncmp(e[k].name, e[i].name, len) == 0 &&
		    e[k].name[len] == '/' && !any_matches(patterns, npats, e[k].name))
			return true;
	}
	return false;
}

static void
list_common(struct imap_session *s, const struct imap_arg *args, size_t n,
	    bool lsub)
{
	struct list_opts o;
	memset(&o, 0, sizeof o);
	o.lsub = lsub;
	if (!lsub && parse_list_opts(s, &args, &n, &o) < 0)
		return;
	if (lsub)
		o.subscribed = true;
	if (n != 2 || !imap_arg_is_astring(&args[0]) ||
	    (!imap_arg_is_astring(&args[1]) &&
	     !(imap_arg_is_list(&args[1]) && !lsub && args[1].n > 0))) {
		imap_bad(s, "%s needs a reference and a pattern", lsub ? "LSUB" : "LIST");
		return;
	}
	const char *cmd = lsub ? "LSUB" : "LIST";
	/* RFC 3501 §6.3.8: an empty pattern asks for the delimiter */
	if (imap_arg_is_astring(&args[1]) && args[1].len == 0) {
		if (!lsub)
			imap_printf(s, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		imap_ok(s, "%s completed.", cmd);
		return;
	}
	/* the patterns, reference prepended, in UTF-8 */
	const struct imap_arg *pats = imap_arg_is_list(&args[1]) ? args[1].list : &args[1];
	size_t npats = imap_arg_is_list(&args[1]) ? args[1].n : 1;
	char **patterns = xcalloc(npats, sizeof *patterns);
	for (size_t i = 0; i < npats; i++) {
		struct buf p = BUF_INIT;
		if (!imap_arg_is_astring(&pats[i])) {
			for (size_t k = 0; k < i; k++)
				free(patterns[k]);
			free(patterns);
			imap_bad(s, "Invalid pattern");
			return;
		}
		/* a pattern that is not modified UTF-7 names no mailbox: it
		 * lists nothing, and that is no error (as in Dovecot) */
		if (imap_mutf7_to_utf8(args[0].str, args[0].len, &p) < 0 ||
		    imap_mutf7_to_utf8(pats[i].str, pats[i].len, &p) < 0) {
			buf_free(&p);
			patterns[i] = NULL;
			continue;
		}
		patterns[i] = buf_steal(&p);
	}
	struct store_mailbox *list;
	size_t nl;
	const char *err;
	if (store_mailbox_list(s->st, s->user_id, &list, &nl, &err) != STORE_OK) {
		for (size_t k = 0; k < npats; k++)
			free(patterns[k]);
		free(patterns);
		imap_no(s, "[SERVERBUG] %s", err);
		return;
	}
	char **subs = NULL;
	size_t nsubs = 0;
	if (imapdb_subscriptions(s->st, s->user_id, &subs, &nsubs, &err) != STORE_OK) {
		store_mailbox_list_free(&list, nl);
		for (size_t k = 0; k < npats; k++)
			free(patterns[k]);
		free(patterns);
		imap_no(s, "[SERVERBUG] %s", err);
		return;
	}
	size_t ne;
	struct list_entry *e = collect(list, nl, subs, nsubs, &ne);
	for (size_t i = 0; i < nsubs; i++)
		free(subs[i]);
	free(subs);
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < ne; i++) {
		if (!any_matches(patterns, npats, e[i].name))
			continue;
		const struct store_mailbox *mb = e[i].mb;
		bool childinfo = false;
		if (o.subscribed) {
			/* RFC 5258 §3.5 (RECURSIVEMATCH) and RFC 3501 §6.3.9
			 * (LSUB with '%'): a name that is not subscribed is
			 * listed when a subscribed name below it is not
			 * listed itself, with CHILDINFO or \Noselect */
			if (!e[i].subscribed) {
				if (!(o.recursive || lsub) ||
				    !unlisted_subscribed_child(e, ne, i, patterns, npats))
					continue;
				childinfo = true;
			}
		} else if (mb == NULL && !e[i].implied) {
			continue;	/* only subscribed: not a LIST entry */
		}
		if (o.special_only && (mb == NULL || mb->special_use == NULL))
			continue;
		buf_reset(&b);
		buf_printf(&b, "* %s (", cmd);
		size_t start = b.len;
		if (lsub) {
			/* RFC 3501 §6.3.9: the parent listed for '%' */
			if (childinfo || mb == NULL)
				buf_puts(&b, " \\Noselect");
		} else {
			if (mb == NULL)
				/* RFC 9051 §7.3.1: IMAP4rev2 says \NonExistent
				 * (which implies \Noselect) as LIST-EXTENDED does */
				buf_puts(&b, o.extended || imap_rev2_on(s) ?
					 " \\NonExistent" : " \\Noselect");
			buf_puts(&b, e[i].children ? " \\HasChildren" : " \\HasNoChildren");
			if ((o.ret_subscribed || o.subscribed) && e[i].subscribed)
				buf_puts(&b, " \\Subscribed");
		}
		if (mb != NULL && mb->special_use != NULL)
			buf_printf(&b, " %s", mb->special_use);
		if (b.len > start) {
			memmove(b.data + start, b.data + start + 1, b.len - start - 1);
			buf_truncate(&b, b.len - 1);
		}
		buf_puts(&b, ") \"/\" ");
		imap_append_mailbox(&b, e[i].name);
		if (childinfo && !lsub)
			buf_puts(&b, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
		buf_puts(&b, "\r\n");
		imap_write(s, b.data, b.len);
		/* RFC 5819: STATUS right after its LIST line */
		if (o.status != 0 && mb != NULL && write_status(s, mb, o.status) < 0)
			break;
	}
	buf_free(&b);
	for (size_t i = 0; i < ne; i++)
		free(e[i].name);
	free(e);
	store_mailbox_list_free(&list, nl);
	for (size_t k = 0; k < npats; k++)
		free(patterns[k]);
	free(patterns);
	if (s->reply == IMAP_REPLY_NONE)
		imap_ok(s, "%s completed.", cmd);
}

void
imap_cmd_list(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	list_common(s, args, n, false);
}

void
imap_cmd_lsub(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	list_common(s, args, n, true);
}
