#!/usr/bin/env python3
"""SMTP TLS reports (RFC 8460) received about our domains (issue 21): a
reporter POSTs one to the admin listener as RFC 8460 §3's https: method
does (application/tlsrpt+gzip, or +json), it is parsed, kept once per
policy entry about a local domain, and listed by GET
/api/v1/relay/tls-reports; what is not a report, not about us, of another
media type or too large is refused.

Reports also come by mail (§5.3) to the rua address our published
_smtp._tls record names (mailto:postmaster@DOMAIN): sent by SMTP to the
port-25 listener, from local software (127.0.0.1) and from a stranger
whose mail the inbound checks read (127.0.0.2), DKIM-signed by the
reporting domain as RFC 8460 §3 requires (dkimpy; its key and SPF served
by unbound), each is delivered to the postmaster's mailbox as any mail is,
and its report kept and listed like a POSTed one; a bad report, or one
without that signature, is logged in plain words and its message
delivered all the same."""

import email.encoders
import email.mime.application
import email.mime.multipart
import email.mime.text
import gzip
import json
import os
import shutil
import smtplib
import tempfile
import unittest

import tap
from api_util import Client
from mailhub_fixture import Mailhub
from relay_util import Unbound, have_unbound, wait_for
from smtp_util import blob_bytes, inbox_rows
from dkim_cases import openssl_rsa

try:
    import dkim
except ImportError:
    dkim = None

ADMIN, ADMIN_PW = "admin@example.org", "admin-secret-password-3"


def report(domain, report_id="rep-1", org="Reporter Inc."):
    return {
        "organization-name": org,
        "date-range": {"start-datetime": "2026-12-05T00:00:00Z",
                       "end-datetime": "2026-12-05T23:59:59Z"},
        "contact-info": "tlsrpt@reporter.example",
        "report-id": report_id,
        "policies": [
            {"policy": {"policy-type": "sts", "policy-domain": domain,
                        "policy-string": ["version: STSv1", "mode: enforce",
                                          f"mx: mail.{domain}", "max_age: 604800"],
                        "mx-host": [f"mail.{domain}"]},
             "summary": {"total-successful-session-count": 41,
                         "total-failure-session-count": 2},
             "failure-details": [
                 {"result-type": "certificate-expired", "receiving-ip": "192.0.2.7",
                  "receiving-mx-hostname": f"mail.{domain}", "failed-session-count": 2}]},
            {"policy": {"policy-type": "no-policy-found", "policy-domain": "elsewhere.test"},
             "summary": {"total-successful-session-count": 3,
                         "total-failure-session-count": 0}}]}


class TlsReportsIn(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(listeners=("admin",))
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(ADMIN, ADMIN_PW, admin=True)
        cls.mh.start()
        cls.api = Client(cls.mh.port("admin"))
        assert cls.api.login(ADMIN, ADMIN_PW).status == 200
        cls.anon = Client(cls.mh.port("admin"))

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def post(self, body, ctype="application/tlsrpt+gzip"):
        return self.anon.raw("POST", "/api/v1/tlsrpt", body, {"Content-Type": ctype})

    def listed(self):
        r = self.api.get("/api/v1/relay/tls-reports")
        self.assertEqual(r.status, 200, r.body)
        return r.json["reports"]

    def test_a_gzip_report_kept_and_listed(self):
        body = gzip.compress(json.dumps(report("example.org")).encode())
        r = self.post(body)
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.json, {"policies": 1})
        rows = [x for x in self.listed() if x["report_id"] == "rep-1"]
        # only the entry about our domain
        self.assertEqual(len(rows), 1, rows)
        x = rows[0]
        self.assertEqual((x["organization"], x["policy_type"], x["policy_domain"],
                          x["success"], x["failure"], x["via"]),
                         ("Reporter Inc.", "sts", "example.org", 41, 2, "https"))
        self.assertEqual(x["mx_host"], "mail.example.org")
        self.assertEqual(x["details"],
                         "certificate-expired x2 mail.example.org [192.0.2.7]")
        self.assertEqual((x["start"], x["end"]),
                         ("2026-12-05T00:00:00Z", "2026-12-05T23:59:59Z"))
        # the same report again is kept once
        self.assertEqual(self.post(body).status, 201)
        self.assertEqual(len([x for x in self.listed() if x["report_id"] == "rep-1"]), 1)
        self.assertIn('tls-report org="Reporter Inc." id="rep-1" policies=1', self.mh.log())

    def test_b_json_report(self):
        body = json.dumps(report("EXAMPLE.ORG", report_id="rep-json")).encode()
        r = self.post(body, "application/tlsrpt+json")
        self.assertEqual(r.status, 201, r.body)
        rows = [x for x in self.listed() if x["report_id"] == "rep-json"]
        self.assertEqual([x["policy_domain"] for x in rows], ["example.org"])

    def test_c_refused(self):
        # about none of our domains
        r = self.post(gzip.compress(json.dumps(report("other.test", "rep-x")).encode()))
        self.assertEqual(r.status, 422, r.body)
        self.assertIn("none of this server's domains", r.json["detail"])
        # not a report
        r = self.post(gzip.compress(b'{"hello": "world"}'))
        self.assertEqual(r.status, 400, r.body)
        self.assertIn("not a TLS report", r.json["detail"])
        r = self.post(b"\x1f\x8bnot really gzip")
        self.assertEqual(r.status, 400, r.body)
        # another media type
        r = self.post(json.dumps(report("example.org")).encode(), "application/json")
        self.assertEqual(r.status, 415, r.body)
        # over the body limit
        r = self.post(b"\x1f\x8b" + b"\0" * (1024 * 1024 + 10))
        self.assertEqual(r.status, 413, r.body)
        self.assertEqual([x for x in self.listed() if x["report_id"] == "rep-x"], [])

    def test_d_list_needs_an_admin(self):
        self.assertEqual(self.anon.get("/api/v1/relay/tls-reports").status, 401)


