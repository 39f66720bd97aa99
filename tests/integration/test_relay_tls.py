#!/usr/bin/env python3
"""Outbound TLS policies against real peers on loopback.

unbound validates DNSSEC for a zone (dane.test.) signed in the test with
ldns-signzone and serves an unsigned one (sts.test.); aiosmtpd receivers
on 127.0.0.x present good certificates, certificates for the wrong name,
expired ones, ones that match no TLSA record, or no STARTTLS at all; an
HTTPS server serves the MTA-STS policies.  Each case must deliver or be
refused as RFC 8461 (MTA-STS) and RFC 7672 (DANE) say: a refused message
stays deferred with the reason, never goes out in plaintext or over
unchecked TLS."""

import hashlib
import os
import shutil
import smtplib
import sys
import tempfile
import unittest

import tap
from mailhub_fixture import Mailhub, client_tls_context
from relay_util import (PolicyServer, Sink, TestCA, ZoneDns, free_port_on,
                        have_aiosmtpd, have_ldns, have_unbound, queue_rows,
                        server_tls_context, spki_sha256, wait_for)

ALICE = "alice@example.org"
ALICE_PW = "secret-alice"

SKIP = None
if not have_unbound():
    SKIP = "unbound is not installed (Debian package unbound)"
elif not have_aiosmtpd():
    SKIP = "aiosmtpd is not installed (Debian package python3-aiosmtpd)"
elif not have_ldns():
    SKIP = "ldns-signzone is not installed (Debian package ldnsutils)"

# one receiving MTA per case: (address, certificate kind)
SINKS = {
    "sts-good": "127.0.0.2",
    "sts-wrongname": "127.0.0.3",
    "sts-expired": "127.0.0.4",
    "sts-strip": "127.0.0.5",
    "sts-testing": "127.0.0.6",
    "dane-ee": "127.0.0.7",
    "dane-mismatch": "127.0.0.8",
    "dane-strip": "127.0.0.9",
    "dane-ta": "127.0.0.10",
    "sts-nomatch": "127.0.0.11",
    "sts-mixed2": "127.0.0.12",
}
POLICY_IP = "127.0.0.20"
STS_CASES = ["good", "wrongname", "expired", "strip", "testing", "nomatch"]


# RFC 8460 §4.4 (the report's fields, types and result types) as a JSON
# Schema.
RESULT_TYPES = ["starttls-not-supported", "certificate-host-mismatch",
                "certificate-expired", "certificate-not-trusted", "validation-failure",
                "tlsa-invalid", "dnssec-invalid", "dane-required",
                "sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid"]
TLSRPT_SCHEMA = {
    "type": "object",
    "required": ["organization-name", "date-range", "contact-info", "report-id",
                 "policies"],
    "properties": {
        "organization-name": {"type": "string"},
        "contact-info": {"type": "string"},
        "report-id": {"type": "string"},
        "date-range": {
            "type": "object", "required": ["start-datetime", "end-datetime"],
            "properties": {
                "start-datetime": {"type": "string", "format": "date-time",
                                   "pattern": "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$"},
                "end-datetime": {"type": "string", "format": "date-time",
                                 "pattern": "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$"}}},
        "policies": {"type": "array", "items": {
            "type": "object", "required": ["policy", "summary"],
            "properties": {
                "policy": {
                    "type": "object", "required": ["policy-type", "policy-domain"],
                    "properties": {
                        "policy-type": {"enum": ["tlsa", "sts", "no-policy-found"]},
                        "policy-string": {"type": "array", "items": {"type": "string"}},
                        "policy-domain": {"type": "string"},
                        "mx-host": {"type": "array", "items": {"type": "string"}}}},
                "summary": {
                    "type": "object",
                    "required": ["total-successful-session-count",
                                 "total-failure-session-count"],
                    "properties": {
                        "total-successful-session-count": {"type": "integer", "minimum": 0},
                        "total-failure-session-count": {"type": "integer", "minimum": 0}}},
                "failure-details": {"type": "array", "items": {
                    "type": "object", "required": ["result-type", "failed-session-count"],
                    "properties": {
                        "result-type": {"enum": RESULT_TYPES},
                        "sending-mta-ip": {"type": "string"},
                        "receiving-ip": {"type": "string"},
                        "receiving-mx-hostname": {"type": "string"},
                        "receiving-mx-helo": {"type": "string"},
                        "failed-session-count": {"type": "integer", "minimum": 1},
                        "additional-information": {"type": "string"},
                        "failure-reason-code": {"type": "string"}}}}}}}},
}


