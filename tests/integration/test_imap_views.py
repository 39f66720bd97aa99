"""What each IMAP session is told of a mailbox that other sessions change
at the same time, as transcripts of two or more sessions taking turns:
the races imaptest's stress mode (checkpoint=1) found.  A session's
FLAGS announces every keyword of the mailbox, also one another session
set and took away again before this one looked; a FETCH never shows a
keyword before FLAGS has; the RECENT count is told again when expunges
change it; and each message is \\Recent in exactly one session even when
its delivery races a SELECT or a NOOP."""

import os
import re
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
from imap_util import Raw  # noqa: E402
from mailhub_fixture import Mailhub  # noqa: E402

USER = "alice@example.org"
PASSWORD = "secret-alice"


def message(i):
    return (b"From: Bob <bob@example.org>\r\n"
            b"To: Alice <alice@example.org>\r\n"
            b"Subject: View %d\r\n"
            b"Date: Mon, 23 Nov 2026 08:00:00 +0100\r\n"
            b"\r\n"
            b"Body %d\r\n" % (i, i))


def append(c, mailbox, i, tag="a"):
    m = message(i)
    c.send(tag.encode() + b" APPEND " + mailbox + b" {%d+}\r\n" % len(m) + m + b"\r\n")
    _, tagged = c.until(tag)
    if not tagged.startswith(tag.encode() + b" OK"):
        raise AssertionError(tagged)


def flags_lists(untagged):
    """The keywords of each untagged FLAGS line, in order."""
    out = []
    for line in untagged:
        m = re.match(rb"\* FLAGS \((.*)\)\r\n$", line)
        if m:
            out.append({w for w in m.group(1).split() if not w.startswith(b"\\")})
    return out


def check_keywords_announced(test, known, untagged):
    """Every keyword of a FETCH must be in the FLAGS the session had
    been sent before it (RFC 3501 §7.2.6): known is what it had been
    told before these lines; returns what it knows after them."""
    known = set(known)
    for line in untagged:
        m = re.match(rb"\* FLAGS \((.*)\)\r\n$", line)
        if m:
            known |= {w for w in m.group(1).split() if not w.startswith(b"\\")}
            continue
        m = re.match(rb"\* \d+ FETCH \(.*FLAGS \(([^)]*)\)", line)
        if m:
            for w in m.group(1).split():
                if not w.startswith(b"\\"):
                    test.assertIn(w, known, f"{line!r} before FLAGS told of {w!r}")
    return known


def recent_uids(c, tag="r"):
    """{UID: whether \\Recent} of every message of the selected mailbox."""
    out = {}
    for line in c.ok(tag, b"FETCH 1:* (UID FLAGS)"):
        m = re.match(rb"\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\)\)", line)
        if m:
            out[int(m.group(1))] = b"\\Recent" in m.group(2).split()
    return out


class ViewTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(listeners=("imap",), plaintext_on_loopback=True)
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(USER, PASSWORD)
        cls.mh.start()

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def login(self):
        c = Raw(self.mh.port("imap"), tls=False, timeout=20)
        c.ok("l", b"LOGIN " + USER.encode() + b" " + PASSWORD.encode())
        return c

    def box(self, name, n):
        """A new mailbox of n messages."""
        c = self.login()
        c.ok("c", b"CREATE " + name)
        for i in range(n):
            append(c, name, i)
        c.close()

    def test_keyword_set_and_gone_reaches_flags(self):
        self.box(b"Kw", 2)
        a, b = self.login(), self.login()
        a.ok("s", b"SELECT Kw")
        b.ok("s", b"SELECT Kw")
        # a sets a keyword and takes it away again before b looks; b
        # must still hear of it, as a new session does at SELECT
        a.ok("1", b"STORE 1 +FLAGS.SILENT ($Passing)")
        a.ok("2", b"STORE 1 -FLAGS.SILENT ($Passing)")
        # a keyword named only in a removal exists too
        told = a.ok("3", b"STORE 2 -FLAGS.SILENT ($NeverSet)")
        self.assertIn(b"$NeverSet", flags_lists(told)[-1])
        # and one whose only message is expunged
        a.ok("4", b"STORE 2 +FLAGS.SILENT ($Expunged \\Deleted)")
        a.ok("5", b"EXPUNGE")
        untagged = b.ok("n", b"NOOP")
        lists = flags_lists(untagged)
        self.assertTrue(lists, untagged)
        for kw in (b"$Passing", b"$NeverSet", b"$Expunged"):
            self.assertIn(kw, lists[-1])
        c = self.login()
        fresh = flags_lists(c.ok("s", b"EXAMINE Kw"))
        self.assertEqual(fresh[-1], lists[-1])
        # told once: the next NOOP has nothing new
        self.assertEqual(flags_lists(b.ok("m", b"NOOP")), [])
        for x in (a, b, c):
            x.close()

    def test_fetch_of_keyword_set_elsewhere(self):
        self.box(b"Kw2", 3)
        a, b = self.login(), self.login()
        known = set()
        for lst in flags_lists(a.ok("s", b"SELECT Kw2")):
            known = lst
        b.ok("s", b"SELECT Kw2")
        # b sets keywords a has not heard of; a's own STORE and a FETCH
        # that sets \Seen answer with the flags as they are now: FLAGS
        # must come first
        b.ok("1", b"STORE 1 +FLAGS.SILENT ($FromB)")
        untagged = a.ok("2", b"STORE 1 +FLAGS (\\Flagged)")
        self.assertTrue(any(b"$FromB" in line and b"FETCH" in line for line in untagged),
                        untagged)
        known = check_keywords_announced(self, known, untagged)
        b.ok("3", b"STORE 2 +FLAGS.SILENT ($AlsoFromB)")
        untagged = a.ok("4", b"FETCH 2 (BODY[TEXT])")
        self.assertTrue(any(b"$AlsoFromB" in line and b"FETCH" in line
                            for line in untagged), untagged)
        known = check_keywords_announced(self, known, untagged)
        b.ok("5", b"STORE 3 +FLAGS.SILENT ($ThirdFromB)")
        check_keywords_announced(self, known, a.ok("6", b"NOOP"))
        a.close()
        b.close()

    def test_recent_told_again_after_expunge(self):
        self.box(b"Rec", 3)
        a, b = self.login(), self.login()
        self.assertIn(b"* 3 RECENT\r\n", a.ok("s", b"SELECT Rec"))
        b.ok("s", b"SELECT Rec")
        b.ok("1", b"STORE 1:2 +FLAGS.SILENT (\\Deleted)")
        b.ok("2", b"EXPUNGE")
        untagged = a.ok("n", b"NOOP")
        self.assertEqual(untagged.count(b"* 1 EXPUNGE\r\n"), 2, untagged)
        self.assertIn(b"* 1 RECENT\r\n", untagged)
        # nothing changed: no RECENT again
        self.assertEqual([x for x in a.ok("m", b"NOOP") if b"RECENT" in x], [])
        # new mail from a session that has no mailbox selected
        c = self.login()
        append(c, b"Rec", 9, tag="3")
        c.close()
        untagged = a.ok("o", b"NOOP")
        self.assertIn(b"* 2 EXISTS\r\n", untagged)
        self.assertIn(b"* 2 RECENT\r\n", untagged)
        # while expunges wait (a FETCH may not have them), so does RECENT
        b.ok("4", b"STORE 1 +FLAGS.SILENT (\\Deleted)")
        b.ok("5", b"EXPUNGE")
        untagged = a.ok("f", b"FETCH 1 (UID)")
        self.assertEqual([x for x in untagged if b"RECENT" in x or b"EXPUNGE" in x], [])
        untagged = a.ok("p", b"NOOP")
        self.assertIn(b"* 1 EXPUNGE\r\n", untagged)
        self.assertIn(b"* 1 RECENT\r\n", untagged)
        a.close()
        b.close()

    def test_recent_in_one_session_while_mail_arrives(self):
        """Deliveries race the SELECTs and NOOPs of four sessions: at the
        end every message is \\Recent in exactly one of them (RFC 3501
        §2.3.2), none in two, none in none."""
        self.box(b"Race", 0)
        stop = threading.Event()
        appended = []
        failure = []

        def deliver():
            c = self.login()
            try:
                i = 0
                while not stop.is_set() and i < 400:
                    append(c, b"Race", i)
                    appended.append(i)
                    i += 1
            except Exception as e:  # noqa: BLE001
                failure.append(e)
            finally:
                c.close()

        sessions = []
        t = threading.Thread(target=deliver)
        t.start()
        try:
            deadline = time.monotonic() + 6
            # the sessions SELECT one after the other while mail arrives,
            # then look again and again
            while time.monotonic() < deadline:
                if len(sessions) < 4 and len(appended) >= 10 * len(sessions):
                    c = self.login()
                    c.ok("s", b"SELECT Race")
                    sessions.append(c)
                for k, c in enumerate(sessions):
                    c.ok("n%d" % k, b"NOOP")
        finally:
            stop.set()
            t.join()
        self.assertEqual(failure, [])
        self.assertEqual(len(sessions), 4)
        counts = {}
        for k, c in enumerate(sessions):
            c.ok("z%d" % k, b"NOOP")
            for uid, recent in recent_uids(c).items():
                counts[uid] = counts.get(uid, 0) + recent
        self.assertEqual(len(counts), len(appended))
        wrong = {uid: n for uid, n in counts.items() if n != 1}
        self.assertEqual(wrong, {}, "UID: sessions that show it \\Recent")
        for c in sessions:
            c.close()


if __name__ == "__main__":
    tap.main()
