#!/usr/bin/env python3
"""The outbound relay against real peers on loopback: unbound serving a test
zone whose MX records point at 127.0.0.x, and aiosmtpd receiving MTAs
bound there.  Mail is submitted by smtplib with AUTH and must arrive at the
right MX, move on to the next MX, be retried after a 4xx, bounce after a
5xx or a null MX (the DSN in the sender's INBOX with the original headers),
go through a smarthost with AUTH over STARTTLS, and carry DKIM signatures
(Ed25519 and RSA) that dkimpy verifies against the keys the DNS serves."""

import email
import os
import re
import smtplib
import sys
import tempfile
import shutil
import time
import unittest

import tap
from mailhub_fixture import Mailhub, client_tls_context
from relay_util import (Sink, Unbound, free_port_on, have_aiosmtpd, have_unbound,
                        inbox_messages, make_cert, queue_rows, server_tls_context,
                        wait_for)

ALICE = "alice@example.org"
ALICE_PW = "secret-alice"

SKIP = None
if not have_unbound():
    SKIP = "unbound is not installed (Debian package unbound)"
elif not have_aiosmtpd():
    SKIP = "aiosmtpd is not installed (Debian package python3-aiosmtpd)"

MX_IPS = ["127.0.0.2", "127.0.0.3", "127.0.0.5", "127.0.0.6", "127.0.0.7",
          "127.0.0.8", "127.0.0.4", "127.0.0.10"]


def dkim_records(mh, domain):
    """The DKIM TXT records `mailhub domain show` prints, as unbound
    local-data lines."""
    out = mh.cli("domain", "show", domain).stdout
    recs = []
    for line in out.splitlines():
        if "._domainkey." in line and " IN TXT " in line:
            name, rest = line.split(" IN TXT ", 1)
            recs.append(f"{name} TXT {rest}")
    return recs, out


