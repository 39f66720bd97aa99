#!/usr/bin/env python3
"""Spam filtering with Debian's rspamd (issue 15), through the real
listeners: rspamd's action honoured (GTUBE for reject, add header and
rewrite subject; a clean message delivered with the headers), moves into
and out of Junk over IMAP learned by rspamd's controller (its /stat and
the Bayes statistics in Redis show it), the status in GET /api/v1/status,
and mail still flowing, marked unchecked, once rspamd is gone."""

import email
import imaplib
import smtplib
import subprocess
import time
import unittest

import tap
from api_util import Client
from mailhub_fixture import Mailhub, free_port
from rspamd_util import GTUBE, Rspamd, have_rspamd
from smtp_util import blob_bytes, inbox_rows, wait_for

BOB, BOB_PW = "bob@example.org", "bob-secret-password-2"
ADMIN, ADMIN_PW = "admin@example.org", "admin-secret-password-3"
SENDER = "someone@remote.example"

SKIP = None if have_rspamd() else "rspamd or redis-server is not installed"

# Bodies long enough for rspamd's Bayes (min_tokens = 11), each its own.
SPAM_BODY = ("Congratulations dear friend, you have been selected as the lucky "
             "winner of our international lottery prize draw. Send your bank "
             "account details and a small processing fee to claim your million "
             "dollars cash reward immediately today.")
HAM_BODY = ("Hi Bob, are we still on for lunch on Thursday? The new place near "
            "the station has a nice garden and the soup of the day is usually "
            "good. Let me know if noon works for you, otherwise one o'clock.")


def message(subject, body, extra=""):
    return (f"From: Someone <{SENDER}>\r\nTo: {BOB}\r\nSubject: {subject}\r\n"
            f"Date: Sun, 06 Dec 2026 10:00:00 +0000\r\n"
            f"Message-ID: <{abs(hash((subject, body)))}@remote.example>\r\n"
            f"{extra}\r\n{body}\r\n").encode()


def last(mh, mailbox):
    rows = inbox_rows(mh, BOB, mailbox)
    return blob_bytes(mh, rows[-1][1]) if rows else None


def header(msg, name):
    return email.message_from_bytes(msg).get_all(name) or []


def redis_learns(r):
    """(learns_spam, learns_ham) of the Bayes statistics in Redis."""
    out = subprocess.run(["redis-cli", "-p", str(r.redis_port), "HMGET", "RS",
                          "learns_spam", "learns_ham"],
                         capture_output=True, text=True, timeout=30).stdout.split()
    return tuple(int(x) if x.isdigit() else 0 for x in (out + ["0", "0"])[:2])


