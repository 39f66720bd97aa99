/* Unit tests for pop3/maildrop and pop3/inuse: the POP3 view of the INBOX,
 * TOP's cut, sending with dot-stuffing, and the [IN-USE] registry. */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/conn.h"
#include "core/password.h"
#include "pop3/inuse.h"
#include "pop3/maildrop.h"
#include "store/blob.h"
#include "store/store.h"
#include "tests/unit/runner.h"

/* ---- the [IN-USE] registry ------------------------------------------------ */

START_TEST(test_inuse_basic)
{
	ck_assert(!pop3_inuse_held(41));
	ck_assert(pop3_inuse_acquire(41));
	ck_assert(pop3_inuse_held(41));
	ck_assert(!pop3_inuse_acquire(41));
	/* other users are not affected */
	ck_assert(pop3_inuse_acquire(42));
	pop3_inuse_release(41);
	ck_assert(!pop3_inuse_held(41));
	ck_assert(pop3_inuse_held(42));
	ck_assert(pop3_inuse_acquire(41));
	pop3_inuse_release(41);
	pop3_inuse_release(42);
	ck_assert(!pop3_inuse_held(42));
}
END_TEST

static atomic_int holders;
static atomic_int max_holders;
static atomic_int acquisitions;

static void *
contend(void *arg)
{
	int64_t id = *(int64_t *)arg;
	for (int i = 0; i < 2000; i++) {
		if (!pop3_inuse_acquire(id))
			continue;
		int now = atomic_fetch_add(&holders, 1) + 1;
		int seen = atomic_load(&max_holders);
		while (now > seen &&
		       !atomic_compare_exchange_weak(&max_holders, &seen, now))
			;
		atomic_fetch_add(&acquisitions, 1);
		atomic_fetch_sub(&holders, 1);
		pop3_inuse_release(id);
	}
	return NULL;
}

START_TEST(test_inuse_threads)
{
	pthread_t t[8];
	int64_t id = 7;

	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, contend, &id), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	/* never two sessions at once, and the lock was really taken */
	ck_assert_int_eq(atomic_load(&max_holders), 1);
	ck_assert_int_gt(atomic_load(&acquisitions), 0);
	ck_assert(!pop3_inuse_held(id));
}
END_TEST

/* ---- TOP's cut -------------------------------------------------------------- */

static const char msg_text[] =
	"From: a@example.org\r\n"
	"Subject: x\r\n"
	"\r\n"
	"line 1\r\n"
	"line 2\r\n"
	"line 3\r\n";

/* What pop3_top_take() lets through when fed in pieces of `piece` bytes. */
static size_t
top_len(const char *text, size_t len, uint32_t lines, size_t piece)
{
	struct pop3_top t;
	size_t total = 0;

	pop3_top_init(&t, lines);
	for (size_t off = 0; off < len && !t.done; off += piece) {
		size_t n = len - off < piece ? len - off : piece;
		size_t take = pop3_top_take(&t, text + off, n);
		ck_assert_uint_le(take, n);
		total += take;
		if (take < n)
			ck_assert(t.done);
	}
	return total;
}

START_TEST(test_top_cut)
{
	size_t len = strlen(msg_text);
	size_t header = strlen("From: a@example.org\r\nSubject: x\r\n\r\n");

	for (size_t piece = 1; piece <= len; piece++) {
		ck_assert_uint_eq(top_len(msg_text, len, 0, piece), header);
		ck_assert_uint_eq(top_len(msg_text, len, 1, piece),
				  header + 8);
		ck_assert_uint_eq(top_len(msg_text, len, 2, piece),
				  header + 16);
		ck_assert_uint_eq(top_len(msg_text, len, 3, piece), len);
		ck_assert_uint_eq(top_len(msg_text, len, 100, piece), len);
	}
	/* bare LF lines and a header without a body */
	const char *lf = "A: b\n\nbody\nmore\n";
	ck_assert_uint_eq(top_len(lf, strlen(lf), 0, 1), 6);
	ck_assert_uint_eq(top_len(lf, strlen(lf), 1, 3), 11);
	const char *nobody = "A: b\r\nC: d\r\n";
	ck_assert_uint_eq(top_len(nobody, strlen(nobody), 0, 2),
			  strlen(nobody));
	/* a line of spaces is not the blank line */
	const char *sp = "A: b\r\n \r\nC: d\r\n\r\nx\r\n";
	ck_assert_uint_eq(top_len(sp, strlen(sp), 0, 1), strlen(sp) - 3);
}
END_TEST