def submit(mh, rcpts, subject, body="hello\r\n", sender=ALICE, extra=""):
    msg = (f"From: Alice <{sender}>\r\nTo: {', '.join(rcpts)}\r\n"
           f"Subject: {subject}\r\n{extra}\r\n{body}")
    with smtplib.SMTP("127.0.0.1", mh.port("submission"), timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login(sender, ALICE_PW)
        s.sendmail(sender, rcpts, msg.encode())
    return msg


def dns_txt_func(port):
    import dns.resolver
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = port

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        try:
            ans = r.resolve(name, "TXT", lifetime=timeout)
        except Exception:
            return None
        for rr in ans:
            return b"".join(rr.strings)
        return None
    return dnsfunc


@unittest.skipIf(SKIP, SKIP)
class RelayDirect(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mx_port = free_port_on(MX_IPS)
        cls.tmp = tempfile.mkdtemp(prefix="mailhub-mx.")
        _, cert, key = make_cert(cls.tmp, "mx1.remote.test")
        cls.dns = Unbound([])
        extra = (f"\n[dns]\nresolver = {cls.dns.resolver()}\n"
                 f"[relay]\nmx_port = {cls.mx_port}\nretry_first = 1\nretry_max = 2\n"
                 "workers = 2\ndelay_notice = 3\n")
        cls.mh = Mailhub(listeners=("smtp", "submission"), config_extra=extra)
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(ALICE, ALICE_PW)
        dkim, cls.domain_show = dkim_records(cls.mh, "example.org")
        cls.dns.zones = ("test.", "example.org.")
        cls.dns.records = dkim + [
            "remote.test. MX 10 mx1.remote.test.",
            "remote.test. MX 20 mx2.remote.test.",
            "mx1.remote.test. A 127.0.0.2",
            "mx2.remote.test. A 127.0.0.3",
            "refuse.test. MX 10 mxa.refuse.test.",
            "refuse.test. MX 20 mxb.refuse.test.",
            "mxa.refuse.test. A 127.0.0.4",      # nobody listens there
            "mxb.refuse.test. A 127.0.0.5",
            "temp.test. MX 10 mx.temp.test.",
            "mx.temp.test. A 127.0.0.6",
            "perm.test. MX 10 mx.perm.test.",
            "mx.perm.test. A 127.0.0.7",
            "nullmx.test. MX 0 .",
            "implicit.test. A 127.0.0.8",
            "delay.test. MX 10 mx.delay.test.",
            "mx.delay.test. A 127.0.0.10",
        ]
        cls.dns.start()
        cls.temp_seen = set()

        def temp_reply(addr):
            # RFC 5321 §4.2.5: a 4xx the first time each address is seen
            if addr not in cls.temp_seen:
                cls.temp_seen.add(addr)
                return "451 4.7.1 greylisted, come back later"
            return None

        cls.sinks = {
            # mx1 offers STARTTLS (a certificate nobody could verify:
            # RFC 7435 opportunistic TLS takes it all the same)
            "mx1": Sink("127.0.0.2", cls.mx_port,
                        tls_context=server_tls_context(cert, key), name="mx1.remote.test"),
            "mx2": Sink("127.0.0.3", cls.mx_port),
            "mxb": Sink("127.0.0.5", cls.mx_port),
            "temp": Sink("127.0.0.6", cls.mx_port, rcpt_reply=temp_reply),
            "perm": Sink("127.0.0.7", cls.mx_port,
                         rcpt_reply=lambda a: "550 5.1.1 no such user here"),
            "implicit": Sink("127.0.0.8", cls.mx_port),
            "delay": Sink("127.0.0.10", cls.mx_port,
                          rcpt_reply=lambda a: "452 4.2.2 mailbox full, try later"),
        }
        try:
            for s in cls.sinks.values():
                s.start()
            cls.mh.start()
        except BaseException:
            cls.cleanup()   # no tearDownClass after a failed setUpClass
            raise

    @classmethod
    def cleanup(cls):
        try:
            cls.mh.cleanup()
        finally:
            for s in cls.sinks.values():
                s.stop()
            cls.dns.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.mh.close()
        finally:
            for s in cls.sinks.values():
                s.stop()
            cls.dns.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def received(self, sink, subject, timeout=30):
        def find():
            for frm, rcpts, data in self.sinks[sink].messages:
                if f"Subject: {subject}".encode() in data:
                    return frm, rcpts, data
            return None
        return wait_for(find, timeout)

    def bounce_for(self, marker, timeout=30):
        def find():
            for m in inbox_messages(self.mh.data_dir, ALICE):
                if b"multipart/report" in m and marker.encode() in m:
                    return m
            return None
        return wait_for(find, timeout)

    def test_domain_show_lists_dkim(self):
        self.assertIn("v=DKIM1; k=ed25519; p=", self.domain_show)
        self.assertIn("v=DKIM1; k=rsa; p=", self.domain_show)
        self.assertIn("IN MX 10 mail.test.", self.domain_show)
        # the keys are made once: a second show prints the same records
        again = self.mh.cli("domain", "show", "example.org").stdout
        self.assertEqual(again, self.domain_show)

    def test_mx_by_preference_and_dkim(self):
        submit(self.mh, ["bob@remote.test", "carol@remote.test"], "pref test")
        got = self.received("mx1", "pref test")
        self.assertIsNotNone(got, self.mh.log())
        frm, rcpts, data = got
        self.assertEqual(frm, ALICE)
        # one transaction for both recipients of the domain
        self.assertEqual(sorted(rcpts), ["bob@remote.test", "carol@remote.test"])
        self.assertFalse(any(b"pref test" in d for _, _, d in self.sinks["mx2"].messages))
        # STARTTLS whenever offered
        self.assertRegex(self.mh.log(),
                         r"connected host=mx1\.remote\.test ip=127\.0\.0\.2 .*tls=TLSv1\.[23]")
        import dkim
        d = dkim.DKIM(data)
        sigs = [l for l in data.split(b"\r\n") if l.lower().startswith(b"dkim-signature:")]
        self.assertEqual(len(sigs), 2, data[:2000])
        algs = set()
        for i in range(2):
            ok = d.verify(idx=i, dnsfunc=dns_txt_func(self.dns.port))
            self.assertTrue(ok, f"signature {i} does not verify: {data[:3000]!r}")
            algs.add(d.signature_fields[b"a"])
        self.assertEqual(algs, {b"ed25519-sha256", b"rsa-sha256"})
        # the keys that signed are sealed in the database, not PEM
        import sqlite3
        path = os.path.join(self.mh.data_dir, "mailhub.db")
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
            keys = [k for (k,) in db.execute("SELECT private_key FROM dkim_keys")]
        self.assertEqual(len(keys), 2)
        for k in keys:
            self.assertTrue(k.startswith("v1:") and "PRIVATE KEY" not in k, k[:40])

    def test_next_mx_when_first_refuses(self):
        submit(self.mh, ["dan@refuse.test"], "refuse test")
        got = self.received("mxb", "refuse test")
        self.assertIsNotNone(got, self.mh.log())

    def test_temp_failure_then_retry(self):
        submit(self.mh, ["erin@temp.test"], "temp test")
        got = self.received("temp", "temp test", timeout=60)
        self.assertIsNotNone(got, self.mh.log())
        self.assertGreaterEqual(self.sinks["temp"].rcpt_calls.count("erin@temp.test"), 2)
        # delivered once, never again
        time.sleep(3)
        n = sum(1 for _, _, d in self.sinks["temp"].messages if b"temp test" in d)
        self.assertEqual(n, 1)

    def test_perm_failure_bounces_with_headers(self):
        msg = submit(self.mh, ["frank@perm.test"], "perm test",
                     extra="X-Original-Marker: perm-4711\r\n")
        b = self.bounce_for("perm-4711")
        self.assertIsNotNone(b, self.mh.log())
        m = email.message_from_bytes(b)
        self.assertEqual(m.get_content_type(), "multipart/report")
        self.assertEqual(m.get_param("report-type"), "delivery-status")
        self.assertIn("MAILER-DAEMON@", m["From"])
        text = b.decode("utf-8", "replace")
        self.assertIn("Final-Recipient: rfc822; frank@perm.test", text)
        self.assertIn("Action: failed", text)
        self.assertIn("Status: 5.1.1", text)
        self.assertIn("550 5.1.1 no such user here", text)
        self.assertIn("text/rfc822-headers", text)
        self.assertIn("Subject: perm test", text)
        self.assertIn("X-Original-Marker: perm-4711", text)
        self.assertNotIn("hello", text.split("text/rfc822-headers", 1)[1])
        del msg
        # exactly one DSN (never a loop, never twice)
        time.sleep(2)
        n = sum(1 for x in inbox_messages(self.mh.data_dir, ALICE) if b"perm-4711" in x)
        self.assertEqual(n, 1)

    def test_null_mx_fails_at_once(self):
        submit(self.mh, ["gina@nullmx.test"], "nullmx test",
               extra="X-Original-Marker: null-0815\r\n")
        b = self.bounce_for("null-0815")
        self.assertIsNotNone(b, self.mh.log())
        text = b.decode("utf-8", "replace")
        self.assertIn("Status: 5.1.10", text)
        self.assertIn("null MX", text)
        rows = [r for r in queue_rows(self.mh.data_dir) if r[0] == "gina@nullmx.test"]
        # failed on its first attempt (or already cleaned away)
        for r in rows:
            self.assertEqual((r[1], r[2]), ("failed", 1))

    def test_delay_notice(self):
        submit(self.mh, ["jill@delay.test"], "delay test",
               extra="X-Original-Marker: delay-2323\r\n")
        b = self.bounce_for("delay-2323", timeout=60)
        self.assertIsNotNone(b, self.mh.log())
        text = b.decode("utf-8", "replace")
        self.assertIn("Action: delayed", text)
        self.assertIn("Status: 4.2.2", text)
        self.assertIn("Will-Retry-Until:", text)
        self.assertIn("Subject: Delayed Mail", text)
        # still queued and retried; one notice only
        time.sleep(4)
        n = sum(1 for x in inbox_messages(self.mh.data_dir, ALICE) if b"delay-2323" in x)
        self.assertEqual(n, 1)
        rows = [r for r in queue_rows(self.mh.data_dir) if r[0] == "jill@delay.test"]
        self.assertEqual(rows[0][1], "deferred")
        self.assertGreaterEqual(rows[0][2], 2)
        out = self.mh.cli("queue", "list").stdout
        self.assertIn("<jill@delay.test> deferred", out)

    def test_implicit_mx(self):
        submit(self.mh, ["hank@implicit.test"], "implicit test")
        self.assertIsNotNone(self.received("implicit", "implicit test"), self.mh.log())

    def test_queue_cli(self):
        r = self.mh.cli("queue", "list")
        self.assertEqual(r.returncode, 0)
        r = self.mh.cli("queue", "flush")
        self.assertIn("recipients due now", r.stdout)
        r = self.mh.cli("queue", "retry", "999999", check=False)
        self.assertEqual(r.returncode, 1)
        r = self.mh.cli("queue", "delete", "x", check=False)
        self.assertEqual(r.returncode, 2)
        r = self.mh.cli("relay", "show")
        self.assertIn("direct", r.stdout)


@unittest.skipIf(SKIP, SKIP)
class RelaySmarthost(unittest.TestCase):
    """Everything goes to the smarthost: STARTTLS with a verified
    certificate (the test CA through SSL_CERT_FILE), then AUTH."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mailhub-sh.")
        ca, cert, key = make_cert(cls.tmp, "smarthost.test", ip="127.0.0.9")
        cls.port = free_port_on(["127.0.0.9"])
        cls.sink = Sink("127.0.0.9", cls.port, tls_context=server_tls_context(cert, key),
                        auth=("relayuser", "relay-secret"), name="smarthost.test")
        cls.sink.start()
        cls.dns = Unbound(["nowhere.test. MX 10 mx.nowhere.test.",
                           "mx.nowhere.test. A 127.0.0.2"])
        cls.dns.start()
        extra = f"\n[dns]\nresolver = {cls.dns.resolver()}\n"
        cls.mh = Mailhub(listeners=("smtp", "submission"), config_extra=extra)
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(ALICE, ALICE_PW)
        cls.mh.cli("relay", "smarthost", f"127.0.0.9:{cls.port}", "--tls", "starttls",
                   "--username", "relayuser", "--password-stdin",
                   input="relay-secret\n")
        cls.old_cert_file = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = ca
        try:
            cls.mh.start()
        except BaseException:
            cls.mh.cleanup()    # no tearDownClass after a failed setUpClass
            cls.sink.stop()
            cls.dns.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise
        finally:
            if cls.old_cert_file is None:
                del os.environ["SSL_CERT_FILE"]
            else:
                os.environ["SSL_CERT_FILE"] = cls.old_cert_file

    @classmethod
    def tearDownClass(cls):
        try:
            cls.mh.close()
        finally:
            cls.sink.stop()
            cls.dns.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_relay_show_hides_password(self):
        out = self.mh.cli("relay", "show").stdout
        self.assertIn(f"smarthost 127.0.0.9:{self.port} tls=starttls", out)
        self.assertIn("username=relayuser", out)
        self.assertNotIn("relay-secret", out)

    def test_smarthost_auth_starttls(self):
        submit(self.mh, ["ivan@nowhere.test"], "smarthost test")
        msgs = self.sink.wait_messages(1, timeout=30)
        self.assertTrue(any(b"smarthost test" in d for _, _, d in msgs), self.mh.log())
        self.assertRegex(self.mh.log(), r"connected host=127\.0\.0\.9 .*tls=TLSv1\.[23] auth=yes")


class RelayApi(unittest.TestCase):
    """/api/v1/relay: the smarthost through the REST API (admin only), the
    password write-only; what the API sets, `mailhub relay show` shows."""

    @classmethod
    def setUpClass(cls):
        from api_util import Client
        cls.mh = Mailhub(listeners=("admin",))
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user("admin@example.org", "secret-admin", admin=True)
        cls.mh.add_user(ALICE, ALICE_PW)
        token = cls.mh.cli("token", "create", "admin@example.org").stdout.strip().split()[-1]
        utoken = cls.mh.cli("token", "create", ALICE).stdout.strip().split()[-1]
        try:
            cls.mh.start()
        except BaseException:
            cls.mh.cleanup()
            raise
        cls.admin = Client(cls.mh.port("admin"), token)
        cls.user = Client(cls.mh.port("admin"), utoken)

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def put(self, body):
        return self.admin.call("PUT", "/relay", body)

    def test_smarthost_roundtrip(self):
        r = self.admin.get("/relay")
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json["mode"], "direct")
        self.assertIsNone(r.json["smarthost"])
        r = self.put({"smarthost": {"host": "smtp.provider.test", "port": 587,
                                    "tls": "starttls", "username": "me",
                                    "password": "api-secret"}})
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json["smarthost"]["host"], "smtp.provider.test")
        self.assertTrue(r.json["smarthost"]["password_set"])
        self.assertNotIn("api-secret", r.text)
        self.assertNotIn("password\"", r.text.replace("password_set", ""))
        out = self.mh.cli("relay", "show").stdout
        self.assertIn("smarthost smtp.provider.test:587 tls=starttls username=me", out)
        # the same username without a password keeps the stored one
        r = self.put({"smarthost": {"host": "smtp2.provider.test", "port": 465,
                                    "tls": "implicit", "username": "me"}})
        self.assertEqual(r.status, 200, r.text)
        self.assertTrue(r.json["smarthost"]["password_set"])
        # a new username needs its password
        r = self.put({"smarthost": {"host": "smtp2.provider.test", "port": 465,
                                    "tls": "implicit", "username": "other"}})
        self.assertEqual(r.status, 422, r.text)
        for bad in ({"host": "h.test", "port": 25, "tls": "none"},
                    {"host": "h.test", "port": 0, "tls": "starttls"},
                    {"host": "bad host", "port": 25, "tls": "starttls"},
                    {"host": "h.test", "port": 25, "tls": "starttls", "extra": 1}):
            r = self.put({"smarthost": bad})
            self.assertEqual(r.status, 422, (bad, r.text))
        r = self.put({"smarthost": None})
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json["mode"], "direct")
        self.assertIn("direct", self.mh.cli("relay", "show").stdout)

    def test_users_may_not(self):
        self.assertEqual(self.user.get("/relay").status, 403)
        r = self.user.call("PUT", "/relay", {"smarthost": None})
        self.assertEqual(r.status, 403)


if __name__ == "__main__":
    tap.main()
