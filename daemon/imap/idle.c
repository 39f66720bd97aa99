/*
 * idle: the selected mailbox as this session sees it (sequence numbers,
 * \Recent, flags), the untagged updates that keep it in step with other
 * sessions and deliveries (RFC 3501 §7.3, §7.4.1, §5.2), and IDLE
 * (RFC 2177).
 */
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <time.h>

#include "core/config.h"
#include "core/conn.h"
#include "core/listener.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "imap/imap.h"
#include "store/imapdb.h"

/* How often IDLE checks for changes made by another process (such as the
 * CLI), which wake no watch: it opens the store to look only when the
 * database's files changed (store_stamp_read()), or at least this often. */
#define IDLE_POLL_MS 5000
#define IDLE_LOOK_ANYWAY_S 60

size_t
imap_row_bytes(const struct imapdb_row *row)
{
	return sizeof *row + (row->envelope != NULL ? strlen(row->envelope) + 1 : 0) +
	       (row->bodystructure != NULL ? strlen(row->bodystructure) + 1 : 0);
}

static void
row_drop(struct imap_view *v, struct imap_msg *m)
{
	if (m->row == NULL)
		return;
	size_t bytes = imap_row_bytes(m->row);
	v->rows_bytes = v->rows_bytes > bytes ? v->rows_bytes - bytes : 0;
	imapdb_rows_free(&m->row, 1);
	m->row = NULL;
}

static void
msg_clear(struct imap_view *v, struct imap_msg *m)
{
	free(m->keywords);
	m->keywords = NULL;
	row_drop(v, m);
}

void
imap_view_drop_rows(struct imap_view *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n && v->rows_bytes > 0; i++)
		row_drop(v, &v->msgs[i]);
	v->rows_bytes = 0;
}

void
imap_view_free(struct imap_view **vp)
{
	struct imap_view *v = *vp;
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n; i++)
		msg_clear(v, &v->msgs[i]);
	free(v->msgs);
	for (size_t i = 0; i < v->n_keywords; i++)
		free(v->keywords[i]);
	free(v->keywords);
	store_watch_free(&v->watch);
	free(v->saved);
	imap_sort_cache_free(&v->sort_cache);
	free(v->name);
	free(v);
	*vp = NULL;
}

void
imap_view_close(struct imap_session *s)
{
	imap_view_free(&s->view);
}

static void
view_push(struct imap_view *v, uint32_t uid, unsigned flags,
	  const char *keywords, uint64_t modseq, bool recent)
{
	if (v->n == v->cap) {
		v->cap = v->cap == 0 ? 64 : v->cap * 2;
		v->msgs = xreallocarray(v->msgs, v->cap, sizeof *v->msgs);
	}
	struct imap_msg *m = &v->msgs[v->n++];
	m->uid = uid;
	m->flags = flags;
	m->recent = recent;
	m->expunged = false;
	m->keywords = keywords != NULL ? xstrdup(keywords) : NULL;
	m->modseq = modseq;
	m->row = NULL;
	if (recent)
		v->recent++;
}

/* Keywords a view announces at most (a FLAGS line stays a few KiB). */
#define VIEW_KEYWORDS_MAX 1000

/* Notes keywords for the FLAGS response; true when one was new. */
static bool
note_keywords(struct imap_view *v, const char *keywords)
{
	bool added = false;
	const char *p = keywords;
	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, ' ');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		bool known = false;
		for (size_t i = 0; i < v->n_keywords && !known; i++)
			known = strlen(v->keywords[i]) == l &&
				mem_eq_nocase(v->keywords[i], p, l);
		if (!known && l > 0 && v->n_keywords < VIEW_KEYWORDS_MAX) {
			v->keywords = xreallocarray(v->keywords, v->n_keywords + 1,
						    sizeof *v->keywords);
			v->keywords[v->n_keywords++] = xstrndup(p, l);
			added = true;
		}
		p = e ? e + 1 : NULL;
	}
	return added;
}

