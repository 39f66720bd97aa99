#!/usr/bin/env python3
"""`mailhub doctor` and GET /api/v1/doctor against unbound serving test
zones: one domain with everything right, and one domain for each
misconfiguration (no MX, an MX elsewhere, no SPF, an SPF that leaves this
server out, a DKIM key not published, a DKIM record with another key, no
DMARC, a malformed MTA-STS record, a malformed TLS-RPT record), each of
which must be named by its check and only by it; the server's checks with
a public address without PTR and one whose PTR names another host, a
certificate expiring in 5 days, one for another name, the self-signed one,
and outbound port 25 open, blocked, and blocked behind a smarthost.  The
route checks in the background: it answers at once, also while a port 25
probe waits its 5 seconds, and says when a check runs."""

import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import tap
from mailhub_fixture import HOSTNAME, Mailhub, free_port, mailhub_bin
from relay_util import Unbound, have_unbound

SKIP = None if have_unbound() else "unbound is not installed (Debian package unbound)"

PUBLIC = "192.0.2.10"
BAD_DOMAINS = {
    # domain: (check that must not be ok, words its finding must hold)
    "nomx.test": ("mx", "No MX record for nomx.test"),
    "wrongmx.test": ("mx", "points at mx.elsewhere.test, not at this server"),
    "nospf.test": ("spf", "has no SPF record"),
    "badspf.test": ("spf", f"gives fail for this server's address {PUBLIC}"),
    "nodkim.test": ("dkim", "is not published"),
    "wrongdkim.test": ("dkim", "does not hold the key this server signs with"),
    "nodmarc.test": ("dmarc", "publishes no DMARC record"),
    "badsts.test": ("mta_sts", "is not valid"),
    "badrpt.test": ("tls_rpt", "is not valid"),
}


def dkim_records(mh, domain):
    """The DKIM TXT records `mailhub domain show` prints (it makes the
    keys), as (name, text) pairs."""
    out = mh.cli("domain", "show", domain).stdout
    recs = []
    for line in out.splitlines():
        if "._domainkey." in line and " IN TXT " in line:
            name, rest = line.split(" IN TXT ", 1)
            recs.append((name.strip(), rest.strip()))
    assert recs, out
    return recs


def zone_for(domain, dkim, mx=True, spf="v=spf1 mx -all", dmarc=True,
             sts="v=STSv1; id=20261206", rpt=None):
    recs = []
    if mx is True:
        recs.append(f"{domain}. MX 10 {HOSTNAME}.")
    elif mx:
        recs.append(f"{domain}. MX 10 {mx}.")
    if spf:
        recs.append(f'{domain}. TXT "{spf}"')
    for name, text in dkim:
        recs.append(f"{name} TXT {text}")
    if dmarc:
        recs.append(f'_dmarc.{domain}. TXT "v=DMARC1; p=none"')
    if sts:
        recs.append(f'_mta-sts.{domain}. TXT "{sts}"')
    recs.append(f'_smtp._tls.{domain}. TXT "{rpt or f"v=TLSRPTv1; rua=mailto:tls@{domain}"}"')
    return recs


def make_cert(dir, name, days):
    key, cert = os.path.join(dir, f"{name}-{days}.key"), os.path.join(dir, f"{name}-{days}.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", str(days), "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=DNS:{name}"], check=True, capture_output=True)
    return cert, key


