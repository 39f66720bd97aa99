"""IMAP IDLE (RFC 2177) as transcripts: a session that waits in IDLE is
parked without a thread, and whatever wakes it (the client, a commit in
this process, a change made by another process, the autologout, the
server stopping) must get the same answers as a session that waited in
its own thread."""

import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
from imap_util import Raw  # noqa: E402
from mailhub_fixture import Mailhub  # noqa: E402

USER = "alice@example.org"
PASSWORD = "secret-alice"

MESSAGE = (b"From: Bob <bob@example.org>\r\n"
           b"To: Alice <alice@example.org>\r\n"
           b"Subject: Idle test\r\n"
           b"Date: Mon, 23 Nov 2026 08:00:00 +0100\r\n"
           b"\r\n"
           b"Are you there?\r\n")


def login(mh, mailbox=b"INBOX", tls=True):
    c = Raw(mh.port("imaps" if tls else "imap"), tls=tls, timeout=20)
    c.ok("l", b"LOGIN " + USER.encode() + b" " + PASSWORD.encode())
    if mailbox is not None:
        c.ok("s", b"SELECT " + mailbox)
    return c


def append(c, mailbox=b"INBOX"):
    c.send(b"a APPEND " + mailbox + b" {%d+}\r\n" % len(MESSAGE) + MESSAGE
           + b"\r\n")
    _, tagged = c.until("a")
    if not tagged.startswith(b"a OK"):
        raise AssertionError(tagged)


def exists(untagged):
    for line in untagged:
        parts = line.split()
        if len(parts) == 3 and parts[2] == b"EXISTS":
            return int(parts[1])
    raise AssertionError(f"no EXISTS in {untagged!r}")


class IdleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(limits={"message_size": "1M"})
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(USER, PASSWORD)
        cls.mh.start()

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def test_done_and_go_on(self):
        c = login(self.mh)
        c.idle()
        c.done()
        # the session goes on in its new thread, and can idle again
        c.ok("n", b"NOOP")
        c.idle()
        c.done(b"done")
        c.ok("o", b"LOGOUT")
        self.assertEqual(c.line(), b"")
        c.close()

    def test_wrong_end_of_idle(self):
        c = login(self.mh)
        c.idle()
        c.send(b"NOOP\r\n")
        _, tagged = c.until("i")
        self.assertTrue(tagged.startswith(b"i BAD"), tagged)
        c.ok("n", b"NOOP")
        c.close()

    def test_pipelined_done(self):
        c = login(self.mh)
        # DONE already buffered when IDLE starts: no parking, same answers
        c.send(b"i IDLE\r\nDONE\r\nn NOOP\r\n")
        self.assertTrue(c.line().startswith(b"+ "))
        _, tagged = c.until("i")
        self.assertTrue(tagged.startswith(b"i OK"), tagged)
        _, tagged = c.until("n")
        self.assertTrue(tagged.startswith(b"n OK"), tagged)
        c.close()

    def test_idle_without_mailbox(self):
        c = login(self.mh, mailbox=None)
        c.idle()
        c.done()
        c.close()

    def test_updates_wake_many_sessions(self):
        w = login(self.mh, mailbox=None)
        w.ok("c", b"CREATE Many")
        first = login(self.mh, None)
        n0 = exists(first.ok("s", b"SELECT Many"))
        first.close()
        idlers = [login(self.mh, b"Many") for _ in range(40)]
        for c in idlers:
            c.idle()
        # a commit in this process: every parked session is woken
        append(w, b"Many")
        for c in idlers:
            self.assertEqual(c.line(), b"* %d EXISTS\r\n" % (n0 + 1))
            # \Recent goes to one session only (RFC 3501 §2.3.2)
            self.assertTrue(c.line().endswith(b" RECENT\r\n"))
        # and again after they have parked again: a flag change
        w.ok("s", b"SELECT Many")
        w.ok("f", b"STORE %d +FLAGS.SILENT (\\Flagged)" % (n0 + 1))
        for c in idlers:
            for _ in range(5):
                line = c.line()
                if b"FETCH" in line:
                    break
            self.assertIn(b"\\Flagged", line)
        # an expunge is sent during IDLE too (RFC 2177 allows it)
        w.ok("d", b"STORE %d +FLAGS.SILENT (\\Deleted)" % (n0 + 1))
        w.ok("e", b"EXPUNGE")
        for c in idlers:
            for _ in range(5):
                line = c.line()
                if b"EXPUNGE" in line:
                    break
            self.assertEqual(line, b"* %d EXPUNGE\r\n" % (n0 + 1))
        for c in idlers:
            c.done()
            c.close()
        w.close()

    def test_change_by_another_process(self):
        """A change that no commit of this process announces (the CLI, a
        restore) shows up at IDLE's periodic look."""
        w = login(self.mh, mailbox=None)
        w.ok("c", b"CREATE Outside")
        append(w, b"Outside")
        c = login(self.mh, b"Outside")
        c.idle()
        path = os.path.join(self.mh.data_dir, "mailhub.db")
        db = sqlite3.connect(path, timeout=30)
        try:
            # 4: \Flagged (enum store_flag)
            db.execute("UPDATE messages SET flags = flags | 4, modseq = "
                       "(SELECT highestmodseq + 1 FROM mailboxes WHERE name ="
                       " 'Outside') WHERE mailbox_id = (SELECT id FROM "
                       "mailboxes WHERE name = 'Outside')")
            db.execute("UPDATE mailboxes SET highestmodseq = highestmodseq"
                       " + 1 WHERE name = 'Outside'")
            db.commit()
        finally:
            db.close()
        # the socket's timeout bounds the wait
        line = c.line()
        self.assertTrue(line.startswith(b"* 1 FETCH ("), line)
        self.assertIn(b"\\Flagged", line)
        c.done()
        c.close()
        w.close()


