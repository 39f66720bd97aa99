#!/usr/bin/env python3
"""SMTP TLS reports (RFC 8460) received about our domains (issue 21): a
reporter POSTs one to the admin listener as RFC 8460 §3's https: method
does (application/tlsrpt+gzip, or +json), it is parsed, kept once per
policy entry about a local domain, and listed by GET
/api/v1/relay/tls-reports; what is not a report, not about us, of another
media type or too large is refused."""

import gzip
import json
import unittest

import tap
from api_util import Client
from mailhub_fixture import Mailhub

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


if __name__ == "__main__":
    tap.main()