DKIM_KEY = None    # (private key PEM, public p=), made once


def sign(data, domain="reporter.test"):
    """data with a DKIM-Signature of domain (selector sel) at its head."""
    sig = dkim.sign(data, b"sel", domain.encode(), DKIM_KEY[0],
                    include_headers=[b"From", b"To", b"Subject", b"TLS-Report-Domain",
                                     b"TLS-Report-Submitter", b"Content-Type",
                                     b"MIME-Version"])
    return sig + data


def report_mail(rep, media="tlsrpt+gzip", body=None, to="postmaster@example.org",
                signed=True):
    """RFC 8460 §5.3: the report as a message (multipart/report,
    report-type=tlsrpt; the gzip part base64, the JSON one as it is)."""
    msg = email.mime.multipart.MIMEMultipart("report", report_type="tlsrpt")
    msg["From"] = "TLS reporting <tlsrpt@reporter.test>"
    msg["To"] = to
    msg["Subject"] = (f"Report Domain: example.org Submitter: reporter.test"
                      f" Report-ID: <{rep['report-id']}>")
    msg["TLS-Report-Domain"] = "example.org"
    msg["TLS-Report-Submitter"] = "reporter.test"
    msg.attach(email.mime.text.MIMEText("This is an aggregate TLS report from reporter.test."))
    if body is None:
        body = json.dumps(rep).encode()
        if media == "tlsrpt+gzip":
            body = gzip.compress(body)
    if media == "tlsrpt+gzip":
        part = email.mime.application.MIMEApplication(body, media)
    else:
        part = email.mime.application.MIMEApplication(
            body, media, _encoder=email.encoders.encode_7or8bit)
    part.add_header("Content-Disposition", "attachment",
                    filename="reporter.test!example.org!20261205!20261206.json")
    msg.attach(part)
    data = msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return sign(data) if signed else data


ADMIN_BY_MAIL = "postmaster-box@example.org"


