#!/usr/bin/env python3
"""The bytes a phone receives to resynchronise a big mailbox after a day
away, with and without QRESYNC (RFC 7162) and COMPRESS=DEFLATE (RFC 4978),
side by side with Debian's Dovecot 2.3 on the same messages.

A mailbox of N messages (BENCH_SYNC_N, default 50,000) is read once by a
client (SELECT (CONDSTORE), UID FETCH 1:* (FLAGS)), which remembers its
UIDVALIDITY and HIGHESTMODSEQ and goes away.  Another session then makes a
day's changes: flags on 1% of the messages, 0.2% expunged.  The first
client comes back three ways, and the bytes it receives are counted:

  full      SELECT, then UID FETCH 1:* (FLAGS): what a client without
            QRESYNC must do to learn flags and expunges;
  qresync   ENABLE QRESYNC, SELECT ... (QRESYNC (uidvalidity modseq));
  +deflate  the same after COMPRESS DEFLATE (compressed bytes).

Both servers run plaintext on loopback, so the counts are IMAP bytes
without TLS records.  Environment: MAILHUB_BIN, BENCH_SYNC_N.
"""

import os
import random
import re
import socket
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import dovecot_util  # noqa: E402
from imap_bench import USER, PASSWORD, load_dovecot, load_mailhub  # noqa: E402
from mailhub_fixture import Mailhub, need_binary  # noqa: E402

N = int(os.environ.get("BENCH_SYNC_N", "50000"))


class Conn:
    """A plaintext client that counts what it receives on the wire."""

    def __init__(self, port, login):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.wire = 0
        self.buf = b""
        self.z = None
        self.line()
        self.cmd(b"l", login)

    def _recv(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise AssertionError("connection closed")
        self.wire += len(data)
        if self.z is not None:
            data = self.z[1].decompress(data)
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            self._recv()
        line, _, self.buf = self.buf.partition(b"\r\n")
        m = re.search(rb"\{(\d+)\}$", line)
        if m:
            n = int(m.group(1))
            while len(self.buf) < n:
                self._recv()
            line += b"\r\n" + self.buf[:n]
            self.buf = self.buf[n:]
            line += self.line()
        return line

    def send(self, data):
        if self.z is not None:
            data = self.z[0].compress(data) + self.z[0].flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def cmd(self, tag, text):
        self.send(tag + b" " + text + b"\r\n")
        out = []
        while True:
            line = self.line()
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise AssertionError(f"{text!r}: {line!r}")
                return out
            out.append(line)

    def compress(self):
        self.cmd(b"z", b"COMPRESS DEFLATE")
        self.z = (zlib.compressobj(wbits=-15), zlib.decompressobj(wbits=-15))

    def close(self):
        self.sock.close()


def code(lines, name):
    for line in lines:
        m = re.search(rb"\[" + name + rb" (\d+)\]", line)
        if m:
            return int(m.group(1))
    raise AssertionError(f"no {name!r}")


def story(port, login):
    """Returns {way: bytes received} for the three ways back."""
    c = Conn(port, login)
    untagged = c.cmd(b"s", b"SELECT Sync (CONDSTORE)")
    uidvalidity, modseq = code(untagged, b"UIDVALIDITY"), code(untagged, b"HIGHESTMODSEQ")
    c.cmd(b"f", b"UID FETCH 1:* (FLAGS)")
    c.close()

    rnd = random.Random(7162)
    other = Conn(port, login)
    other.cmd(b"s", b"SELECT Sync")
    changed = rnd.sample(range(1, N + 1), max(1, N // 100))
    for i in range(0, len(changed), 50):
        uids = b",".join(b"%d" % u for u in changed[i:i + 50])
        other.cmd(b"f", b"UID STORE %s +FLAGS.SILENT (\\Flagged)" % uids)
    gone = rnd.sample(range(1, N + 1), max(1, N // 500))
    uids = b",".join(b"%d" % u for u in gone)
    other.cmd(b"d", b"UID STORE %s +FLAGS.SILENT (\\Deleted)" % uids)
    other.cmd(b"x", b"UID EXPUNGE %s" % uids)
    other.close()

    out = {}
    c = Conn(port, login)
    start = c.wire
    c.cmd(b"s", b"SELECT Sync")
    c.cmd(b"f", b"UID FETCH 1:* (FLAGS)")
    out["full"] = c.wire - start
    c.close()
    for deflate in (False, True):
        c = Conn(port, login)
        if deflate:
            try:
                c.compress()
            except AssertionError:
                # Debian's Dovecot has no COMPRESS unless imap_zlib is on
                out["qresync+deflate"] = None
                c.close()
                continue
        start = c.wire
        c.cmd(b"e", b"ENABLE QRESYNC")
        lines = c.cmd(b"s", b"SELECT Sync (QRESYNC (%d %d))" % (uidvalidity, modseq))
        fetched = sum(1 for line in lines if b" FETCH " in line)
        if fetched < len(changed) - len(gone):
            raise AssertionError(f"QRESYNC told of {fetched} changes")
        out["qresync+deflate" if deflate else "qresync"] = c.wire - start
        c.close()
    return out


def main():
    need_binary("imap_sync_bench")
    msgs = [(b"Subject: %d\r\n\r\nx\r\n" % i, (i % 3 == 0) * 1) for i in range(N)]
    mh = Mailhub(plaintext_on_loopback=True)
    mh.cli("domain", "add", "example.org")
    mh.add_user(USER, PASSWORD)
    load_mailhub(mh, {"Sync": msgs})
    mh.start()
    results = {}
    try:
        results["mailhub"] = story(mh.port("imap"),
                                   b"LOGIN " + USER.encode() + b" " + PASSWORD.encode())
        if dovecot_util.available():
            dc = dovecot_util.Dovecot()
            load_dovecot(dc, {"Sync": msgs})
            dc.start()
            try:
                results["dovecot"] = story(
                    dc.port, b"LOGIN bench " + dovecot_util.PASSWORD.encode())
            finally:
                dc.stop()
    finally:
        mh.close()
    print(f"resync of a {N}-message mailbox after a day (1% flagged, 0.2% expunged),"
          " bytes received:")
    for server, r in results.items():
        z = r["qresync+deflate"]
        print(f"  {server:8s} full {r['full']:>10,d}  qresync {r['qresync']:>9,d}"
              + (f"  qresync+deflate {z:>8,d}  (full / qresync+deflate:"
                 f" {r['full'] / z:.0f}x)" if z else "  (no COMPRESS)"))
    if "dovecot" in results:
        for way in ("full", "qresync", "qresync+deflate"):
            if results["dovecot"][way] and results["mailhub"][way]:
                print(f"  {way}: ratio dovecot / mailhub bytes = "
                      f"{results['dovecot'][way] / results['mailhub'][way]:.2f}")


if __name__ == "__main__":
    main()
