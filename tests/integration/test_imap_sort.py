"""SORT, THREAD, ESEARCH, ESORT and SEARCHRES as mailhub answers them,
against what Debian's Dovecot answers for the same mailbox: 2,000
messages of real-world-shaped threads (thread_corpus.py), appended in
the same order to both, then the same commands sent to both and the
untagged answers compared line by line."""

import base64
import os
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
import dovecot_util  # noqa: E402
import thread_corpus  # noqa: E402
from imap_util import Raw  # noqa: E402
from mailhub_fixture import Mailhub  # noqa: E402

N = 2000


def append_all(conn, msgs, batch=50):
    """MULTIAPPEND (RFC 3502) in batches, LITERAL+ for every message."""
    for start in range(0, len(msgs), batch):
        parts = [b"a APPEND INBOX"]
        for internal, data in msgs[start:start + batch]:
            parts.append(b' "%s" {%d+}\r\n' % (internal.encode(), len(data)) + data)
        conn.send(b"".join(parts) + b"\r\n")
        _, tagged = conn.until("a")
        if not tagged.startswith(b"a OK"):
            raise AssertionError(f"APPEND: {tagged!r}")


@unittest.skipUnless(dovecot_util.available(), "dovecot-imapd not installed")
class SortThreadCompare(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub()
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user("alice@example.org", "secret-alice")
        cls.mh.start()
        cls.dc = dovecot_util.Dovecot()
        cls.dc.start()
        msgs = thread_corpus.make(N)
        cls.ours = Raw(cls.mh.port("imaps"), tls=True, timeout=120)
        cls.ours.ok("l", b"LOGIN alice@example.org secret-alice")
        cls.theirs = Raw(cls.dc.port, tls=False, timeout=120)
        cls.theirs.ok("l", b"LOGIN alice " + dovecot_util.PASSWORD.encode())
        for conn in (cls.ours, cls.theirs):
            append_all(conn, msgs)
            conn.ok("s", b"SELECT INBOX")
            # some flags for the search keys
            conn.ok("f", b"STORE 1:* +FLAGS (\\Flagged)")
            conn.ok("g", b"STORE 3:400 -FLAGS (\\Flagged)")

    @classmethod
    def tearDownClass(cls):
        cls.ours.close()
        cls.theirs.close()
        cls.dc.stop()
        cls.mh.close()

    def same(self, *commands):
        problems = []
        for i, cmd in enumerate(commands):
            tag = f"c{i}"
            a = self.ours.ok(tag, cmd)
            b = self.theirs.ok(tag, cmd)
            if a != b:
                x, y = b"".join(a).split(), b"".join(b).split()
                at = next((j for j in range(min(len(x), len(y)))
                           if x[j] != y[j]), min(len(x), len(y)))
                problems.append(f"{cmd!r}: first difference at word {at}:\n"
                                f"  mailhub: {b' '.join(x[max(at - 5, 0):at + 15])!r}\n"
                                f"  dovecot: {b' '.join(y[max(at - 5, 0):at + 15])!r}")
        self.assertEqual(problems, [], "\n".join(problems))

    def test_sort_each_key(self):
        keys = ("ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO",
                "DISPLAYFROM", "DISPLAYTO")
        self.same(*[b"SORT (%s) UTF-8 ALL" % k.encode() for k in keys])

    def test_sort_combined(self):
        self.same(b"SORT (REVERSE DATE) UTF-8 ALL",
                  b"SORT (SUBJECT REVERSE DATE) UTF-8 ALL",
                  b"SORT (FROM SIZE) US-ASCII ALL",
                  b"SORT (REVERSE SUBJECT ARRIVAL) UTF-8 ALL",
                  b"UID SORT (SUBJECT) UTF-8 ALL",
                  b"SORT (DATE) UTF-8 FLAGGED",
                  b"UID SORT (REVERSE TO) UTF-8 SUBJECT lunch",
                  b"SORT (DISPLAYFROM DATE) UTF-8 OR FROM bob TO zoe")

    def test_thread_references(self):
        self.same(b"THREAD REFERENCES UTF-8 ALL",
                  b"UID THREAD REFERENCES UTF-8 ALL",
                  b"THREAD REFERENCES UTF-8 FLAGGED",
                  b"THREAD REFERENCES US-ASCII 1:500")

    def test_thread_orderedsubject(self):
        self.same(b"THREAD ORDEREDSUBJECT UTF-8 ALL",
                  b"UID THREAD ORDEREDSUBJECT UTF-8 NOT FLAGGED")

    def test_esearch(self):
        self.same(b"SEARCH RETURN (MIN MAX COUNT) TEXT budget",
                  b"SEARCH RETURN () FROM bob",
                  b"UID SEARCH RETURN (ALL COUNT) SUBJECT lunch",
                  b"SEARCH RETURN (COUNT MIN) NOT ALL",
                  b"SEARCH RETURN (MAX) BODY printer")

    def test_esort(self):
        self.same(b"SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 FROM alice",
                  b"UID SORT RETURN (ALL) (REVERSE DATE) UTF-8 TO bob",
                  b"SORT RETURN (COUNT) (DATE) UTF-8 NOT ALL")

    def test_searchres(self):
        self.same(b"SEARCH RETURN (SAVE) FROM bob",
                  b"FETCH $ (UID FLAGS)",
                  b"SEARCH RETURN (ALL) $ SUBJECT lunch",
                  b"UID SEARCH UID $",
                  b"SEARCH RETURN (SAVE MIN MAX) TO carol",
                  b"UID FETCH $ (FLAGS)",
                  b"SORT RETURN (SAVE) (DATE) UTF-8 CC eve",
                  b"SEARCH $",
                  b"SEARCH RETURN (SAVE) NOT ALL",
                  b"FETCH $ (FLAGS)")

    def test_text(self):
        # substrings, in headers and bodies, any case: the index and the
        # scan of Dovecot (no FTS plugin) must agree
        self.same(b"SEARCH TEXT budget", b"SEARCH TEXT UDGE",
                  b"SEARCH TEXT ab", b"SEARCH TEXT \"gone1@\"",
                  b"SEARCH CHARSET UTF-8 TEXT {5+}\r\n\xc3\xa9t\xc3\xa9",
                  b"UID SEARCH TEXT kernel NOT TEXT printer",
                  b"SEARCH OR TEXT boat TEXT zzzz-nothing FLAGGED")


class IndexUpgrade(unittest.TestCase):
    """Mail stored before the index (its rows deleted, as after an
    upgrade) is indexed by the background pass at start-up, and a message
    the index cannot hold (a NUL in its text) is still found by reading
    it; the answers are the same before and after."""

    COMMANDS = (b"SEARCH TEXT budget", b"SEARCH TEXT nulword",
                b"SORT (SUBJECT) UTF-8 ALL", b"THREAD REFERENCES UTF-8 ALL",
                b"SEARCH TEXT ud", b"SEARCH NOT TEXT kernel")

    def answers(self):
        c = Raw(self.mh.port("imaps"), tls=True, timeout=60)
        c.ok("l", b"LOGIN alice@example.org secret-alice")
        c.ok("s", b"SELECT INBOX")
        out = [c.ok(f"c{i}", cmd) for i, cmd in enumerate(self.COMMANDS)]
        c.close()
        return out

    def counts(self):
        db = sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"))
        try:
            return db.execute("SELECT count(*), sum(indexed) FROM blob_keys").fetchone()
        finally:
            db.close()

    def test_upgrade(self):
        self.mh = Mailhub()
        self.addCleanup(self.mh.close)
        self.mh.cli("domain", "add", "example.org")
        self.mh.add_user("alice@example.org", "secret-alice")
        self.mh.start()
        msgs = thread_corpus.make(60, seed=7)
        nul = base64.b64encode(b"before \0 nulword after").decode()
        msgs.append(("01-Jan-2024 00:00:00 +0000",
                     ("From: x@example.org\r\nSubject: nul\r\n"
                      "Content-Type: text/plain\r\n"
                      "Content-Transfer-Encoding: base64\r\n\r\n"
                      + nul + "\r\n").encode()))
        c = Raw(self.mh.port("imaps"), tls=True)
        c.ok("l", b"LOGIN alice@example.org secret-alice")
        append_all(c, msgs)
        c.close()
        self.mh.wait_indexed()
        self.assertEqual(self.counts(), (61, 60))
        before = self.answers()
        self.assertEqual(before[1], [b"* SEARCH 61\r\n"])
        self.mh.stop()
        db = sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"))
        db.execute("DELETE FROM blob_text")
        db.execute("DELETE FROM blob_keys")
        # as the migration leaves mail stored before it
        db.execute("INSERT OR IGNORE INTO search_pending (mailbox_id, uid)"
                   " SELECT mailbox_id, uid FROM messages")
        db.commit()
        db.close()
        self.mh.start()
        for _ in range(200):
            if self.counts()[0] == 61:
                break
            time.sleep(0.1)
        self.assertEqual(self.counts(), (61, 60))
        self.assertEqual(self.answers(), before)
        db = sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"))
        pending = db.execute("SELECT count(*) FROM search_pending").fetchone()[0]
        db.close()
        self.assertEqual(pending, 1)    # the message with a NUL
        # expunged: the keys of a blob whose last message went wait for
        # the indexer, listed in blob_keys_gone (sql/049)
        c = Raw(self.mh.port("imaps"), tls=True)
        c.ok("l", b"LOGIN alice@example.org secret-alice")
        c.ok("s", b"SELECT INBOX")
        c.ok("d", b"STORE 1:10 +FLAGS (\\Deleted)")
        c.ok("e", b"EXPUNGE")
        c.close()
        db = sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"))
        try:
            live = db.execute("SELECT count(*) FROM blob_keys WHERE blob NOT IN"
                              " (SELECT blob FROM blob_keys_gone)").fetchone()[0]
        finally:
            db.close()
        self.assertEqual(live, 51)


if __name__ == "__main__":
    tap.main()
