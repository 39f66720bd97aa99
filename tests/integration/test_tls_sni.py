#!/usr/bin/env python3
"""[tls] sni: one certificate per name, as `openssl s_client -servername`
sees it on implicit TLS (imaps) and after STARTTLS (submission): each name
gets its own certificate, a wildcard covers its subdomains, an unknown name
and no name get [tls] cert.  Then the package's certbot deploy hook
(packaging/certbot/mailhub) is run as certbot runs it, with a renewed
certificate: it copies the pair into the sni folder and reloads mailhub
(through systemctl, here a stand-in that sends SIGHUP as the unit's
ExecReload does), and the new certificate is served without a restart."""

import os
import shutil
import stat
import subprocess
import tempfile
import unittest

import tap
from mailhub_fixture import HOSTNAME, Mailhub, SRCDIR
from relay_util import wait_for

HOOK = os.path.join(os.environ.get("MAILHUB_SRCDIR") or SRCDIR, "packaging", "certbot", "mailhub")


def make_pair(dir, cn, names, days=30):
    os.makedirs(dir, exist_ok=True)
    key, cert = os.path.join(dir, "privkey.pem"), os.path.join(dir, "fullchain.pem")
    san = ",".join("DNS:" + n for n in names)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", str(days), "-subj", f"/CN={cn}", "-addext",
                    f"subjectAltName={san}"], check=True, capture_output=True)
    return cert, key


def served(port, servername=None, starttls=None):
    """The subject CN and serial of the certificate the server sends."""
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}"]
    if servername:
        cmd += ["-servername", servername]
    else:
        cmd += ["-noservername"]
    if starttls:
        cmd += ["-starttls", starttls]
    x = subprocess.run(cmd, input=b"", capture_output=True, timeout=30)
    pem = x.stdout.split(b"-----BEGIN CERTIFICATE-----", 1)
    assert len(pem) == 2, x.stdout + x.stderr
    cert = b"-----BEGIN CERTIFICATE-----" + pem[1].split(b"-----END CERTIFICATE-----")[0] + \
        b"-----END CERTIFICATE-----\n"
    info = subprocess.run(["openssl", "x509", "-noout", "-subject", "-serial"], input=cert,
                          capture_output=True, check=True).stdout.decode()
    cn = info.split("CN", 1)[1].split("=", 1)[1].split("\n")[0].strip()
    serial = info.split("serial=", 1)[1].strip()
    return cn, serial


class TestSni(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mailhub-sni.")
        cls.live = os.path.join(cls.tmp, "live")
        make_pair(os.path.join(cls.live, "mail.a.test"), "mail.a.test", ["mail.a.test"])
        make_pair(os.path.join(cls.live, "b.test"), "b.test", ["b.test", "*.b.test"])
        make_pair(os.path.join(cls.live, "soon.test"), "soon.test", ["soon.test"], days=5)
        # certbot's README beside the folders is not a certificate
        with open(os.path.join(cls.live, "README"), "w") as f:
            f.write("certbot's README\n")
        cls.default = make_pair(os.path.join(cls.live, HOSTNAME), HOSTNAME, [HOSTNAME])
        extra = (f"\n[tls]\ncert = {cls.default[0]}\nkey = {cls.default[1]}\n"
                 f"sni = {cls.live}\n")
        cls.mh = Mailhub(listeners=("imaps", "submission", "admin"), config_extra=extra)
        try:
            cls.mh.cli("domain", "add", "a.test")
            cls.mh.add_user("admin@a.test", "secret-admin", admin=True)
            cls.token = cls.mh.cli("token", "create", "admin@a.test").stdout.strip()
            cls.mh.start()
        except BaseException:
            cls.mh.cleanup()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.mh.close()
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_a_certificate_per_name(self):
        imaps, sub = self.mh.port("imaps"), self.mh.port("submission")
        self.assertIn("sni=" + self.live + " certificates=4", self.mh.log())
        self.assertEqual(served(imaps, "mail.a.test")[0], "mail.a.test")
        self.assertEqual(served(imaps, "b.test")[0], "b.test")
        self.assertEqual(served(imaps, "imap.b.test")[0], "b.test")   # the wildcard
        self.assertEqual(served(imaps, HOSTNAME)[0], HOSTNAME)
        self.assertEqual(served(imaps, "unknown.test")[0], HOSTNAME)
        self.assertEqual(served(imaps)[0], HOSTNAME)
        self.assertEqual(served(sub, "mail.a.test", starttls="smtp")[0], "mail.a.test")
        self.assertEqual(served(sub, None, starttls="smtp")[0], HOSTNAME)

    def test_panel_warns(self):
        # the dashboard's status: self-signed and expiring certificates
        import http.client
        import json
        c = http.client.HTTPConnection("127.0.0.1", self.mh.port("admin"), timeout=30)
        c.request("GET", "/api/v1/status", headers={"Authorization": "Bearer " + self.token})
        r = c.getresponse()
        body = json.loads(r.read())
        c.close()
        self.assertEqual(r.status, 200)
        certs = body["certificates"]
        soon = [f for f in certs if "soon.test" in f["text"] and "expires in" in f["text"]]
        self.assertEqual(len(soon), 1, certs)
        self.assertEqual(soon[0]["status"], "fail")
        self.assertRegex(soon[0]["text"], r"expires in [45] days")
        selfsigned = [f for f in certs if "self-signed" in f["text"]]
        self.assertEqual({f["status"] for f in selfsigned}, {"warn"}, certs)
        self.assertEqual(len(selfsigned), 4, certs)     # the default and 3 more

    def test_certbot_hook_reloads(self):
        imaps = self.mh.port("imaps")
        _, old_serial = served(imaps, "mail.a.test")
        # certbot renewed mail.a.test into its own live folder
        lineage = os.path.join(self.tmp, "letsencrypt", "live", "mail.a.test")
        make_pair(lineage, "mail.a.test", ["mail.a.test"], days=90)
        # systemctl as the hook calls it: is-active, then reload (the
        # unit's ExecReload=/bin/kill -HUP $MAINPID)
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir, exist_ok=True)
        calls = os.path.join(self.tmp, "systemctl.calls")
        fake = os.path.join(bindir, "systemctl")
        with open(fake, "w") as f:
            f.write(f"#!/bin/sh\necho \"$@\" >> {calls}\n"
                    f"case \"$1\" in is-active) exit 0 ;; reload) kill -HUP {self.mh.proc.pid} ;; esac\n")
        os.chmod(fake, 0o755)
        self.assertTrue(os.stat(HOOK).st_mode & stat.S_IXUSR, "the hook must be executable")
        env = dict(os.environ, RENEWED_LINEAGE=lineage, MAILHUB_TLS_LIVE=self.live,
                   PATH=bindir + ":" + os.environ["PATH"])
        r = subprocess.run([HOOK], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(calls) as f:
            self.assertEqual(f.read().split("\n")[:2], ["is-active --quiet mailhub",
                                                         "reload mailhub"])
        key = os.path.join(self.live, "mail.a.test", "privkey.pem")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o640)
        new_serial = wait_for(lambda: (lambda s: s if s != old_serial else None)(
            served(imaps, "mail.a.test")[1]), 20)
        self.assertTrue(new_serial, self.mh.log())
        self.assertEqual(served(imaps, "mail.a.test")[0], "mail.a.test")
        self.assertIn("serve SIGHUP: reloading TLS", self.mh.log())
        # the others are served as before
        self.assertEqual(served(imaps, "b.test")[0], "b.test")


if __name__ == "__main__":
    tap.main()
