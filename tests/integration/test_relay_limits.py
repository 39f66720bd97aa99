#!/usr/bin/env python3
"""Sending limits on submission ([relay] *_per_hour): a user's messages and
recipients per hour, and a domain's messages, each refused with 451 4.7.1
once over, and the hits noted for the panel (send_limit_hits)."""

import os
import smtplib
import sqlite3
import unittest

import tap
from mailhub_fixture import Mailhub, client_tls_context

PW = "secret-limits"


class SendingLimits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        extra = ("\n[relay]\nuser_messages_per_hour = 2\nuser_recipients_per_hour = 4\n"
                 "domain_messages_per_hour = 3\n")
        cls.mh = Mailhub(listeners=("submission",), config_extra=extra)
        for d in ("example.org", "example.net"):
            cls.mh.cli("domain", "add", d)
        for u in ("alice@example.org", "bob@example.org", "carol@example.net"):
            cls.mh.add_user(u, PW)
        cls.mh.start()

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def session(self, user):
        s = smtplib.SMTP("127.0.0.1", self.mh.port("submission"), timeout=30)
        s.starttls(context=client_tls_context())
        s.login(user, PW)
        return s

    def send(self, s, user, rcpts):
        s.mail(user)
        for r in rcpts:
            code, msg = s.rcpt(r)
            if code != 250:
                s.rset()
                return code, msg
        code, msg = s.data(f"From: <{user}>\r\nSubject: limits\r\n\r\nhi\r\n".encode())
        return code, msg

    def hits(self):
        db = sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"), timeout=30)
        try:
            return dict(db.execute("SELECT scope, what FROM send_limit_hits").fetchall())
        finally:
            db.close()

    def test_user_then_domain_message_limits(self):
        with self.session("alice@example.org") as s:
            for _ in range(2):
                self.assertEqual(self.send(s, "alice@example.org", ["alice@example.org"])[0],
                                 250)
            code, msg = s.mail("alice@example.org")
            self.assertEqual(code, 451)
            self.assertIn(b"4.7.1 Sending limit reached: your address may send 2 messages",
                          msg)
        # the domain's third message of the hour is bob's first, its fourth
        # is over the domain's limit
        with self.session("bob@example.org") as s:
            self.assertEqual(self.send(s, "bob@example.org", ["bob@example.org"])[0], 250)
            code, msg = s.mail("bob@example.org")
            self.assertEqual(code, 451)
            self.assertIn(b"your domain may send 3 messages", msg)
        h = self.hits()
        self.assertEqual(h.get("user:alice@example.org"), "messages per hour (2)")
        self.assertEqual(h.get("domain:example.org"), "messages per hour (3)")

    def test_user_recipient_limit(self):
        with self.session("carol@example.net") as s:
            code, msg = self.send(s, "carol@example.net",
                                  [f"carol+{i}@example.net" for i in range(5)])
            self.assertEqual(code, 451)
            self.assertIn(b"4 recipients per hour", msg)
            # four fit
            self.assertEqual(self.send(s, "carol@example.net",
                                       [f"carol+{i}@example.net" for i in range(4)])[0], 250)
        self.assertEqual(self.hits().get("user:carol@example.net"),
                         "recipients per hour (4)")


if __name__ == "__main__":
    tap.main()