class IdleEndsTest(unittest.TestCase):
    """The endings that come from the server: autologout, and stopping."""

    def setUp(self):
        self.mh = Mailhub(plaintext_on_loopback=True,
                          limits={"imap_timeout": "2"})
        self.mh.cli("domain", "add", "example.org")
        self.mh.add_user(USER, PASSWORD)
        self.mh.start()

    def tearDown(self):
        self.mh.close()

    def test_autologout(self):
        c = login(self.mh)
        c.idle()
        # RFC 3501 §5.4: at the periodic look after imap_timeout
        self.assertEqual(c.line(), b"* BYE Autologout; idle for too long\r\n")
        self.assertEqual(c.line(), b"")
        c.close()

    def test_plaintext(self):
        """Without TLS, the same parking, on the bare socket."""
        c = login(self.mh, tls=False)
        w = login(self.mh, tls=False)
        c.idle()
        append(w)
        self.assertEqual(c.line(), b"* 1 EXISTS\r\n")
        c.done()
        c.close()
        w.close()



class IdleStopTest(unittest.TestCase):
    """Stopping the daemon ends parked IDLEs with BYE.  The default
    imap_timeout: with IdleEndsTest's 2 s, a slow machine could log the
    first session out before the last one has logged in."""

    def setUp(self):
        self.mh = Mailhub(plaintext_on_loopback=True)
        self.mh.cli("domain", "add", "example.org")
        self.mh.add_user(USER, PASSWORD)
        self.mh.start()

    def tearDown(self):
        self.mh.close()

    def test_stop_says_bye(self):
        idlers = [login(self.mh) for _ in range(5)]
        for c in idlers:
            c.idle()
        self.mh.stop()
        for c in idlers:
            self.assertEqual(c.line(), b"* BYE Server shutting down.\r\n")
            self.assertEqual(c.line(), b"")
            c.close()


if __name__ == "__main__":
    tap.main()
