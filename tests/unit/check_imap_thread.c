/* Unit tests for imap/thread: THREAD=ORDEREDSUBJECT and REFERENCES
 * (RFC 5256 §3) on small mailboxes built to exercise each step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xmalloc.h"
#include "imap/thread.h"
#include "mail/basesubject.h"
#include "mail/sortkeys.h"
#include "tests/unit/runner.h"

/* One message as its headers say it. */
struct tmsg {
	int64_t date;
	const char *subject, *message_id, *references, *in_reply_to;
};

struct built {
	struct thread_msg *msgs;
	struct buf *bufs;	/* 3 per message */
	size_t n;
};

static void
build(struct built *b, const struct tmsg *m, size_t n)
{
	b->n = n;
	b->msgs = xcalloc(n, sizeof *b->msgs);
	b->bufs = xcalloc(3 * n, sizeof *b->bufs);
	for (size_t i = 0; i < n; i++) {
		struct buf *subj = &b->bufs[3 * i], *id = subj + 1, *refs = subj + 2;
		struct thread_msg *t = &b->msgs[i];
		t->id = (uint32_t)(i + 1);
		t->date = m[i].date;
		t->reply = mail_base_subject(subj, m[i].subject ? m[i].subject : "",
					     m[i].subject ? strlen(m[i].subject) : 0);
		t->subject = buf_cstr(subj);
		if (m[i].message_id != NULL &&
		    mail_msgids(id, m[i].message_id, strlen(m[i].message_id), 1) > 0)
			t->msgid = buf_cstr(id);
		size_t k = 0;
		if (m[i].references != NULL)
			k = mail_msgids(refs, m[i].references,
					       strlen(m[i].references), 0);
		if (k == 0 && m[i].in_reply_to != NULL)
			k = mail_msgids(refs, m[i].in_reply_to,
					       strlen(m[i].in_reply_to), 1);
		if (k > 0)
			t->refs = buf_cstr(refs);
	}
}

static void
unbuild(struct built *b)
{
	for (size_t i = 0; i < 3 * b->n; i++)
		buf_free(&b->bufs[i]);
	free(b->bufs);
	free(b->msgs);
}

