#!/usr/bin/env python3
"""Outbound spam held, not sent (issue 21), with Debian's rspamd: mail a
local user submits for another domain is scanned; what rspamd scores as
spam (GTUBE) stays in the queue as "held" (the 250 reply and a notice in
the sender's INBOX say so, `mailhub queue list` and GET /api/v1/queue show
it), `queue flush` and `queue retry` leave it alone, and only `mailhub
queue release ID` or POST /api/v1/queue/{id}/release lets it go; `queue
delete` drops it.  A clean message goes out at once.  The receiving MTA is
an aiosmtpd on 127.0.0.x, its MX served by unbound."""

import email
import smtplib
import time
import unittest

import tap
from api_util import Client
from mailhub_fixture import Mailhub, client_tls_context
from relay_util import (Sink, Unbound, free_port_on, have_aiosmtpd, have_unbound,
                        inbox_messages, wait_for)
from rspamd_util import GTUBE, Rspamd, have_rspamd

ALICE, ALICE_PW = "alice@example.org", "alice-secret-password-1"
ADMIN, ADMIN_PW = "admin@example.org", "admin-secret-password-3"
MX_IP = "127.0.0.31"

SKIP = None
if not have_rspamd():
    SKIP = "rspamd or redis-server is not installed"
elif not have_unbound():
    SKIP = "unbound is not installed (Debian package unbound)"
elif not have_aiosmtpd():
    SKIP = "aiosmtpd is not installed (Debian package python3-aiosmtpd)"

BODY = ("Hi Bob, are we still on for lunch on Thursday? The new place near "
        "the station has a nice garden and the soup of the day is usually "
        "good. Let me know if noon works for you, otherwise one o'clock.")


def message(rcpt, subject, body):
    return (f"From: Alice <{ALICE}>\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
            f"Date: Sun, 06 Dec 2026 10:00:00 +0000\r\n"
            f"Message-ID: <{abs(hash((subject, body)))}@example.org>\r\n"
            f"\r\n{body}\r\n").encode()


