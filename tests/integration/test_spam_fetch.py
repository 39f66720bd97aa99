#!/usr/bin/env python3
"""rspamd on fetched mail (issues 15 and 20): with [spam] rspamd set, each
message the fetcher takes from an upstream (a private Dovecot, as in
test_fetch.py) is checked by Debian's rspamd (started on loopback, as in
test_spam_rspamd.py) before its local commit.  Spam (GTUBE's add header,
and reject, which fetched mail cannot get) lands in Junk with rspamd's
header fields; a clean message in the INBOX with them, the verdict fields
the sender wrote dropped; a message larger than the write buffer is
checked from its file; the owner's Sieve script sees the score
(spamtestplus) and decides where spam goes; with rspamd stopped, mail is
still fetched, once, marked unchecked, and Sieve sees "not tested"."""

import email
import os
import tempfile
import unittest

import tap
from dovecot_upstream import Dovecot, available
from mailhub_fixture import Mailhub
from rspamd_util import GTUBE, Rspamd, have_rspamd
from smtp_util import blob_bytes, inbox_rows

OWNER = "alice@example.org"
HAM_BODY = ("Hi Alice, are we still on for lunch on Thursday? The new place near "
            "the station has a nice garden and the soup of the day is usually "
            "good. Let me know if noon works for you, otherwise one o'clock.")

SCRIPT = """require ["spamtestplus", "relational", "comparator-i;ascii-numeric",
         "fileinto", "mailbox"];
if spamtest :value "eq" :comparator "i;ascii-numeric" "0" {
    fileinto :create "Untested";
} elsif spamtest :value "ge" :comparator "i;ascii-numeric" "10" {
    if spamtest :percent :value "eq" :comparator "i;ascii-numeric" "100" {
        fileinto :create "Scored";
    }
}
"""

SKIP = (None if have_rspamd() and available()
        else "rspamd, redis-server or Dovecot is not installed")


def message(subject, body, extra=""):
    return (f"Return-Path: <sender@remote.example>\r\n"
            f"From: Someone <sender@remote.example>\r\nTo: {OWNER}\r\n"
            f"Subject: {subject}\r\nDate: Sun, 06 Dec 2026 10:00:00 +0000\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@remote.example>\r\n"
            f"{extra}\r\n{body}\r\n").encode()


def header(msg, name):
    return email.message_from_bytes(msg).get_all(name) or []


