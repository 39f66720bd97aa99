#!/usr/bin/env python3
"""IMAP compliance: the scripted groups of Dovecot's imaptest (its
src/tests/ folder, release-2.3) that mailhub once failed, replayed as
transcripts through the real IMAP listener (imaptest itself cannot be
fetched in CI).  Each test names the imaptest group it follows; the
expected answers are the ones that script asserts.

Groups here: subscribe, listext, atoms, search-addresses, select, nil, id,
and the state checks imaptest makes on every reply in its stress mode
(a keyword is in FLAGS before a FETCH uses it; response codes carry text;
a message the session still has can be fetched).
"""

import re
import unittest

from imap_util import Raw
from mailhub_fixture import Mailhub
import tap

USER = "alice@example.org"
PASSWORD = "alice-password-1"


def append(c, mailbox, data):
    """APPEND with a non-synchronising literal (LITERAL+)."""
    c.send(b"p APPEND " + mailbox + b" {%d+}\r\n" % len(data) + data + b"\r\n")
    _, tagged = c.until("p")
    if not tagged.startswith(b"p OK"):
        raise AssertionError(tagged)


def lists(untagged, kind=b"LIST"):
    """{name: set of attributes} of LIST/LSUB lines (names unquoted)."""
    out = {}
    for line in untagged:
        m = re.match(rb'\* ' + kind + rb' \(([^)]*)\) "/" (?:"([^"]*)"|(\S+))(.*)\r\n',
                     line)
        if m:
            name = (m.group(2) if m.group(2) is not None else m.group(3)).decode()
            attrs = {a.lower() for a in m.group(1).decode().split()}
            if b"CHILDINFO" in m.group(4).upper():
                attrs.add("childinfo")
            out[name] = attrs
    return out


