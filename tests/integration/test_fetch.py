"""The upstream fetcher against a real upstream: a private Dovecot (imapd and
pop3d) on loopback (dovecot_upstream.py), and mailhub's `upstream run` and
`serve`.  What arrived locally is read from mailhub's database and blob
files, and what the upstream holds from Dovecot's Maildirs.
"""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import unittest

import tap
from dovecot_upstream import Dovecot, available
from mailhub_fixture import Mailhub, mailhub_bin

OWNER = "alice@example.org"
OTHER = "bob@example.org"


def sample_messages(tag, n):
    """Messages with the awkward bits: dot lines, 8-bit bytes, a long line,
    an empty body, folded headers."""
    out = []
    for i in range(n):
        body = b"line one\r\n.a line that starts with a dot\r\n..two dots\r\n"
        if i % 3 == 0:
            body += bytes(range(0x80, 0x100)) + b"\r\n"
        if i % 4 == 1:
            body += b"x" * 5000 + b"\r\n"
        if i % 5 == 2:
            body = b""
        out.append(b"From: Sender <s@upstream.test>\r\nTo: u@upstream.test\r\n"
                   b"Subject: " + tag.encode() + b" message " + str(i).encode() +
                   b"\r\n  folded\r\nMessage-ID: <" + tag.encode() + b"." +
                   str(i).encode() + b"@upstream.test>\r\n\r\n" + body)
    return out


def strip_received(data):
    """The message without the Received field mailhub put first."""
    assert data.startswith(b"Received: "), data[:80]
    pos = 0
    while True:
        end = data.index(b"\r\n", pos) + 2
        if data[end:end + 1] not in (b" ", b"\t"):
            return data[end:]
        pos = end


class FetchBase(unittest.TestCase):
    users = {}
    fetch_config = ""     # more [fetch] keys for the class's daemon

    @classmethod
    def setUpClass(cls):
        if not available():
            raise unittest.SkipTest("Dovecot (dovecot-imapd, dovecot-pop3d) is not installed")
        cls.dc = Dovecot(cls.users)
        cls.dc.start()
        try:
            # the Dovecot upstream is on loopback
            cls.mh = Mailhub(listeners=("admin",), config_extra="\n[fetch]\nallow_private_hosts = yes\n" + cls.fetch_config)
            cls.mh.cli("domain", "add", "example.org")
            cls.mh.add_user(OWNER, "secret-alice")
            cls.mh.add_user(OTHER, "secret-bob")
        except BaseException:
            cls.dc.close()    # tearDownClass does not run after a failed setUpClass
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.mh.close()
        finally:
            cls.dc.close()

    def add(self, owner, user, protocol="imap", tls="implicit", keep=True,
            folders=None, target=None, verify=None, password=None, port=None,
            extra=()):
        if port is None:
            name = protocol + ("s" if tls == "implicit" else "")
            port = self.dc.port(name)
        args = ["upstream", "add", owner, "--protocol", protocol, "--host",
                "127.0.0.1", "--port", str(port), "--tls", tls,
                "--tls-verify", verify or "pin:" + self.dc.cert_sha256,
                "--username", user, "--password-stdin", *extra]
        if not keep:
            args.append("--delete")
        if folders:
            args += ["--folders", ",".join(folders)]
        if target:
            args += ["--target", target]
        r = self.mh.cli(*args, input=(password or self.users[user]) + "\n")
        return int(r.stdout.strip())

    def run_fetch(self, upstream_id, check=True):
        r = self.mh.cli("upstream", "run", str(upstream_id), check=check, timeout=600)
        m = re.search(r"fetched=(\d+)", r.stdout)
        return int(m.group(1)) if m else None, r

    def state(self, upstream_id):
        out = self.mh.cli("upstream", "list").stdout
        for line in out.splitlines():
            if line.startswith(f"{upstream_id} "):
                return line
        self.fail(f"upstream {upstream_id} not listed: {out}")

    def db(self):
        return sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"), timeout=30)

    def local(self, owner, mailbox="INBOX", received_from=None):
        """The messages of a local mailbox, without mailhub's Received."""
        with self.db() as db:
            rows = db.execute(
                "SELECT m.blob FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
                " JOIN users u ON u.id = b.user_id WHERE u.address = ? AND b.name = ?"
                " ORDER BY m.uid", (owner, mailbox)).fetchall()
        out = []
        for (blob,) in rows:
            with open(os.path.join(self.mh.data_dir, "blobs", blob[:2], blob), "rb") as f:
                data = f.read()
            if received_from is not None and \
                    f"mailhub upstream {received_from} ".encode() not in data[:300]:
                continue
            out.append(strip_received(data))
        return out

    def count_local(self, owner, mailbox="INBOX"):
        with self.db() as db:
            return db.execute(
                "SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
                " JOIN users u ON u.id = b.user_id WHERE u.address = ? AND b.name = ?",
                (owner, mailbox)).fetchone()[0]