/* ---- sending ------------------------------------------------------------ */

struct reader {
	int fd;
	struct buf got;
};

/* Reads the other end of the socket pair until EOF, so that the sender
 * never blocks on a full socket buffer. */
static void *
reader_run(void *arg)
{
	struct reader *r = arg;
	char chunk[4096];
	ssize_t n;

	while ((n = read(r->fd, chunk, sizeof chunk)) > 0)
		buf_append(&r->got, chunk, (size_t)n);
	return NULL;
}

/* Sends text (through a file) with pop3_maildrop_send and returns what
 * arrived at the other end of a socket pair, malloc'd. */
static char *
send_text(const char *text, size_t len, bool top, uint32_t lines,
	  uint64_t *sent_r)
{
	char *dir = test_tmpdir();
	char *path = NULL;
	int sv[2];
	const char *error = NULL;
	struct reader r = { -1, BUF_INIT };
	pthread_t t;

	ck_assert_int_ne(asprintf(&path, "%s/msg", dir), -1);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	fclose(f);
	int fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	r.fd = sv[1];
	ck_assert_int_eq(pthread_create(&t, NULL, reader_run, &r), 0);
	struct conn *c = conn_new(sv[0], 0);
	ck_assert_int_eq(pop3_maildrop_send(fd, len, c, top, lines, sent_r,
					    &error), 0);
	conn_free(&c);	/* flushes and closes */
	pthread_join(t, NULL);
	close(sv[1]);
	free(path);
	free(dir);
	if (r.got.data == NULL)
		buf_puts(&r.got, "");
	return buf_steal(&r.got);
}

START_TEST(test_send_stuffed)
{
	uint64_t sent;
	char *out;

	const char *m1 = "Subject: dots\r\n\r\n.hidden\r\n..two\r\nmid.dle\r\n.\r\n";
	out = send_text(m1, strlen(m1), false, 0, &sent);
	ck_assert_str_eq(out, "Subject: dots\r\n\r\n..hidden\r\n...two\r\n"
			 "mid.dle\r\n..\r\n.\r\n");
	ck_assert_uint_eq(sent, strlen(m1));
	free(out);

	/* a last line without CRLF gets one before the terminator */
	const char *m2 = "A: b\r\n\r\nno end";
	out = send_text(m2, strlen(m2), false, 0, &sent);
	ck_assert_str_eq(out, "A: b\r\n\r\nno end\r\n.\r\n");
	free(out);

	/* an empty message is just the terminator */
	out = send_text("", 0, false, 0, &sent);
	ck_assert_str_eq(out, ".\r\n");
	ck_assert_uint_eq(sent, 0);
	free(out);

	/* TOP: header, blank line, n lines, stuffed too */
	const char *m3 = "A: b\r\n\r\n.one\r\ntwo\r\n.three\r\n";
	out = send_text(m3, strlen(m3), true, 1, &sent);
	ck_assert_str_eq(out, "A: b\r\n\r\n..one\r\n.\r\n");
	ck_assert_uint_eq(sent, 14);
	free(out);
	out = send_text(m3, strlen(m3), true, 0, &sent);
	ck_assert_str_eq(out, "A: b\r\n\r\n.\r\n");
	free(out);
}
END_TEST

START_TEST(test_send_large)
{
	/* more than one read chunk, with dots at the chunk borders */
	struct buf m = BUF_INIT, want = BUF_INIT;
	uint64_t sent;

	buf_puts(&m, "Subject: big\r\n\r\n");
	buf_puts(&want, "Subject: big\r\n\r\n");
	for (int i = 0; m.len < 300000; i++) {
		buf_printf(&m, ".%d\r\n", i);
		buf_printf(&want, "..%d\r\n", i);
	}
	buf_puts(&want, ".\r\n");
	char *out = send_text(m.data, m.len, false, 0, &sent);
	ck_assert_uint_eq(strlen(out), want.len);
	ck_assert(memcmp(out, want.data, want.len) == 0);
	ck_assert_uint_eq(sent, m.len);
	free(out);
	buf_free(&m);
	buf_free(&want);
}
END_TEST

