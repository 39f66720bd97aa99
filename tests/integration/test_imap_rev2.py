"""IMAP4rev2 (RFC 9051) beside IMAP4rev1: offered in CAPABILITY, switched
on per session by ENABLE IMAP4rev2, after which the session sees no
\\Recent flag and no RECENT or UNSEEN responses, gets ESEARCH for SEARCH,
and has the rest of Appendix E (STATUS DELETED and SIZE, LIST-STATUS,
\\NonExistent, UID EXPUNGE, MOVE, NAMESPACE, BINARY, UNSELECT, LITERAL-
sized non-synchronising literals), while an IMAP4rev1 session beside it
keeps IMAP4rev1's answers."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
from imap_util import Raw  # noqa: E402
from mailhub_fixture import Mailhub  # noqa: E402

USER = "alice@example.org"
PASSWORD = "secret-alice"
MSG = b"From: Bob <bob@example.org>\r\nSubject: %d\r\n\r\nBody %d.\r\n"


class Rev2Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(plaintext_on_loopback=True)
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(USER, PASSWORD)
        cls.mh.start()

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def login(self, rev2=False):
        c = Raw(self.mh.port("imaps"), tls=True, timeout=20)
        c.ok("l", b"LOGIN " + USER.encode() + b" " + PASSWORD.encode())
        if rev2:
            self.assertEqual(c.ok("e", b"ENABLE IMAP4rev2"), [b"* ENABLED IMAP4rev2\r\n"])
        return c

    def append(self, c, mailbox, n, first=1):
        for i in range(first, first + n):
            m = MSG % (i, i)
            c.ok("a", b"APPEND %s {%d+}\r\n" % (mailbox, len(m)) + m)

    def test_capability(self):
        c = Raw(self.mh.port("imaps"), tls=True, timeout=20)
        self.assertIn(b" IMAP4rev1 IMAP4rev2 ", c.greeting)
        caps = c.ok("c", b"CAPABILITY")[0].split()
        self.assertIn(b"IMAP4rev2", caps)
        c.close()
        c = self.login()
        caps = c.ok("c", b"CAPABILITY")[0].split()
        for cap in (b"IMAP4rev1", b"IMAP4rev2", b"ENABLE", b"LITERAL+", b"ESEARCH",
                    b"SEARCHRES", b"LIST-EXTENDED", b"LIST-STATUS", b"MOVE", b"UIDPLUS",
                    b"UNSELECT", b"NAMESPACE", b"BINARY", b"SPECIAL-USE", b"STATUS=SIZE",
                    b"IDLE", b"SASL-IR", b"ID"):
            self.assertIn(cap, caps)
        # RFC 7888: LITERAL+ says more than LITERAL-; one is offered
        self.assertNotIn(b"LITERAL-", caps)
        # ENABLE is idempotent: a second one enables nothing new
        c.ok("e", b"ENABLE IMAP4rev2")
        self.assertEqual(c.ok("f", b"ENABLE IMAP4rev2"), [b"* ENABLED\r\n"])
        c.close()

    def test_recent_and_search(self):
        c = self.login()
        c.ok("c", b"CREATE Rev")
        self.append(c, b"Rev", 3)
        c.close()
        # an IMAP4rev2 session: no \Recent, no RECENT, no UNSEEN code
        v2 = self.login(rev2=True)
        untagged = v2.ok("s", b"SELECT Rev")
        text = b"".join(untagged)
        self.assertIn(b"* 3 EXISTS\r\n", untagged)
        self.assertNotIn(b"RECENT", text)
        self.assertNotIn(b"[UNSEEN", text)
        self.assertNotIn(b"\\Recent", text)
        self.assertEqual(v2.ok("f", b"FETCH 1:3 (FLAGS)"),
                         [b"* %d FETCH (FLAGS ())\r\n" % i for i in (1, 2, 3)])
        # SEARCH answers ESEARCH (RFC 9051 §6.4.4), with UID for UID SEARCH
        self.assertEqual(v2.ok("t1", b"SEARCH ALL"), [b'* ESEARCH (TAG "t1") ALL 1:3\r\n'])
        self.assertEqual(v2.ok("t2", b"UID SEARCH SUBJECT 2"),
                         [b'* ESEARCH (TAG "t2") UID ALL 2\r\n'])
        self.assertEqual(v2.ok("t3", b"SEARCH DELETED"), [b'* ESEARCH (TAG "t3")\r\n'])
        self.assertEqual(v2.ok("t4", b"SEARCH RETURN (COUNT) ALL"),
                         [b'* ESEARCH (TAG "t4") COUNT 3\r\n'])
        self.assertEqual(v2.ok("t5", b"SEARCH RETURN (SAVE) SUBJECT 3"), [])
        self.assertEqual(v2.ok("t6", b"FETCH $ (UID)"), [b"* 3 FETCH (UID 3)\r\n"])
        # an IMAP4rev1 session beside it keeps its answers
        v1 = self.login()
        untagged = v1.ok("s", b"SELECT Rev")
        self.assertIn(b"* 0 RECENT\r\n", untagged)
        self.assertEqual(v1.ok("t", b"SEARCH ALL"), [b"* SEARCH 1 2 3\r\n"])
        # new mail while selected: EXISTS, and RECENT for rev1 only
        self.append(v1, b"Rev", 1, first=4)
        untagged = v2.ok("n", b"NOOP")
        self.assertIn(b"* 4 EXISTS\r\n", untagged)
        self.assertNotIn(b"RECENT", b"".join(untagged))
        self.assertNotIn(b"\\Recent", v2.ok("g", b"FETCH 4 (FLAGS)")[0])
        # STATUS DELETED (RFC 9051 §6.3.11) and SIZE
        v2.ok("d", b"STORE 1 +FLAGS.SILENT (\\Deleted)")
        untagged = v2.ok("st", b"STATUS Rev (MESSAGES DELETED SIZE)")
        self.assertRegex(untagged[0], rb'^\* STATUS "Rev" \(MESSAGES 4 SIZE \d+ DELETED 1\)\r\n$')
        # UID EXPUNGE, MOVE, UNSELECT
        self.assertEqual(v2.ok("x", b"UID EXPUNGE 1"), [b"* 1 EXPUNGE\r\n"])
        v2.ok("c", b"CREATE Rev2Dest")
        untagged = v2.ok("m", b"MOVE 1 Rev2Dest")
        self.assertTrue(any(b"COPYUID" in u for u in untagged), untagged)
        self.assertIn(b"* 1 EXPUNGE\r\n", untagged)
        v2.ok("u", b"UNSELECT")
        v1.close()
        v2.close()

    def test_list_namespace_binary_literal(self):
        c = self.login(rev2=True)
        self.assertEqual(c.ok("n", b"NAMESPACE"), [b'* NAMESPACE (("" "/")) NIL NIL\r\n'])
        c.ok("c", b"CREATE Top/Kid")
        c.ok("d", b"DELETE Top")
        # a parent that is not a mailbox is \NonExistent to IMAP4rev2
        top = [u for u in c.ok("l", b'LIST "" "%"') if b'"/" Top' in u or b'"/" "Top"' in u]
        self.assertEqual(top, [b'* LIST (\\NonExistent \\HasChildren) "/" "Top"\r\n'])
        # \Noselect to IMAP4rev1 (RFC 3501 §7.2.2)
        v1 = self.login()
        top = [u for u in v1.ok("l", b'LIST "" "%"') if b'"/" Top' in u or b'"/" "Top"' in u]
        self.assertEqual(top, [b'* LIST (\\Noselect \\HasChildren) "/" "Top"\r\n'])
        v1.close()
        untagged = c.ok("k", b'LIST "" "Top/%" RETURN (STATUS (MESSAGES DELETED))')
        self.assertIn(b'* LIST (\\HasNoChildren) "/" "Top/Kid"\r\n', untagged)
        self.assertIn(b'* STATUS "Top/Kid" (MESSAGES 0 DELETED 0)\r\n', untagged)
        # non-synchronising literals of LITERAL-'s size and beyond
        body = b"x" * 4000
        m = b"Subject: lit\r\n\r\n" + body + b"\r\n"
        c.ok("a", b"APPEND Top/Kid {%d+}\r\n" % len(m) + m)
        c.ok("s", b"SELECT Top/Kid")
        self.assertEqual(c.ok("t", b"SEARCH BODY {4096+}\r\n" + b"x" * 4096),
                         [b'* ESEARCH (TAG "t")\r\n'])
        self.assertEqual(c.ok("t", b"SEARCH BODY {4000+}\r\n" + body),
                         [b'* ESEARCH (TAG "t") ALL 1\r\n'])
        untagged = c.ok("b", b"FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1]<0.3>)")
        self.assertIn(b"BINARY.SIZE[1] %d" % (len(body) + 2), untagged[0])
        self.assertTrue(re.search(rb"BINARY\[1\]<0> (\{3\}\r\nxxx|\"xxx\")", untagged[0]),
                        untagged)
        c.close()


if __name__ == "__main__":
    tap.main()