static void
ck_threads(const struct tmsg *m, size_t n, const char *want_refs,
	   const char *want_ordered)
{
	struct built b;
	struct buf out = BUF_INIT;
	build(&b, m, n);
	imap_thread_references(b.msgs, b.n, &out);
	ck_assert_msg(strcmp(buf_cstr(&out), want_refs) == 0,
		      "REFERENCES: %s != %s", buf_cstr(&out), want_refs);
	if (want_ordered != NULL) {
		buf_reset(&out);
		imap_thread_orderedsubject(b.msgs, b.n, &out);
		ck_assert_msg(strcmp(buf_cstr(&out), want_ordered) == 0,
			      "ORDEREDSUBJECT: %s != %s", buf_cstr(&out),
			      want_ordered);
	}
	buf_free(&out);
	unbuild(&b);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

START_TEST(test_msgids)
{
	struct buf b = BUF_INIT;
	const char *v = " <a@x> junk <no-at> <b @ y>\r\n <\"q\"@z> <c@x>";
	ck_assert_uint_eq(mail_msgids(&b, v, strlen(v), 0), 3);
	ck_assert_str_eq(buf_cstr(&b), "a@x b@y c@x");
	buf_reset(&b);
	ck_assert_uint_eq(mail_msgids(&b, v, strlen(v), 1), 1);
	ck_assert_str_eq(buf_cstr(&b), "a@x");
	buf_free(&b);
}
END_TEST

START_TEST(test_simple_tree)
{
	static const struct tmsg m[] = {
		{ 100, "Hello", "<1@x>", NULL, NULL },
		{ 200, "Re: Hello", "<2@x>", "<1@x>", NULL },
		{ 300, "Re: Hello", "<3@x>", "<1@x> <2@x>", NULL },
		{ 250, "Re: Hello", "<4@x>", "<1@x>", NULL },
		{ 150, "Other", "<5@x>", NULL, NULL },
	};
	ck_threads(m, N(m), "(1 (2 3)(4))(5)", "(1 (2)(4)(3))(5)");
}
END_TEST

START_TEST(test_dummies)
{
	/* step 4: a missing parent with two children stays as a dummy root */
	static const struct tmsg two[] = {
		{ 10, "Topic", "<a@x>", "<missing@x>", NULL },
		{ 20, "Re: Topic", "<b@x>", "<missing@x>", NULL },
	};
	ck_threads(two, N(two), "((1)(2))", "(1 2)");
	/* ...and with one child it is replaced by the child */
	static const struct tmsg one[] = {
		{ 10, "X", "<a@x>", "<missing@x>", NULL },
	};
	ck_threads(one, N(one), "(1)", "(1)");
	/* a dummy in the middle goes; its child moves up to the grandparent */
	static const struct tmsg mid[] = {
		{ 10, "X", "<a@x>", NULL, NULL },
		{ 20, "Y", "<c@x>", "<a@x> <gone@x>", NULL },
	};
	ck_threads(mid, N(mid), "(1 2)", "(1)(2)");
}
END_TEST

START_TEST(test_subject_merge)
{
	/* step 5.C: a reply under the original */
	static const struct tmsg reply[] = {
		{ 10, "Lunch", "<a@x>", NULL, NULL },
		{ 20, "Re: Lunch", "<b@x>", NULL, NULL },
	};
	ck_threads(reply, N(reply), "(1 2)", "(1 2)");
	/* ...even when the reply is older */
	static const struct tmsg older[] = {
		{ 10, "Re: Lunch", "<a@x>", NULL, NULL },
		{ 20, "Lunch", "<b@x>", NULL, NULL },
	};
	ck_threads(older, N(older), "(2 1)", "(1 2)");
	/* neither a reply: a new dummy holds both */
	static const struct tmsg same[] = {
		{ 10, "Lunch", "<a@x>", NULL, NULL },
		{ 20, "Lunch", "<b@x>", NULL, NULL },
		{ 30, "[list] Re: Lunch", "<c@x>", NULL, NULL },
	};
	ck_threads(same, N(same), "((1)(2)(3))", "(1 (2)(3))");
	/* an empty base subject joins nothing */
	static const struct tmsg empty[] = {
		{ 10, "Re:", "<a@x>", NULL, NULL },
		{ 20, "", "<b@x>", NULL, NULL },
	};
	ck_threads(empty, N(empty), "(1)(2)", "(1 2)");
}
END_TEST

START_TEST(test_ids)
{
	/* a duplicate Message-ID: only the first message keeps it */
	static const struct tmsg dup[] = {
		{ 10, "A", "<a@x>", NULL, NULL },
		{ 20, "B", "<a@x>", NULL, NULL },
		{ 30, "C", "<c@x>", "<a@x>", NULL },
	};
	ck_threads(dup, N(dup), "(1 3)(2)", "(1)(2)(3)");
	/* In-Reply-To when there are no References */
	static const struct tmsg irt[] = {
		{ 10, "A", "<a@x>", NULL, NULL },
		{ 20, "B", "<b@x>", NULL, "<a@x> <zz@x>" },
		{ 30, "C", "<c@x>", "no ids", "<b@x>" },
	};
	ck_threads(irt, N(irt), "(1 2 3)", NULL);
	/* no Message-ID at all */
	static const struct tmsg none[] = {
		{ 10, "A", NULL, NULL, NULL },
		{ 5, "B", NULL, NULL, NULL },
	};
	ck_threads(none, N(none), "(2)(1)", "(2)(1)");
	/* a loop: the second link is refused */
	static const struct tmsg loop[] = {
		{ 10, "A", "<a@x>", "<b@x>", NULL },
		{ 20, "B", "<b@x>", "<a@x>", NULL },
	};
	ck_threads(loop, N(loop), "(2 1)", NULL);
	/* the message's own References win over what others said of it */
	static const struct tmsg own[] = {
		{ 10, "P", "<p@x>", NULL, NULL },
		{ 20, "Q", "<q@x>", "<wrong@x> <c@x>", NULL },
		{ 30, "C", "<c@x>", "<p@x>", NULL },
	};
	ck_threads(own, N(own), "(1 3 2)", NULL);
}
END_TEST

START_TEST(test_date_order)
{
	/* siblings by sent date, then mailbox order */
	static const struct tmsg m[] = {
		{ 10, "A", "<a@x>", NULL, NULL },
		{ 50, "B", "<b@x>", "<a@x>", NULL },
		{ 30, "C", "<c@x>", "<a@x>", NULL },
		{ 30, "D", "<d@x>", "<a@x>", NULL },
		{ 5, "E", "<e@x>", NULL, NULL },
	};
	ck_threads(m, N(m), "(5)(1 (3)(4)(2))", "(5)(1)(3)(4)(2)");
}
END_TEST

START_TEST(test_deep_chain)
{
	/* a thread as long as a big mailbox: no recursion to overflow */
	size_t n = 100000;
	struct thread_msg *msgs = xcalloc(n, sizeof *msgs);
	char (*ids)[16] = xcalloc(n, sizeof *ids);
	for (size_t i = 0; i < n; i++) {
		snprintf(ids[i], sizeof ids[i], "%zu@x", i);
		msgs[i].id = (uint32_t)(i + 1);
		msgs[i].date = (int64_t)i;
		msgs[i].subject = "S";
		msgs[i].msgid = ids[i];
		msgs[i].refs = i > 0 ? ids[i - 1] : NULL;
	}
	struct buf out = BUF_INIT, want = BUF_INIT;
	imap_thread_references(msgs, n, &out);
	buf_putc(&want, '(');
	for (size_t i = 0; i < n; i++)
		buf_printf(&want, i > 0 ? " %zu" : "%zu", i + 1);
	buf_putc(&want, ')');
	ck_assert(out.len == want.len && memcmp(out.data, want.data, out.len) == 0);
	buf_free(&out);
	buf_free(&want);
	free(ids);
	free(msgs);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("imap_thread");
	TCase *tc = tcase_create("thread");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_msgids);
	tcase_add_test(tc, test_simple_tree);
	tcase_add_test(tc, test_dummies);
	tcase_add_test(tc, test_subject_merge);
	tcase_add_test(tc, test_ids);
	tcase_add_test(tc, test_date_order);
	tcase_add_test(tc, test_deep_chain);
	suite_add_tcase(s, tc);
	return s;
}