@unittest.skipIf(not have_unbound(), "unbound is not installed (Debian package unbound)")
@unittest.skipIf(dkim is None, "dkimpy is not installed (Debian package python3-dkim)")
class TlsReportsByMail(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        global DKIM_KEY
        cls.tmp = tempfile.mkdtemp(prefix="mailhub-tlsrpt.")
        DKIM_KEY = openssl_rsa(2048, os.path.join(cls.tmp, "dkim.pem"))
        pub = f"v=DKIM1; k=rsa; p={DKIM_KEY[1]}"
        # the reporter's DKIM key, and its SPF so that the stranger's mail
        # passes the inbound checks
        cls.dns = Unbound(['reporter.test. TXT "v=spf1 ip4:127.0.0.2 -all"',
                           "sel._domainkey.reporter.test. TXT " +
                           " ".join(f'"{pub[i:i + 255]}"' for i in range(0, len(pub), 255))],
                          zones=("test.",))
        cls.dns.start()
        try:
            cls.mh = Mailhub(listeners=("admin", "smtp"),
                             config_extra=f"\n[dns]\nresolver = {cls.dns.resolver()}\n")
            cls.mh.cli("domain", "add", "example.org")
            cls.mh.add_user(ADMIN, ADMIN_PW, admin=True)
            cls.mh.add_user(ADMIN_BY_MAIL, "postmaster-secret-4")
            # the rua address of the published record reaches a mailbox
            cls.mh.cli("alias", "add", "postmaster@example.org", ADMIN_BY_MAIL)
            cls.mh.start()
        except BaseException:
            cls.dns.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise
        cls.api = Client(cls.mh.port("admin"))
        assert cls.api.login(ADMIN, ADMIN_PW).status == 200

    @classmethod
    def tearDownClass(cls):
        try:
            cls.mh.close()
        finally:
            cls.dns.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def send(self, data, source="127.0.0.1", rcpt="postmaster@example.org"):
        """Sends data by SMTP to port 25; the stored copy in the rua mailbox."""
        before = len(inbox_rows(self.mh, ADMIN_BY_MAIL))
        with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30,
                          source_address=(source, 0)) as s:
            s.ehlo("mx.reporter.test")
            self.assertEqual(s.sendmail("tlsrpt@reporter.test", [rcpt], data), {})
        rows = inbox_rows(self.mh, ADMIN_BY_MAIL)
        self.assertEqual(len(rows), before + 1, "the message must be delivered")
        return blob_bytes(self.mh, rows[-1][1])

    def listed(self, report_id):
        r = self.api.get("/api/v1/relay/tls-reports")
        self.assertEqual(r.status, 200, r.body)
        return [x for x in r.json["reports"] if x["report_id"] == report_id]

    def test_a_gzip_report_by_mail(self):
        copy = self.send(report_mail(report("example.org", "mail-gz")))
        self.assertIn(b"TLS-Report-Domain: example.org", copy)
        self.assertIn(b"Content-Type: application/tlsrpt+gzip", copy)
        rows = self.listed("mail-gz")
        self.assertEqual(len(rows), 1, rows)
        x = rows[0]
        self.assertEqual((x["via"], x["organization"], x["policy_type"], x["policy_domain"],
                          x["success"], x["failure"], x["mx_host"]),
                         ("mail", "Reporter Inc.", "sts", "example.org", 41, 2,
                          "mail.example.org"))
        self.assertEqual(x["details"],
                         "certificate-expired x2 mail.example.org [192.0.2.7]")
        self.assertRegex(self.mh.log(), r'tls-report id=\w+ org="Reporter Inc\." '
                                        r'report="mail-gz" policies=1 via=mail')
        # the same report once more: delivered again, kept once
        self.send(report_mail(report("example.org", "mail-gz")))
        self.assertEqual(len(self.listed("mail-gz")), 1)

    def test_b_json_report_from_a_checked_stranger(self):
        # from 127.0.0.2: SPF, DKIM and DMARC read the message first
        copy = self.send(report_mail(report("example.org", "mail-json"), "tlsrpt+json"),
                         source="127.0.0.2")
        self.assertIn(b"Authentication-Results:", copy)
        self.assertIn(b"spf=pass", copy)
        self.assertIn(b"dkim=pass", copy)
        self.assertIn(b"Content-Type: application/tlsrpt+json", copy)
        rows = self.listed("mail-json")
        self.assertEqual([(x["via"], x["policy_domain"], x["success"]) for x in rows],
                         [("mail", "example.org", 41)])

    def test_c_report_to_another_local_address(self):
        # a rua the admin chose: any local recipient's report is read
        self.mh.cli("alias", "add", "tls-reports@example.org", ADMIN_BY_MAIL)
        self.send(report_mail(report("example.org", "mail-other"),
                              to="tls-reports@example.org"), rcpt="tls-reports@example.org")
        self.assertEqual(len(self.listed("mail-other")), 1)

    def test_d_bad_reports_logged_and_delivered(self):
        rep = report("example.org", "mail-bad")
        cases = [
            (report_mail(rep, body=gzip.compress(json.dumps(rep).encode())[:-12]),
             "not kept: its report cannot be read: truncated gzip"),
            (report_mail(rep, "json"), "has no application/tlsrpt+gzip or +json part"),
            (report_mail(rep, "tlsrpt+json", body=b'{"hello": "world"}'),
             "cannot be read: not a TLS report (no organization-name or report-id)"),
            (report_mail(report("other.test", "mail-bad")),
             "not kept: the report is about none of this server's domains"),
            # RFC 8460 §3: unsigned, or signed by another domain: ignored
            (report_mail(rep, signed=False),
             "not kept: it has no DKIM signature of its reporting domain"),
            (sign(report_mail(rep, signed=False), "elsewhere.test"),
             "not kept: it has no DKIM signature of its reporting domain"),
        ]
        for data, words in cases:
            with self.subTest(words=words):
                seen = self.mh.log().count(words)
                copy = self.send(data, source="127.0.0.2")
                self.assertIn(b"TLS-Report-Domain: example.org", copy)
                self.assertIn(b"<mail-bad>", copy)
                self.assertTrue(wait_for(lambda: self.mh.log().count(words) > seen, 5),
                                f"{words!r} not in the log:\n{self.mh.log()[-3000:]}")
        self.assertEqual(self.listed("mail-bad"), [])
        self.assertIn("the message is delivered as it is", self.mh.log())


if __name__ == "__main__":
    tap.main()
