"""What mailhub tells its operator is what it does (issue 22):

- `mailhub domain show` and the API's /domains/{name}/dns give the same
  records, with the listeners' real (here non-standard) ports and the
  autoconfig/autodiscover CNAMEs;
- a connection test whose certificate check fails reports the certificate
  the server presented, and pinning that one then works;
- `mailhub upstream list` ends every line, POP3 accounts show no idle=,
  and a usage's continuation lines are not prefixed with "mailhub";
- the start-up log names each listener once.
"""

import hashlib
import re
import socket
import ssl
import unittest

import tap
from api_util import Client
from mailhub_fixture import Mailhub

ADMIN, ADMIN_PW = "admin@example.org", "admin-pass-1"


def zone_records(text):
    """{(type, name): [values]} of `domain show`'s zone file lines; TXT
    values with their quoted pieces joined."""
    recs = {}
    for line in text.splitlines():
        if not line or line.startswith(";"):
            continue
        name, rest = line.split(" IN ", 1)
        rtype, value = rest.split(" ", 1)
        if rtype == "TXT":
            value = "".join(re.findall(r'"([^"]*)"', value))
        recs.setdefault((rtype, name), []).append(value)
    return recs


class Operator(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # No submission and no pop3: their SRV records say "not offered";
        # the others on the free ports the fixture picked (not 587, 993...).
        cls.mh = Mailhub(listeners=("smtp", "submissions", "imap", "imaps", "pop3s",
                                    "admin"),
                         config_extra="\n[fetch]\nallow_private_hosts = yes\n")
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(ADMIN, ADMIN_PW, admin=True)
        token = cls.mh.cli("token", "create", ADMIN).stdout.strip().split()[-1]
        cls.mh.start()
        cls.admin = Client(cls.mh.port("admin"), token)

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def test_domain_show_is_the_api_records(self):
        api = self.admin.get("/domains/example.org/dns")
        self.assertEqual(api.status, 200, api)
        want = {}
        for r in api.json["records"]:
            want.setdefault((r["type"], r["name"]), []).append(r["value"])
        shown = self.mh.cli("domain", "show", "example.org")
        self.assertEqual(zone_records(shown.stdout), want, shown.stdout)
        self.assertTrue(shown.stdout.endswith("\n"))
        # the real ports, the CNAMEs, and "not offered" for what is off
        for service, listener in (("submissions", "submissions"), ("imap", "imap"),
                                  ("imaps", "imaps"), ("pop3s", "pop3s")):
            self.assertEqual(want[("SRV", f"_{service}._tcp.example.org.")],
                             [f"0 1 {self.mh.port(listener)} mail.test."])
        for service in ("submission", "pop3"):
            self.assertEqual(want[("SRV", f"_{service}._tcp.example.org.")], ["0 0 0 ."])
        self.assertEqual(want[("CNAME", "autoconfig.example.org.")], ["mail.test."])
        self.assertEqual(want[("CNAME", "autodiscover.example.org.")], ["mail.test."])
        self.assertEqual(len([k for k in want if "._domainkey." in k[1]]), 2)

    def test_failed_certificate_check_reports_the_fingerprint(self):
        # mailhub's own IMAPS listener has a self-signed certificate
        port = self.mh.port("imaps")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with ctx.wrap_socket(raw, server_hostname="mail.test") as s:
                der = s.getpeercert(binary_form=True)
        sha = hashlib.sha256(der).hexdigest()
        body = {"protocol": "imap", "host": "127.0.0.1", "port": port, "tls": "implicit",
                "username": "nobody@example.org", "password": "not-this-one"}
        for verify in ("system", "pin:" + "0" * 64):
            with self.subTest(verify=verify):
                t = self.admin.post("/upstreams/test", dict(body, tls_verify=verify))
                self.assertEqual(t.status, 200, t)
                self.assertFalse(t.json["ok"], t)
                self.assertIn("certificate", t.json["error"])
                self.assertEqual(t.json["certificate_sha256"], sha)
        # pinned, the handshake passes and the login is what fails
        t = self.admin.post("/upstreams/test", dict(body, tls_verify="pin:" + sha))
        self.assertFalse(t.json["ok"], t)
        self.assertIn("login failed", t.json["error"])
        self.assertEqual(t.json["certificate_sha256"], sha)

    def test_upstream_list_lines(self):
        add = ["upstream", "add", ADMIN, "--username", "u", "--password-stdin"]
        imap = self.mh.cli(*add, "--host", "imap.example.net", input="pw\n").stdout.strip()
        pop = self.mh.cli(*add, "--host", "pop.example.net", "--protocol", "pop3",
                          "--no-idle", input="pw\n").stdout.strip()
        pop2 = self.mh.cli(*add, "--host", "pop2.example.net", "--protocol", "pop3",
                           input="pw\n").stdout.strip()
        for i in (imap, pop, pop2):
            self.addCleanup(self.mh.cli, "upstream", "del", i)
        out = self.mh.cli("upstream", "list").stdout
        self.assertTrue(out.endswith("\n"), repr(out[-40:]))
        lines = {line.split(" ", 1)[0]: line for line in out.splitlines()}
        self.assertEqual(len(out.splitlines()), 3, out)
        self.assertIn(" idle=yes ", lines[imap])
        for i in (pop, pop2):
            self.assertIn(" protocol=pop3 ", lines[i])
            self.assertNotIn("idle=", lines[i])
        one = self.mh.cli("upstream", "list", ADMIN).stdout
        # the running daemon may try an account between the two lists
        def settled(text):
            return re.sub(r" last_attempt=.*", "", text)
        self.assertEqual(settled(one), settled(out))

    def test_usage_continuation_lines(self):
        out = self.mh.cli("upstream", "--help").stdout
        self.assertNotRegex(out, r"(?m)^\s+mailhub\s+\[")
        self.assertRegex(out, r"(?m)^\s+\[--protocol imap\|pop3\]")

    def test_each_listener_logged_once(self):
        log = self.mh.log()
        for name in ("smtp", "submissions", "imap", "imaps", "pop3s", "admin"):
            with self.subTest(listener=name):
                lines = [line for line in log.splitlines()
                         if re.search(rf"\blisten(er)? {name}\b|\blisten {name}=", line)]
                self.assertEqual(len(lines), 1, "\n".join(lines) or log)
                self.assertIn(f"{name}=127.0.0.1:{self.mh.port(name)}", lines[0])
        self.assertNotIn("web admin listener", log)
        self.assertRegex(log, r"listen smtp=\S+ tls=starttls")
        self.assertRegex(log, r"listen imaps=\S+ tls=implicit")


if __name__ == "__main__":
    tap.main()