/* ---- the maildrop over a real store ---------------------------------------- */

struct fixture {
	char *dir;
	struct store *st;
	int64_t user_id;
	int64_t inbox_id;
};

static void
fixture_open(struct fixture *fx)
{
	const char *error = NULL;
	char *hash = NULL;
	struct store_user u;
	struct store_mailbox mb;

	fx->dir = test_tmpdir();
	ck_assert_int_eq(store_open(fx->dir, &fx->st, &error), STORE_OK);
	ck_assert_int_eq(store_domain_add(fx->st, "example.org", &error),
			 STORE_OK);
	ck_assert_int_eq(password_hash("secret", &hash, &error), 0);
	ck_assert_int_eq(store_user_add(fx->st, "alice@example.org", hash,
					false, 0, &error), STORE_OK);
	free(hash);
	ck_assert_int_eq(store_user_get(fx->st, "alice@example.org", &u,
					&error), STORE_OK);
	fx->user_id = u.id;
	store_user_clear(&u);
	ck_assert_int_eq(store_mailbox_get(fx->st, fx->user_id, "INBOX", &mb,
					   &error), STORE_OK);
	fx->inbox_id = mb.id;
	store_mailbox_clear(&mb);
}

static uint32_t
fixture_append(struct fixture *fx, const char *text)
{
	char hash[SHA256_HEX_LEN + 1];
	const char *error = NULL;
	uint32_t uid = 0;

	ck_assert_int_eq(blob_put(fx->st, text, strlen(text), hash, &error),
			 STORE_OK);
	ck_assert_int_eq(store_append(fx->st, fx->inbox_id, hash,
				      strlen(text), 1700000000, 0, NULL, false,
				      &uid, &error), STORE_OK);
	return uid;
}

static void
fixture_close(struct fixture *fx)
{
	store_close(&fx->st);
	free(fx->dir);
}

