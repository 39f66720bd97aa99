#!/usr/bin/env python3
"""What the relay sends to the next hop, byte for byte: every line ends in
CRLF and is dot-stuffed whatever the queued file holds (issue 14.2), over
DATA and over BDAT.  The receiving MTAs are raw SMTP servers on 127.0.0.x
that keep exactly the bytes they were sent; unbound serves their MX
records.

And mail an alias forwards to another domain (issue 15): it leaves with an
SRS sender, which postsrsd (Debian's, when installed) computes the same
from the same secret, and bounces to that address come back in on port 25
and go out to the original sender; forged ones are refused."""

import base64
import hmac
import hashlib
import os
import shutil
import subprocess
import socket
import sqlite3
import threading
import time
import unittest

import tap
from mailhub_fixture import Mailhub
from relay_util import Sink, Unbound, free_port_on, have_aiosmtpd, have_unbound, wait_for
from smtp_util import RawSMTP

SKIP = None if have_unbound() else "unbound is not installed (Debian package unbound)"
POSTSRSD = shutil.which("postsrsd") or "/usr/sbin/postsrsd"

ALICE, ALICE_PW = "alice@example.org", "secret-alice"


class RawSink:
    """An SMTP server that keeps the raw bytes of each message: for DATA
    everything up to the first CRLF.CRLF (as a strict server reads it),
    for BDAT the chunks.  chunking: offer CHUNKING (RFC 3030)."""

    def __init__(self, host, port, chunking=False):
        self.host, self.port, self.chunking = host, port, chunking
        self.messages = []      # (mail_from, [rcpts], bytes, "DATA" | "BDAT")
        self.lock = threading.Lock()
        self.sock = None
        self.stopping = False

    def start(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((self.host, self.port))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        if self.sock is not None:
            self.thread.join(timeout=10)
            self.sock.close()
            self.sock = None

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        conn.settimeout(30)
        buf = b""

        def need(pred):
            nonlocal buf
            while not pred():
                chunk = conn.recv(65536)
                if not chunk:
                    raise EOFError
                buf += chunk

        def line():
            nonlocal buf
            need(lambda: b"\r\n" in buf)
            ln, buf = buf.split(b"\r\n", 1)
            return ln.decode("utf-8", "replace")

        try:
            conn.sendall(b"220 sink ESMTP\r\n")
            mail_from, rcpts, chunks = None, [], b""
            while True:
                cmd = line()
                verb = cmd.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    ext = [b"250-sink", b"250-PIPELINING", b"250-8BITMIME"]
                    if self.chunking:
                        ext.append(b"250-CHUNKING")
                    ext.append(b"250 SIZE 100000000")
                    conn.sendall(b"\r\n".join(ext) + b"\r\n")
                elif verb == "MAIL":
                    mail_from = cmd[cmd.index("<") + 1:cmd.index(">")]
                    rcpts, chunks = [], b""
                    conn.sendall(b"250 2.1.0 ok\r\n")
                elif verb == "RCPT":
                    rcpts.append(cmd[cmd.index("<") + 1:cmd.index(">")])
                    conn.sendall(b"250 2.1.5 ok\r\n")
                elif verb == "DATA":
                    conn.sendall(b"354 go\r\n")
                    # the end is CRLF.CRLF, or ".CRLF" as the first line
                    need(lambda: buf.startswith(b".\r\n") or b"\r\n.\r\n" in buf)
                    if buf.startswith(b".\r\n"):
                        data, buf = b"", buf[3:]
                    else:
                        end = buf.index(b"\r\n.\r\n")
                        data, buf = buf[:end + 2], buf[end + 5:]
                    with self.lock:
                        self.messages.append((mail_from, rcpts, data, "DATA"))
                    conn.sendall(b"250 2.0.0 ok\r\n")
                elif verb == "BDAT":
                    args = cmd.split()
                    size = int(args[1])
                    need(lambda: len(buf) >= size)
                    chunks, buf = chunks + buf[:size], buf[size:]
                    if len(args) > 2 and args[2].upper() == "LAST":
                        with self.lock:
                            self.messages.append((mail_from, rcpts, chunks, "BDAT"))
                    conn.sendall(b"250 2.0.0 ok\r\n")
                elif verb == "QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")
        except (EOFError, OSError, ValueError):
            pass
        finally:
            conn.close()

    def find(self, marker):
        with self.lock:
            for m in self.messages:
                if marker in m[2]:
                    return m
        return None


