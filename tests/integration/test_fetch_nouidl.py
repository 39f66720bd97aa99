"""The fetcher against a POP3 server without UIDL (RFC 1939 §7 makes UIDL
optional; every Debian POP3 server has it, so the upstream here is the small
honest server of pop3_nouidl_server.py, plaintext on loopback).

Such a maildrop cannot be kept: mailhub fetches every message, commits it,
deletes it upstream (DELE, then QUIT), whatever keep says; and a message it
gets a second time (the connection lost before QUIT took effect) is known by
the SHA-256 of its bytes and not delivered again.  What arrived locally is
read over IMAP from the running daemon; what the upstream holds, from the
server.  The accounts are disabled, so that only `upstream run` fetches them.
"""

import hashlib
import imaplib
import os
import re
import sqlite3
import unittest

import tap
from mailhub_fixture import Mailhub, client_tls_context
from pop3_nouidl_server import Pop3Server
from test_fetch import strip_received

DOMAIN = "example.org"
UPSTREAM_USER = "far.away@upstream.test"
UPSTREAM_PASS = "pop-secret"
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


def header(tag, i, extra=b""):
    return (b"From: Sender <s@upstream.test>\r\nTo: far.away@upstream.test\r\n"
            b"Subject: " + tag.encode() + b" " + str(i).encode() + b"\r\n"
            b"Message-ID: <" + tag.encode() + b"." + str(i).encode() +
            b"@upstream.test>\r\n" + extra + b"\r\n")


def maildrop(tag):
    """The awkward cases: lines of dots, 8-bit bytes, no final CRLF (twice,
    once with a last line "."), an empty body, and about 1 MiB."""
    dots = (b"first\r\n.\r\n..\r\n...\r\n.leading dot\r\n..two leading dots\r\n"
            b" . a space first\r\n.\r\n\r\n.\r\nend\r\n.\r\n")
    eight = ("Grüße aus Köln, naïve café, ½ € – ✓\r\n".encode() +
             bytes(range(0x80, 0x100)) + b"\r\n" +
             b"\xff\xfe not UTF-8 at all \xc0\x80\r\n")
    big = []
    for n in range(14000):
        line = b"%05d " % n + b"0123456789abcdefghijklmnopqrstuvwxyz" * 2
        big.append(b"." + line if n % 50 == 0 else line)
    big.insert(7000, b"y" * 65536)
    msgs = [
        header(tag, 1) + dots,
        header(tag, 2, b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
               b"Content-Transfer-Encoding: 8bit\r\n") + eight,
        header(tag, 3) + b"a body\r\nwhose last line has no CRLF",
        header(tag, 4) + b"ends with a dot line without CRLF\r\n.",
        header(tag, 5),
        header(tag, 6) + b"\r\n".join(big) + b"\r\n",
        header(tag, 7) + b"plain\r\n",
    ]
    assert 1000000 < len(msgs[5]) < 1200000
    return msgs


def small(tag, n):
    return [header(tag, i) + b"message " + str(i).encode() + b"\r\n.\r\n"
            for i in range(1, n + 1)]


def on_wire(msg):
    """What POP3 can carry of msg: RFC 1939 §3 ends every line of a reply
    with CRLF, so a message without a final CRLF gets one."""
    return msg if msg.endswith(b"\r\n") else msg + b"\r\n"