static void
write_flags_list(struct imap_session *s)
{
	struct imap_view *v = s->view;
	struct buf b = BUF_INIT;
	buf_puts(&b, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (size_t i = 0; i < v->n_keywords; i++)
		buf_printf(&b, " %s", v->keywords[i]);
	buf_puts(&b, ")\r\n");
	if (v->readonly) {
		buf_puts(&b, "* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n");
	} else {
		buf_puts(&b, "* OK [PERMANENTFLAGS (\\Answered \\Flagged"
			 " \\Deleted \\Seen \\Draft");
		for (size_t i = 0; i < v->n_keywords; i++)
			buf_printf(&b, " %s", v->keywords[i]);
		buf_puts(&b, " \\*)] Flags permitted.\r\n");
	}
	imap_write(s, b.data, b.len);
	buf_free(&b);
}

/* Adds the mailbox's keyword list (sql/012): every keyword any session
 * has set there, so that this session's FLAGS never leaves out one that
 * another session's FLAGS has shown (clients may share what they know of
 * a mailbox between connections, as imaptest does).  True when one was
 * new to this view. */
static bool
note_mailbox_keywords(struct imap_session *s)
{
	char **list;
	size_t n;
	const char *err;
	bool added = false;
	if (imapdb_mailbox_keywords(s->st, s->view->mailbox_id, VIEW_KEYWORDS_MAX,
				    &list, &n, &err) != STORE_OK) {
		log_error("imap[%llu] %s", (unsigned long long)s->id, err);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		added |= note_keywords(s->view, list[i]);
		free(list[i]);
	}
	free(list);
	return added;
}

bool
imap_view_note_keywords(struct imap_session *s, const char *keywords)
{
	return s->view != NULL && keywords != NULL && note_keywords(s->view, keywords);
}

void
imap_view_send_flags(struct imap_session *s)
{
	if (s->view == NULL)
		return;
	note_mailbox_keywords(s);
	write_flags_list(s);
}

void
imap_view_announce_keywords(struct imap_session *s, const char *keywords)
{
	if (imap_view_note_keywords(s, keywords))
		imap_view_send_flags(s);
}

int
imap_view_open(struct imap_session *s, const struct store_mailbox *mb,
	       bool readonly)
{
	struct imapdb_msg *list;
	size_t n;
	struct store_mailbox cur;
	const char *err;
	uint32_t first_recent = UINT32_MAX;

	imap_session_set_state(s, IMAP_STATE_AUTHENTICATED);
	if (imapdb_view_load(s->st, mb->id, &cur, &list, &n, &err) != STORE_OK) {
		imap_no(s, "[SERVERBUG] %s", err);
		return -1;
	}
	/* \Recent after the view is read, and only up to what it holds: a
	 * message delivered meanwhile is claimed by whoever sees it first */
	if ((readonly ? imapdb_first_recent(s->st, mb->id, &first_recent, &err) :
	     imapdb_claim_recent(s->st, mb->id, cur.uidnext, &first_recent,
				 &err)) != STORE_OK) {
		imapdb_msg_list_free(&list, n);
		store_mailbox_clear(&cur);
		imap_no(s, "[SERVERBUG] %s", err);
		return -1;
	}
	struct imap_view *v = xcalloc(1, sizeof *v);
	v->mailbox_id = mb->id;
	v->name = xstrdup(mb->name);
	v->readonly = readonly;
	v->uidvalidity = cur.uidvalidity;
	v->uidnext = cur.uidnext;
	v->modseq = cur.highestmodseq;
	v->keywords_listed = cur.keywords;
	v->cap = n > 0 ? n : 16;
	v->msgs = xreallocarray(NULL, v->cap, sizeof *v->msgs);
	size_t first_unseen = 0;
	for (size_t i = 0; i < n; i++) {
		/* take the keywords string over without copying */
		if (v->n == v->cap) {
			v->cap *= 2;
			v->msgs = xreallocarray(v->msgs, v->cap, sizeof *v->msgs);
		}
		struct imap_msg *m = &v->msgs[v->n++];
		m->uid = list[i].uid;
		m->flags = list[i].flags;
		m->recent = list[i].uid >= first_recent;
		m->expunged = false;
		m->keywords = list[i].keywords;
		m->modseq = list[i].modseq;
		m->row = NULL;
		list[i].keywords = NULL;
		if (m->recent)
			v->recent++;
		if (m->keywords != NULL)
			note_keywords(v, m->keywords);
		if (first_unseen == 0 && !(m->flags & STORE_FLAG_SEEN))
			first_unseen = i + 1;
	}
	imapdb_msg_list_free(&list, n);
	store_mailbox_clear(&cur);
	v->watch = store_watch_new(mb->id);
	v->exists_sent = v->n;
	v->recent_sent = v->recent;
	s->view = v;
	note_mailbox_keywords(s);
	imap_session_set_state(s, IMAP_STATE_SELECTED);

	/* RFC 3501 §6.3.1: the untagged data of SELECT */
	write_flags_list(s);
	imap_printf(s, "* %zu EXISTS\r\n", v->n);
	/* RFC 9051 §7.4.1 and Appendix E: no RECENT, and no UNSEEN code
	 * (a client asks SEARCH UNSEEN) for IMAP4rev2 */
	if (!imap_rev2_on(s))
		imap_printf(s, "* %zu RECENT\r\n", v->recent);
	if (first_unseen > 0 && !imap_rev2_on(s))
		imap_printf(s, "* OK [UNSEEN %zu] First unseen.\r\n", first_unseen);
	imap_printf(s, "* OK [UIDVALIDITY %u] UIDs valid\r\n"
		    "* OK [UIDNEXT %u] Predicted next UID\r\n",
		    v->uidvalidity, v->uidnext);
	/* RFC 7162 §3.1.2.1: every SELECT/EXAMINE of a mailbox whose
	 * MODSEQs persist */
	imap_printf(s, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
		    (unsigned long long)v->modseq);
	return 0;
}

/* Sends the EXPUNGEs that are due, lowest first, each number counted
 * after the ones before it are gone (as in RFC 3501 §7.4.1's example). */
static void
send_expunges(struct imap_session *s)
{
	struct imap_view *v = s->view;
	size_t w = 0;
	/* RFC 7162 §3.2.10: with QRESYNC, VANISHED instead of EXPUNGE */
	bool vanished = imap_qresync_on(s);
	uint32_t *gone = NULL;
	size_t n_gone = 0;
	for (size_t i = 0; i < v->n; i++) {
		if (v->msgs[i].expunged) {
			if (vanished) {
				gone = xreallocarray(gone, n_gone + 1, sizeof *gone);
				gone[n_gone++] = v->msgs[i].uid;
			} else {
				imap_printf(s, "* %zu EXPUNGE\r\n", w + 1);
			}
			if (v->msgs[i].recent)
				v->recent--;
			msg_clear(v, &v->msgs[i]);
		} else {
			v->msgs[w++] = v->msgs[i];
		}
	}
	imap_qresync_vanished(s, gone, n_gone);
	free(gone);
	v->expunge_pending = false;
	if (w != v->n) {
		if (v->exists_sent >= v->n - w)
			v->exists_sent -= v->n - w;
		v->n = w;
	}
}

static bool
same_keywords(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

void
imap_view_own_change(struct imap_session *s)
{
	struct imap_view *v = s->view;
	uint64_t gen_before, modseq;
	if (v == NULL || !store_own_change(s->st, v->mailbox_id, &gen_before, &modseq))
		return;
	/* no change of this process came between the last look and this
	 * one (the count), nor of any other (HIGHESTMODSEQ: every change
	 * raises it) */
	if (gen_before != v->synced_gen || modseq != v->modseq + 1)
		return;
	v->modseq = modseq;
	v->synced_gen = gen_before + 1;
	v->synced_ms = imap_now_ms();
}

void
imap_view_sync(struct imap_session *s)
{
	struct imap_view *v = s->view;
	struct store_mailbox mb;
	struct imapdb_msg *list;
	size_t n;
	const char *err;
	if (v == NULL)
		return;
	int64_t now = imap_now_ms();
	/* before the look: a change committed meanwhile raises it again */
	uint64_t gen = store_mailbox_gen(v->mailbox_id);
	if (s->sync_may_skip && gen == v->synced_gen && now >= v->synced_ms &&
	    now - v->synced_ms < IMAP_SYNC_TRUST_MS) {
		/* nothing new to look for; what is known to be gone (this
		 * session's EXPUNGE, or a look's while EXPUNGE had to wait) is
		 * told now, as a look would */
		if (s->allow_expunge && v->expunge_pending) {
			send_expunges(s);
			if (v->recent != v->recent_sent && !imap_rev2_on(s))
				imap_printf(s, "* %zu RECENT\r\n", v->recent);
			v->recent_sent = v->recent;
		}
		return;
	}
	store_watch_drain(v->watch);
	int r = imapdb_changes(s->st, v->mailbox_id, v->modseq, &mb, &list, &n,
			       false, NULL, NULL, &err);
	if (r == STORE_NOTFOUND) {
		/* the mailbox was deleted under us */
		imap_printf(s, "* BYE Mailbox was deleted.\r\n");
		imap_session_set_state(s, IMAP_STATE_LOGOUT);
		return;
	}
	if (r != STORE_OK) {
		log_error("imap[%llu] sync failed: %s", (unsigned long long)s->id, err);
		return;
	}
	v->synced_gen = gen;
	v->synced_ms = now;
	uint32_t last_uid = v->n > 0 ? v->msgs[v->n - 1].uid : 0;
	size_t live = 0;
	for (size_t i = 0; i < v->n; i++)
		live += !v->msgs[i].expunged;
	size_t added = 0;
	for (size_t i = 0; i < n; i++)
		added += list[i].uid > last_uid;

	/* some of ours are gone when the counts do not add up */
	if (mb.messages != live + added) {
		uint32_t *uids;
		size_t nu;
		imapdb_msg_list_free(&list, n);
		store_mailbox_clear(&mb);
		if (imapdb_changes(s->st, v->mailbox_id, v->modseq, &mb, &list,
				   &n, true, &uids, &nu, &err) != STORE_OK) {
			log_error("imap[%llu] sync failed: %s",
				  (unsigned long long)s->id, err);
			return;
		}
		size_t k = 0;
		for (size_t i = 0; i < v->n; i++) {
			while (k < nu && uids[k] < v->msgs[i].uid)
				k++;
			if (k >= nu || uids[k] != v->msgs[i].uid) {
				v->msgs[i].expunged = true;
				v->expunge_pending = true;
			}
		}
		free(uids);
	}
	if (s->allow_expunge)
		send_expunges(s);

	/* Keywords first: a client may rely on every keyword of a FETCH
	 * being in the FLAGS it was last sent (RFC 3501 §7.2.6). */
	bool new_keywords = false;
	for (size_t i = 0; i < n; i++) {
		if (list[i].keywords != NULL)
			new_keywords |= note_keywords(v, list[i].keywords);
	}
	/* and a keyword another session made (RFC 3501 §7.2.6: FLAGS
	 * tells of the flags "applicable" to the mailbox, as Dovecot's
	 * does when its list grows), though the message that had it may be
	 * gone or have lost it again before this session looked */
	if (new_keywords || mb.keywords != v->keywords_listed) {
		v->keywords_listed = mb.keywords;
		new_keywords |= note_mailbox_keywords(s);
	}
	if (new_keywords)
		write_flags_list(s);

	/* flags changed by others, and new messages */
	uint32_t first_recent = UINT32_MAX;
	bool claimed = false;
	size_t old_n = v->n;
	for (size_t i = 0; i < n; i++) {
		struct imapdb_msg *c = &list[i];
		if (c->uid > last_uid) {
			if (!claimed) {
				int rr = v->readonly ?
					imapdb_first_recent(s->st, v->mailbox_id,
							    &first_recent, &err) :
					imapdb_claim_recent(s->st, v->mailbox_id,
							    mb.uidnext, &first_recent,
							    &err);
				if (rr != STORE_OK)
					first_recent = UINT32_MAX;
				claimed = true;
			}
			view_push(v, c->uid, c->flags, c->keywords, c->modseq,
				  c->uid >= first_recent);
			continue;
		}
		ssize_t idx = imap_view_find_uid(v, c->uid);
		if (idx < 0)
			continue;
		struct imap_msg *m = &v->msgs[idx];
		if (m->expunged || idx >= (ssize_t)old_n)
			continue;
		bool modseq_news = c->modseq > m->modseq;
		if (c->modseq > m->modseq)
			m->modseq = c->modseq;
		/* RFC 7162 §3.1.4: a CONDSTORE client hears of every new
		 * MODSEQ, its flags the same or not */
		if (m->flags == c->flags && same_keywords(m->keywords, c->keywords) &&
		    !(modseq_news && imap_condstore_on(s)))
			continue;
		m->flags = c->flags;
		free(m->keywords);
		m->keywords = c->keywords != NULL ? xstrdup(c->keywords) : NULL;
		struct buf b = BUF_INIT;
		buf_printf(&b, "* %zd FETCH (UID %u FLAGS ", idx + 1, m->uid);
		imap_append_flags(&b, m->flags, m->keywords,
				  imap_show_recent(s, m->recent));
		if (imap_condstore_on(s))
			imap_append_modseq(&b, m->modseq);
		buf_puts(&b, ")\r\n");
		imap_write(s, b.data, b.len);
		buf_free(&b);
	}
	bool grew = v->n > v->exists_sent;
	if (v->n != v->exists_sent) {
		imap_printf(s, "* %zu EXISTS\r\n", v->n);
		v->exists_sent = v->n;
	}
	/* RFC 3501 §7.3.2: the client records the count it is told, and
	 * nothing else changes it: it is told again when expunges took
	 * recent messages away too (as Dovecot does) */
	if ((grew || v->recent != v->recent_sent) && !imap_rev2_on(s))
		imap_printf(s, "* %zu RECENT\r\n", v->recent);
	v->recent_sent = v->recent;
	v->modseq = mb.highestmodseq;
	v->uidnext = mb.uidnext;
	imapdb_msg_list_free(&list, n);
	store_mailbox_clear(&mb);
}

/*
 * An idle session holds no database connection: a SQLite handle with its
 * schema and statements costs more than everything else of a session, and
 * a household's clients sit in IDLE all day.  It is opened again for each
 * wake-up and when IDLE ends.  Nor does it hold a thread while it waits:
 * it is parked (imap_session_park()), and a thread that has run a TLS
 * handshake, a login and SQLite queries keeps more memory in its stack and
 * its malloc caches than the session's own data takes.
 */
int
imap_store_reopen(struct imap_session *s)
{
	const char *err;
	if (s->st != NULL)
		return 0;
	if (store_open(s->cfg->data_dir, &s->st, &err) != STORE_OK) {
		log_error("imap[%llu] cannot reopen the store: %s",
			  (unsigned long long)s->id, err);
		imap_printf(s, "* BYE [UNAVAILABLE] Temporary failure\r\n");
		imap_session_set_state(s, IMAP_STATE_LOGOUT);
		return -1;
	}
	return 0;
}

/* Whether to open the store and look: always after a notification
 * (forced); at a periodic look only when the database changed, since
 * opening it costs far more than the two stat() calls that tell.  Notes
 * the stamp of the look it asks for. */
static bool
idle_look_due(struct imap_session *s, bool forced)
{
	struct store_stamp now;
	int64_t t = (int64_t)time(NULL);

	store_stamp_read(s->cfg->data_dir, &now);
	if (!forced && store_stamp_equal(&now, &s->idle_stamp) &&
	    t < s->idle_looked + IDLE_LOOK_ANYWAY_S)
		return false;
	s->idle_stamp = now;
	s->idle_looked = t;
	return true;
}

/* Reads the line that ends IDLE and sets the reply. */
static void
idle_done(struct imap_session *s)
{
	if (imap_store_reopen(s) < 0)
		return;
	const char *line;
	size_t len;
	enum conn_result r = conn_read_line(s->c, 256, &line, &len);
	if (r != CONN_OK && r != CONN_TOOLONG) {
		imap_session_set_state(s, IMAP_STATE_LOGOUT);
		return;
	}
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (r == CONN_OK && len == 4 && mem_eq_nocase(line, "DONE", 4))
		imap_ok(s, "Idle completed.");
	else
		imap_bad(s, "Expected DONE");
}

/* Handles one wake-up of IDLE, w as conn_wait() says it: -1 broken, 0
 * nothing (the periodic look), 1 the client, 2 a notification.  True when
 * IDLE is over. */
static bool
idle_step(struct imap_session *s, int w)
{
	if (w < 0) {
		imap_session_set_state(s, IMAP_STATE_LOGOUT);
		return true;
	}
	if (w == 1) {
		idle_done(s);
		return true;
	}
	if (w == 0) {
		if (listener_stopping()) {
			imap_printf(s, "* BYE Server shutting down.\r\n");
			imap_session_set_state(s, IMAP_STATE_LOGOUT);
			return true;
		}
		if (time(NULL) >= (time_t)s->idle_deadline) {
			/* RFC 3501 §5.4: autologout */
			imap_printf(s, "* BYE Autologout; idle for too long\r\n");
			imap_session_set_state(s, IMAP_STATE_LOGOUT);
			return true;
		}
	}
	if (s->view != NULL && idle_look_due(s, w == 2)) {
		if (imap_store_reopen(s) < 0)
			return true;
		imap_view_sync(s);
		store_close(&s->st);
		if (s->state == IMAP_STATE_LOGOUT)
			return true;
	}
	if (conn_flush(s->c) < 0) {
		imap_session_set_state(s, IMAP_STATE_LOGOUT);
		return true;
	}
	return false;
}

/* Waits for the next wake-up, parked when it can be.  True when parked (the
 * caller returns at once), false when IDLE is over. */
static bool
idle_wait(struct imap_session *s)
{
	for (;;) {
		int fd = s->view != NULL ? store_watch_fd(s->view->watch) : -1;
		/* only the socket is watched while parked: first make sure
		 * nothing has arrived already (or is buffered by TLS) */
		int w = conn_wait(s->c, fd, 0);
		if (w == 0) {
			if (imap_session_park(s, fd, IDLE_POLL_MS) == 0)
				return true;
			w = conn_wait(s->c, fd, IDLE_POLL_MS);
		}
		if (idle_step(s, w))
			return false;
	}
}

bool
imap_idle_resume(struct imap_session *s)
{
	int fd = s->view != NULL ? store_watch_fd(s->view->watch) : -1;
	/* woken by the socket, the notification, the periodic look or the
	 * listeners stopping: conn_wait() says which (0: the last two) */
	if (idle_step(s, conn_wait(s->c, fd, 0)))
		return false;
	return idle_wait(s);
}

/* RFC 2177 */
void
imap_cmd_idle(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	if (n != 0) {
		imap_bad(s, "IDLE takes no arguments");
		return;
	}
	s->allow_expunge = true;
	/* before the look, so that a change made during it shows later */
	store_stamp_read(s->cfg->data_dir, &s->idle_stamp);
	s->idle_looked = (int64_t)time(NULL);
	if (s->view != NULL)
		imap_view_sync(s);
	imap_printf(s, "+ idling\r\n");
	if (conn_flush(s->c) < 0) {
		imap_session_set_state(s, IMAP_STATE_LOGOUT);
		return;
	}
	s->idle_deadline = (int64_t)time(NULL) + (int64_t)s->cfg->imap_timeout;
	store_close(&s->st);
	/* give what the handle used back to the system, not only to this
	 * thread's malloc arena */
	malloc_trim(0);
	idle_wait(s);
}
