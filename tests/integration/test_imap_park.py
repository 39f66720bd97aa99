#!/usr/bin/env python3
"""Sessions parked between commands: an IMAP session that has heard nothing
for a second after its last command gives up its thread and its store
handle (as IDLE does), and the listener's poll resumes it when the client
sends its next command.  Whatever wakes it (a command, a command split
across the wait, the client leaving, the autologout, the server stopping)
must get the answers a session in its own thread would get, with the
changes other sessions made meanwhile."""

import os
import time
import unittest

import tap
from imap_util import Raw
from mailhub_fixture import Mailhub

USER = "alice@example.org"
PASSWORD = "secret-alice"
MESSAGE = (b"From: Bob <bob@example.org>\r\nTo: alice@example.org\r\n"
           b"Subject: parked\r\n\r\nhello\r\n")
# IMAP_PARK_AFTER_MS in daemon/imap/session.c, and some slack
PARK_WAIT = 2.5


def login(mh, tls=True):
    c = Raw(mh.port("imaps" if tls else "imap"), tls=tls, timeout=20)
    c.ok("l", f"LOGIN {USER} {PASSWORD}".encode())
    c.ok("s", b"SELECT INBOX")
    return c


def append(c):
    c.send(b"a APPEND INBOX {%d+}\r\n" % len(MESSAGE) + MESSAGE + b"\r\n")
    _, tagged = c.until("a")
    if not tagged.startswith(b"a OK"):
        raise AssertionError(tagged)


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


class ParkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(plaintext_on_loopback=True)
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(USER, PASSWORD)
        cls.mh.start()

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def test_waiting_sessions_hold_no_thread(self):
        pid = self.mh.proc.pid
        time.sleep(PARK_WAIT)
        base = threads(pid)
        n = 24
        sessions = [login(self.mh, tls=(i % 2 == 0)) for i in range(n)]
        try:
            time.sleep(PARK_WAIT)
            # one thread per session would add n
            self.assertLess(threads(pid) - base, n // 3)
            # what changed meanwhile is told at the next command
            w = login(self.mh)
            append(w)
            w.close()
            for c in sessions:
                untagged = c.ok("n", b"NOOP")
                self.assertIn(b"EXISTS", b"".join(untagged))
                untagged = c.ok("f", b"FETCH * (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
                self.assertIn(b"Subject: parked", b"".join(untagged))
            # and they park again
            time.sleep(PARK_WAIT)
            self.assertLess(threads(pid) - base, n // 3)
        finally:
            for c in sessions:
                c.close()

    def test_command_split_across_the_park(self):
        c = login(self.mh)
        self.addCleanup(c.close)
        time.sleep(PARK_WAIT)
        c.send(b"x1 NO")
        time.sleep(PARK_WAIT)
        c.send(b"OP\r\n")
        _, tagged = c.until("x1")
        self.assertTrue(tagged.startswith(b"x1 OK"), tagged)
        # an APPEND whose literal comes after a pause
        time.sleep(PARK_WAIT)
        c.send(b"a APPEND INBOX {%d}\r\n" % len(MESSAGE))
        self.assertTrue(c.line().startswith(b"+"))
        time.sleep(PARK_WAIT)
        c.send(MESSAGE + b"\r\n")
        _, tagged = c.until("a")
        self.assertTrue(tagged.startswith(b"a OK"), tagged)


class ParkLeaveTest(unittest.TestCase):
    """A client that leaves while its session is parked frees its place."""

    def setUp(self):
        self.mh = Mailhub(plaintext_on_loopback=True,
                          limits={"connections_per_ip": "3"})
        self.mh.cli("domain", "add", "example.org")
        self.mh.add_user(USER, PASSWORD)
        self.mh.start()

    def tearDown(self):
        self.mh.close()

    def test_client_leaves_while_parked(self):
        # the start-up's probes of every listener have gone
        time.sleep(3)
        # a session still counted after its client left would make the
        # second pair one too many
        for _ in range(3):
            pair = [login(self.mh), login(self.mh, tls=False)]
            time.sleep(PARK_WAIT)
            for c in pair:
                c.close()
            time.sleep(0.5)
        c = login(self.mh)
        c.ok("n", b"NOOP")
        c.close()


class ParkEndsTest(unittest.TestCase):
    """The autologout of a parked session."""

    def setUp(self):
        self.mh = Mailhub(plaintext_on_loopback=True,
                          limits={"imap_timeout": "3"})
        self.mh.cli("domain", "add", "example.org")
        self.mh.add_user(USER, PASSWORD)
        self.mh.start()

    def tearDown(self):
        self.mh.close()

    def test_autologout_of_a_parked_session(self):
        c = login(self.mh)
        t0 = time.time()
        # RFC 3501 §5.4: imap_timeout after the last command
        self.assertEqual(c.line(), b"* BYE Autologout; idle for too long\r\n")
        self.assertEqual(c.line(), b"")
        self.assertGreater(time.time() - t0, 2.0)
        c.close()


class ParkStopTest(unittest.TestCase):
    """Stopping the daemon ends parked sessions with BYE (the default
    imap_timeout: a slow machine's logins could outlast a short one)."""

    def setUp(self):
        self.mh = Mailhub(plaintext_on_loopback=True)
        self.mh.cli("domain", "add", "example.org")
        self.mh.add_user(USER, PASSWORD)
        self.mh.start()

    def tearDown(self):
        self.mh.close()

    def test_stop_says_bye_to_parked_sessions(self):
        sessions = [login(self.mh, tls=(i % 2 == 0)) for i in range(4)]
        time.sleep(PARK_WAIT)
        self.mh.stop()
        for c in sessions:
            self.assertEqual(c.line(), b"* BYE Server shutting down.\r\n")
            self.assertEqual(c.line(), b"")
            c.close()


if __name__ == "__main__":
    tap.main()