@unittest.skipIf(SKIP, SKIP)
class Rspamd_(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rspamd = Rspamd()
        try:
            cls.rspamd.start()
            cls.start_mailhub()
        except BaseException:
            # tearDownClass is not called when setUpClass fails
            cls.rspamd.stop()
            raise

    @classmethod
    def start_mailhub(cls):
        # the client's host name is looked up for rspamd: a closed resolver
        # port makes that fail at once (no DNS leaves the machine)
        extra = (f"\n[dns]\nresolver = 127.0.0.1:{free_port()}\n"
                 "[spam]\n"
                 f"rspamd = {cls.rspamd.url()}\n"
                 f"rspamd_controller = {cls.rspamd.controller_url()}\n"
                 f"rspamd_password = {Rspamd.PASSWORD}\n"
                 "rspamd_timeout = 30\n"
                 "rspamd_max_size = 16K\n")
        cls.mh = Mailhub(listeners=("smtp", "imap", "admin"), plaintext_on_loopback=True,
                         config_extra=extra)
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(BOB, BOB_PW)
        cls.mh.add_user(ADMIN, ADMIN_PW, admin=True)
        cls.mh.start()
        cls.api = Client(cls.mh.port("admin"))
        assert cls.api.login(ADMIN, ADMIN_PW).status == 200

    @classmethod
    def tearDownClass(cls):
        try:
            cls.mh.close()
        finally:
            cls.rspamd.stop()

    def send(self, msg, rcpts=(BOB,), sender=SENDER):
        with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=60) as s:
            s.ehlo("mx.remote.example")
            return s.sendmail(sender, list(rcpts), msg)

    def test_a_clean_message_delivered_with_headers(self):
        """No action: the INBOX, with rspamd's verdict in the headers; what
        the sender wrote in them is dropped."""
        self.send(message("lunch", HAM_BODY, "X-Spam-Status: Yes, score=99\r\n"
                                             "X-Spam: Yes\r\n"))
        m = last(self.mh, "INBOX")
        self.assertIsNotNone(m)
        status = header(m, "X-Spam-Status")
        self.assertEqual(len(status), 1, m)
        self.assertRegex(status[0], r"^No, score=-?\d+\.\d\d$")
        self.assertEqual(header(m, "X-Spam"), [])
        self.assertRegex(header(m, "X-Spamd-Result")[0],
                         r"^default: False \[-?\d+\.\d\d / 15\.00\]")
        self.assertEqual(header(m, "Subject"), ["lunch"])

    def test_a_bounce_checked(self):
        """The null sender (a bounce) is checked too."""
        self.send(message("bounce", HAM_BODY + " Delivery failed."), sender="")
        m = last(self.mh, "INBOX")
        self.assertEqual(header(m, "Subject"), ["bounce"])
        self.assertRegex(header(m, "X-Spam-Status")[0], r"^(No|Yes), score=")

    def test_b_gtube_reject(self):
        """reject: 550 5.7.1 with rspamd's words, nothing delivered."""
        before = len(inbox_rows(self.mh, BOB, "INBOX")) + len(inbox_rows(self.mh, BOB, "Junk"))
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            self.send(message("reject me", GTUBE["reject"]))
        self.assertEqual(cm.exception.smtp_code, 550)
        self.assertEqual(cm.exception.smtp_error, b"5.7.1 Gtube pattern")
        after = len(inbox_rows(self.mh, BOB, "INBOX")) + len(inbox_rows(self.mh, BOB, "Junk"))
        self.assertEqual(before, after)
        self.assertIn('spam="reject"', self.mh.log())

    def test_c_gtube_add_header_into_junk(self):
        """add header: X-Spam headers, and into the Junk folder."""
        junk = len(inbox_rows(self.mh, BOB, "Junk"))
        inbox = len(inbox_rows(self.mh, BOB, "INBOX"))
        self.send(message("add a header", GTUBE["add header"]))
        self.assertEqual(len(inbox_rows(self.mh, BOB, "Junk")), junk + 1)
        self.assertEqual(len(inbox_rows(self.mh, BOB, "INBOX")), inbox)
        m = last(self.mh, "Junk")
        self.assertEqual(header(m, "X-Spam"), ["Yes"])
        self.assertEqual(header(m, "X-Spam-Status"), ["Yes, score=6.00"])
        self.assertRegex(header(m, "X-Spamd-Result")[0], r"^default: True \[6\.00 / 15\.00\]")
        self.assertIn("GTUBE(", header(m, "X-Spamd-Result")[0])
        self.assertEqual(header(m, "Subject"), ["add a header"])

    def test_d_gtube_rewrite_subject(self):
        """rewrite subject: the Subject rspamd gives, into Junk; one
        Subject only, RFC 2047-encoded when it is not ASCII."""
        self.send(message("Gr\u00fc\u00dfe", GTUBE["rewrite subject"]).replace(
            "Grüße".encode(), b"=?UTF-8?B?R3LDvMOfZQ==?="))
        m = last(self.mh, "Junk")
        subjects = header(m, "Subject")
        self.assertEqual(len(subjects), 1, m)
        decoded = str(email.header.make_header(email.header.decode_header(subjects[0])))
        self.assertEqual(decoded, "***SPAM*** Gr\u00fc\u00dfe")
        # (rspamd 3.4 gives it RFC 2047-encoded already; raw UTF-8 would be
        # encoded by mailhub: check_rspamd's test_subject_header)
        self.assertNotIn("Gr\u00fc".encode(), m)
        self.assertEqual(header(m, "X-Spam-Status"), ["Yes, score=8.00"])

    def move(self, imap, mailbox, subject, to, how="MOVE"):
        """MOVE (or COPY) the last message with subject from mailbox to to;
        its UID."""
        imap.select(mailbox)
        typ, data = imap.uid("SEARCH", "SUBJECT", f'"{subject}"')
        uid = data[0].split()[-1].decode()
        typ, _ = imap.uid(how, uid, to)
        self.assertEqual(typ, "OK")
        return uid

    def test_e_moves_are_learned(self):
        """A move into Junk teaches rspamd spam, out of Junk ham."""
        self.send(message("prize", SPAM_BODY))
        learned = self.rspamd.stat()["learned"]
        spam0, ham0 = redis_learns(self.rspamd)
        imap = imaplib.IMAP4("127.0.0.1", self.mh.port("imap"))
        imap.login(BOB, BOB_PW)
        self.move(imap, "INBOX", "prize", "Junk")
        self.assertTrue(wait_for(lambda: self.rspamd.stat()["learned"] > learned, 60),
                        self.mh.log())
        self.assertEqual(redis_learns(self.rspamd), (spam0 + 1, ham0))
        self.assertIn("spam learned as=spam", self.mh.log())

        # out of Junk again: ham (rspamd moves the message between classes)
        learned = self.rspamd.stat()["learned"]
        self.move(imap, "Junk", "prize", "INBOX")
        self.assertTrue(wait_for(lambda: self.rspamd.stat()["learned"] > learned, 60),
                        self.mh.log())
        self.assertEqual(redis_learns(self.rspamd), (spam0, ham0 + 1))
        self.assertIn("spam learned as=ham", self.mh.log())

        # a client that moves with COPY and EXPUNGE is learned too
        self.send(message("second prize", SPAM_BODY + " Act now, offer ends soon."))
        learned = self.rspamd.stat()["learned"]
        uid = self.move(imap, "INBOX", "second prize", "Junk", "COPY")
        imap.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")
        imap.expunge()
        imap.logout()
        self.assertTrue(wait_for(lambda: self.rspamd.stat()["learned"] > learned, 60))
        self.assertEqual(redis_learns(self.rspamd)[0], spam0 + 1)
        # and rspamd's own statistics say so, once it has read them again
        self.assertTrue(wait_for(lambda: self.rspamd.learns()[0] >= spam0 + 1, 180),
                        self.rspamd.stat())

    def test_f_status(self):
        """The status page: rspamd connected, the last check, learning."""
        self.send(message("status", HAM_BODY + " status"))
        r = self.api.get("/status")
        self.assertEqual(r.status, 200, r)
        rs = r.json["spam"]["rspamd"]
        self.assertTrue(rs["configured"])
        self.assertEqual(rs["url"], self.rspamd.url())
        self.assertEqual(rs["state"], "connected", rs)
        self.assertRegex(rs["last_result"], r"^[a-z ]+, score=-?\d+\.\d\d$")
        self.assertIsNotNone(rs["last_contact"])
        self.assertGreaterEqual(rs["checked"], 1)
        self.assertTrue(rs["learning"]["configured"])
        self.assertEqual(r.json["spam"]["dnsbl"], [])
        self.assertFalse(r.json["spam"]["greylist"])
        # the password is never shown
        self.assertNotIn(Rspamd.PASSWORD, r.text)
        # a user sees nothing of it
        user = Client(self.mh.port("admin"))
        self.assertEqual(user.login(BOB, BOB_PW).status, 200)
        self.assertNotIn("spam", user.get("/status").json)

    def test_g_too_large_unchecked(self):
        """Over rspamd_max_size: delivered, marked unchecked."""
        self.send(message("big", HAM_BODY + "\r\n" + ("x" * 70 + "\r\n") * 300))
        m = last(self.mh, "INBOX")
        self.assertEqual(header(m, "Subject"), ["big"])
        self.assertEqual(header(m, "X-Spam-Status"),
                         ["unchecked (message too large for rspamd)"])

    def test_z_rspamd_stopped(self):
        """rspamd gone: mail still arrives, marked unchecked, and the status
        page says rspamd is unavailable."""
        self.rspamd.stop_rspamd()
        self.send(message("while rspamd is away", HAM_BODY + " away"))
        m = last(self.mh, "INBOX")
        self.assertEqual(header(m, "Subject"), ["while rspamd is away"])
        self.assertEqual(header(m, "X-Spam-Status"), ["unchecked (rspamd unavailable)"])
        self.assertEqual(header(m, "X-Spamd-Result"), [])
        rs = self.api.get("/status").json["spam"]["rspamd"]
        self.assertEqual(rs["state"], "unavailable", rs)
        self.assertIn("refused", rs["last_result"])
        self.assertGreaterEqual(rs["unchecked"], 1)
        self.assertIn("rspamd unavailable", self.mh.log())


if __name__ == "__main__":
    tap.main()