@unittest.skipIf(SKIP, SKIP)
class TestDoctor(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mailhub-doctor.")
        cls.dns = Unbound([], zones=("test.", "2.0.192.in-addr.arpa."))
        extra = f"\n[dns]\nresolver = {cls.dns.resolver()}\n"
        cls.mh = Mailhub(listeners=("admin",), config_extra=extra)
        try:
            domains = ["good.test", *BAD_DOMAINS]
            for d in domains:
                cls.mh.cli("domain", "add", d)
            dkim = {d: dkim_records(cls.mh, d) for d in domains}
            recs = [f"{HOSTNAME}. A {PUBLIC}",
                    f"10.2.0.192.in-addr.arpa. PTR {HOSTNAME}.",
                    "11.2.0.192.in-addr.arpa. PTR other.test.",
                    "other.test. A 192.0.2.11",
                    "mx.elsewhere.test. A 198.51.100.7"]
            recs += zone_for("good.test", dkim["good.test"])
            # (their SPF names the address: "mx" would leave this server out)
            recs += zone_for("nomx.test", dkim["nomx.test"], mx=False,
                             spf=f"v=spf1 ip4:{PUBLIC} -all")
            recs += zone_for("wrongmx.test", dkim["wrongmx.test"], mx="mx.elsewhere.test",
                             spf=f"v=spf1 ip4:{PUBLIC} -all")
            recs += zone_for("nospf.test", dkim["nospf.test"], spf=None)
            recs += zone_for("badspf.test", dkim["badspf.test"],
                             spf="v=spf1 ip4:198.51.100.1 -all")
            recs += zone_for("nodkim.test", [])
            # another domain's key under this domain's selectors
            recs += zone_for("wrongdkim.test",
                             [(n.replace("good.test", "wrongdkim.test"), t)
                              for n, t in dkim["good.test"]])
            recs += zone_for("nodmarc.test", dkim["nodmarc.test"], dmarc=False)
            recs += zone_for("badsts.test", dkim["badsts.test"], sts="v=STSv1; id=not-valid!")
            recs += zone_for("badrpt.test", dkim["badrpt.test"], rpt="v=TLSRPTv1; rua=nowhere")
            cls.dns.records = recs
            cls.dns.start()
            cls.admin_token = None
        except BaseException:
            cls.mh.cleanup()
            cls.dns.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.mh.close()
        finally:
            cls.dns.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def doctor(self, *args, config=None):
        """[(scope, status, check, text)] from the command's lines, and its
        exit status."""
        cmd = ["doctor", *args]
        if "--probe" not in args:
            cmd.append("--no-probe")
        if config is None:
            r = self.mh.cli(*cmd, check=False)
        else:
            r = subprocess.run([mailhub_bin(), "--config", config, *cmd],
                               capture_output=True, text=True, timeout=60)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        findings, scope = [], None
        for line in r.stdout.splitlines():
            if not line.startswith("  "):
                scope = line.strip()
                continue
            status, check, text = line.split(None, 2)
            findings.append((scope, status, check, text))
        self.assertTrue(findings, r.stdout + r.stderr)
        return findings, r.returncode

    def of(self, findings, scope, check=None):
        return [f for f in findings if f[0] == scope and (check is None or f[2] == check)]

    def test_each_misconfiguration_named(self):
        findings, code = self.doctor()
        self.assertEqual(code, 1)
        out = "\n".join(" ".join(f) for f in findings)
        good = self.of(findings, "good.test")
        self.assertEqual({f[2] for f in good},
                         {"mx", "spf", "dkim", "dmarc", "mta_sts", "tls_rpt"}, out)
        self.assertEqual([f for f in good if f[1] not in ("ok", "info")], [], out)
        self.assertEqual(len(self.of(findings, "good.test", "dkim")), 2, out)  # ed25519 + rsa
        for domain, (check, words) in BAD_DOMAINS.items():
            mine = self.of(findings, domain)
            wrong = [f for f in mine if f[1] not in ("ok", "info")]
            self.assertTrue(wrong, f"{domain}: nothing found\n{out}")
            self.assertEqual({f[2] for f in wrong}, {check}, f"{domain}\n{out}")
            self.assertTrue(any(words in f[3] for f in wrong), f"{domain}: {wrong}")
        # the server: the host name's address, its PTR, the self-signed
        # certificate of `mailhub init`, and how to check from outside
        server = self.of(findings, "this server")
        self.assertEqual(self.of(findings, "this server", "mx_address")[0][1], "ok", out)
        ptr = self.of(findings, "this server", "ptr")
        self.assertEqual([f[1] for f in ptr], ["ok"], out)
        cert = self.of(findings, "this server", "certificate")
        self.assertEqual([f[1] for f in cert], ["warn"], out)
        self.assertIn("self-signed", cert[0][3])
        self.assertIn("nc -vz mail.test 25", self.of(findings, "this server", "inbound")[0][3])
        self.assertEqual(len(server), 5, out)

        # one domain alone, with the advice to publish
        findings, code = self.doctor("nospf.test")
        spf = self.of(findings, "nospf.test", "spf")[0]
        self.assertEqual(spf[1], "fail")
        self.assertIn('nospf.test. TXT "v=spf1 mx -all"', spf[3])
        self.assertEqual(self.of(findings, "good.test"), [])
        r = self.mh.cli("doctor", "nosuch.test", "--no-probe", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a local domain", r.stderr)

    def test_ptr(self):
        # 192.0.2.11's PTR is other.test, which resolves back: a warning
        findings, _ = self.doctor("good.test", "--address", "192.0.2.11")
        ptr = self.of(findings, "this server", "ptr")[0]
        self.assertEqual(ptr[1], "warn", ptr)
        self.assertIn("is other.test, not mail.test", ptr[3])
        mx = self.of(findings, "this server", "mx_address")[0]
        self.assertEqual(mx[1], "fail")
        self.assertIn("not to this server's public address 192.0.2.11", mx[3])
        # 192.0.2.12 has no PTR at all
        findings, _ = self.doctor("good.test", "--address", "192.0.2.12")
        ptr = self.of(findings, "this server", "ptr")[0]
        self.assertEqual(ptr[1], "fail", ptr)
        self.assertIn("no reverse DNS (PTR) name", ptr[3])
        # and SPF, which names only the MX's address, fails for it
        spf = self.of(findings, "good.test", "spf")[0]
        self.assertEqual(spf[1], "fail", spf)

    def config_with_cert(self, cert, key):
        path = os.path.join(self.tmp, os.path.basename(cert) + ".conf")
        with open(self.mh.config_path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text + f"\n[tls]\ncert = {cert}\nkey = {key}\n")
        return path

    def test_certificates(self):
        cert, key = make_cert(self.tmp, HOSTNAME, 5)
        findings, code = self.doctor("good.test", config=self.config_with_cert(cert, key))
        certs = self.of(findings, "this server", "certificate")
        self.assertEqual(code, 1)
        self.assertTrue(any(f[1] == "fail" and "expires in" in f[3] and "day" in f[3]
                            for f in certs), certs)
        cert, key = make_cert(self.tmp, "other.test", 90)
        findings, _ = self.doctor("good.test", config=self.config_with_cert(cert, key))
        certs = self.of(findings, "this server", "certificate")
        self.assertTrue(any(f[1] == "fail" and "is not valid for mail.test" in f[3]
                            for f in certs), certs)
        self.assertFalse(any("expires" in f[3] for f in certs), certs)

    def test_outbound_port_25(self):
        closed = free_port()
        findings, _ = self.doctor("good.test", "--probe", f"127.0.0.1:{closed}")
        f = self.of(findings, "this server", "outbound_25")[0]
        self.assertEqual(f[1], "fail", f)
        self.assertIn("is blocked", f[3])
        self.assertIn("mailhub relay smarthost", f[3])
        with socket.socket() as srv:
            srv.bind(("127.0.0.1", 0))
            srv.listen(1)
            findings, _ = self.doctor("good.test", "--probe", f"127.0.0.1:{srv.getsockname()[1]}")
        f = self.of(findings, "this server", "outbound_25")[0]
        self.assertEqual(f[1], "ok", f)
        # behind a smarthost a blocked port 25 does not matter
        self.mh.cli("relay", "smarthost", "127.0.0.1:2525", "--tls", "starttls")
        try:
            findings, _ = self.doctor("good.test", "--probe", f"127.0.0.1:{closed}")
        finally:
            self.mh.cli("relay", "direct")
        f = self.of(findings, "this server", "outbound_25")[0]
        self.assertEqual(f[1], "info", f)
        self.assertIn("smarthost", f[3])

    def test_api(self):
        token = self.mh.cli("token", "create", "admin@good.test", check=False)
        if token.returncode != 0:
            self.mh.add_user("admin@good.test", "secret-admin", admin=True)
            self.mh.add_user("user@good.test", "secret-user")
            token = self.mh.cli("token", "create", "admin@good.test")
        user_token = self.mh.cli("token", "create", "user@good.test").stdout.strip()
        self.mh.start()
        try:
            admin = token.stdout.strip()
            d = self.api_check("/api/v1/doctor?domain=badspf.test&probe=none", admin)
            spf = [f for f in d["findings"] if f["check"] == "spf"]
            self.assertEqual(spf[0]["domain"], "badspf.test")
            self.assertEqual(spf[0]["status"], "fail")
            self.assertIn(f"for this server's address {PUBLIC}", spf[0]["text"])
            self.assertGreaterEqual(d["fail"], 1)
            self.assertIsNone(d["error"])
            # kept: asked again without run=1, the same findings and time
            status, again = self.api_get("/api/v1/doctor?domain=badspf.test&probe=none", admin)
            self.assertEqual(status, 200)
            self.assertEqual(again, d)
            # another query never checked: nothing yet, and nothing started
            status, other = self.api_get("/api/v1/doctor?domain=good.test&probe=none", admin)
            self.assertEqual((other["findings"], other["checked"], other["running"]),
                             ([], None, False))
            self.assertEqual(self.api_get("/api/v1/doctor?probe=none", user_token)[0], 403)
            self.assertEqual(self.api_get("/api/v1/doctor?domain=nosuch.test&probe=none",
                                          admin)[0], 404)
            self.assertEqual(self.api_get("/api/v1/doctor?run=yes", admin)[0], 422)
        finally:
            self.mh.stop()

    def api_get(self, path, tok):
        c = http.client.HTTPConnection("127.0.0.1", self.mh.port("admin"), timeout=60)
        c.request("GET", path, headers={"Authorization": "Bearer " + tok})
        r = c.getresponse()
        body = r.read().decode()
        c.close()
        return r.status, json.loads(body) if body else None

    def api_check(self, path, tok, timeout=60):
        """GET path&run=1, then polls until the check has ended; each answer
        must come at once."""
        sep = "&" if "?" in path else "?"
        t = time.monotonic()
        status, d = self.api_get(path + sep + "run=1", tok)
        self.assertEqual(status, 200, d)
        self.assertLess(time.monotonic() - t, 1.5)
        deadline = time.monotonic() + timeout
        while d["running"]:
            self.assertLess(time.monotonic(), deadline, d)
            time.sleep(0.1)
            t = time.monotonic()
            status, d = self.api_get(path, tok)
            self.assertEqual(status, 200, d)
            self.assertLess(time.monotonic() - t, 1.5)
        self.assertIsNotNone(d["checked"])
        return d

    def test_api_answers_at_once_while_the_probe_waits(self):
        token = self.mh.cli("token", "create", "admin@good.test", check=False)
        if token.returncode != 0:
            self.mh.add_user("admin@good.test", "secret-admin", admin=True)
            self.mh.add_user("user@good.test", "secret-user")
            token = self.mh.cli("token", "create", "admin@good.test")
        admin = token.stdout.strip()
        # a port that takes no connection: its one-place queue is full, so
        # the kernel drops the probe's SYN and the probe waits its 5 s
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(0)
        fill = []
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(srv.getsockname())
            fill.append(c)
        time.sleep(0.2)
        slow = f"127.0.0.1:{srv.getsockname()[1]}"
        before = len(self.mh.log())
        self.mh.start()
        try:
            path = f"/api/v1/doctor?domain=good.test&probe={slow}"
            t0 = time.monotonic()
            status, d = self.api_get(path + "&run=1", admin)
            self.assertEqual(status, 200, d)
            self.assertLess(time.monotonic() - t0, 1.5)
            self.assertTrue(d["running"])
            self.assertIsNone(d["checked"])
            # while it waits, the route and the rest of the API answer at once;
            # asking again starts no second check
            time.sleep(1)
            for ask in (path, path + "&run=1", "/api/v1/status"):
                t = time.monotonic()
                status, d = self.api_get(ask, admin)
                self.assertEqual(status, 200)
                self.assertLess(time.monotonic() - t, 1.5, ask)
                if ask != "/api/v1/status":
                    self.assertTrue(d["running"], ask)
            self.assertEqual(self.mh.log()[before:].count("web doctor check started"), 1)
            d = self.api_check(path, admin, timeout=30)
            self.assertGreaterEqual(time.monotonic() - t0, 4.5, "the probe did wait")
            f = [f for f in d["findings"] if f["check"] == "outbound_25"][0]
            self.assertEqual(f["status"], "fail", f)
            self.assertIn("is blocked", f["text"])
        finally:
            self.mh.stop()
            for c in fill:
                c.close()
            srv.close()


if __name__ == "__main__":
    tap.main()
