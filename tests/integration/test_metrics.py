#!/usr/bin/env python3
"""GET /metrics scraped while traffic runs: inbound SMTP (accepted and
refused for each of two reasons), submissions relayed to an aiosmtpd MX
found through unbound (delivered, bounced, deferred), IMAP, POP3, SMTP AUTH
and panel logins with failures, one session held open, and two upstream
POP3 accounts fetched by the daemon (one with a wrong password).  Every
counter must match what was sent, the gauges what the database holds, the
bearer rules must hold (an admin's token or [admin] metrics_token; a plain
user's token is refused), and the history behind the dashboard's chart
must end at the totals."""

import base64
import http.client
import imaplib
import json
import os
import poplib
import re
import smtplib
import sqlite3
import tempfile
import shutil
import threading
import time
import unittest

import tap
from mailhub_fixture import Mailhub
from pop3_nouidl_server import Pop3Server
from relay_util import Sink, Unbound, free_port_on, have_aiosmtpd, have_unbound, wait_for

ALICE, ALICE_PW = "alice@example.org", "secret-alice"
BOB, BOB_PW = "bob@example.org", "secret-bob"
METRICS_TOKEN = "scrape-" + "x" * 24

SKIP = None
if not have_unbound():
    SKIP = "unbound is not installed (Debian package unbound)"
elif not have_aiosmtpd():
    SKIP = "aiosmtpd is not installed (Debian package python3-aiosmtpd)"

LINE = re.compile(r'^([a-z_]+)(?:\{([^}]*)\})? (\d+)$')


def parse(text):
    """{(name, frozenset(labels)): value}; every line must be a comment or a
    sample (the text format 0.0.4)."""
    out = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = LINE.match(line)
        if m is None:
            raise AssertionError("not a sample line: " + repr(line))
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = int(m.group(3))
    return out


def get(m, name, **labels):
    return m.get((name, frozenset(labels.items())), 0)