def assert_clean_lines(tc, data, stuffed):
    """Every CR is followed by LF and every LF preceded by CR; with
    stuffed, no line starts with a single dot."""
    for i, c in enumerate(data):
        if c == 13:
            tc.assertTrue(i + 1 < len(data) and data[i + 1] == 10, f"bare CR at {i}: {data!r}")
        if c == 10:
            tc.assertTrue(i > 0 and data[i - 1] == 13, f"bare LF at {i}: {data!r}")
    tc.assertTrue(data.endswith(b"\r\n"), data[-20:])
    if stuffed:
        for ln in data.split(b"\r\n"):
            if ln.startswith(b"."):
                tc.assertTrue(ln.startswith(b".."), f"line not stuffed: {ln!r}")


def queue_raw_message(mh, sender, rcpt, data):
    """Puts a message into the queue as an earlier version could have left
    it (blob file and rows written directly): the relay picks it up."""
    digest = hashlib.sha256(data).hexdigest()
    d = os.path.join(mh.data_dir, "blobs", digest[:2])
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, digest)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
    db = sqlite3.connect(os.path.join(mh.data_dir, "mailhub.db"), timeout=30)
    try:
        now = int(time.time())
        cur = db.execute(
            "INSERT INTO queue_messages (qid, blob, size, sender, kind, created)"
            " VALUES (?, ?, ?, ?, 'relay', ?)",
            (digest[:16].upper(), digest, len(data), sender, now))
        db.execute(
            "INSERT INTO queue_recipients (message_id, address, next_attempt)"
            " VALUES (?, ?, ?)", (cur.lastrowid, rcpt, now))
        db.commit()
    finally:
        db.close()


@unittest.skipIf(SKIP, SKIP)
class OutboundLineEnds(unittest.TestCase):
    IPS = ["127.0.0.21", "127.0.0.22"]

    @classmethod
    def setUpClass(cls):
        cls.mx_port = free_port_on(cls.IPS)
        cls.dns = Unbound(["lines.test. MX 10 mx.lines.test.",
                           "mx.lines.test. A 127.0.0.21",
                           "chunks.test. MX 10 mx.chunks.test.",
                           "mx.chunks.test. A 127.0.0.22"])
        cls.dns.start()
        extra = (f"\n[dns]\nresolver = {cls.dns.resolver()}\n"
                 f"[relay]\nmx_port = {cls.mx_port}\nretry_first = 1\nretry_max = 2\n")
        cls.mh = Mailhub(listeners=("smtp", "submission"), config_extra=extra)
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(ALICE, ALICE_PW)
        cls.sinks = {"lines": RawSink("127.0.0.21", cls.mx_port),
                     "chunks": RawSink("127.0.0.22", cls.mx_port, chunking=True)}
        try:
            for s in cls.sinks.values():
                s.start()
            cls.mh.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.mh.close()
        finally:
            for s in cls.sinks.values():
                s.stop()
            cls.dns.stop()

    # stored bytes with every kind of bad line end, and dots after each
    STORED = (b"Subject: %s\r\n\r\nbare CR\r.\rMAIL FROM:<evil@lines.test>\r\n"
              b"bare LF\n.\nRCPT TO:<victim@lines.test>\r\n"
              b"mixed\r\r\n.\r\nDATA\r\n"
              b"last line without an end\r")

    def test_data_lines_crlf_and_stuffed(self):
        queue_raw_message(self.mh, ALICE, "bob@lines.test", self.STORED % b"over-data")
        got = wait_for(lambda: self.sinks["lines"].find(b"over-data"), timeout=60)
        self.assertIsNotNone(got, self.mh.log())
        frm, rcpts, data, how = got
        self.assertEqual((frm, rcpts, how), (ALICE, ["bob@lines.test"], "DATA"))
        # the whole message arrived as one message: nothing after a "."
        # became commands at the next hop
        self.assertIn(b"last line without an end\r\n", data)
        self.assertEqual(len(self.sinks["lines"].messages), 1)
        assert_clean_lines(self, data, stuffed=True)
        self.assertIn(b"bare CR\r\n..\r\nMAIL FROM:<evil@lines.test>\r\n", data)
        self.assertIn(b"bare LF\r\n..\r\nRCPT TO:<victim@lines.test>\r\n", data)

    def test_bdat_lines_crlf(self):
        queue_raw_message(self.mh, ALICE, "bob@chunks.test", self.STORED % b"over-bdat")
        got = wait_for(lambda: self.sinks["chunks"].find(b"over-bdat"), timeout=60)
        self.assertIsNotNone(got, self.mh.log())
        frm, rcpts, data, how = got
        self.assertEqual((frm, rcpts, how), (ALICE, ["bob@chunks.test"], "BDAT"))
        assert_clean_lines(self, data, stuffed=False)
        # BDAT carries dots as they are; the announced size was exact
        self.assertIn(b"bare CR\r\n.\r\nMAIL FROM:<evil@lines.test>\r\n", data)
        self.assertTrue(data.endswith(b"last line without an end\r\n"))
        # the peer's 250 counted as delivered (the size matched what came)
        self.assertTrue(wait_for(lambda: "to=bob@chunks.test host=mx.chunks.test[127.0.0.22] status=delivered"
                                 in self.mh.log()), self.mh.log())


