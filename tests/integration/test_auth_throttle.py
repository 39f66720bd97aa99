"""The shared login throttle through the real IMAP, POP3 and SMTP listeners
(issue 14, finding 4): failures count per address and per target account,
so a right login as one user does not wipe the wrong guesses for another;
and concurrent logins from one address are not all checked."""

import re
import threading
import unittest

import tap
from auth_util import TLS_PORTS, Login
from mailhub_fixture import Mailhub

DOMAIN = "example.org"
ALICE, BOB = f"alice@{DOMAIN}", f"bob@{DOMAIN}"
ALICE_PW, BOB_PW = "alice-secret-1", "bob-secret-2"
BLOCK_AFTER = 10


class Throttle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(config_extra=(f"\n[auth]\nblock_after = {BLOCK_AFTER}\n"
                                       "delay_max_ms = 0\n"))
        cls.mh.cli("domain", "add", DOMAIN)
        cls.mh.add_user(ALICE, ALICE_PW)
        cls.mh.add_user(BOB, BOB_PW)
        cls.mh.start()

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def login(self, protocol, source, user, password):
        c = Login(protocol, self.mh.port(TLS_PORTS[protocol]), source=source)
        try:
            return c.login(user, password)
        finally:
            c.close()

    def alternate(self, protocol, source):
        """9 wrong guesses for alice, one right login as bob, four times
        over: the old throttle forgot the guesses at every right login."""
        verdicts = []
        for _ in range(4):
            for _ in range(BLOCK_AFTER - 1):
                verdicts.append(self.login(protocol, source, ALICE, "guess"))
            verdicts.append(self.login(protocol, source, BOB, BOB_PW))
        # at most BLOCK_AFTER guesses for alice were checked, then the
        # address was refused, the right password for alice included
        self.assertLessEqual(verdicts.count("failed"), BLOCK_AFTER, verdicts)
        self.assertIn("refused", verdicts)
        self.assertEqual(self.login(protocol, source, ALICE, ALICE_PW), "refused")
        # another address is not affected
        other = source[:-1] + "9"
        self.assertEqual(self.login(protocol, other, ALICE, ALICE_PW), "ok")

    def test_alternating_imap(self):
        self.alternate("imap", "127.0.44.1")

    def test_alternating_pop3(self):
        self.alternate("pop3", "127.0.44.2")

    def test_alternating_smtp(self):
        self.alternate("smtp", "127.0.44.3")

    def concurrent(self, protocol, source, n=40):
        """n wrong logins sent at once on n sessions: they may not all be
        checked (the old throttle looked at the block before the slow
        password check, so all n were checked)."""
        port = self.mh.port(TLS_PORTS[protocol])
        conns = [Login(protocol, port, source=source) for _ in range(n)]
        verdicts = [None] * n
        # every session sends its guess before any answer is read
        for c in conns:
            c.send_login(ALICE, "guess")

        def read(i):
            try:
                verdicts[i] = conns[i].read_verdict()
            except OSError as e:
                verdicts[i] = f"error {e}"
        threads = [threading.Thread(target=read, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for c in conns:
            c.close()
        self.assertEqual(verdicts.count("failed") + verdicts.count("refused"), n,
                         verdicts)
        self.assertLessEqual(verdicts.count("failed"), BLOCK_AFTER, verdicts)
        # the log says the same: one "failed" line per checked guess
        checked = re.findall(rf"(?:auth|login) failed .*ip={re.escape(source)}\b",
                             self.mh.log())
        self.assertEqual(len(checked), verdicts.count("failed"))

    def test_concurrent_imap(self):
        self.concurrent("imap", "127.0.45.1")

    def test_concurrent_pop3(self):
        self.concurrent("pop3", "127.0.45.2")

    def test_concurrent_smtp(self):
        self.concurrent("smtp", "127.0.45.3")


if __name__ == "__main__":
    tap.main()