@unittest.skipIf(SKIP, SKIP)
class TestMetrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mx_port = free_port_on(["127.0.0.2"])
        cls.dns = Unbound(["remote.test. MX 10 mx.remote.test.",
                           "mx.remote.test. A 127.0.0.2"])
        cls.dns.start()

        def rcpt_reply(addr):
            if addr.startswith("bad"):
                return "550 5.1.1 no such user here"
            if addr.startswith("later"):
                return "451 4.3.0 try later"
            return None
        cls.sink = Sink("127.0.0.2", cls.mx_port, rcpt_reply=rcpt_reply)
        cls.sink.start()
        cls.pop = Pop3Server("up", "up-pass", pipelining=False)
        cls.pop.start()
        cls.pop.add_messages([f"Subject: fetched {i}\r\nMessage-ID: <f{i}@up.test>\r\n"
                              f"\r\nbody {i}\r\n".encode() for i in range(3)])
        extra = (f"\n[dns]\nresolver = {cls.dns.resolver()}\n"
                 f"[relay]\nmx_port = {cls.mx_port}\nretry_first = 3600\nretry_max = 3600\n"
                 f"[admin]\nmetrics_token = {METRICS_TOKEN}\nmetrics_interval = 1\n"
                 "[auth]\ndelay_max_ms = 0\n"
                 "[fetch]\nallow_private_hosts = yes\n")
        cls.mh = Mailhub(listeners=("smtp", "submission", "imap", "pop3", "admin"),
                         plaintext_on_loopback=True, config_extra=extra)
        try:
            cls.mh.cli("domain", "add", "example.org")
            cls.mh.add_user(ALICE, ALICE_PW, admin=True)
            cls.mh.add_user(BOB, BOB_PW)
            cls.admin_token = cls.mh.cli("token", "create", ALICE).stdout.strip()
            cls.user_token = cls.mh.cli("token", "create", BOB).stdout.strip()
            cls.mh.start()
        except BaseException:
            cls.mh.cleanup()
            cls.sink.stop()
            cls.pop.close()
            cls.dns.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.mh.close()
        finally:
            cls.sink.stop()
            cls.pop.close()
            cls.dns.stop()

    def request(self, path, token=None):
        c = http.client.HTTPConnection("127.0.0.1", self.mh.port("admin"), timeout=30)
        try:
            headers = {"Authorization": "Bearer " + token} if token else {}
            c.request("GET", path, headers=headers)
            r = c.getresponse()
            return r.status, r.getheader("Content-Type", ""), r.read().decode()
        finally:
            c.close()

    def scrape(self, token=METRICS_TOKEN):
        status, ctype, body = self.request("/metrics", token)
        self.assertEqual(status, 200, body)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        return parse(body)

    def db(self, sql):
        con = sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"), timeout=30)
        try:
            return con.execute(sql).fetchone()
        finally:
            con.close()

    # ---- the traffic ---------------------------------------------------------

    def inbound(self):
        msg = "From: <carol@remote.test>\r\nTo: <bob@example.org>\r\nSubject: in {}\r\n\r\nhi\r\n"
        for i in range(3):
            with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30) as s:
                s.sendmail("carol@remote.test", [BOB], msg.format(i).encode())
        with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30) as s:
            s.ehlo()
            s.mail("carol@remote.test")
            self.assertEqual(s.rcpt("nobody@example.org")[0], 550)
            self.assertEqual(s.rcpt("dave@elsewhere.test")[0], 554)
            s.rset()

    def submissions(self):
        with smtplib.SMTP("127.0.0.1", self.mh.port("submission"), timeout=30) as s:
            s.login(ALICE, ALICE_PW)
            for to in ("ok1@remote.test", "ok2@remote.test", "bad@remote.test",
                       "later@remote.test"):
                s.sendmail(ALICE, [to], (f"From: <{ALICE}>\r\nTo: <{to}>\r\n"
                                         "Subject: out\r\n\r\nhi\r\n").encode())
        with smtplib.SMTP("127.0.0.1", self.mh.port("submission"), timeout=30) as s:
            # one AUTH (smtplib's login() tries each mechanism in turn)
            s.ehlo()
            plain = base64.b64encode(f"\0{ALICE}\0wrong".encode()).decode()
            self.assertEqual(s.docmd("AUTH", "PLAIN " + plain)[0], 535)

    def logins(self):
        for pw in (BOB_PW, "wrong-1", BOB_PW, "wrong-2"):
            c = imaplib.IMAP4("127.0.0.1", self.mh.port("imap"), timeout=30)
            try:
                c.login(BOB, pw)
                c.logout()
            except imaplib.IMAP4.error:
                c.shutdown()
        for pw in (BOB_PW, "wrong-3"):
            p = poplib.POP3("127.0.0.1", self.mh.port("pop3"), timeout=30)
            try:
                p.user(BOB)
                p.pass_(pw)
            except poplib.error_proto:
                pass
            p.quit()
        c = http.client.HTTPConnection("127.0.0.1", self.mh.port("admin"), timeout=30)
        c.request("POST", "/api/v1/session", body=json.dumps({"username": BOB, "password": "nope"}),
                  headers={"Content-Type": "application/json"})
        self.assertEqual(c.getresponse().status, 401)
        c.close()

    def fetches(self):
        add = ["upstream", "add", BOB, "--protocol", "pop3", "--host", "127.0.0.1",
               "--port", str(self.pop.port), "--tls", "none", "--username", "up",
               "--password-stdin"]
        good = int(self.mh.cli(*add, input="up-pass\n").stdout.strip())
        bad = int(self.mh.cli(*add[:-3], "--username", "nobody", "--password-stdin",
                              input="wrong\n").stdout.strip())
        return good, bad

    # ---- the test --------------------------------------------------------------

    def test_counters_match_traffic(self):
        # the bearer rules first
        self.assertEqual(self.request("/metrics")[0], 401)
        self.assertEqual(self.request("/metrics", "not-a-token")[0], 401)
        self.assertEqual(self.request("/metrics", self.user_token)[0], 403)
        self.assertEqual(self.request("/metrics", self.admin_token)[0], 200)
        before = self.scrape()
        self.assertEqual(get(before, "mailhub_messages_received_total", via="smtp"), 0)

        # scrapes run all the while; counters never go back
        stop = threading.Event()
        scrapes, errors = [], []

        def scraper():
            last = {}
            while not stop.is_set():
                try:
                    m = self.scrape()
                    for k, v in m.items():
                        if k[0].endswith("_total") and v < last.get(k, 0):
                            errors.append(f"{k} went back from {last[k]} to {v}")
                    last = m
                    scrapes.append(m)
                except Exception as e:  # noqa: BLE001 (reported below)
                    errors.append(repr(e))
                time.sleep(0.05)
        t = threading.Thread(target=scraper)
        t.start()
        try:
            self.inbound()
            self.submissions()
            self.logins()
            good, bad = self.fetches()
            held = imaplib.IMAP4("127.0.0.1", self.mh.port("imap"), timeout=30)
            held.login(BOB, BOB_PW)
            # the relay's outcomes and both fetch runs are in
            self.assertTrue(wait_for(lambda: len(self.sink.messages) >= 2, 30), self.mh.log())
            m = wait_for(lambda: (lambda m: m if (
                get(m, "mailhub_messages_bounced_total") >= 1
                and get(m, "mailhub_messages_deferred_total") >= 1
                and get(m, "mailhub_fetch_runs_total", account=str(good)) >= 1
                and get(m, "mailhub_fetch_errors_total", account=str(bad)) >= 1)
                else None)(self.scrape()), 40)
            self.assertTrue(m, self.mh.log())
            m = self.scrape()
        finally:
            stop.set()
            t.join()
        self.assertEqual(errors, [])
        self.assertGreater(len(scrapes), 3)

        self.assertEqual(get(m, "mailhub_messages_received_total", via="smtp"), 3)
        self.assertEqual(get(m, "mailhub_messages_received_total", via="submission"), 4)
        self.assertEqual(get(m, "mailhub_messages_received_total", via="fetch"), 3)
        self.assertEqual(get(m, "mailhub_messages_delivered_total", to="remote"), 2)
        self.assertEqual(get(m, "mailhub_messages_bounced_total"), 1)
        self.assertEqual(get(m, "mailhub_messages_deferred_total"), 1)
        # three inbound copies for bob (fetched mail counts as received)
        local = self.db("SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
                        " JOIN users u ON u.id = b.user_id"
                        " WHERE u.address = 'bob@example.org'")[0]
        self.assertEqual(local, 6, "bob: 3 inbound, 3 fetched")
        self.assertEqual(get(m, "mailhub_messages_delivered_total", to="local"), 3)
        self.assertEqual(get(m, "mailhub_messages_rejected_total", reason="no_such_user"), 1)
        self.assertEqual(get(m, "mailhub_messages_rejected_total", reason="relay_denied"), 1)
        self.assertEqual(get(m, "mailhub_logins_failed_total", protocol="imap"), 2)
        self.assertEqual(get(m, "mailhub_logins_failed_total", protocol="pop3"), 1)
        self.assertEqual(get(m, "mailhub_logins_failed_total", protocol="smtp"), 1)
        self.assertEqual(get(m, "mailhub_logins_failed_total", protocol="web"), 1)
        # (the fixture's start-up probe opened one session on each listener)
        self.assertEqual(get(m, "mailhub_sessions_total", listener="smtp")
                         - get(before, "mailhub_sessions_total", listener="smtp"), 4)
        self.assertEqual(get(m, "mailhub_sessions_total", listener="submission")
                         - get(before, "mailhub_sessions_total", listener="submission"), 2)
        self.assertEqual(get(m, "mailhub_sessions_total", listener="imap")
                         - get(before, "mailhub_sessions_total", listener="imap"), 5)
        self.assertEqual(get(m, "mailhub_sessions_total", listener="pop3")
                         - get(before, "mailhub_sessions_total", listener="pop3"), 2)
        self.assertEqual(get(m, "mailhub_sessions", listener="imap"), 1)
        self.assertEqual(get(m, "mailhub_sessions", listener="pop3"), 0)
        self.assertEqual(get(m, "mailhub_fetch_messages_total", account=str(good)), 3)
        self.assertEqual(get(m, "mailhub_fetch_errors_total", account=str(good)), 0)
        self.assertEqual(get(m, "mailhub_fetch_messages_total", account=str(bad)), 0)
        self.assertGreaterEqual(get(m, "mailhub_fetch_runs_total", account=str(bad)), 1)
        # the gauges are what the database holds
        self.assertEqual(get(m, "mailhub_queue_messages"), 1)
        self.assertEqual(get(m, "mailhub_queue_recipients"), 1)
        self.assertLess(get(m, "mailhub_queue_oldest_age_seconds"), 120)
        n, size = self.db("SELECT count(*), coalesce(sum(size), 0) FROM messages")
        self.assertEqual(get(m, "mailhub_store_messages"), n)
        self.assertEqual(get(m, "mailhub_store_bytes"), size)
        held.logout()

        # the chart: samples each second here, the last one taken now
        status, _, body = self.request("/api/v1/metrics/history", self.admin_token)
        self.assertEqual(status, 200, body)
        h = json.loads(body)
        self.assertEqual(h["interval"], 1)
        self.assertGreater(len(h["samples"]), 1)
        last = h["samples"][-1]
        self.assertGreaterEqual(last["received"], 10)
        self.assertEqual(last["bounced"], 1)
        self.assertEqual(last["queue"], 1)
        times = [s["time"] for s in h["samples"]]
        self.assertEqual(times, sorted(times))
        self.assertEqual(self.request("/api/v1/metrics/history", self.user_token)[0], 403)


if __name__ == "__main__":
    tap.main()