def srs_secret(data_dir):
    """The SRS secret mailhub derives from data_dir/secret.key (srs.c):
    base64(HMAC-SHA256(key, "mailhub srs v1"))."""
    with open(os.path.join(data_dir, "secret.key"), "rb") as f:
        key = f.read()
    return base64.b64encode(hmac.new(key, b"mailhub srs v1", hashlib.sha256).digest())


def postsrsd_query(port, address):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"get {address}\n".encode())
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    return reply.decode().strip()


@unittest.skipIf(SKIP or not have_aiosmtpd(), SKIP or "aiosmtpd is not installed")
class SRS(unittest.TestCase):
    IPS = ["127.0.0.23", "127.0.0.24"]

    @classmethod
    def setUpClass(cls):
        cls.mx_port = free_port_on(cls.IPS)
        cls.dns = Unbound(["remote.test. MX 10 mx.remote.test.",
                           "mx.remote.test. A 127.0.0.23",
                           "orig.test. MX 10 mx.orig.test.",
                           "mx.orig.test. A 127.0.0.24"])
        cls.dns.start()
        extra = (f"\n[dns]\nresolver = {cls.dns.resolver()}\n"
                 f"[relay]\nmx_port = {cls.mx_port}\nretry_first = 1\nretry_max = 2\n")
        cls.mh = Mailhub(listeners=("smtp",), config_extra=extra)
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(ALICE, ALICE_PW)
        cls.mh.cli("alias", "add", "fwd@example.org", "friend@remote.test")
        cls.mh.cli("alias", "add", "both@example.org", f"{ALICE},friend@remote.test")
        cls.sinks = {"remote": Sink("127.0.0.23", cls.mx_port),
                     "orig": Sink("127.0.0.24", cls.mx_port)}
        try:
            for s in cls.sinks.values():
                s.start()
            cls.mh.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.mh.close()
        finally:
            for s in cls.sinks.values():
                s.stop()
            cls.dns.stop()

    def received(self, sink, marker):
        def find():
            for m in self.sinks[sink].messages:
                if marker in m[2]:
                    return m
            return None
        got = wait_for(find, timeout=60)
        self.assertIsNotNone(got, self.mh.log())
        return got

    def forward(self, subject, rcpt="fwd@example.org", sender="sender@orig.test"):
        r = RawSMTP(self.mh.port("smtp"))
        r.cmd("EHLO client.test")
        self.assertEqual(r.cmd(f"MAIL FROM:<{sender}>")[0], 250)
        self.assertEqual(r.cmd(f"RCPT TO:<{rcpt}>")[0], 250)
        self.assertEqual(r.cmd("DATA")[0], 354)
        code, _ = r.cmd(f"Subject: {subject}\r\n\r\nhello\r\n.")
        self.assertEqual(code, 250)
        r.close()
        return self.received("remote", f"Subject: {subject}".encode())

    def bounce(self, rcpt, subject):
        r = RawSMTP(self.mh.port("smtp"))
        r.cmd("EHLO mx.remote.test")
        self.assertEqual(r.cmd("MAIL FROM:<>")[0], 250)
        code, text = r.cmd(f"RCPT TO:<{rcpt}>")
        if code == 250:
            self.assertEqual(r.cmd("DATA")[0], 354)
            code, text = r.cmd(f"Subject: {subject}\r\n\r\nundeliverable\r\n.")
        r.close()
        return code, text

    def test_forward_has_srs_sender_and_bounce_returns(self):
        frm, rcpts, _ = self.forward("srs forward")
        self.assertEqual(rcpts, ["friend@remote.test"])
        self.assertRegex(frm, r"^SRS0=[A-Za-z0-9+/]{4}=[A-Z2-7]{2}=orig\.test=sender@example\.org$")
        # the bounce to it goes back to the original sender
        code, _ = self.bounce(frm, "srs bounce")
        self.assertEqual(code, 250)
        bfrm, brcpts, _ = self.received("orig", b"Subject: srs bounce")
        self.assertEqual((bfrm, brcpts), ("<>", ["sender@orig.test"]))
        # an MTA that lowercased it: still good
        code, _ = self.bounce(frm.lower(), "srs bounce lowercased")
        self.assertEqual(code, 250)
        self.received("orig", b"Subject: srs bounce lowercased")

    def test_forged_srs_refused(self):
        frm, _, _ = self.forward("srs forge")
        h = frm[5:9]
        forged = [frm.replace(h, "AAAA" if h != "AAAA" else "BBBB", 1),     # hash
                  frm.replace("=orig.test=", "=evil.test=", 1),             # host
                  frm.replace("=sender@", "=victim@", 1),                   # user
                  "SRS0=abcd=AA=orig.test=sender@example.org",              # old, forged
                  "SRS0=garbage@example.org"]
        for address in forged:
            code, text = self.bounce(address, "forged")
            self.assertEqual((code, text[0][:5]), (550, "5.1.1"), address)

    def test_local_and_forward_and_local_sender(self):
        """A local copy keeps the real sender; a local sender is not
        rewritten (we send for our own domains anyway)."""
        frm, _, _ = self.forward("srs both", rcpt="both@example.org")
        self.assertTrue(frm.startswith("SRS0="), frm)
        frm, _, _ = self.forward("srs local sender", sender=ALICE)
        self.assertEqual(frm, ALICE)

    @unittest.skipUnless(os.path.exists(POSTSRSD), "postsrsd is not installed (Debian package postsrsd)")
    def test_same_as_postsrsd(self):
        """postsrsd with mailhub's secret writes the same address and
        reverses ours."""
        tmp = os.path.join(self.mh.dir, "postsrsd")
        os.makedirs(tmp, exist_ok=True)
        secret = os.path.join(tmp, "secret")
        with open(secret, "wb") as f:
            f.write(srs_secret(self.mh.data_dir) + b"\n")
        os.chmod(secret, 0o600)
        fport, rport = free_port_on(["127.0.0.1"]), free_port_on(["127.0.0.1"])
        while rport == fport:
            rport = free_port_on(["127.0.0.1"])
        proc = subprocess.Popen([POSTSRSD, f"-s{secret}", "-dexample.org", "-l127.0.0.1",
                                 f"-f{fport}", f"-r{rport}", "-4"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            def up():
                try:
                    return postsrsd_query(fport, "x@orig.test").startswith("200")
                except OSError:
                    return False
            self.assertTrue(wait_for(up, timeout=20))
            frm, _, _ = self.forward("srs vs postsrsd")
            self.assertEqual(postsrsd_query(fport, "sender@orig.test"), f"200 {frm}")
            self.assertEqual(postsrsd_query(rport, frm), "200 sender@orig.test")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    tap.main()