class TestFetchNoUidl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # the POP3 upstream is on loopback
        cls.mh = Mailhub(listeners=("imaps",), config_extra="\n[fetch]\nallow_private_hosts = yes\n")
        try:
            cls.mh.cli("domain", "add", DOMAIN)
            cls.mh.start()
        except BaseException:
            cls.mh.cleanup()    # tearDownClass does not run after a failed setUpClass
            raise

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    # ---- helpers -----------------------------------------------------------

    def server(self, pipelining):
        srv = Pop3Server(UPSTREAM_USER, UPSTREAM_PASS, pipelining=pipelining)
        srv.start()
        self.addCleanup(self.check_server, srv)
        return srv

    def check_server(self, srv):
        srv.close()
        self.assertIsNone(srv.error, "the test server failed")
        self.assertEqual(srv.violations, [])

    def owner(self):
        """A local user of this test alone."""
        name = self.id().rsplit(".", 1)[-1].replace("_", "-") + "@" + DOMAIN
        self.mh.add_user(name, "pw-" + name)
        return name

    def add(self, owner, srv, keep):
        args = ["upstream", "add", owner, "--protocol", "pop3", "--host", "127.0.0.1",
                "--port", str(srv.port), "--tls", "none", "--username", UPSTREAM_USER,
                "--password-stdin", "--disabled"]
        if not keep:
            args.append("--delete")
        r = self.mh.cli(*args, input=UPSTREAM_PASS + "\n")
        self.assertIn("will not be checked", r.stderr)
        uid = int(r.stdout.strip())
        # deletion upstream only after the message is committed here
        # (DESIGN.md): checked by the server at each DELE
        srv.on_dele = lambda msg: None if self.hash_known(uid, on_wire(msg)) else \
            "DELE of a message not committed locally: " + repr(msg[:120])
        return uid

    def run_fetch(self, srv, uid, ok=True):
        """`upstream run ID`; the number of new messages (None on failure)
        once the server has seen the session end."""
        ended = len(srv.sessions)
        r = self.mh.cli("upstream", "run", str(uid), check=False, timeout=600)
        for marker in SANITIZER_MARKERS:
            self.assertNotIn(marker, r.stderr)
        self.assertTrue(srv.wait_sessions(ended + 1), "the session never ended")
        self.assertEqual(len(srv.sessions), ended + 1, "one session per run")
        if not ok:
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertRegex(r.stderr, f"upstream {uid}: ")
            return None
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.fullmatch(rf"{uid} fetched=(\d+)\n", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        return int(m.group(1))

    def state(self, uid):
        out = self.mh.cli("upstream", "list").stdout
        for line in out.splitlines():
            if line.startswith(f"{uid} "):
                m = re.search(r" keep=(\S+) .* fetched=(\d+) last_error=(.*)$", line)
                self.assertIsNotNone(m, line)
                return {"keep": m.group(1), "fetched": int(m.group(2)),
                        "last_error": m.group(3)}
        self.fail(f"upstream {uid} not listed: {out}")

    def hash_known(self, uid, raw):
        db = sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"), timeout=30)
        try:
            return db.execute("SELECT 1 FROM upstream_hashes WHERE upstream_id = ?"
                              " AND hash = ?",
                              (uid, hashlib.sha256(raw).hexdigest())).fetchone() is not None
        finally:
            db.close()

    def local(self, owner, uid):
        """The owner's INBOX over IMAP, in UID order, each message without
        the Received field of upstream uid (which every one must have)."""
        m = imaplib.IMAP4_SSL("127.0.0.1", self.mh.port("imaps"),
                              ssl_context=client_tls_context(), timeout=60)
        try:
            m.login(owner, "pw-" + owner)
            typ, data = m.select("INBOX", readonly=True)
            self.assertEqual(typ, "OK", data)
            n = int(data[0])
            if n == 0:
                return []
            typ, data = m.fetch(f"1:{n}", "(BODY.PEEK[])")
            self.assertEqual(typ, "OK", data)
        finally:
            m.logout()
        out = [item[1] for item in data if isinstance(item, tuple)]
        self.assertEqual(len(out), n, "one body per message")
        for msg in out:
            self.assertRegex(msg[:400], rb"Received: from 127\.0\.0\.1\r\n\tby .*"
                             rb"\(mailhub upstream " + str(uid).encode() + rb" .*\r\n"
                             rb"\twith POP3 for <")
        return [strip_received(msg) for msg in out]

    def assert_session(self, s, end, retr, dele):
        """The session asked for UIDL (refused), listed with STAT, got retr
        messages, marked dele deleted and ended as end."""
        verbs = s.verbs()
        self.assertIn("UIDL", verbs)
        self.assertIn("STAT", verbs)
        self.assertLess(verbs.index("UIDL"), verbs.index("STAT"))
        self.assertEqual(verbs.count("RETR"), retr, s.commands[:20])
        self.assertEqual(verbs.count("DELE"), dele, s.commands[:20])
        self.assertEqual(s.end, end, s.commands[-5:])
        # RFC 1939 §6: DELE of what was retrieved, never of anything else
        retrieved = {c for c in s.commands if c.startswith("RETR ")}
        for c in s.commands:
            if c.startswith("DELE "):
                self.assertIn("RETR " + c[5:], retrieved)

    # ---- the cases ---------------------------------------------------------

    def check_fetch_all(self, keep, pipelining):
        owner = self.owner()
        srv = self.server(pipelining)
        msgs = maildrop(owner)
        srv.add_messages(msgs)
        uid = self.add(owner, srv, keep)
        n = len(msgs)

        self.assertEqual(self.run_fetch(srv, uid), n)
        self.assert_session(srv.sessions[-1], "update", n, n)
        self.assertEqual(srv.sessions[-1].deleted, n)
        self.assertEqual(srv.messages(), [], "every message deleted upstream")
        got = self.local(owner, uid)
        self.assertEqual(len(got), n)
        self.assertEqual(sorted(got), sorted(on_wire(m) for m in msgs), "byte-exact")
        st = self.state(uid)
        self.assertEqual(st, {"keep": "yes" if keep else "no", "fetched": n,
                              "last_error": "none"})

        # a second run: an empty maildrop, nothing new
        self.assertEqual(self.run_fetch(srv, uid), 0)
        self.assert_session(srv.sessions[-1], "update", 0, 0)
        self.assertEqual(len(self.local(owner, uid)), n)
        self.assertEqual(self.state(uid)["fetched"], n)

        # new upstream mail: only it arrives
        later = small(owner + "-later", 3)
        srv.add_messages(later)
        self.assertEqual(self.run_fetch(srv, uid), 3)
        self.assertEqual(srv.messages(), [])
        self.assertEqual(sorted(self.local(owner, uid)),
                         sorted(on_wire(m) for m in msgs + later))
        self.assertEqual(self.state(uid), {"keep": "yes" if keep else "no",
                                           "fetched": n + 3, "last_error": "none"})

    def test_keep_mode_fetches_and_deletes(self):
        """keep=yes cannot be honoured without UIDL: fetched, then deleted."""
        self.check_fetch_all(keep=True, pipelining=False)

    def test_delete_mode(self):
        self.check_fetch_all(keep=False, pipelining=True)

    def check_drop_at_quit(self, keep, pipelining):
        owner = self.owner()
        srv = self.server(pipelining)
        msgs = maildrop(owner)
        srv.add_messages(msgs)
        uid = self.add(owner, srv, keep)
        n = len(msgs)

        # the connection drops when QUIT arrives: no UPDATE, nothing deleted
        srv.set_fault("QUIT", 1)
        self.assertIsNone(self.run_fetch(srv, uid, ok=False))
        self.assert_session(srv.sessions[-1], "dropped", n, n)
        self.assertEqual(srv.messages(), msgs, "nothing deleted upstream")
        self.assertEqual(sorted(self.local(owner, uid)), sorted(on_wire(m) for m in msgs))
        st = self.state(uid)
        self.assertEqual(st["fetched"], n)
        self.assertEqual(st["last_error"], "QUIT failed, deletions on the server not "
                         "confirmed: the server closed the connection")

        # the next run gets them all again, delivers none twice, deletes them
        self.assertEqual(self.run_fetch(srv, uid), 0)
        self.assert_session(srv.sessions[-1], "update", n, n)
        self.assertEqual(srv.messages(), [])
        got = self.local(owner, uid)
        self.assertEqual(len(got), n, "each message exactly once")
        self.assertEqual(sorted(got), sorted(on_wire(m) for m in msgs))
        self.assertEqual(self.state(uid), {"keep": "yes" if keep else "no",
                                           "fetched": n, "last_error": "none"})

    def test_keep_mode_dropped_at_quit(self):
        self.check_drop_at_quit(keep=True, pipelining=False)

    def test_delete_mode_dropped_at_quit(self):
        self.check_drop_at_quit(keep=False, pipelining=True)

    def test_dropped_in_a_message(self):
        """The connection lost inside the 3rd message: the two before it
        are kept; the next run skips them and deletes everything."""
        owner = self.owner()
        srv = self.server(pipelining=False)
        msgs = maildrop(owner)
        srv.add_messages(msgs)
        uid = self.add(owner, srv, keep=True)
        srv.set_fault("RETR", 3)
        self.assertIsNone(self.run_fetch(srv, uid, ok=False))
        self.assert_session(srv.sessions[-1], "dropped", 3, 0)
        self.assertEqual(srv.messages(), msgs)
        self.assertEqual(sorted(self.local(owner, uid)),
                         sorted(on_wire(m) for m in msgs[:2]))
        st = self.state(uid)
        self.assertEqual(st["fetched"], 2)
        self.assertRegex(st["last_error"], r"closed the connection in the middle of a message")

        self.assertEqual(self.run_fetch(srv, uid), len(msgs) - 2)
        self.assertEqual(srv.messages(), [])
        self.assertEqual(sorted(self.local(owner, uid)), sorted(on_wire(m) for m in msgs))
        self.assertEqual(self.state(uid)["last_error"], "none")

    def test_two_batches_pipelined(self):
        """More messages than one batch (FETCH_POP3_BATCH, 256): the first
        batch is committed while the second arrives; the connection is lost
        inside the second, then at QUIT; each message still arrives once."""
        owner = self.owner()
        srv = self.server(pipelining=True)
        msgs = small(owner, 300)
        srv.add_messages(msgs)
        uid = self.add(owner, srv, keep=False)
        srv.set_fault("RETR", 280)
        self.assertIsNone(self.run_fetch(srv, uid, ok=False))
        self.assertEqual(srv.sessions[-1].end, "dropped")
        self.assertEqual(srv.messages(), msgs)
        # what arrived whole before the loss is kept
        self.assertEqual(sorted(self.local(owner, uid)), sorted(msgs[:279]))
        self.assertEqual(self.state(uid)["fetched"], 279)

        srv.set_fault("QUIT", 1)
        self.assertIsNone(self.run_fetch(srv, uid, ok=False))
        self.assert_session(srv.sessions[-1], "dropped", 300, 300)
        self.assertEqual(srv.messages(), msgs)
        self.assertEqual(self.state(uid)["fetched"], 300)

        self.assertEqual(self.run_fetch(srv, uid), 0)
        self.assert_session(srv.sessions[-1], "update", 300, 300)
        self.assertEqual(srv.messages(), [])
        got = self.local(owner, uid)
        self.assertEqual(len(got), 300, "each message exactly once")
        self.assertEqual(sorted(got), sorted(msgs))
        self.assertEqual(self.state(uid)["last_error"], "none")


if __name__ == "__main__":
    tap.main()