@unittest.skipIf(SKIP, SKIP)
class SpamFetch(unittest.TestCase):
    users = {"u1": "pw-one-1", "u2": "pw-two-2", "u3": "pw-three-3"}

    @classmethod
    def setUpClass(cls):
        cls.rspamd = Rspamd()
        cls.dc = Dovecot(cls.users)
        try:
            cls.rspamd.start()
            cls.dc.start()
            extra = ("\n[fetch]\nallow_private_hosts = yes\n"
                     "[spam]\n"
                     f"rspamd = {cls.rspamd.url()}\n"
                     "rspamd_timeout = 30\n"
                     "rspamd_max_size = 256K\n")
            cls.mh = Mailhub(listeners=(), config_extra=extra)
            cls.mh.cli("domain", "add", "example.org")
            cls.mh.add_user(OWNER, "secret-alice")
            cls.tmp = tempfile.mkdtemp(prefix="spam-fetch-")
            path = os.path.join(cls.tmp, "main.sieve")
            with open(path, "w") as f:
                f.write(SCRIPT)
            cls.mh.cli("sieve", "put", OWNER, "main", path, "--activate")
        except BaseException:
            cls.dc.close()
            cls.rspamd.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.mh.close()
        finally:
            try:
                cls.dc.close()
            finally:
                cls.rspamd.stop()

    def add(self, user, protocol, extra=()):
        port = self.dc.port(protocol + "s")
        r = self.mh.cli("upstream", "add", OWNER, "--protocol", protocol, "--host",
                        "127.0.0.1", "--port", str(port), "--tls", "implicit",
                        "--tls-verify", "pin:" + self.dc.cert_sha256, "--username", user,
                        "--password-stdin", *extra, input=self.users[user] + "\n")
        return int(r.stdout.strip())

    def fetch(self, upstream_id):
        self.mh.cli("upstream", "run", str(upstream_id), timeout=300)

    def folder(self, name):
        return [blob_bytes(self.mh, h) for _, h, _ in inbox_rows(self.mh, OWNER, name)]

    def by_subject(self, name):
        return {header(m, "Subject")[0]: m for m in self.folder(name)}

    def test_1_verdicts(self):
        big_body = "\r\n".join(f"line {i}: " + HAM_BODY for i in range(600))
        self.dc.add_messages("u1", [
            message("spam one", GTUBE["add header"]),
            message("spam two", GTUBE["reject"]),
            message("lunch", HAM_BODY, "X-Spam-Status: Yes, score=99\r\nX-Spam: Yes\r\n"
                                       "X-Spamd-Result: default: True [99 / 15]\r\n"),
            message("big one", big_body),
        ])
        up = self.add("u1", "imap")
        self.fetch(up)
        junk, inbox = self.by_subject("Junk"), self.by_subject("INBOX")
        self.assertEqual(sorted(junk), ["spam one", "spam two"])
        self.assertEqual(sorted(inbox), ["big one", "lunch"])
        for m in junk.values():
            self.assertEqual(header(m, "X-Spam"), ["Yes"], m[:600])
            self.assertRegex(header(m, "X-Spam-Status")[0], r"^Yes, score=")
            self.assertRegex(header(m, "X-Spamd-Result")[0], r"^default: True \[")
        lunch = inbox["lunch"]
        status = header(lunch, "X-Spam-Status")
        self.assertEqual(len(status), 1, lunch[:800])
        self.assertRegex(status[0], r"^No, score=-?\d+\.\d\d$")
        self.assertEqual(header(lunch, "X-Spam"), [])
        self.assertEqual(len(header(lunch, "X-Spamd-Result")), 1)
        self.assertRegex(header(lunch, "X-Spamd-Result")[0], r"^default: False \[")
        # the verdict first, then our Received field, then the message
        self.assertTrue(lunch.startswith(b"X-Spamd-Result: "), lunch[:200])
        big = inbox["big one"]
        self.assertGreater(len(big), 65536)
        self.assertRegex(header(big, "X-Spam-Status")[0], r"^No, score=")
        self.assertTrue(big.endswith(big_body.encode() + b"\r\n"))
        # fetched again: nothing new, nothing twice
        self.fetch(up)
        self.assertEqual(len(self.folder("Junk")), 2)
        self.assertEqual(len(self.folder("INBOX")), 2)

    def test_2_sieve_sees_the_score(self):
        self.dc.add_messages("u2", [
            message("spam three", GTUBE["add header"]),
            message("lunch two", HAM_BODY),
        ])
        junk_before = len(self.folder("Junk"))
        up = SpamFetch.up2 = self.add("u2", "pop3", ("--target", "Fetched", "--sieve"))
        self.fetch(up)
        # the script decides: spam scored 10 (100%) goes where it says,
        # not to Junk; the clean one to the implicit keep
        self.assertEqual(sorted(self.by_subject("Scored")), ["spam three"])
        self.assertEqual(sorted(self.by_subject("Fetched")), ["lunch two"])
        self.assertEqual(len(self.folder("Junk")), junk_before)
        self.assertEqual(self.folder("Untested"), [])
        self.assertRegex(header(self.folder("Scored")[0], "X-Spam")[0], "Yes")

    def test_3_rspamd_stopped(self):
        self.rspamd.stop_rspamd()
        self.dc.add_messages("u3", [
            message("spam four", GTUBE["add header"]),
            message("lunch three", HAM_BODY),
        ])
        self.dc.add_messages("u2", [message("lunch four", HAM_BODY)])
        junk_before = len(self.folder("Junk"))
        inbox_before = len(self.folder("INBOX"))
        up = self.add("u3", "imap")
        self.fetch(up)
        self.fetch(up)
        inbox = self.by_subject("INBOX")
        self.assertEqual(len(inbox), inbox_before + 2)
        self.assertEqual(len(self.folder("Junk")), junk_before)
        for subject in ("spam four", "lunch three"):
            self.assertEqual(header(inbox[subject], "X-Spam-Status"),
                             ["unchecked (rspamd unavailable)"])
        # Sieve: not tested (spamtest 0)
        self.fetch(SpamFetch.up2)
        self.assertEqual(sorted(self.by_subject("Untested")), ["lunch four"])


if __name__ == "__main__":
    tap.main()