class Compliance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(listeners=("smtp", "imaps"))
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(USER, PASSWORD)
        cls.mh.start()

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def login(self):
        c = Raw(self.mh.port("imaps"))
        c.ok("l", f"LOGIN {USER} {PASSWORD}".encode())
        self.addCleanup(c.close)
        return c

    def test_subscribe(self):
        # imaptest "subscribe": subscriptions are names of their own;
        # LSUB with '%' shows an unsubscribed parent of a subscribed name
        # as \Noselect; CREATE does not subscribe
        c = self.login()
        for name in ("sub", "sub/test", "sub/test2/", "sub/test3/", "sub/test2/test",
                     "sub/test3/test3"):
            c.ok("c", b"CREATE " + name.encode())
        for name in ("sub/test", "sub/test2/test", "sub/test3/test3"):
            c.ok("s", b"SUBSCRIBE " + name.encode())
        got = lists(c.ok("a", b'LSUB "" sub/%'), b"LSUB")
        self.assertEqual(got, {"sub/test": set(), "sub/test2": {"\\noselect"},
                               "sub/test3": {"\\noselect"}})
        got = lists(c.ok("a", b'LSUB "" *test'), b"LSUB")
        self.assertEqual(set(got), {"sub/test", "sub/test2/test"})
        c.ok("u", b"UNSUBSCRIBE sub/test")
        self.assertNotIn("sub/test", lists(c.ok("a", b'LSUB "" sub/%'), b"LSUB"))
        c.ok("u", b"UNSUBSCRIBE sub/test2/test")
        got = lists(c.ok("a", b'LSUB "" sub/*'), b"LSUB")
        self.assertEqual(set(got) - {"sub/test3"}, {"sub/test3/test3"})
        c.ok("u", b"UNSUBSCRIBE sub/test3/test3")
        self.assertEqual(lists(c.ok("a", b'LSUB "" sub/%'), b"LSUB"), {})
        # a subscription outlives its mailbox (RFC 3501 §6.3.6), and may
        # name one that does not exist yet
        c.ok("s", b"SUBSCRIBE sub/later")
        c.ok("c", b"CREATE sub/gone")
        c.ok("s", b"SUBSCRIBE sub/gone")
        c.ok("d", b"DELETE sub/gone")
        got = lists(c.ok("a", b'LSUB "" sub/*'), b"LSUB")
        self.assertEqual(set(got), {"sub/later", "sub/gone"})
        self.assertNotIn("sub/later", lists(c.ok("a", b'LIST "" sub/*')))
        # RENAME takes the subscriptions along
        c.ok("c", b"CREATE sub/old/kid")
        c.ok("s", b"SUBSCRIBE sub/old/kid")
        c.ok("r", b"RENAME sub/old sub/new")
        got = lists(c.ok("a", b'LSUB "" sub/*'), b"LSUB")
        self.assertIn("sub/new/kid", got)
        self.assertNotIn("sub/old/kid", got)

    def test_listext(self):
        # imaptest "listext" (RFC 5258)
        c = self.login()
        for name in ("le", "le/test1", "le/test2/", "le/test2/test1", "le/test3",
                     "le/test4/test5", "le/test4/test52", "le/test6", "le/test7/test7",
                     "le/test8/test8", "le/test8/test9"):
            c.ok("c", b"CREATE " + name.encode())
        for name in ("le/test1", "le/test2/test1", "le/test6", "le/test7/test7",
                     "le/test8/test8", "le/test8/test9"):
            c.ok("s", b"SUBSCRIBE " + name.encode())
        c.ok("d", b"DELETE le/test6")
        got = lists(c.ok("a", b'LIST "" (le/*2 le/test3)'))
        self.assertEqual(set(got), {"le/test2", "le/test3", "le/test4/test52"})
        for bad in (b'LIST (imaptest) "" ""', b'LIST (recursivematch) "" ""',
                    b'LIST (recursivematch remote) "" ""',
                    b'LIST "" "" return (imaptest)'):
            _, tagged = c.cmd("b", bad)
            self.assertTrue(tagged.startswith(b"b BAD"), (bad, tagged))
        c.ok("a", b'LIST (remote) "" %')
        got = lists(c.ok("a", b'LIST (subscribed) "" le/*'))
        self.assertEqual(set(got), {"le/test1", "le/test2/test1", "le/test6",
                                    "le/test7/test7", "le/test8/test8", "le/test8/test9"})
        self.assertIn("\\nonexistent", got["le/test6"])
        self.assertNotIn("\\noselect", got["le/test6"])
        self.assertTrue(all("\\subscribed" in a for a in got.values()))
        got = lists(c.ok("a", b'LIST (subscribed recursivematch) "" le/test2% return (children)'))
        self.assertEqual(got, {"le/test2": {"\\haschildren", "childinfo"}})
        got = lists(c.ok("a", b'LIST "" le/% return (children subscribed)'))
        self.assertIn("\\subscribed", got["le/test1"])
        self.assertNotIn("\\haschildren", got["le/test1"])
        for name in ("le/test2", "le/test4", "le/test7", "le/test8"):
            self.assertIn("\\haschildren", got[name], name)
            self.assertNotIn("\\subscribed", got[name], name)
        self.assertNotIn("\\subscribed", got["le/test3"])
        got = lists(c.ok("a", b'LIST (subscribed recursivematch) "" le*test7'))
        self.assertEqual(set(got), {"le/test7/test7"})
        got = lists(c.ok("a", b'LIST (subscribed recursivematch) "" le*test8'))
        self.assertEqual(got["le/test8"], {"\\haschildren", "childinfo"})
        self.assertIn("\\subscribed", got["le/test8/test8"])
        got = lists(c.ok("a", b'LIST (subscribed recursivematch) "" (le/test2)'))
        self.assertEqual(set(got), {"le/test2"})
        self.assertIn("childinfo", got["le/test2"])
        got = lists(c.ok("a", b'LIST (subscribed recursivematch) "" '
                          b'(le/test2 le/test2/test1)'))
        self.assertEqual(set(got), {"le/test2/test1"})

    def test_atoms(self):
        # imaptest "atoms": a name that is no modified UTF-7 gets NO (the
        # command is well formed), and as a LIST pattern lists nothing
        c = self.login()
        c.ok("a", b'LIST "" ~foo')
        _, tagged = c.cmd("a", b"SELECT ~foo")
        self.assertTrue(tagged.startswith(b"a NO"), tagged)
        name = b"!#$&&'+,-.0123456789:;<=>?@^_`|[}"
        _, tagged = c.cmd("a", b"SELECT " + name)
        self.assertTrue(tagged.startswith(b"a NO"), tagged)
        untagged = c.ok("a", b'LIST "" ' + name + b"%*")
        self.assertEqual(untagged, [])

    def test_search_addresses(self):
        # imaptest "search-addresses": a whole address is found however
        # the header writes it (comments, spaces)
        c = self.login()
        c.ok("c", b"CREATE addr")
        msgs = [b"From: <user-from (comment)@ (comment) domain.org>\r\n",
                b"From: Real From <user-from@domain.org>\r\n",
                b"From: other@domain.org\r\n"]
        for m in msgs:
            data = m + b"To: x@example.org\r\nSubject: s\r\n\r\nbody\r\n"
            append(c, b"addr", data)
        c.ok("s", b"SELECT addr")
        untagged = c.ok("a", b"SEARCH FROM user-from@domain.org")
        self.assertEqual(untagged, [b"* SEARCH 1 2\r\n"])
        untagged = c.ok("a", b"SEARCH FROM realfrom")
        self.assertEqual(untagged, [b"* SEARCH\r\n"])
        untagged = c.ok("a", b'SEARCH FROM "real from"')
        self.assertEqual(untagged, [b"* SEARCH 2\r\n"])

    def test_examine_reports_recent(self):
        # imaptest "select": EXAMINE shows \Recent without taking it, so
        # the SELECT after it still sees it
        c = self.login()
        c.ok("c", b"CREATE rec")
        for _ in range(2):
            data = b"Subject: r\r\n\r\nx\r\n"
            append(c, b"rec", data)
        untagged = c.ok("e", b"EXAMINE rec")
        self.assertIn(b"* 2 RECENT\r\n", untagged)
        c.ok("x", b"CLOSE")
        untagged = c.ok("x", b"STATUS rec (RECENT)")
        self.assertIn(b"RECENT 2", untagged[0])
        untagged = c.ok("s", b"SELECT rec")
        self.assertIn(b"* 2 RECENT\r\n", untagged)

    def assert_flags_before_fetch(self, untagged, keyword):
        """A FETCH that shows keyword comes after a FLAGS that lists it."""
        announced = False
        for line in untagged:
            if line.startswith(b"* FLAGS ") and keyword in line:
                announced = True
            if b" FETCH " in line and keyword in line:
                self.assertTrue(announced, f"{keyword!r} in FETCH before FLAGS: {untagged}")
                return
        self.fail(f"no FETCH with {keyword!r}: {untagged}")

    def test_keywords_announced_before_use(self):
        # imaptest's state check: "Keyword used without being in FLAGS"
        a, b = self.login(), self.login()
        a.ok("c", b"CREATE kw")
        data = b"Subject: k\r\n\r\nx\r\n"
        append(a, b"kw", data)
        a.ok("s", b"SELECT kw")
        b.ok("s", b"SELECT kw")
        # the session's own STORE
        self.assert_flags_before_fetch(a.ok("t", b"STORE 1 +FLAGS ($hello)"), b"$hello")
        # another session's STORE, seen at the next command
        b.ok("t", b"STORE 1 +FLAGS.SILENT ($world)")
        self.assert_flags_before_fetch(a.ok("n", b"NOOP"), b"$world")
        # imaptest "nil": NIL is an atom, so a keyword
        untagged = a.ok("t", b"STORE 1 +FLAGS NIL")
        self.assert_flags_before_fetch(untagged, b"NIL")

    def test_fetch_of_message_expunged_by_another_session(self):
        # imaptest's stress mode: a session may FETCH what it still has;
        # RFC 3501 §7.4.1 keeps the EXPUNGE from it until a command that
        # allows one, so the FETCH answers with the message, not NO
        a, b = self.login(), self.login()
        a.ok("c", b"CREATE gone")
        data = b"Subject: going\r\n\r\nstill readable\r\n"
        append(a, b"gone", data)
        a.ok("s", b"SELECT gone")
        b.ok("s", b"SELECT gone")
        b.ok("t", b"STORE 1 +FLAGS.SILENT (\\Deleted)")
        b.ok("x", b"EXPUNGE")
        untagged, tagged = a.cmd("f", b"FETCH 1 (BODY.PEEK[] RFC822.SIZE)")
        self.assertTrue(tagged.startswith(b"f OK"), tagged)
        self.assertIn(b"still readable", b"".join(untagged))
        self.assertFalse(any(b"EXPUNGE" in l for l in untagged), untagged)
        self.assertIn(b"* 1 EXPUNGE\r\n", a.ok("n", b"NOOP"))

    def test_move_copyuid_has_text(self):
        # RFC 3501 §7.1: resp-text after a response code is not empty
        c = self.login()
        c.ok("c", b"CREATE mv1")
        c.ok("c", b"CREATE mv2")
        data = b"Subject: m\r\n\r\nx\r\n"
        append(c, b"mv1", data)
        c.ok("s", b"SELECT mv1")
        untagged = c.ok("m", b"MOVE 1 mv2")
        ok = [l for l in untagged if l.startswith(b"* OK [COPYUID")]
        self.assertEqual(len(ok), 1, untagged)
        self.assertRegex(ok[0], rb"^\* OK \[COPYUID \d+ 1 1\] \S")

    def test_id_of_the_largest_size_before_login(self):
        # imaptest "id": RFC 2971 §3.3 allows 30 fields of 30 octets with
        # values of 1024, about 32 KiB in all, and Dovecot answers such an
        # ID before login; one larger still ends in BAD and BYE
        # (test_imap_limits)
        pairs = []
        for i in range(30):
            field = (b"%02d" % i) + b"3456789012345678901234567890"
            pairs.append(b'"' + field + b'" "' + b"1234567890" * 102 + b'1234"')
        c = Raw(self.mh.port("imaps"))
        self.addCleanup(c.close)
        untagged = c.ok("i", b"ID (" + b" ".join(pairs) + b")")
        self.assertTrue(any(l.startswith(b"* ID ") for l in untagged), untagged)
        c.ok("l", f"LOGIN {USER} {PASSWORD}".encode())


if __name__ == "__main__":
    tap.main()