def policy(mode, mx):
    return f"version: STSv1\r\nmode: {mode}\r\nmx: {mx}\r\nmax_age: 86400\r\n"


def domain_status(mh, domain):
    """(tls, mta_sts, dane, last_error) of relay_domains for domain."""
    import sqlite3
    db = sqlite3.connect(os.path.join(mh.data_dir, "mailhub.db"), timeout=30)
    try:
        return db.execute("SELECT tls, mta_sts, dane, last_error FROM relay_domains"
                          " WHERE domain = ?", (domain,)).fetchone()
    finally:
        db.close()


def submit(mh, rcpts, subject, mail_options=()):
    msg = (f"From: Alice <{ALICE}>\r\nTo: {', '.join(rcpts)}\r\n"
           f"Subject: {subject}\r\n\r\nhello\r\n")
    with smtplib.SMTP("127.0.0.1", mh.port("submission"), timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login(ALICE, ALICE_PW)
        s.sendmail(ALICE, rcpts, msg.encode(), mail_options=list(mail_options))


@unittest.skipIf(SKIP, SKIP)
class RelayTlsPolicies(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mailhub-tls.")
        cls.mx_port = free_port_on(list(SINKS.values()) + [POLICY_IP])
        cls.https_port = free_port_on([POLICY_IP])
        ca = TestCA(cls.tmp)
        other_ca = TestCA(cls.tmp, cn="nobody trusts this CA")
        certs = {
            "sts-good": ca.issue("good", ["mx.good.sts.test"]),
            "sts-wrongname": ca.issue("wrongname", ["someone-else.test"]),
            "sts-expired": ca.issue("expired", ["mx.expired.sts.test"], expired=True),
            "sts-testing": other_ca.issue("testing", ["mx.testing.sts.test"]),
            "sts-nomatch": ca.issue("nomatch", ["mx.nomatch.sts.test"]),
            "sts-mixed2": ca.issue("mixed2", ["mx2.mixed.sts.test"]),
            # DANE-EE binds the key: a self-signed certificate for another
            # name that has long expired is still the right server
            "dane-ee": ca.issue("dane-ee", ["not-the-mx.test"], self_signed=True,
                                expired=True),
            "dane-mismatch": ca.issue("dane-mismatch", ["mx.mismatch.dane.test"]),
            "dane-ta": other_ca.issue("dane-ta", ["mx.ta.dane.test"]),
        }
        wrong_key = ca.issue("unused", ["mx.mismatch.dane.test"])[2]
        ta_digest = hashlib.sha256(other_ca.ca_der()).hexdigest()
        sts = []
        for case in STS_CASES:
            ip = SINKS[f"sts-{case}"]
            sts += [f"{case}.sts.test. IN MX 10 mx.{case}.sts.test.",
                    f"mx.{case}.sts.test. IN A {ip}",
                    f'_mta-sts.{case}.sts.test. IN TXT "v=STSv1; id=20261206"',
                    f"mta-sts.{case}.sts.test. IN A {POLICY_IP}"]
        sts += ["plain.sts.test. IN MX 10 mx.good.sts.test.",
                # a name that exists, with neither MX nor address records
                'nohost.sts.test. IN TXT "v=spf1 -all"',
                # a domain that asks for TLS reports, and where they go
                '_smtp._tls.reports.sts.test. IN TXT '
                '"v=TLSRPTv1; rua=mailto:tlsrpt@rpt.sts.test"',
                "rpt.sts.test. IN MX 10 mx.good.sts.test.",
                # two MX hosts: the first's certificate has the wrong name
                "mixed.sts.test. IN MX 10 mx1.mixed.sts.test.",
                "mixed.sts.test. IN MX 20 mx2.mixed.sts.test.",
                f"mx1.mixed.sts.test. IN A {SINKS['sts-wrongname']}",
                f"mx2.mixed.sts.test. IN A {SINKS['sts-mixed2']}",
                '_mta-sts.mixed.sts.test. IN TXT "v=STSv1; id=1"',
                f"mta-sts.mixed.sts.test. IN A {POLICY_IP}",
                # the same two MX hosts, for a domain that asks for its
                # reports by HTTPS: at a host whose certificate is good,
                # and at one whose certificate names another host
                "httpsrpt.sts.test. IN MX 10 mx1.mixed.sts.test.",
                "httpsrpt.sts.test. IN MX 20 mx2.mixed.sts.test.",
                '_mta-sts.httpsrpt.sts.test. IN TXT "v=STSv1; id=1"',
                f"mta-sts.httpsrpt.sts.test. IN A {POLICY_IP}",
                '_smtp._tls.httpsrpt.sts.test. IN TXT "v=TLSRPTv1; '
                f'rua=https://rua.sts.test:{cls.https_port}/tlsrpt/v1?k=1,'
                f'https://wrongcert.sts.test:{cls.https_port}/tlsrpt"',
                f"rua.sts.test. IN A {POLICY_IP}",
                f"wrongcert.sts.test. IN A {POLICY_IP}"]
        dane = []
        for case, ip in [("ee", "dane-ee"), ("mismatch", "dane-mismatch"),
                         ("strip", "dane-strip"), ("ta", "dane-ta")]:
            dane += [f"{case}.dane.test. IN MX 10 mx.{case}.dane.test.",
                     f"mx.{case}.dane.test. IN A {SINKS[ip]}"]
        tlsa = lambda case, rec: f"_{cls.mx_port}._tcp.mx.{case}.dane.test. IN TLSA {rec}"  # noqa: E731
        dane += [tlsa("ee", "3 1 1 " + spki_sha256(certs["dane-ee"][2])),
                 tlsa("mismatch", "3 1 1 " + spki_sha256(wrong_key)),
                 tlsa("strip", "3 1 1 " + spki_sha256(wrong_key)),
                 tlsa("ta", "2 0 1 " + ta_digest)]
        cls.dns = ZoneDns({"sts.test.": sts, "dane.test.": dane}, signed=["dane.test."])
        policies = {f"mta-sts.{c}.sts.test": (200, "text/plain",
                                                policy("enforce", f"mx.{c}.sts.test"))
                    for c in STS_CASES}
        policies["mta-sts.testing.sts.test"] = (200, "text/plain",
                                                policy("testing", "mx.testing.sts.test"))
        policies["mta-sts.nomatch.sts.test"] = (200, "text/plain",
                                                policy("enforce", "*.elsewhere.test"))
        policies["mta-sts.mixed.sts.test"] = (200, "text/plain",
                                              policy("enforce", "*.mixed.sts.test"))
        policies["mta-sts.httpsrpt.sts.test"] = (200, "text/plain",
                                                 policy("enforce", "*.mixed.sts.test"))
        pcert = ca.issue("policy", [f"mta-sts.{c}.sts.test"
                                    for c in STS_CASES + ["mixed", "httpsrpt"]]
                         + ["rua.sts.test"])
        cls.policy_server = PolicyServer(POLICY_IP, cls.https_port, pcert[0], pcert[1],
                                         policies)
        cls.sinks = {}
        for name, ip in SINKS.items():
            ctx = None
            if name in certs:
                ctx = server_tls_context(certs[name][0], certs[name][1])
            cls.sinks[name] = Sink(ip, cls.mx_port, tls_context=ctx)
        # the daemon trusts the test CA only (its "system" CAs)
        cls.old_cert_file = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = ca.path
        extra = (f"\n[dns]\nresolver = {cls.dns.resolver()}\ndnssec = yes\n"
                 f"[relay]\nmx_port = {cls.mx_port}\nretry_first = 2\nretry_max = 4\n"
                 f"mta_sts_port = {cls.https_port}\nmta_sts_publish = enforce\n")
        cls.mh = Mailhub(listeners=("submission", "admin"), config_extra=extra)
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(ALICE, ALICE_PW, admin=True)
        try:
            cls.dns.start()
            cls.policy_server.start()
            for s in cls.sinks.values():
                s.start()
            cls.mh.start()
        except BaseException:
            cls.cleanup()
            raise

    @classmethod
    def cleanup(cls):
        try:
            cls.mh.cleanup()
        finally:
            for s in cls.sinks.values():
                s.stop()
            cls.policy_server.stop()
            cls.dns.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            if cls.old_cert_file is None:
                os.environ.pop("SSL_CERT_FILE", None)
            else:
                os.environ["SSL_CERT_FILE"] = cls.old_cert_file

    @classmethod
    def tearDownClass(cls):
        try:
            cls.mh.close()
        finally:
            cls.mh.cleanup = lambda: None
            cls.cleanup()

    def received(self, sink, subject, timeout=30):
        def find():
            for frm, rcpts, data in self.sinks[sink].messages:
                if f"Subject: {subject}".encode() in data:
                    return data
            return None
        return wait_for(find, timeout)

    def deferred(self, address, timeout=30):
        """The last reply of a recipient once it has been tried and deferred."""
        def find():
            for addr, state, attempts, reply in queue_rows(self.mh.data_dir):
                if addr == address and state == "deferred" and attempts >= 1:
                    return reply
            return None
        return wait_for(find, timeout)

    def assert_refused(self, sink, address, subject, words):
        submit(self.mh, [address], subject)
        reply = self.deferred(address)
        self.assertIsNotNone(reply, self.mh.log())
        for w in words:
            self.assertIn(w, reply)
        self.assertTrue(reply.startswith("451 4.7.5"), reply)
        self.assertFalse(any(subject.encode() in d for _, _, d in self.sinks[sink].messages))

    # ---- MTA-STS ---------------------------------------------------------

    def test_sts_enforce_good_certificate_delivers(self):
        submit(self.mh, ["bob@good.sts.test"], "sts good")
        self.assertIsNotNone(self.received("sts-good", "sts good"), self.mh.log())
        row = wait_for(lambda: domain_status(self.mh, "good.sts.test"))
        self.assertEqual(row[1], "enforce", row)
        self.assertTrue(row[0].startswith("TLSv1."), row)
        self.assertIn(("mta-sts.good.sts.test", "/.well-known/mta-sts.txt"),
                      self.policy_server.requests)
        self.assertRegex(self.mh.log(), r"mta-sts domain=good\.sts\.test id=20261206 mode=enforce")

    def test_sts_enforce_wrong_name_refused(self):
        self.assert_refused("sts-wrongname", "bob@wrongname.sts.test", "sts wrongname",
                            ["MTA-STS policy (mode enforce)", "wrongname.sts.test"])

    def test_sts_enforce_expired_refused(self):
        self.assert_refused("sts-expired", "bob@expired.sts.test", "sts expired",
                            ["MTA-STS", "certificate has expired"])

    def test_sts_enforce_starttls_stripped_refused(self):
        # a peer (or someone on the path) that offers no STARTTLS: never
        # plaintext where a policy applies
        self.assert_refused("sts-strip", "bob@strip.sts.test", "sts strip",
                            ["MTA-STS", "does not offer STARTTLS"])
        self.assertEqual(self.sinks["sts-strip"].rcpt_calls, [])

    def test_sts_enforce_mx_not_in_policy(self):
        submit(self.mh, ["bob@nomatch.sts.test"], "sts nomatch")
        reply = self.deferred("bob@nomatch.sts.test")
        self.assertIsNotNone(reply, self.mh.log())
        self.assertIn("matches its MTA-STS policy", reply)
        self.assertEqual(self.sinks["sts-nomatch"].rcpt_calls, [])

    def test_sts_testing_delivers_despite_bad_certificate(self):
        submit(self.mh, ["bob@testing.sts.test"], "sts testing")
        self.assertIsNotNone(self.received("sts-testing", "sts testing"), self.mh.log())
        self.assertIn("MTA-STS testing: delivering anyway", self.mh.log())

    def test_sts_policy_is_cached(self):
        submit(self.mh, ["carol@good.sts.test"], "sts cached 1")
        self.assertIsNotNone(self.received("sts-good", "sts cached 1"))
        before = len([r for r in self.policy_server.requests
                      if r[0] == "mta-sts.good.sts.test"])
        submit(self.mh, ["dave@good.sts.test"], "sts cached 2")
        self.assertIsNotNone(self.received("sts-good", "sts cached 2"))
        after = len([r for r in self.policy_server.requests
                     if r[0] == "mta-sts.good.sts.test"])
        self.assertEqual(before, after)

    def test_no_policy_domain_still_delivers(self):
        # plain.sts.test has no _mta-sts record: opportunistic as before
        submit(self.mh, ["erin@plain.sts.test"], "no policy")
        self.assertIsNotNone(self.received("sts-good", "no policy"), self.mh.log())

    # ---- our own policy ---------------------------------------------------

    def get_policy(self, host):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.mh.port("admin"), timeout=10)
        try:
            c.request("GET", "/.well-known/mta-sts.txt", headers={"Host": host})
            r = c.getresponse()
            return r.status, r.getheader("Content-Type"), r.read().decode()
        finally:
            c.close()

    def test_publishes_own_policy(self):
        status, ctype, body = self.get_policy("mta-sts.example.org")
        self.assertEqual(status, 200, body)
        self.assertTrue(ctype.startswith("text/plain"), ctype)
        self.assertEqual(body, "version: STSv1\r\nmode: enforce\r\nmx: mail.test\r\n"
                         "max_age: 604800\r\n")
        # a domain that is not ours has no policy here
        self.assertEqual(self.get_policy("mta-sts.elsewhere.test")[0], 404)
        # the DNS helper lists the records that go with it; the id follows
        # the policy
        out = self.mh.cli("domain", "show", "example.org").stdout
        pid = hashlib.sha256(body.encode()).hexdigest()[:16]
        self.assertIn(f"_mta-sts.example.org. IN TXT \"v=STSv1; id={pid}\"", out)
        self.assertIn("mta-sts.example.org. IN CNAME mail.test.", out)
        self.assertIn('_smtp._tls.example.org. IN TXT "v=TLSRPTv1; '
                      'rua=mailto:postmaster@example.org"', out)

    # ---- DSNs -------------------------------------------------------------

    def test_no_mx_no_address_bounces_at_once(self):
        from relay_util import inbox_messages
        submit(self.mh, ["bob@nohost.sts.test"], "nohost")

        def bounce():
            for m in inbox_messages(self.mh.data_dir, ALICE):
                if b"multipart/report" in m and b"bob@nohost.sts.test" in m:
                    return m
            return None
        m = wait_for(bounce, 30)
        self.assertIsNotNone(m, self.mh.log())
        self.assertIn(b"Status: 5.1.2", m)
        self.assertIn(b"no MX and no address record", m)
        # at once, not after the queue's five days of retries
        self.assertNotIn(b"gave up after", m)

    # ---- REQUIRETLS (RFC 8689) -------------------------------------------

    def bounce_for(self, marker, timeout=30):
        from relay_util import inbox_messages

        def find():
            for m in inbox_messages(self.mh.data_dir, ALICE):
                if b"multipart/report" in m and marker.encode() in m:
                    return m
            return None
        return wait_for(find, timeout)

    def test_requiretls_offered_only_over_tls(self):
        with smtplib.SMTP("127.0.0.1", self.mh.port("submission"), timeout=30) as s:
            s.ehlo()
            self.assertFalse(s.has_extn("requiretls"))
            s.starttls(context=client_tls_context())
            s.ehlo()
            self.assertTrue(s.has_extn("requiretls"))

    def test_requiretls_needs_next_hop_support(self):
        # the MX is authenticated (MTA-STS) but does not offer REQUIRETLS
        submit(self.mh, ["rt1@good.sts.test"], "rtls nohop", ["REQUIRETLS"])
        m = self.bounce_for("rt1@good.sts.test")
        self.assertIsNotNone(m, self.mh.log())
        self.assertIn(b"Status: 5.7.30", m)
        self.assertIn(b"does not offer REQUIRETLS", m)
        self.assertFalse(any(b"rtls nohop" in d for _, _, d in self.sinks["sts-good"].messages))

    def test_requiretls_needs_authenticated_tls(self):
        # no MTA-STS, no DANE: opportunistic TLS is not enough
        submit(self.mh, ["rt2@plain.sts.test"], "rtls noauth", ["REQUIRETLS"])
        m = self.bounce_for("rt2@plain.sts.test")
        self.assertIsNotNone(m, self.mh.log())
        self.assertIn(b"Status: 5.7.30", m)
        self.assertIn(b"neither DANE nor", m)
        self.assertFalse(any(b"rtls noauth" in d for _, _, d in self.sinks["sts-good"].messages))

    def test_requiretls_local_delivery(self):
        from relay_util import inbox_messages
        submit(self.mh, [ALICE], "rtls local", ["REQUIRETLS"])
        self.assertTrue(wait_for(lambda: any(b"rtls local" in m for m in
                                             inbox_messages(self.mh.data_dir, ALICE))))

    def test_success_dsn_relayed(self):
        msg = (f"From: Alice <{ALICE}>\r\nTo: ok@plain.sts.test\r\n"
               "Subject: dsn success\r\n\r\nhello\r\n")
        with smtplib.SMTP("127.0.0.1", self.mh.port("submission"), timeout=30) as s:
            s.starttls(context=client_tls_context())
            s.login(ALICE, ALICE_PW)
            s.sendmail(ALICE, ["ok@plain.sts.test"], msg.encode(),
                       rcpt_options=["NOTIFY=SUCCESS"])
        self.assertIsNotNone(self.received("sts-good", "dsn success"), self.mh.log())
        # the sink offers no DSN extension: the report is ours, "relayed"
        m = self.bounce_for("ok@plain.sts.test")
        self.assertIsNotNone(m, self.mh.log())
        self.assertIn(b"Subject: Successful Mail Delivery Report", m)
        self.assertIn(b"Action: relayed", m)
        self.assertIn(b"Status: 2.0.0", m)
        self.assertIn(b"Subject: dsn success", m)   # the original header

    def test_smtputf8_bounce_is_global(self):
        rcpt = "jürgen@nohost.sts.test"
        msg = (f"From: Alice <{ALICE}>\r\nTo: {rcpt}\r\n"
               "Subject: Grüße utf8 bounce\r\n\r\nhallo\r\n").encode()
        with smtplib.SMTP("127.0.0.1", self.mh.port("submission"), timeout=30) as s:
            s.starttls(context=client_tls_context())
            s.login(ALICE, ALICE_PW)
            s.sendmail(ALICE, [rcpt], msg, mail_options=["SMTPUTF8"])
        m = self.bounce_for("jürgen@nohost.sts.test")
        self.assertIsNotNone(m, self.mh.log())
        # RFC 6533: the report and the headers in their global forms
        self.assertIn(b"Content-Type: message/global-delivery-status", m)
        self.assertIn("Final-Recipient: utf-8; jürgen@nohost.sts.test".encode(), m)
        self.assertIn(b"Content-Type: message/global-headers", m)
        self.assertIn("Subject: Grüße utf8 bounce".encode(), m)
        self.assertIn(b"Status: 5.1.2", m)

    # ---- TLS reporting ----------------------------------------------------

    def test_tls_report_of_mixed_day(self):
        import json
        import jsonschema
        for i in range(2):
            submit(self.mh, [f"r{i}@mixed.sts.test"], f"mixed {i}")
            self.assertIsNotNone(self.received("sts-mixed2", f"mixed {i}"), self.mh.log())
        out = self.mh.cli("relay", "tls-report", "mixed.sts.test").stdout
        report = json.loads(out)
        jsonschema.validate(report, TLSRPT_SCHEMA)
        self.assertEqual(report["organization-name"], "mail.test")
        self.assertEqual(len(report["policies"]), 1, json.dumps(report, indent=1))
        [p] = report["policies"]
        self.assertEqual(p["policy"]["policy-type"], "sts")
        self.assertEqual(p["policy"]["policy-domain"], "mixed.sts.test")
        self.assertEqual(p["policy"]["mx-host"], ["*.mixed.sts.test"])
        self.assertIn("mode: enforce", p["policy"]["policy-string"])
        # each message: one session refused by mx1's name, one good on mx2
        self.assertEqual(p["summary"], {"total-successful-session-count": 2,
                                        "total-failure-session-count": 2})
        self.assertEqual(len(p["failure-details"]), 1, json.dumps(report, indent=1))
        [d] = p["failure-details"]
        self.assertEqual(d["result-type"], "certificate-host-mismatch")
        self.assertEqual(d["receiving-mx-hostname"], "mx1.mixed.sts.test")
        self.assertEqual(d["receiving-ip"], SINKS["sts-wrongname"])
        self.assertEqual(d["failed-session-count"], 2)
        # a day without sessions has nothing to report
        r = self.mh.cli("relay", "tls-report", "mixed.sts.test", "--day", "2001-01-01",
                        check=False)
        self.assertEqual(r.returncode, 1)

    def test_tls_report_sent_for_yesterday(self):
        import base64
        import datetime
        import email
        import json
        import jsonschema
        import sqlite3
        day = (datetime.datetime.now(datetime.timezone.utc)
               - datetime.timedelta(days=1)).strftime("%Y-%m-%d")
        db = sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"), timeout=30)
        with db:
            for result, ip, n in [("success", "192.0.2.1", 5),
                                  ("starttls-not-supported", "192.0.2.2", 2)]:
                db.execute("INSERT INTO tls_results (day, domain, policy_type,"
                           " policy_string, mx_host, result, receiving_ip, detail, count)"
                           " VALUES (?, 'reports.sts.test', 'sts', ?, 'mx.reports.sts.test',"
                           " ?, ?, '', ?)",
                           (day, policy("enforce", "mx.reports.sts.test"), result, ip, n))
        db.close()
        data = self.received("sts-good", "Report Domain: reports.sts.test", timeout=40)
        self.assertIsNotNone(data, self.mh.log())
        msg = email.message_from_bytes(data)
        self.assertEqual(msg["TLS-Report-Domain"], "reports.sts.test")
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertEqual(msg.get_param("report-type"), "tlsrpt")
        [part] = [p for p in msg.walk() if p.get_content_type() == "application/tlsrpt+json"]
        report = json.loads(base64.b64decode(part.get_payload()))
        jsonschema.validate(report, TLSRPT_SCHEMA)
        [p] = report["policies"]
        self.assertEqual(p["summary"], {"total-successful-session-count": 5,
                                        "total-failure-session-count": 2})
        self.assertEqual(p["failure-details"][0]["result-type"], "starttls-not-supported")
        self.assertEqual(report["date-range"]["start-datetime"], f"{day}T00:00:00Z")
        # once a day: the report is not sent again
        self.assertEqual(wait_for(lambda: len(
            [1 for _, r, d in self.sinks["sts-good"].messages
             if b"Report Domain: reports.sts.test" in d]) > 1, 12), False)

    def test_tls_report_posted_to_https(self):
        """RFC 8460 §5.4/§5.5: the day's report POSTed, gzipped, to the
        https: rua whose certificate checks out, after a failed attempt;
        never to the one whose certificate names another host."""
        import datetime
        import gzip
        import json
        import jsonschema
        import sqlite3
        # the first POST is refused: the report must come again
        self.policy_server.post_statuses.append(503)
        for i in range(2):
            submit(self.mh, [f"r{i}@httpsrpt.sts.test"], f"httpsrpt {i}")
            self.assertIsNotNone(self.received("sts-mixed2", f"httpsrpt {i}"),
                                 self.mh.log())
        # the attempts were counted today: make that day yesterday, whose
        # reports are owed now
        day = (datetime.datetime.now(datetime.timezone.utc)
               - datetime.timedelta(days=1)).strftime("%Y-%m-%d")
        db = sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"), timeout=30)
        with db:
            db.execute("UPDATE tls_results SET day = ? WHERE domain = 'httpsrpt.sts.test'",
                       (day,))
        db.close()
        posts = lambda: [p for p in self.policy_server.posts  # noqa: E731
                         if p[0] == "rua.sts.test"]
        self.assertTrue(wait_for(lambda: any(p[4] == 201 for p in posts()), 40),
                        self.mh.log())
        [first, second] = posts()
        self.assertEqual([p[4] for p in (first, second)], [503, 201])
        for p in (first, second):
            self.assertEqual((p[1], p[2]), ("/tlsrpt/v1?k=1", "application/tlsrpt+gzip"))
        self.assertEqual(first[3], second[3])
        report = json.loads(gzip.decompress(second[3]))
        jsonschema.validate(report, TLSRPT_SCHEMA)
        self.assertEqual(report["date-range"]["start-datetime"], f"{day}T00:00:00Z")
        # it matches the attempts made: each message, one session refused
        # by mx1's name, one good on mx2
        [p] = report["policies"]
        self.assertEqual((p["policy"]["policy-type"], p["policy"]["policy-domain"]),
                         ("sts", "httpsrpt.sts.test"))
        self.assertEqual(p["summary"], {"total-successful-session-count": 2,
                                        "total-failure-session-count": 2})
        [d] = p["failure-details"]
        self.assertEqual((d["result-type"], d["receiving-mx-hostname"],
                          d["receiving-ip"], d["failed-session-count"]),
                         ("certificate-host-mismatch", "mx1.mixed.sts.test",
                          SINKS["sts-wrongname"], 2))
        log = self.mh.log()
        self.assertIn("domain=httpsrpt.sts.test to=https://rua.sts.test:", log)
        self.assertIn("attempt 1 failed: HTTP status 503 from rua.sts.test; next in 2"
                      " seconds", log)
        self.assertIn("posted status=201 attempts=2", log)
        # the host whose certificate names another: tried, never sent to
        import re
        wrong = r"to=https://wrongcert\.sts\.test:\d+/tlsrpt attempt %d failed: "
        self.assertTrue(wait_for(lambda: re.search(wrong % 2, self.mh.log()), 20), log)
        self.assertRegex(self.mh.log(), wrong % 1 + r"TLS with wrongcert\.sts\.test failed")
        self.assertEqual([p for p in self.policy_server.posts if p[0] != "rua.sts.test"], [])
        # sent once: not again
        self.assertFalse(wait_for(lambda: len(posts()) > 2, 6))
        # §5.5: the host still refused is given up on once its report is a
        # day old; make it older than that and the next attempt is the last
        db = sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"), timeout=30)
        with db:
            db.execute("UPDATE tlsrpt_posts SET created = created - 90000"
                       " WHERE uri LIKE 'https://wrongcert.sts.test:%'")
        db.close()
        gave_up = r"to=https://wrongcert\.sts\.test:\d+/tlsrpt not delivered: .*; given up"
        self.assertTrue(wait_for(lambda: re.search(gave_up, self.mh.log()), 20),
                        self.mh.log())

        def wrongcert_rows():
            db = sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"), timeout=30)
            try:
                return db.execute("SELECT state, attempts FROM tlsrpt_posts"
                                  " WHERE uri LIKE 'https://wrongcert.sts.test:%'").fetchall()
            finally:
                db.close()
        [(state, attempts)] = wrongcert_rows()
        self.assertEqual(state, "failed")
        # and not tried again: the next due time of a pending row has passed
        self.assertFalse(wait_for(lambda: wrongcert_rows() != [(state, attempts)], 8))
        self.assertEqual(len(re.findall(gave_up, self.mh.log())), 1)

    def test_api_lists_destination_domains(self):
        import http.client
        import json
        submit(self.mh, ["api@ee.dane.test"], "api domains")
        self.assertIsNotNone(self.received("dane-ee", "api domains"), self.mh.log())
        token = self.mh.cli("token", "create", ALICE).stdout.strip().split()[-1]

        def get():
            c = http.client.HTTPConnection("127.0.0.1", self.mh.port("admin"), timeout=10)
            try:
                c.request("GET", "/api/v1/relay/domains",
                          headers={"Authorization": f"Bearer {token}"})
                r = c.getresponse()
                return r.status, json.loads(r.read())
            finally:
                c.close()
        status, body = get()
        self.assertEqual(status, 200, body)
        d = {x["domain"]: x for x in body["domains"]}
        self.assertEqual(d["ee.dane.test"]["dane"], "verified")
        self.assertTrue(d["ee.dane.test"]["tls"].startswith("TLSv1."))
        self.assertIsNone(d["ee.dane.test"]["last_error"])

    # ---- DANE ------------------------------------------------------------

    def test_dane_ee_delivers_whatever_name_and_dates(self):
        submit(self.mh, ["bob@ee.dane.test"], "dane ee")
        self.assertIsNotNone(self.received("dane-ee", "dane ee"), self.mh.log())
        # it went through because of the TLSA record, not by luck
        row = wait_for(lambda: domain_status(self.mh, "ee.dane.test"))
        self.assertEqual(row[2], "verified", row)

    def test_dane_ta_delivers(self):
        # the anchor is a CA nobody's system trusts: only TLSA vouches for it
        submit(self.mh, ["bob@ta.dane.test"], "dane ta")
        self.assertIsNotNone(self.received("dane-ta", "dane ta"), self.mh.log())

    def test_dane_mismatch_refused(self):
        self.assert_refused("dane-mismatch", "bob@mismatch.dane.test", "dane mismatch",
                            ["DANE (TLSA records)", "mx.mismatch.dane.test"])

    def test_dane_starttls_stripped_refused(self):
        self.assert_refused("dane-strip", "bob@strip.dane.test", "dane strip",
                            ["DANE", "does not offer STARTTLS"])
        self.assertEqual(self.sinks["dane-strip"].rcpt_calls, [])


if __name__ == "__main__":
    tap.main()
