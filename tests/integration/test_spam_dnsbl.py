#!/usr/bin/env python3
"""DNS blocklists on port 25 (issue 15), through the real listener with
Debian's unbound serving a blocklist zone on loopback: a listed client is
greeted with 554 5.7.1 and the list's text and may only QUIT (RFC 5321
§3.1); an address that no list names, 127.0.0.1 (local software) and the
admin's allow list are not refused; a list that does not answer lets the
mail through.  Clients connect from 127.0.0.x, the addresses RFC 5782 §5
gives the test entries of every list."""

import smtplib
import unittest

import tap
from mailhub_fixture import Mailhub
from relay_util import Unbound, have_unbound
from smtp_util import RawSMTP, inbox_rows

BOB = "bob@example.org"
SKIP = None if have_unbound() else "unbound is not installed (Debian package unbound)"

TXT = "Listed by bl.test; see https://bl.test/lookup?ip=127.0.0.2"


@unittest.skipIf(SKIP, SKIP)
class Dnsbl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = Unbound([
            "2.0.0.127.bl.test. A 127.0.0.2",
            f'2.0.0.127.bl.test. TXT "{TXT}"',
            "3.0.0.127.bl.test. A 127.0.0.2",
            # a list's own error (Spamhaus: the query was refused) is no listing
            "5.0.0.127.bl.test. A 127.255.255.254",
        ], zones=("test.", ("fail.test.", "refuse")))
        cls.dns.start()
        try:
            cls.start_mailhub()
        except BaseException:
            # tearDownClass is not called when setUpClass fails
            cls.dns.stop()
            raise

    @classmethod
    def start_mailhub(cls):
        extra = ("\n[dns]\n"
                 f"resolver = {cls.dns.resolver()}\n"
                 "[spam]\n"
                 "dnsbl = fail.test, bl.test\n"
                 "dnsbl_allow = 127.0.0.3/32\n")
        cls.mh = Mailhub(listeners=("smtp", "submission"), config_extra=extra)
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(BOB, "bob-secret-password-4")
        cls.mh.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.mh.close()
        finally:
            cls.dns.stop()

    def deliver_from(self, source, subject):
        before = len(inbox_rows(self.mh, BOB))
        with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30,
                          source_address=(source, 0)) as s:
            s.sendmail("a@remote.example", [BOB],
                       f"Subject: {subject}\r\n\r\nhello\r\n".encode())
        self.assertEqual(len(inbox_rows(self.mh, BOB)), before + 1)

    def test_listed_client_refused(self):
        c = RawSMTP(self.mh.port("smtp"), source="127.0.0.2")
        self.assertEqual(c.greeting, (554, [
            "5.7.1 Service unavailable; client [127.0.0.2] blocked using bl.test; " + TXT]))
        # RFC 5321 §3.1: nothing but QUIT after a 554 greeting
        self.assertEqual(c.cmd("EHLO client.example")[0], 503)
        self.assertEqual(c.cmd("MAIL FROM:<a@remote.example>")[0], 503)
        self.assertEqual(c.cmd("RCPT TO:<bob@example.org>")[0], 503)
        self.assertEqual(c.cmd("QUIT")[0], 221)
        self.assertTrue(c.closed())
        c.close()
        self.assertIn("dnsbl refused ip=127.0.0.2 zone=bl.test", self.mh.log())

    def test_listed_client_gets_no_mail_in(self):
        with self.assertRaises(smtplib.SMTPConnectError) as cm:
            smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30,
                         source_address=("127.0.0.2", 0))
        self.assertEqual(cm.exception.smtp_code, 554)

    def test_unlisted_and_trusted_clients(self):
        # no record: not listed; the list that did not answer is logged
        # and lets the mail through
        self.deliver_from("127.0.0.4", "unlisted")
        self.assertIn("dnsbl lookup failed ip=127.0.0.4 zone=fail.test (let through)",
                      self.mh.log())
        # the list's error code is no listing
        self.deliver_from("127.0.0.5", "list error")
        # listed, but on the admin's allow list
        self.deliver_from("127.0.0.3", "allowed")
        # local software is never looked up (127.0.0.1 is never listed
        # anyway, RFC 5782 §5)
        self.deliver_from("127.0.0.1", "local")

    def test_submission_not_checked(self):
        """Blocklists are for port 25: users submit from listed dynamic
        addresses all the time."""
        c = RawSMTP(self.mh.port("submission"), source="127.0.0.2")
        self.assertEqual(c.greeting[0], 220)
        self.assertEqual(c.cmd("QUIT")[0], 221)
        c.close()


if __name__ == "__main__":
    tap.main()
