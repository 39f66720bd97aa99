#!/usr/bin/env python3
"""Final delivery as a real MX does it (issue 15): the Return-Path,
X-Original-To and Delivered-To fields of each user's copy (a client's own
Return-Path dropped), RFC 5233 subaddresses (into the folder they name,
looked up before the catch-all, the delimiter from the config), and the
Received-count loop check; through the real SMTP listeners."""

import imaplib
import smtplib
import unittest

import tap
from mailhub_fixture import Mailhub, client_tls_context
from smtp_util import RawSMTP, blob_bytes, delivery_fields, inbox_rows, split_received

ALICE, ALICE_PW = "alice@example.org", "alice-secret-1"
BOB, BOB_PW = "bob@example.org", "bob-secret-2"
CAROL = "carol@example.org"
PLUS_USER = "a+b@example.org"
NET_USER = "zed@example.net"


def message(subject, extra=b""):
    return (b"From: someone <someone@remote.example>\r\nTo: x@example.org\r\n"
            b"Subject: " + subject.encode() + b"\r\n" + extra + b"\r\nbody\r\n")


def last(mh, address, mailbox="INBOX"):
    rows = inbox_rows(mh, address, mailbox)
    return blob_bytes(mh, rows[-1][1]) if rows else None


class Delivery(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(listeners=("smtp", "submission", "imap"),
                         plaintext_on_loopback=True)
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.cli("domain", "add", "example.net")
        for user, pw in ((ALICE, ALICE_PW), (BOB, BOB_PW), (CAROL, "carol-secret-3"),
                         (PLUS_USER, "plus-secret-4"), (NET_USER, "zed-secret-5")):
            cls.mh.add_user(user, pw)
        cls.mh.cli("alias", "add", "team@example.org", f"{ALICE},{BOB}")
        cls.mh.cli("alias", "add", "@example.org", CAROL)      # the catch-all
        cls.mh.start()
        imap = imaplib.IMAP4("127.0.0.1", cls.mh.port("imap"))
        imap.login(ALICE, ALICE_PW)
        for name in ("shopping", "Lists/news"):
            typ, _ = imap.create(name)
            assert typ == "OK", name
        imap.logout()

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def send(self, rcpts, msg, sender="someone@remote.example"):
        with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30) as s:
            return s.sendmail(sender, rcpts, msg)

    def test_delivery_fields_and_catch_all(self):
        """A catch-all's owner sees which address the mail was sent to."""
        self.send(["Random@Example.org"], message("catch-all"))
        m = last(self.mh, CAROL)
        self.assertEqual(delivery_fields(m), {"Return-Path": "<someone@remote.example>",
                                              "X-Original-To": "Random@Example.org",
                                              "Delivered-To": CAROL})
        self.assertEqual(split_received(m)[1], message("catch-all"))

    def test_client_return_path_dropped(self):
        """RFC 5321 §4.4: final delivery writes Return-Path; the client's go."""
        extra = b"Return-Path: <forged@evil.example>\r\nreturn-path:\r\n <x@evil.example>\r\n"
        self.send([BOB], message("forged return path", extra))
        m = last(self.mh, BOB)
        self.assertEqual(m.lower().count(b"return-path:"), 1, m)
        self.assertEqual(delivery_fields(m)["Return-Path"], "<someone@remote.example>")
        self.assertNotIn(b"evil.example", m)
        # the null sender, as a bounce has it
        self.send([BOB], message("bounce"), sender="")
        self.assertEqual(delivery_fields(last(self.mh, BOB))["Return-Path"], "<>")

    def test_submission_to_local_user(self):
        with smtplib.SMTP("127.0.0.1", self.mh.port("submission"), timeout=30) as s:
            s.starttls(context=client_tls_context())
            s.login(ALICE, ALICE_PW)
            s.sendmail(ALICE, ["team@example.org"],
                       b"From: alice@example.org\r\nSubject: to the team\r\n\r\nhi\r\n")
        for user in (ALICE, BOB):
            f = delivery_fields(last(self.mh, user))
            self.assertEqual(f, {"Return-Path": f"<{ALICE}>",
                                 "X-Original-To": "team@example.org",
                                 "Delivered-To": user})

    def test_subaddress_into_folder(self):
        shop0 = len(inbox_rows(self.mh, ALICE, "shopping"))
        inbox0 = len(inbox_rows(self.mh, ALICE))
        self.send(["alice+shopping@example.org"], message("shop 1"))
        self.send(["alice+Shopping@example.org"], message("shop 2"))   # case
        self.send(["alice+lists/news@example.org"], message("news"))   # a sub-folder
        self.send(["alice+nosuchfolder@example.org"], message("no folder"))
        self.assertEqual(len(inbox_rows(self.mh, ALICE, "shopping")), shop0 + 2)
        self.assertEqual(len(inbox_rows(self.mh, ALICE)), inbox0 + 1)
        m = last(self.mh, ALICE, "shopping")
        self.assertIn(b"Subject: shop 2", m)
        self.assertEqual(delivery_fields(m)["Delivered-To"], "alice+shopping@example.org")
        self.assertEqual(delivery_fields(m)["X-Original-To"], "alice+Shopping@example.org")
        self.assertIn(b"Subject: news", last(self.mh, ALICE, "Lists/news"))
        m = last(self.mh, ALICE)
        self.assertIn(b"Subject: no folder", m)
        self.assertEqual(delivery_fields(m)["Delivered-To"], "alice+nosuchfolder@example.org")
        self.assertEqual(len(inbox_rows(self.mh, CAROL, "shopping")), 0)

    def test_subaddress_lookup_order(self):
        """As Postfix: the address as written, then without its
        subaddress, then the catch-all."""
        c0 = len(inbox_rows(self.mh, CAROL))
        p0 = len(inbox_rows(self.mh, PLUS_USER))
        self.send([PLUS_USER], message("exact"))            # a user with a '+'
        self.assertEqual(len(inbox_rows(self.mh, PLUS_USER)), p0 + 1)
        self.send(["team+x@example.org"], message("alias with subaddress"))
        for user in (ALICE, BOB):
            m = last(self.mh, user)
            self.assertIn(b"alias with subaddress", m)
            self.assertEqual(delivery_fields(m)["Delivered-To"], user)
        self.send(["nobody+x@example.org"], message("to the catch-all"))
        m = last(self.mh, CAROL)
        self.assertIn(b"to the catch-all", m)
        self.assertEqual(delivery_fields(m)["X-Original-To"], "nobody+x@example.org")
        self.assertEqual(len(inbox_rows(self.mh, CAROL)), c0 + 1)
        # without a catch-all: the unextended user, or no such user
        self.send(["zed+stuff@example.net"], message("zed"))
        self.assertIn(b"Subject: zed", last(self.mh, NET_USER))
        r = RawSMTP(self.mh.port("smtp"))
        r.cmd("EHLO client.example")
        r.cmd("MAIL FROM:<x@remote.example>")
        for rcpt in ("nobody+x@example.net", "+zed@example.net"):
            code, text = r.cmd(f"RCPT TO:<{rcpt}>")
            self.assertEqual((code, text[0][:5]), (550, "5.1.1"), rcpt)
        r.close()

    def test_loop_detection(self):
        """RFC 5321 §6.3: more than 50 Received fields is a loop: 554 5.4.6."""
        hops = lambda n: b"".join(b"Received: from hop%d by hop%d\r\n" % (i, i + 1)
                                  for i in range(n))
        b0 = len(inbox_rows(self.mh, BOB))
        self.send([BOB], hops(50) + message("fifty hops"))
        self.assertEqual(len(inbox_rows(self.mh, BOB)), b0 + 1)
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            self.send([BOB], hops(51) + message("looping"))
        self.assertEqual(cm.exception.smtp_code, 554)
        self.assertTrue(cm.exception.smtp_error.startswith(b"5.4.6"), cm.exception.smtp_error)
        # by BDAT too, folded fields counted once
        body = hops(45) + b"Received: from a\r\n\tby b\r\n" * 6 + message("bdat loop")
        r = RawSMTP(self.mh.port("smtp"))
        r.cmd("EHLO client.example")
        r.cmd("MAIL FROM:<x@remote.example>")
        r.cmd("RCPT TO:<bob@example.org>")
        r.send(b"BDAT %d LAST\r\n" % len(body) + body)
        code, text = r.reply()
        self.assertEqual((code, text[0][:5]), (554, "5.4.6"))
        self.assertEqual(r.cmd("NOOP")[0], 250)
        r.close()
        self.assertEqual(len(inbox_rows(self.mh, BOB)), b0 + 1)


class OtherDelimiter(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(listeners=("smtp",),
                         config_extra="\n[smtp]\nrecipient_delimiter = -\n")
        cls.mh.cli("domain", "add", "example.net")
        cls.mh.add_user(NET_USER, "zed-secret-5")
        cls.mh.start()

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def test_dash(self):
        r = RawSMTP(self.mh.port("smtp"))
        r.cmd("EHLO client.example")
        r.cmd("MAIL FROM:<x@remote.example>")
        self.assertEqual(r.cmd("RCPT TO:<zed-lists@example.net>")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<zed+lists@example.net>")[0], 550)
        r.close()

    def test_bad_delimiter_refused(self):
        bad = Mailhub(listeners=(), init=False,
                      config_extra="\n[smtp]\nrecipient_delimiter = @\n")
        try:
            r = bad.cli("domain", "list", check=False)
            self.assertEqual(r.returncode, 1)
            self.assertIn("recipient_delimiter", r.stderr)
        finally:
            bad.cleanup()


if __name__ == "__main__":
    tap.main()