class TestFetch(FetchBase):
    users = {f"u{i}": f"pw{i}" for i in range(1, 16)}

    def check_keep(self, protocol, user):
        msgs = sample_messages(user, 12)
        self.dc.add_messages(user, msgs)
        before = sorted(self.dc.messages(user))
        uid = self.add(OTHER, user, protocol=protocol)
        n, _ = self.run_fetch(uid)
        self.assertEqual(n, 12)
        got = self.local(OTHER, received_from=uid)
        self.assertEqual(sorted(got), sorted(msgs), "fetched byte-exact")
        # a second run (a new process: a restart) fetches nothing again
        n, _ = self.run_fetch(uid)
        self.assertEqual(n, 0)
        self.assertEqual(len(self.local(OTHER, received_from=uid)), 12)
        self.assertEqual(sorted(self.dc.messages(user)), before, "upstream untouched")
        # new upstream mail: only it is fetched
        extra = sample_messages(user + "-later", 2)
        self.dc.add_messages(user, extra)
        n, _ = self.run_fetch(uid)
        self.assertEqual(n, 2)
        self.assertEqual(sorted(self.local(OTHER, received_from=uid)), sorted(msgs + extra))
        self.assertIn("last_error=none", self.state(uid))
        self.assertIn("fetched=14", self.state(uid))

    def test_imap_keep(self):
        self.check_keep("imap", "u1")
        if os.path.isdir(self.dc.maildir("u1", "INBOX")):
            # EXAMINE and BODY.PEEK[]: not even \Seen is set upstream
            cur = os.listdir(os.path.join(self.dc.maildir("u1", "INBOX"), "cur"))
            self.assertFalse([n for n in cur if "S" in n.split(":2,")[-1]], cur)

    def test_pop3_keep(self):
        self.check_keep("pop3", "u2")

    def check_delete(self, protocol, user, tls="implicit"):
        msgs = sample_messages(user, 10)
        self.dc.add_messages(user, msgs)
        uid = self.add(OTHER, user, protocol=protocol, keep=False, tls=tls)
        n, _ = self.run_fetch(uid)
        self.assertEqual(n, 10)
        self.assertEqual(self.dc.messages(user), [], "upstream emptied")
        self.assertEqual(sorted(self.local(OTHER, received_from=uid)), sorted(msgs))
        n, _ = self.run_fetch(uid)
        self.assertEqual(n, 0)

    def test_imap_delete(self):
        self.check_delete("imap", "u3")

    def test_pop3_delete(self):
        self.check_delete("pop3", "u4")

    def test_starttls(self):
        self.check_delete("imap", "u12", tls="starttls")
        self.check_delete("pop3", "u13", tls="starttls")

    def test_folders(self):
        inbox = sample_messages("u5-inbox", 3)
        lists = sample_messages("u5-lists", 4)
        archive = sample_messages("u5-archive", 2)
        self.dc.add_messages("u5", inbox)
        self.dc.add_messages("u5", lists, folder="Lists")
        self.dc.add_messages("u5", archive, folder="Old/Archive")
        a = self.add(OWNER, "u5", folders=["INBOX", "Lists"], target="Upstream")
        b = self.add(OWNER, "u5", folders=["Old/Archive"], target="Upstream/Archive")
        self.assertEqual(self.run_fetch(a)[0], 7)
        self.assertEqual(self.run_fetch(b)[0], 2)
        self.assertEqual(sorted(self.local(OWNER, "Upstream")), sorted(inbox + lists))
        self.assertEqual(sorted(self.local(OWNER, "Upstream/Archive")), sorted(archive))

    def test_uidvalidity_change(self):
        msgs = sample_messages("u6", 5)
        self.dc.add_messages("u6", msgs)
        uid = self.add(OTHER, "u6", target="UV")
        self.assertEqual(self.run_fetch(uid)[0], 5)
        self.dc.set_uidvalidity("u6", "INBOX", 4242)
        later = sample_messages("u6-after", 1)
        self.dc.add_messages("u6", later)
        self.assertEqual(self.run_fetch(uid)[0], 1)
        self.assertEqual(sorted(self.local(OTHER, "UV")), sorted(msgs + later))
        self.assertEqual(self.run_fetch(uid)[0], 0)

    def test_aggregate_three_accounts(self):
        a, b, c = (sample_messages(u, 4) for u in ("u7", "u8", "u9"))
        self.dc.add_messages("u7", a)
        self.dc.add_messages("u8", b)
        self.dc.add_messages("u9", c)
        ids = [self.add(OWNER, "u7", target="All"),
               self.add(OWNER, "u8", protocol="pop3", target="All"),
               self.add(OWNER, "u9", tls="starttls", target="All")]
        r = self.mh.cli("upstream", "run")
        for i in ids:
            self.assertIn(f"{i} fetched=4", r.stdout)
        self.assertEqual(sorted(self.local(OWNER, "All")), sorted(a + b + c))

    def test_dedupe_across_accounts(self):
        same = sample_messages("dup", 2)
        self.dc.add_messages("u10", same + sample_messages("u10", 1))
        self.dc.add_messages("u11", same)
        a = self.add(OWNER, "u10", target="Dedupe", extra=["--dedupe"])
        b = self.add(OWNER, "u11", protocol="pop3", target="Dedupe", extra=["--dedupe"])
        self.assertEqual(self.run_fetch(a)[0], 3)
        self.assertEqual(self.run_fetch(b)[0], 0)
        self.assertEqual(self.count_local(OWNER, "Dedupe"), 3)

    def test_errors_in_state(self):
        wrong_pw = self.add(OTHER, "u14", password="not-the-password")
        n, r = self.run_fetch(wrong_pw, check=False)
        self.assertEqual(r.returncode, 1)
        # in plain words, not the server's own text
        self.assertRegex(self.state(wrong_pw),
                         r"last_error=login failed: the server rejected the username or password$")

        wrong_cert = self.add(OTHER, "u14", verify="system")
        self.run_fetch(wrong_cert, check=False)
        self.assertRegex(self.state(wrong_cert), r"last_error=TLS handshake with 127.0.0.1 failed: .*certificate verify failed")

        wrong_pin = self.add(OTHER, "u14", protocol="pop3", verify="pin:" + "0" * 64)
        self.run_fetch(wrong_pin, check=False)
        self.assertRegex(self.state(wrong_pin), r"last_error=.*does not match the pinned one")

        from mailhub_fixture import free_port
        closed = self.add(OTHER, "u14", port=free_port())
        self.run_fetch(closed, check=False)
        self.assertRegex(self.state(closed), r"last_error=cannot connect to 127.0.0.1 port \d+: .*refused")

        # and the account that works has no error
        good = self.add(OTHER, "u14")
        self.run_fetch(good)
        self.assertIn("last_error=none", self.state(good))


