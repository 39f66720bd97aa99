#!/usr/bin/env python3
"""Greylisting on port 25 (issue 15), through the real listener: a new
(client network, sender, recipient) triplet is deferred at RCPT with
451 4.7.1, a retry before the configured delay too, a retry after it
passes and the triplet keeps passing; a bounce address that changes at
every try stays one triplet; authenticated sessions, local software
(127.0.0.1) and the allow list are never greylisted.  Clients connect from
127.0.0.x addresses."""

import smtplib
import time
import unittest

import tap
from mailhub_fixture import Mailhub
from smtp_util import RawSMTP, inbox_rows

USERS = [f"u{i}@example.org" for i in range(12)]
BOB, BOB_PW = USERS[0], "bob-secret-password-5"
DELAY = 2


class Greylist(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        extra = ("\n[spam]\n"
                 "greylist = yes\n"
                 f"greylist_delay = {DELAY}\n"
                 "greylist_allow = 127.0.0.5, 10.0.0.0/8\n")
        cls.mh = Mailhub(listeners=("smtp", "submission"), plaintext_on_loopback=True,
                         config_extra=extra)
        cls.mh.cli("domain", "add", "example.org")
        for u in USERS:
            cls.mh.add_user(u, BOB_PW if u == BOB else "other-secret-password-6")
        cls.mh.start()

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def rcpt(self, source, sender, rcpt):
        """The reply code to RCPT TO:<rcpt> from source; the transaction
        is sent through when the recipient is taken."""
        c = RawSMTP(self.mh.port("smtp"), source=source)
        try:
            self.assertEqual(c.cmd("EHLO client.example")[0], 250)
            self.assertEqual(c.cmd(f"MAIL FROM:<{sender}>")[0], 250)
            code, text = c.cmd(f"RCPT TO:<{rcpt}>")
            if code == 250:
                self.assertEqual(c.cmd("DATA")[0], 354)
                self.assertEqual(c.cmd("Subject: greylist\r\n\r\nhello\r\n.")[0], 250)
            elif code == 451:
                self.assertRegex(text[0], r"^4\.7\.1 Greylisted, try again in \d+ seconds$")
            c.cmd("QUIT")
            return code
        finally:
            c.close()

    def test_first_try_deferred_retry_passes(self):
        sender = "alice@remote.example"
        self.assertEqual(self.rcpt("127.0.0.2", sender, BOB), 451)
        # too soon
        self.assertEqual(self.rcpt("127.0.0.2", sender, BOB), 451)
        time.sleep(DELAY + 1)
        before = len(inbox_rows(self.mh, BOB))
        # another host of the same /24 retries: the same triplet
        self.assertEqual(self.rcpt("127.0.0.9", sender, BOB), 250)
        self.assertEqual(len(inbox_rows(self.mh, BOB)), before + 1)
        # and it goes on passing
        self.assertEqual(self.rcpt("127.0.0.2", sender, BOB), 250)
        # another recipient or sender is another triplet
        self.assertEqual(self.rcpt("127.0.0.2", sender, USERS[1]), 451)
        self.assertEqual(self.rcpt("127.0.0.2", "carol@remote.example", BOB), 451)
        self.assertIn("greylisted ip=127.0.0.2 from=<alice@remote.example>", self.mh.log())

    def test_changing_bounce_address(self):
        """VERP: the bounce address of each try differs; one triplet."""
        self.assertEqual(self.rcpt("127.0.0.2", "bounces-1001@lists.example", USERS[2]), 451)
        time.sleep(DELAY + 1)
        self.assertEqual(self.rcpt("127.0.0.2", "bounces-1002@lists.example", USERS[2]), 250)

    def test_not_greylisted(self):
        # local software, and the allow list
        self.assertEqual(self.rcpt("127.0.0.1", "x@remote.example", USERS[3]), 250)
        self.assertEqual(self.rcpt("127.0.0.5", "x@remote.example", USERS[3]), 250)
        # a user's own mail (AUTH on the submission port)
        with smtplib.SMTP("127.0.0.1", self.mh.port("submission"), timeout=30,
                          source_address=("127.0.0.2", 0)) as s:
            s.login(BOB, BOB_PW)
            self.assertEqual(s.sendmail(BOB, [USERS[4]],
                                        f"From: {BOB}\r\nSubject: mine\r\n\r\nx\r\n".encode()),
                             {})

    def test_many_recipients_no_disconnect(self):
        """Greylisting is flow control, not a client error: a message to
        many new recipients is not cut off by the error limit (10)."""
        c = RawSMTP(self.mh.port("smtp"), source="127.0.0.3")
        try:
            c.cmd("EHLO client.example")
            c.cmd("MAIL FROM:<list@remote.example>")
            for u in USERS:
                self.assertEqual(c.cmd(f"RCPT TO:<{u}>")[0], 451)
            self.assertEqual(c.cmd("NOOP")[0], 250)
            self.assertEqual(c.cmd("QUIT")[0], 221)
        finally:
            c.close()


if __name__ == "__main__":
    tap.main()