START_TEST(test_maildrop_snapshot_and_update)
{
	struct fixture fx;
	struct pop3_maildrop *md = NULL;
	const char *error = NULL;
	char uidl[3][POP3_UIDL_SIZE];
	size_t removed;

	fixture_open(&fx);
	const char *texts[3] = {
		"Subject: one\r\n\r\nfirst\r\n",
		"Subject: two\r\n\r\n.second\r\n",
		"Subject: three\r\n\r\nthird message\r\n",
	};
	uint32_t uids[3];
	for (int i = 0; i < 3; i++)
		uids[i] = fixture_append(&fx, texts[i]);

	ck_assert_int_eq(pop3_maildrop_open(fx.st, fx.user_id, &md, &error),
			 STORE_OK);
	ck_assert_uint_eq(md->n, 3);
	ck_assert_uint_eq(pop3_maildrop_count(md), 3);
	ck_assert_uint_eq(pop3_maildrop_octets(md),
			  strlen(texts[0]) + strlen(texts[1]) +
			  strlen(texts[2]));
	for (uint32_t i = 1; i <= 3; i++) {
		const struct pop3_msg *m = pop3_maildrop_get(md, i);
		ck_assert_ptr_nonnull(m);
		ck_assert_uint_eq(m->uid, uids[i - 1]);
		ck_assert_uint_eq(m->size, strlen(texts[i - 1]));
		pop3_maildrop_uidl(md, m, uidl[i - 1]);
		ck_assert_uint_eq(strlen(uidl[i - 1]), 16);
	}
	ck_assert_str_ne(uidl[0], uidl[1]);
	ck_assert_ptr_null(pop3_maildrop_get(md, 0));
	ck_assert_ptr_null(pop3_maildrop_get(md, 4));

	/* RETR's octets are LIST's size */
	int fd;
	uint64_t sent, file_size;
	int sv[2];
	ck_assert_int_eq(pop3_maildrop_open_msg(fx.st, pop3_maildrop_get(md, 2),
						&fd, &file_size, &error), 0);
	ck_assert_uint_eq(file_size, strlen(texts[1]));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct conn *c = conn_new(sv[0], 0);
	ck_assert_int_eq(pop3_maildrop_send(fd, file_size, c, false, 0, &sent,
					    &error), 0);
	ck_assert_uint_eq(sent, pop3_maildrop_get(md, 2)->size);
	conn_free(&c);
	close(sv[1]);

	/* DELE marks, RSET unmarks */
	ck_assert_int_eq(pop3_maildrop_delete(md, 2), 0);
	ck_assert_int_eq(pop3_maildrop_delete(md, 2), -1);
	ck_assert_int_eq(pop3_maildrop_delete(md, 9), -1);
	ck_assert_ptr_null(pop3_maildrop_get(md, 2));
	ck_assert_uint_eq(pop3_maildrop_count(md), 2);
	pop3_maildrop_reset(md);
	ck_assert_uint_eq(pop3_maildrop_count(md), 3);
	ck_assert_ptr_nonnull(pop3_maildrop_get(md, 2));

	/* an IMAP expunge meanwhile does not change the session's list */
	ck_assert_int_eq(store_expunge(fx.st, fx.inbox_id, &uids[0], 1, NULL,
				       &error), STORE_OK);
	ck_assert_uint_eq(pop3_maildrop_count(md), 3);

	/* UPDATE removes the marked ones at once; the one already gone is
	 * skipped */
	ck_assert_int_eq(pop3_maildrop_delete(md, 1), 0);
	ck_assert_int_eq(pop3_maildrop_delete(md, 2), 0);
	ck_assert_int_eq(pop3_maildrop_commit(fx.st, md, &removed, &error),
			 STORE_OK);
	ck_assert_uint_eq(removed, 1);
	pop3_maildrop_free(&md);
	ck_assert_ptr_null(md);

	/* the next session sees the one left, with the same UIDL */
	ck_assert_int_eq(pop3_maildrop_open(fx.st, fx.user_id, &md, &error),
			 STORE_OK);
	ck_assert_uint_eq(md->n, 1);
	char again[POP3_UIDL_SIZE];
	pop3_maildrop_uidl(md, pop3_maildrop_get(md, 1), again);
	ck_assert_str_eq(again, uidl[2]);
	pop3_maildrop_free(&md);

	/* UIDLs survive a new store handle (a restart) */
	store_close(&fx.st);
	ck_assert_int_eq(store_open(fx.dir, &fx.st, &error), STORE_OK);
	ck_assert_int_eq(pop3_maildrop_open(fx.st, fx.user_id, &md, &error),
			 STORE_OK);
	pop3_maildrop_uidl(md, pop3_maildrop_get(md, 1), again);
	ck_assert_str_eq(again, uidl[2]);
	/* a commit without deletions changes nothing */
	ck_assert_int_eq(pop3_maildrop_commit(fx.st, md, &removed, &error),
			 STORE_OK);
	ck_assert_uint_eq(removed, 0);
	pop3_maildrop_free(&md);
	pop3_maildrop_free(&md);	/* NULL is fine */
	fixture_close(&fx);
}
END_TEST

START_TEST(test_uidl_format)
{
	struct pop3_maildrop md = { .uidvalidity = 0x5f00abcd };
	struct pop3_msg m = { .uid = 42 };
	char out[POP3_UIDL_SIZE];

	pop3_maildrop_uidl(&md, &m, out);
	ck_assert_str_eq(out, "0000002A5F00ABCD");
	m.uid = UINT32_MAX;
	pop3_maildrop_uidl(&md, &m, out);
	ck_assert_str_eq(out, "FFFFFFFF5F00ABCD");
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("pop3_maildrop");
	TCase *tc = tcase_create("maildrop");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_inuse_basic);
	tcase_add_test(tc, test_inuse_threads);
	tcase_add_test(tc, test_top_cut);
	tcase_add_test(tc, test_send_stuffed);
	tcase_add_test(tc, test_send_large);
	tcase_add_test(tc, test_maildrop_snapshot_and_update);
	tcase_add_test(tc, test_uidl_format);
	suite_add_tcase(s, tc);
	return s;
}