class TestFetchCrash(FetchBase):
    """SIGKILL in the middle of fetching 2,000 messages in delete mode."""
    users = {"c1": "pwc1", "c2": "pwc2"}
    N = 2000

    def crash(self, protocol, user, mailbox):
        msgs = sample_messages(user, self.N)
        self.dc.add_messages(user, msgs)
        uid = self.add(OWNER, user, protocol=protocol, keep=False, target=mailbox)
        p = subprocess.Popen([mailhub_bin(), "--config", self.mh.config_path,
                              "upstream", "run", str(uid)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and p.poll() is None:
            if self.count_local(OWNER, mailbox) >= self.N // 3:
                break
            time.sleep(0.01)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        part = self.count_local(OWNER, mailbox)
        self.assertGreater(part, 0)
        self.assertLess(part, self.N, "killed before the end")
        self.run_fetch(uid)
        got = self.local(OWNER, mailbox)
        self.assertEqual(len(got), self.N, "each message exactly once")
        self.assertEqual(sorted(got), sorted(msgs))
        self.assertEqual(self.dc.messages(user), [], "the upstream holds none")

    def test_crash_imap(self):
        self.crash("imap", "c1", "CrashIMAP")

    def test_crash_pop3(self):
        self.crash("pop3", "c2", "CrashPOP3")


class TestFetchDaemon(FetchBase):
    """The daemon's scheduler: IDLE push and polling."""
    users = {"d1": "pwd1", "d2": "pwd2"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.mh.start()
        except BaseException:
            cls.tearDownClass()
            raise
        # serve starts its workers right after its listeners are up
        deadline = time.monotonic() + 15
        while "fetch started" not in cls.mh.log() and time.monotonic() < deadline:
            time.sleep(0.05)

    def wait_count(self, owner, mailbox, n, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count_local(owner, mailbox) >= n:
                return True
            time.sleep(0.05)
        return False

    def test_idle_push(self):
        if "fetch started" not in self.mh.log():
            self.skipTest("serve does not start the fetcher (serve_workers_start)")
        self.dc.add_messages("d1", sample_messages("d1", 2))
        self.add(OWNER, "d1", target="Idle")
        self.assertTrue(self.wait_count(OWNER, "Idle", 2, 30), self.mh.log())
        time.sleep(1)   # let it enter IDLE
        self.dc.add_messages("d1", sample_messages("d1-pushed", 1))
        self.assertTrue(self.wait_count(OWNER, "Idle", 3, 5),
                        "pushed message not local within 5 s:\n" + self.mh.log())

    def test_poll_and_fetch_now(self):
        if "fetch started" not in self.mh.log():
            self.skipTest("serve does not start the fetcher (serve_workers_start)")
        self.dc.add_messages("d2", sample_messages("d2", 3))
        uid = self.add(OWNER, "d2", protocol="pop3", target="Polled")
        self.assertTrue(self.wait_count(OWNER, "Polled", 3, 30), self.mh.log())
        self.dc.add_messages("d2", sample_messages("d2-now", 1))
        self.mh.cli("upstream", "run", str(uid), "--queue")
        self.assertTrue(self.wait_count(OWNER, "Polled", 4, 15), self.mh.log())


class TestFetchAPI(FetchBase):
    """/api/v1/upstreams as INTERFACE.md shows it."""
    users = {"a1": "pwa1", "a2": "pwa2"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.mh.start()
        except BaseException:
            cls.tearDownClass()
            raise
        cls.alice = cls.mh.cli("token", "create", OWNER).stdout.strip().split()[-1]
        cls.bob = cls.mh.cli("token", "create", OTHER).stdout.strip().split()[-1]

    def api(self, method, path, body=None, token=None):
        import http.client
        import json
        c = http.client.HTTPConnection("127.0.0.1", self.mh.port("admin"), timeout=60)
        headers = {"Authorization": "Bearer " + (token or self.alice)}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        c.request(method, "/api/v1" + path, body=data, headers=headers)
        resp = c.getresponse()
        text = resp.read()
        c.close()
        return resp.status, (json.loads(text) if text else None)

    def setUp(self):
        status, _ = self.api("GET", "/upstreams")
        if status == 404:
            self.skipTest("the /api/v1/upstreams routes are not in web/routes.c yet")

    def settings(self, user, **kw):
        s = {"protocol": "imap", "host": "127.0.0.1", "port": self.dc.port("imaps"),
             "tls": "implicit", "tls_verify": "pin:" + self.dc.cert_sha256,
             "username": user, "password": self.users[user], "folders": ["INBOX"],
             "target": "INBOX", "keep": True, "idle": False, "interval": 300,
             "enabled": True}
        s.update(kw)
        return s

    def test_crud_and_roles(self):
        status, up = self.api("POST", "/upstreams", self.settings("a1", target="Api"))
        self.assertEqual(status, 201, up)
        for k in ("id", "owner", "protocol", "host", "port", "tls", "tls_verify",
                  "username", "folders", "target", "keep", "idle", "interval",
                  "enabled", "state"):
            self.assertIn(k, up)
        self.assertNotIn("password", up)
        self.assertEqual(up["owner"], OWNER)
        self.assertEqual(up["tls_verify"], "pin:" + self.dc.cert_sha256)
        self.assertEqual(set(up["state"]) >= {"last_ok", "last_error", "fetched"}, True)
        uid = up["id"]
        # bob sees nothing of alice's
        self.assertEqual(self.api("GET", f"/upstreams/{uid}", token=self.bob)[0], 404)
        self.assertEqual(self.api("DELETE", f"/upstreams/{uid}", token=self.bob)[0], 404)
        self.assertEqual(self.api("GET", "/upstreams", token=self.bob)[1], [])
        self.assertEqual(self.api("POST", "/upstreams",
                                  dict(self.settings("a1"), owner=OTHER))[0], 403)
        # bad values name the field
        status, p = self.api("POST", "/upstreams", self.settings("a1", tls="maybe"))
        self.assertEqual(status, 422)
        self.assertIn("tls", p["detail"])
        status, p = self.api("POST", "/upstreams", self.settings("a1", tls_verify="pin:12"))
        self.assertEqual(status, 422)
        # patch, then fetch now
        status, up = self.api("PATCH", f"/upstreams/{uid}", {"interval": 600})
        self.assertEqual((status, up["interval"]), (200, 600))
        self.dc.add_messages("a1", sample_messages("a1", 2))
        status, body = self.api("POST", f"/upstreams/{uid}/fetch")
        self.assertEqual(status, 202)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.count_local(OWNER, "Api") < 2:
            time.sleep(0.1)
        self.assertEqual(self.count_local(OWNER, "Api"), 2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            up = self.api("GET", f"/upstreams/{uid}")[1]
            # the count commits with the messages, last_ok after the run
            if up["state"]["fetched"] == 2 and up["state"]["last_ok"] is not None:
                break
            time.sleep(0.1)
        self.assertEqual(up["state"]["fetched"], 2)
        self.assertIsNone(up["state"]["last_error"])
        self.assertIsNotNone(up["state"]["last_ok"])
        self.assertEqual(self.api("DELETE", f"/upstreams/{uid}")[0], 204)
        self.assertEqual(self.api("GET", f"/upstreams/{uid}")[0], 404)

    def test_try_settings(self):
        status, t = self.api("POST", "/upstreams/test", self.settings("a2"))
        self.assertEqual(status, 200, t)
        self.assertTrue(t["ok"], t)
        self.assertIn("INBOX", t["folders"])
        self.assertEqual(t["certificate_sha256"], self.dc.cert_sha256)
        status, t = self.api("POST", "/upstreams/test",
                             self.settings("a2", protocol="pop3", port=self.dc.port("pop3s")))
        self.assertTrue(t["ok"], t)
        status, t = self.api("POST", "/upstreams/test", self.settings("a2", password="wrong"))
        self.assertFalse(t["ok"])
        self.assertIn("login failed", t["error"])
        status, t = self.api("POST", "/upstreams/test", self.settings("a2", tls_verify="system"))
        self.assertFalse(t["ok"])
        self.assertIn("certificate verify failed", t["error"])
        # the certificate it saw, so that the user can pin it at once
        self.assertEqual(t["certificate_sha256"], self.dc.cert_sha256)
        status, t = self.api("POST", "/upstreams/test",
                             self.settings("a2", tls_verify="pin:" + "0" * 64, protocol="pop3",
                                           port=self.dc.port("pop3s")))
        self.assertFalse(t["ok"])
        self.assertEqual(t["certificate_sha256"], self.dc.cert_sha256)
        status, t = self.api("POST", "/upstreams/test",
                             self.settings("a2", tls_verify="pin:" + t["certificate_sha256"]))
        self.assertTrue(t["ok"], t)
        from mailhub_fixture import free_port
        status, t = self.api("POST", "/upstreams/test", self.settings("a2", port=free_port()))
        self.assertFalse(t["ok"])
        self.assertIn("cannot connect", t["error"])
        self.assertEqual(self.api("GET", "/upstreams")[1], [], "nothing saved")


if __name__ == "__main__":
    tap.main()