@unittest.skipIf(SKIP, SKIP)
class OutboundSpam(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rspamd = Rspamd()
        cls.dns = Unbound(["remote.test. MX 10 mx.remote.test.",
                           f"mx.remote.test. A {MX_IP}"])
        cls.sink = Sink(MX_IP, free_port_on([MX_IP]))
        cls.mh = None
        try:
            cls.rspamd.start()
            cls.dns.start()
            cls.sink.start()
            extra = (f"\n[dns]\nresolver = {cls.dns.resolver()}\n"
                     f"[relay]\nmx_port = {cls.sink.port}\n"
                     "[spam]\n"
                     f"rspamd = {cls.rspamd.url()}\n"
                     "rspamd_timeout = 30\n")
            cls.mh = Mailhub(listeners=("submission", "admin"), config_extra=extra)
            cls.mh.cli("domain", "add", "example.org")
            cls.mh.add_user(ALICE, ALICE_PW)
            cls.mh.add_user(ADMIN, ADMIN_PW, admin=True)
            cls.mh.start()
            cls.api = Client(cls.mh.port("admin"))
            assert cls.api.login(ADMIN, ADMIN_PW).status == 200
        except BaseException:
            cls.cleanup()
            raise

    @classmethod
    def cleanup(cls):
        try:
            if cls.mh is not None:
                cls.mh.close()
        finally:
            cls.sink.stop()
            cls.dns.stop()
            cls.rspamd.stop()

    @classmethod
    def tearDownClass(cls):
        cls.cleanup()

    def submit(self, rcpt, subject, body):
        """The reply to the end of DATA: (code, text)."""
        with smtplib.SMTP("127.0.0.1", self.mh.port("submission"), timeout=60) as s:
            s.starttls(context=client_tls_context())
            s.login(ALICE, ALICE_PW)
            s.mail(ALICE)
            s.rcpt(rcpt)
            code, text = s.data(message(rcpt, subject, body))
            return code, text.decode()

    def at_sink(self, subject):
        return [d for _, _, d in self.sink.messages if f"Subject: {subject}".encode() in d]

    def held_message(self, subject):
        """The queue entry (from the API) of the held message with subject."""
        for m in self.api.get("/api/v1/queue").json:
            if m["held"] > 0:
                full = self.api.get(f"/api/v1/queue/{m['id']}").json
                if full["recipient_list"][0]["state"] == "held":
                    return full
        return None

    def spam(self, subject):
        code, text = self.submit("bob@remote.test", subject, GTUBE["reject"])
        self.assertEqual(code, 250, text)
        self.assertIn("held", text)
        self.assertIn("spam", text)
        m = wait_for(lambda: self.held_message(subject), timeout=10)
        self.assertIsNotNone(m, self.mh.log())
        return m

    def test_a_clean_message_goes_out(self):
        code, text = self.submit("bob@remote.test", "clean one", BODY)
        self.assertEqual(code, 250, text)
        self.assertNotIn("held", text)
        self.assertTrue(wait_for(lambda: self.at_sink("clean one"), timeout=30),
                        self.mh.log())
        self.assertRegex(self.mh.log(), r"submission\[\d+\] accepted .* spam=\"no action\"")

    def test_b_gtube_held_then_released_by_cli(self):
        m = self.spam("gtube cli")
        r = m["recipient_list"][0]
        self.assertEqual(r["address"], "bob@remote.test")
        self.assertIn("rspamd", r["held"])
        # the CLI lists it as held, with the reason
        out = self.mh.cli("queue", "list").stdout
        self.assertRegex(out, rf"{m['id']} .*held=1")
        self.assertRegex(out, r"<bob@remote.test> held attempts=0 why=\"rspamd scored it as spam")
        # flush and retry do not send it
        self.mh.cli("queue", "flush")
        self.mh.cli("queue", "retry", str(m["id"]))
        time.sleep(3)
        self.assertEqual(self.at_sink("gtube cli"), [])
        # the sender was told, in her INBOX
        notices = [x for x in inbox_messages(self.mh.data_dir, ALICE)
                   if b"Outgoing Mail Held" in x]
        self.assertTrue(notices, self.mh.log())
        n = email.message_from_bytes(notices[-1])
        self.assertEqual(n.get_content_type(), "multipart/report")
        text = notices[-1].decode("utf-8", "replace")
        self.assertIn("bob@remote.test", text)
        self.assertIn("Action: delayed", text)
        self.assertIn("Status: 4.7.1", text)
        self.assertNotIn("Will-Retry-Until", text)
        # released: it goes out
        out = self.mh.cli("queue", "release", str(m["id"])).stdout
        self.assertIn("1 recipients released", out)
        self.assertTrue(wait_for(lambda: self.at_sink("gtube cli"), timeout=30),
                        self.mh.log())

    def test_c_gtube_released_by_api(self):
        m = self.spam("gtube api")
        r = self.api.post(f"/api/v1/queue/{m['id']}/release")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json, {"released": 1})
        self.assertTrue(wait_for(lambda: self.at_sink("gtube api"), timeout=30),
                        self.mh.log())
        # nothing left to release
        r = self.api.post(f"/api/v1/queue/{m['id']}/release")
        self.assertIn(r.status, (200, 404), r.body)
        if r.status == 200:
            self.assertEqual(r.json, {"released": 0})

    def test_d_gtube_deleted(self):
        m = self.spam("gtube delete")
        self.mh.cli("queue", "delete", str(m["id"]))
        self.assertEqual(self.api.get(f"/api/v1/queue/{m['id']}").status, 404)
        time.sleep(2)
        self.assertEqual(self.at_sink("gtube delete"), [])
        r = self.mh.cli("queue", "release", str(m["id"]), check=False)
        self.assertEqual(r.returncode, 1, r.stderr)

    def test_e_release_needs_admin_and_an_id(self):
        r = self.mh.cli("queue", "release", check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        r = self.mh.cli("queue", "release", "x", check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        anon = Client(self.mh.port("admin"))
        self.assertEqual(anon.post("/api/v1/queue/1/release", csrf=False).status, 401)


if __name__ == "__main__":
    tap.main()
