"""SMTP server with real clients: Python's smtplib, swaks and curl, on the
inbound (smtp), submission and submissions listeners; what they send is read
back from the store byte for byte."""

import os
import shutil
import smtplib
import subprocess
import tempfile
import unittest

import tap
from mailhub_fixture import Mailhub, client_tls_context
from smtp_util import (RawSMTP, blob_bytes, delivery_fields, inbox, inbox_rows, queue,
                       split_received, wait_for)

ALICE, ALICE_PW = "alice@example.org", "alice-secret-1"
BOB, BOB_PW = "bob@example.org", "bob-secret-2"
NO_DNS = "\n[dns]\nresolver = 127.0.0.1:9\n"
OPEN = ("pending", "deferred")


def message(subject, body=b"Hello.\r\n", extra=b""):
    return (b"From: Alice <alice@example.org>\r\n"
            b"To: Bob <bob@example.org>\r\n"
            b"Subject: " + subject.encode() + b"\r\n"
            b"Date: Mon, 23 Nov 2026 08:00:00 +0000\r\n"
            b"Message-ID: <" + subject.encode().replace(b" ", b"-") + b"@example.org>\r\n"
            + extra + b"\r\n" + body)


class SMTPServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # remote domains resolve nowhere (a closed port as the DNS server):
        # the relay workers only defer what is queued, no bounces arrive
        cls.mh = Mailhub(config_extra=NO_DNS)
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(ALICE, ALICE_PW)
        cls.mh.add_user(BOB, BOB_PW)
        cls.mh.cli("alias", "add", "team@example.org", f"{ALICE},{BOB}")
        cls.mh.cli("alias", "add", "alias-alice@example.org", ALICE)
        cls.mh.cli("alias", "add", "fwd@example.org", f"{BOB},friend@remote.example")
        cls.mh.start()

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def last(self, address):
        msgs = inbox(self.mh, address)
        self.assertTrue(msgs, f"nothing delivered to {address}")
        return msgs[-1]

    def count(self, address):
        return len(inbox_rows(self.mh, address))

    def smtp(self):
        return smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30)

    def submission(self, user=ALICE, password=ALICE_PW):
        s = smtplib.SMTP("127.0.0.1", self.mh.port("submission"), timeout=30)
        s.starttls(context=client_tls_context())
        s.login(user, password)
        return s

    # ---- the dialogue ------------------------------------------------------

    def test_ehlo_extensions(self):
        with self.smtp() as s:
            code, _ = s.ehlo("client.example")
            self.assertEqual(code, 250)
            for ext in ("pipelining", "size", "8bitmime", "smtputf8",
                        "enhancedstatuscodes", "starttls", "chunking", "dsn"):
                self.assertTrue(s.has_extn(ext), ext)
            self.assertEqual(s.esmtp_features["size"], str(50 * 1024 * 1024))
            # RFC 4954 §4 and the design: no AUTH before TLS
            self.assertFalse(s.has_extn("auth"))
            s.starttls(context=client_tls_context())
            s.ehlo("client.example")
            self.assertFalse(s.has_extn("starttls"))
            self.assertIn("PLAIN", s.esmtp_features["auth"].split())
            self.assertIn("LOGIN", s.esmtp_features["auth"].split())

    def test_simple_commands(self):
        r = RawSMTP(self.mh.port("smtp"))
        self.assertEqual(r.greeting[0], 220)
        self.assertEqual(r.cmd("MAIL FROM:<a@b.example>")[0], 503)   # before EHLO
        self.assertEqual(r.cmd("HELO client.example")[0], 250)
        self.assertEqual(r.cmd("NOOP"), (250, ["2.0.0 Ok"]))
        self.assertEqual(r.cmd("HELP")[0], 214)
        code, text = r.cmd(f"VRFY {BOB}")
        self.assertEqual(code, 252)                     # RFC 5321 §3.5.3
        self.assertNotIn("bob", text[0].lower())
        self.assertEqual(r.cmd("VRFY nobody@example.org")[0], 252)
        self.assertEqual(r.cmd("EXPN team@example.org")[0], 502)
        self.assertEqual(r.cmd("FROB")[0], 500)
        self.assertEqual(r.cmd("RCPT TO:<bob@example.org>")[0], 503)   # no MAIL
        self.assertEqual(r.cmd("DATA")[0], 503)
        self.assertEqual(r.cmd("MAIL FROM:<a@b.example>")[0], 250)
        self.assertEqual(r.cmd("MAIL FROM:<a@b.example>")[0], 503)   # nested
        self.assertEqual(r.cmd("DATA")[0], 554)          # no recipients
        self.assertEqual(r.cmd("RSET")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<bob@example.org>")[0], 503)  # RSET ended it
        code, text = r.cmd("QUIT")
        self.assertEqual((code, text[0][:5]), (221, "2.0.0"))
        self.assertTrue(r.closed())
        r.close()

    def test_enhanced_codes_everywhere(self):
        """RFC 2034: every 2xx/4xx/5xx reply but the greeting and EHLO/HELO."""
        r = RawSMTP(self.mh.port("smtp"))
        r.cmd("EHLO client.example")
        for line in ("NOOP", "HELP", "VRFY x", "FROB", "MAIL FROM:<a@b.example>",
                     "RCPT TO:<nobody@example.org>", "RCPT TO:<x@remote.example>",
                     "RCPT TO:<bob@example.org>", "RSET", "MAIL FROM:<a@b.example> X=1",
                     "QUIT"):
            code, text = r.cmd(line)
            self.assertRegex(text[0], r"^[245]\.\d{1,3}\.\d{1,3} ", line)
        r.close()

    # ---- inbound delivery, byte for byte ---------------------------------------

    def test_inbound_byte_exact(self):
        long_line = b"x" * 5000
        body = (b".leading dot\r\n..two dots\r\n.\r\n"   # a line of one dot
                b"" + long_line + b"\r\n"
                b"trailing spaces   \r\n\r\n\r\nlast line\r\n")
        msg = message("byte exact", body,
                      extra=b"X-Latin1: caf\xe9\r\nX-Folded: a\r\n b\r\n")
        before = self.count(BOB)
        with self.smtp() as s:
            s.ehlo("client.example")
            s.sendmail("sender@remote.example", [BOB], msg,
                       mail_options=["BODY=8BITMIME"])
        self.assertEqual(self.count(BOB), before + 1)
        received, rest = split_received(self.last(BOB))
        self.assertEqual(rest, msg)
        self.assertIn(b"by mail.test", received)
        self.assertIn(b"for <bob@example.org>", received)
        self.assertIn(b"[127.0.0.1]", received)
        self.assertIn(b"with ESMTP id", received)

    def test_utf8_message(self):
        sender = "j\u00f6rg@b\u00fccher.example"
        msg = ("From: J\u00f6rg <" + sender + ">\r\nTo: bob@example.org\r\n"
               "Subject: Gr\u00fc\u00dfe \u2603\r\n\r\nK\u00e4se \U0001F600\r\n").encode()
        with self.smtp() as s:
            s.ehlo("client.example")
            self.assertTrue(s.has_extn("smtputf8"))
            s.sendmail(sender, [BOB], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        received, rest = split_received(self.last(BOB))
        self.assertEqual(rest, msg)
        self.assertIn(b"with UTF8SMTP id", received)

    def test_utf8_address_needs_smtputf8(self):
        r = RawSMTP(self.mh.port("smtp"))
        r.cmd("EHLO client.example")
        code, text = r.cmd("MAIL FROM:<j\u00f6rg@example.net>")
        self.assertEqual(code, 553)
        self.assertTrue(text[0].startswith("5.6.7"))
        r.close()

    def test_alias_one_copy_each(self):
        a0, b0 = self.count(ALICE), self.count(BOB)
        msg = message("to the team")
        with self.smtp() as s:
            s.sendmail("x@remote.example", ["team@example.org", BOB], msg)
        self.assertEqual(self.count(ALICE), a0 + 1)
        self.assertEqual(self.count(BOB), b0 + 1)        # one copy despite two routes
        ma = blob_bytes(self.mh, inbox_rows(self.mh, ALICE)[-1][1])
        mb = blob_bytes(self.mh, inbox_rows(self.mh, BOB)[-1][1])
        # each copy says whom it was delivered to (RFC 5321 §4.4), the
        # rest is the same message
        self.assertEqual(delivery_fields(ma), {"Return-Path": "<x@remote.example>",
                                               "X-Original-To": "team@example.org",
                                               "Delivered-To": ALICE})
        self.assertEqual(delivery_fields(mb)["Delivered-To"], BOB)
        self.assertEqual(delivery_fields(mb)["X-Original-To"], "team@example.org")
        self.assertEqual(split_received(ma), split_received(mb))
        self.assertEqual(split_received(ma)[1], msg)

    def test_forward_alias_queued(self):
        msg = message("forwarded")
        n0 = len(queue(self.mh))
        with self.smtp() as s:
            s.sendmail("x@remote.example", ["fwd@example.org"], msg)
        self.assertEqual(split_received(self.last(BOB))[1], msg)
        q = queue(self.mh)
        self.assertEqual(len(q), n0 + 1)
        self.assertEqual([r[0] for r in q[-1]["rcpts"]], ["friend@remote.example"])
        self.assertEqual(q[-1]["rcpts"][0][1], "rfc822;fwd@example.org")
        self.assertIn(q[-1]["rcpts"][0][3], OPEN)
        # forwarded with an SRS sender of the alias's domain (srs.h)
        self.assertRegex(q[-1]["sender"], r"^SRS0=[A-Za-z0-9+/]{4}=[A-Z2-7]{2}="
                         r"remote\.example=x@example\.org$")

    def test_pipelining(self):
        """RFC 2920: a whole transaction in one write, replies in order."""
        b0 = self.count(BOB)
        r = RawSMTP(self.mh.port("smtp"))
        r.cmd("EHLO client.example")
        r.send("MAIL FROM:<p@remote.example>\r\nRCPT TO:<nobody@example.org>\r\n"
               "RCPT TO:<bob@example.org>\r\nDATA\r\n")
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.reply()[0], 550)
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.reply()[0], 354)
        r.send("Subject: pipelined\r\n\r\nbody\r\n.\r\nMAIL FROM:<p@remote.example>\r\n"
               "RCPT TO:<bob@example.org>\r\nDATA\r\n")
        code, text = r.reply()
        self.assertEqual(code, 250)
        self.assertRegex(text[0], r"^2\.0\.0 Ok: queued as [0-9A-F]{16}$")
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.reply()[0], 354)
        r.send("Subject: second\r\n\r\nbody 2\r\n.\r\nQUIT\r\n")
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.reply()[0], 221)
        r.close()
        self.assertEqual(self.count(BOB), b0 + 2)
        self.assertEqual(split_received(self.last(BOB))[1],
                         b"Subject: second\r\n\r\nbody 2\r\n")

    def test_bdat(self):
        """RFC 3030: chunks are taken as they are (no dot-unstuffing)."""
        msg = b"Subject: chunks\r\n\r\n.not stuffed\r\n..\r\nbinary \x00\xff\r\n"
        r = RawSMTP(self.mh.port("smtp"))
        r.cmd("EHLO client.example")
        r.send(b"MAIL FROM:<c@remote.example>\r\nRCPT TO:<bob@example.org>\r\n"
               b"BDAT 10\r\n" + msg[:10] + b"BDAT " + str(len(msg) - 10).encode()
               + b" LAST\r\n" + msg[10:] + b"NOOP\r\n")
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.reply()[0], 250)
        code, text = r.reply()
        self.assertEqual(code, 250, text)
        self.assertIn("queued as", text[0])
        self.assertEqual(r.reply()[0], 250)     # NOOP after the last chunk
        # DATA may not follow BDAT, BDAT without MAIL is read and refused
        self.assertEqual(r.cmd("MAIL FROM:<c@remote.example>")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<bob@example.org>")[0], 250)
        r.send(b"BDAT 3\r\nabc")
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.cmd("DATA")[0], 503)
        self.assertEqual(r.cmd("RSET")[0], 250)
        r.send(b"BDAT 5 LAST\r\nhello")
        self.assertEqual(r.reply()[0], 503)
        self.assertEqual(r.cmd("NOOP")[0], 250)  # still in step
        r.close()
        self.assertEqual(split_received(self.last(BOB))[1], msg)

    def test_dsn_parameters_kept(self):
        with self.submission() as s:
            s.sendmail(ALICE, ["someone@remote.example"], message("dsn"),
                       mail_options=["RET=HDRS", "ENVID=QQ+2B123"],
                       rcpt_options=["NOTIFY=FAILURE,DELAY",
                                     "ORCPT=rfc822;someone@remote.example"])
        q = queue(self.mh)[-1]
        self.assertEqual(q["ret"], "HDRS")
        self.assertEqual(q["envid"], "QQ+2B123")
        self.assertEqual(q["sender"], ALICE)
        addr, orcpt, notify, state, _ = q["rcpts"][0]
        self.assertEqual((addr, orcpt, notify),
                         ("someone@remote.example", "rfc822;someone@remote.example",
                          4 | 8))
        self.assertIn(state, OPEN)

    # ---- submission ------------------------------------------------------

    def test_submission_local_and_remote(self):
        msg = message("submitted")
        b0, n0 = self.count(BOB), len(queue(self.mh))
        with self.submission() as s:
            refused = s.sendmail(ALICE, [BOB, "carol@remote.example",
                                        "dave@other.example"], msg)
            self.assertEqual(refused, {})
        self.assertEqual(self.count(BOB), b0 + 1)
        received, rest = split_received(self.last(BOB))
        self.assertEqual(rest, msg)             # Date and Message-ID were there
        self.assertIn(b"with ESMTPSA", received)
        q = queue(self.mh)
        self.assertEqual(len(q), n0 + 1)
        self.assertEqual(sorted(r[0] for r in q[-1]["rcpts"]),
                         ["carol@remote.example", "dave@other.example"])
        # the queued message has no delivery fields: those are bob's copy's
        mine = self.last(BOB)
        fields = delivery_fields(mine)
        self.assertEqual(fields["Delivered-To"], BOB)
        self.assertEqual(blob_bytes(self.mh, q[-1]["blob"]), mine[mine.index(b"Received: "):])

    def test_submission_adds_date_and_message_id(self):
        msg = b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: bare\r\n\r\nhi\r\n"
        with self.submission() as s:
            s.sendmail(ALICE, [BOB], msg)
        _, rest = split_received(self.last(BOB))
        head, body = rest.split(b"\r\n\r\n", 1)
        self.assertEqual(body, b"hi\r\n")
        self.assertTrue(head.startswith(msg.split(b"\r\n\r\n")[0]))
        self.assertRegex(head, rb"\r\nDate: \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d \+0000")
        self.assertRegex(head, rb"\r\nMessage-ID: <[0-9a-f]+\.\d+@mail\.test>")

    def test_submission_alias_sender(self):
        msg = (b"From: alias-alice@example.org\r\nTo: bob@example.org\r\n"
               b"Subject: from my alias\r\n\r\nhi\r\n")
        with self.submission() as s:
            s.sendmail("alias-alice@example.org", [BOB], msg)
        self.assertIn(b"Subject: from my alias", self.last(BOB))

    def test_submissions_auth_login(self):
        msg = message("over 465 with LOGIN")
        with smtplib.SMTP_SSL("127.0.0.1", self.mh.port("submissions"), timeout=30,
                              context=client_tls_context()) as s:
            s.ehlo("client.example")
            s.user, s.password = BOB, BOB_PW
            code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
            self.assertEqual(code, 235)
            s.sendmail(BOB, [ALICE], msg.replace(b"From: Alice <alice@",
                                                 b"From: Bob <bob@"))
        self.assertIn(b"Subject: over 465 with LOGIN", self.last(ALICE))

    def test_auth_plain_initial_response_and_challenge(self):
        import base64
        cred = base64.b64encode(f"\0{ALICE}\0{ALICE_PW}".encode()).decode()
        r = RawSMTP(self.mh.port("submissions"), tls=True)
        r.cmd("EHLO client.example")
        self.assertEqual(r.cmd("AUTH PLAIN " + cred)[0], 235)
        self.assertEqual(r.cmd("AUTH PLAIN " + cred)[0], 503)     # once only
        r.close()
        r = RawSMTP(self.mh.port("submissions"), tls=True)
        r.cmd("EHLO client.example")
        self.assertEqual(r.cmd("AUTH PLAIN")[0], 334)
        self.assertEqual(r.cmd(cred)[0], 235)
        r.close()
        r = RawSMTP(self.mh.port("submissions"), tls=True)
        r.cmd("EHLO client.example")
        self.assertEqual(r.cmd("AUTH LOGIN")[0], 334)
        self.assertEqual(r.cmd("*")[0], 501)                       # cancelled
        self.assertEqual(r.cmd("AUTH CRAM-MD5")[0], 504)
        r.close()

    def test_large_attachment(self):
        """30 MiB through submission, streamed and stored byte for byte."""
        import base64
        raw = os.urandom(22 * 1024 * 1024)
        b64 = base64.encodebytes(raw).replace(b"\n", b"\r\n")
        msg = (b"From: alice@example.org\r\nTo: bob@example.org\r\n"
               b"Subject: big\r\nDate: Mon, 23 Nov 2026 08:00:00 +0000\r\n"
               b"Message-ID: <big@example.org>\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: application/octet-stream\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n" + b64)
        self.assertGreater(len(msg), 29 * 1024 * 1024)
        with self.submission() as s:
            s.sendmail(ALICE, [BOB], msg)
        self.assertEqual(split_received(self.last(BOB))[1], msg)

    # ---- other clients ---------------------------------------------------

    def test_swaks(self):
        if not shutil.which("swaks"):
            self.skipTest("swaks is not installed")
        b0 = self.count(BOB)
        r = subprocess.run(["swaks", "--server", f"127.0.0.1:{self.mh.port('smtp')}",
                            "--from", "someone@remote.example", "--to", BOB,
                            "--header", "Subject: swaks inbound", "--body", "from swaks",
                            "--pipeline"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.count(BOB), b0 + 1)
        self.assertIn(b"Subject: swaks inbound", self.last(BOB))
        r = subprocess.run(["swaks", "--server", f"127.0.0.1:{self.mh.port('submission')}",
                            "--tls", "--auth", "PLAIN", "--auth-user", ALICE,
                            "--auth-password", ALICE_PW, "--from", ALICE,
                            "--to", BOB, "--header", "Subject: swaks submission",
                            "--body", "from swaks"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(b"Subject: swaks submission", self.last(BOB))
        # swaks' AUTH before STARTTLS must fail (exit 28: AUTH not offered)
        r = subprocess.run(["swaks", "--server", f"127.0.0.1:{self.mh.port('submission')}",
                            "--auth", "PLAIN", "--auth-user", ALICE,
                            "--auth-password", ALICE_PW, "--from", ALICE, "--to", BOB],
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)

    def curl(self, url, *args, msg):
        if not shutil.which("curl"):
            self.skipTest("curl is not installed")
        with tempfile.NamedTemporaryFile() as f:
            f.write(msg)
            f.flush()
            return subprocess.run(["curl", "-sS", "--max-time", "60", url,
                                   "--upload-file", f.name, *args],
                                  capture_output=True, text=True, timeout=90)

    def test_curl_smtp(self):
        msg = message("curl inbound", b".dot\r\nline\r\n")
        r = self.curl(f"smtp://127.0.0.1:{self.mh.port('smtp')}/client.example",
                      "--mail-from", "x@remote.example", "--mail-rcpt", BOB, msg=msg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(split_received(self.last(BOB))[1], msg)

    def test_curl_smtps(self):
        msg = message("curl smtps").replace(b"Alice <alice@", b"Bob <bob@")
        r = self.curl(f"smtps://127.0.0.1:{self.mh.port('submissions')}/client.example",
                      "-k", "--user", f"{BOB}:{BOB_PW}", "--mail-from", BOB,
                      "--mail-rcpt", ALICE, msg=msg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(split_received(self.last(ALICE))[1], msg)
        # and STARTTLS on 587 with --ssl-reqd
        msg2 = msg.replace(b"curl smtps", b"curl starttls")
        r = self.curl(f"smtp://127.0.0.1:{self.mh.port('submission')}/client.example",
                      "--ssl-reqd", "-k", "--user", f"{BOB}:{BOB_PW}",
                      "--mail-from", BOB, "--mail-rcpt", ALICE, msg=msg2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(split_received(self.last(ALICE))[1], msg2)


if __name__ == "__main__":
    tap.main()
