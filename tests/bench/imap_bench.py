#!/usr/bin/env python3
"""Benchmarks of the IMAP server, side by side with Debian's Dovecot 2.3 on
the same machine and the same messages, printed as ratios:

  1. SELECT, then UID FETCH 1:* (FLAGS) on a 100,000-message mailbox;
  2. FETCH ENVELOPE BODYSTRUCTURE of 10,000 messages;
  3. SEARCH TEXT over 20,000 messages;
  4. 1,000 concurrent IDLE sessions over TLS: the memory of the daemon per
     session (Dovecot: all of its processes together, per session).

Both servers serve the same messages from their own storage: mailhub's
database and blobs are filled directly (rows as store_append writes them:
loading 100,000 messages through APPEND, one durable transaction each,
would take the benchmark's whole budget), Dovecot gets a Maildir.  Both
get a warm-up run (Dovecot builds its index and cache then, mailhub fills
its ENVELOPE/BODYSTRUCTURE cache; before that, mailhub's background
indexer is let finish the search index of the rows written directly, as
it has for any mailbox that is not brand new), then ROUNDS timed runs of each part,
mailhub's and Dovecot's taking turns (so that a busy moment of the machine
falls on both alike).  Each part prints the median and the best of its
runs for each server and the ratios of both: Dovecot's time / mailhub's
(higher is better for mailhub; the target is at least 1.5x on the
median), and for memory KiB per session (target: under 100 KiB for
mailhub).

Environment: MAILHUB_BIN, BENCH_ROUNDS (default 5), BENCH_SCALE (default
1.0: multiplies the message counts), BENCH_IDLE (default 1000),
IMAP_BENCH_ONLY (a comma-separated choice of flags, envelope, search,
idle: runs those parts alone, and loads only the messages they need).
"""

import hashlib
import os
import random
import re
import socket
import sqlite3
import ssl
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import dovecot_util  # noqa: E402
from mailhub_fixture import Mailhub, client_tls_context, need_binary  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SCALE = float(os.environ.get("BENCH_SCALE", "1.0"))
N_FLAGS = int(100000 * SCALE)
N_ENV = int(10000 * SCALE)
N_TEXT = int(20000 * SCALE)
N_IDLE = int(os.environ.get("BENCH_IDLE", "1000"))
PARTS = ("flags", "envelope", "search", "idle")
ONLY = [p for p in os.environ.get("IMAP_BENCH_ONLY", "").split(",") if p]
if any(p not in PARTS for p in ONLY):
    sys.exit(f"IMAP_BENCH_ONLY: choose among {', '.join(PARTS)}")
RUN = set(ONLY or PARTS)
USER = "bench@example.org"
PASSWORD = "bench-password"

WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do "
         "eiusmod tempor incididunt ut labore et dolore magna aliqua "
         "mailbox server benchmark quarterly figures").split()


def make_message(i, rnd):
    """A message of a few KB; every 4th is multipart with an attachment,
    every 10th has encoded words; 1 in 50 holds the word 'zyzzyva'."""
    body = "\r\n".join(" ".join(rnd.choice(WORDS) for _ in range(12))
                       for _ in range(rnd.randint(5, 60)))
    if i % 50 == 7:
        body += "\r\nthe rare word Zyzzyva is here\r\n"
    subj = f"Message {i} about {rnd.choice(WORDS)}"
    if i % 10 == 3:
        subj = "=?UTF-8?Q?R=C3=A9sum=C3=A9?= " + subj
    head = (f"From: Sender {i % 97} <sender{i % 97}@example.net>\r\n"
            f"To: {USER}\r\nCc: other{i % 13}@example.org\r\n"
            f"Subject: {subj}\r\n"
            f"Date: Mon, 23 Nov 2026 08:{i % 60:02d}:00 +0000\r\n"
            f"Message-ID: <m{i}@example.net>\r\n")
    if i % 4 == 0:
        return (head + "MIME-Version: 1.0\r\n"
                "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
                "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                + body + "\r\n--b\r\nContent-Type: application/octet-stream;"
                " name=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                "AAECAwQFBgcICQ==\r\n--b--\r\n").encode()
    return (head + "\r\n" + body + "\r\n").encode()


def load_mailhub(mh, boxes):
    """Writes blobs and rows straight into mailhub's store (daemon stopped)."""
    db = sqlite3.connect(os.path.join(mh.data_dir, "mailhub.db"))
    uid_row = db.execute("SELECT id FROM users WHERE address = ?", (USER,)).fetchone()
    blobs = os.path.join(mh.data_dir, "blobs")
    for name, msgs in boxes.items():
        db.execute("INSERT INTO mailboxes (user_id, name, uidvalidity) "
                   "VALUES (?, ?, ?)", (uid_row[0], name, 1000 + len(name)))
        mbid = db.execute("SELECT id FROM mailboxes WHERE user_id = ? AND "
                          "name = ?", (uid_row[0], name)).fetchone()[0]
        rows = []
        for uid, (data, flags) in enumerate(msgs, 1):
            h = hashlib.sha256(data).hexdigest()
            d = os.path.join(blobs, h[:2])
            os.makedirs(d, exist_ok=True)
            path = os.path.join(d, h)
            if not os.path.exists(path):
                with open(path, "wb") as f:
                    f.write(data)
            rows.append((mbid, uid, uid, flags, 1795000000 + uid, len(data), h))
        db.executemany("INSERT INTO messages (mailbox_id, uid, modseq, flags, "
                       "internal_date, size, blob) VALUES (?,?,?,?,?,?,?)", rows)
        db.execute("UPDATE mailboxes SET uidnext = ?, highestmodseq = ?, "
                   "first_recent_uid = ? WHERE id = ?",
                   (len(msgs) + 1, len(msgs) + 1, len(msgs) + 1, mbid))
    db.commit()
    db.close()


def load_dovecot(dc, boxes):
    """Writes a Maildir per mailbox as Dovecot's LDA would (LF line ends)."""
    import pwd
    owner = pwd.getpwnam("dovecot") if os.geteuid() == 0 else None
    root = os.path.join(dc.dir, "mail", "bench")
    for name, msgs in boxes.items():
        d = root if name == "INBOX" else os.path.join(root, "." + name)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        for i, (data, flags) in enumerate(msgs, 1):
            text = data.replace(b"\r\n", b"\n")
            info = ("S" if flags & 1 else "") + ""
            fn = f"{1795000000 + i}.M{i}P1.bench,S={len(text)},W={len(data)}:2,{info}"
            with open(os.path.join(d, "cur", fn), "wb") as f:
                f.write(text)
            t = 1795000000 + i
            os.utime(os.path.join(d, "cur", fn), (t, t))
    if owner:
        for base, dirs, files in os.walk(os.path.join(dc.dir, "mail")):
            os.chown(base, owner.pw_uid, owner.pw_gid)
            for f in files:
                os.chown(os.path.join(base, f), owner.pw_uid, owner.pw_gid)


class Client:
    def __init__(self, port, tls=False):
        s = socket.create_connection(("127.0.0.1", port), timeout=600)
        if tls:
            s = client_tls_context().wrap_socket(s)
        self.s = s
        self.buf = b""
        self.n = 0
        self.read_until(b"\r\n")

    def read_until(self, marker):
        while marker not in self.buf:
            data = self.s.recv(1 << 20)
            if not data:
                raise AssertionError("connection closed")
            self.buf += data
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def cmd(self, text):
        """Sends a command and reads through its tagged reply; the client
        only looks at the end of what arrived, so that it costs little
        next to the server (the tagged line is always the last line)."""
        self.n += 1
        tag = b"b%d " % self.n
        self.s.sendall(tag + text + b"\r\n")
        data = bytearray(self.buf)
        self.buf = b""
        while True:
            if data.endswith(b"\r\n"):
                start = data.rfind(b"\r\n", 0, len(data) - 2)
                start = 0 if start < 0 else start + 2
                if data.startswith(tag, start):
                    break
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise AssertionError("connection closed")
            data += chunk
        last = bytes(data[start:])
        if not last.startswith(tag + b"OK"):
            raise AssertionError(f"{text!r}: {last!r}")
        return bytes(data)

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def once(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def timed(ours, theirs, rounds=ROUNDS):
    """Warms both up, then times rounds runs of each, taking turns:
    ([mailhub's times], [Dovecot's times] or None)."""
    ours()
    if theirs:
        theirs()
    a, b = [], []
    for _ in range(rounds):
        a.append(once(ours))
        if theirs:
            b.append(once(theirs))
    return a, (b if theirs else None)


def bench_flags(port, login):
    def run():
        c = Client(port)
        c.cmd(login)
        c.cmd(b"SELECT Big")
        out = c.cmd(b"UID FETCH 1:* (FLAGS)")
        assert out.count(b" FETCH ") == N_FLAGS, out[-200:]
        c.close()
    return run


def bench_envelope(port, login):
    def run():
        c = Client(port)
        c.cmd(login)
        c.cmd(b"EXAMINE Env")
        out = c.cmd(b"FETCH 1:* (ENVELOPE BODYSTRUCTURE)")
        assert out.count(b"BODYSTRUCTURE") == N_ENV
        c.close()
    return run


def bench_search(port, login, expect):
    def run():
        c = Client(port)
        c.cmd(login)
        c.cmd(b"EXAMINE Text")
        out = c.cmd(b"SEARCH TEXT zyzzyva")
        hits = out.split(b"\r\n")[0].split()[2:]
        assert len(hits) == expect, (len(hits), expect)
        c.close()
    return run


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def bench_idle(port, login, pids_fn, n):
    """Opens n TLS sessions that SELECT INBOX and IDLE; KiB per session."""
    before = rss_kib(pids_fn())
    conns = []
    for _ in range(n):
        c = Client(port, tls=True)
        c.cmd(login)
        c.cmd(b"SELECT INBOX")
        c.s.sendall(b"i IDLE\r\n")
        c.read_until(b"\r\n")
        conns.append(c)
    time.sleep(2)
    after = rss_kib(pids_fn())
    for c in conns:
        c.close()
    return (after - before) / n


def main():
    need_binary("imap_bench")
    rnd = random.Random(3501)
    # the same messages whatever the choice of parts: the generator runs
    # in the same order, and only what a part needs is kept
    big = [(b"Subject: %d\r\n\r\nx\r\n" % i, (i % 3 == 0) * 1)
           for i in range(N_FLAGS if "flags" in RUN else 0)]
    env = [(make_message(i, rnd), 0) for i in range(N_ENV)] \
        if RUN & {"envelope", "search"} else []
    text = [(make_message(i, rnd), 0) for i in range(N_TEXT)] \
        if "search" in RUN else []
    expect = sum(1 for m, _ in text if b"Zyzzyva" in m)
    boxes = {name: msgs for name, part, msgs in (
        ("Big", "flags", big), ("Env", "envelope", env),
        ("Text", "search", text)) if part in RUN}

    # the timed runs are plaintext on loopback on both sides, so that they
    # compare the servers and not OpenSSL; the IDLE sessions use TLS
    mh = Mailhub(plaintext_on_loopback=True,
                 limits={"connections": str(N_IDLE + 100),
                         "connections_per_ip": str(N_IDLE + 100)})
    mh.cli("domain", "add", "example.org")
    mh.add_user(USER, PASSWORD)
    load_mailhub(mh, boxes)
    mh.start()
    # the rows written above are marked for the background indexer (its
    # triggers); a household's mailbox has long been indexed, so the timed
    # parts start once it is done rather than compete with it for the cores
    t0 = time.perf_counter()
    mh.wait_indexed(timeout=900)
    print(f"mailhub's indexer: {len(big) + len(env) + len(text)} messages "
          f"indexed in {time.perf_counter() - t0:.1f} s before the timed parts")
    ours_login = b"LOGIN " + USER.encode() + b" " + PASSWORD.encode()
    theirs_login = b"LOGIN bench " + dovecot_util.PASSWORD.encode()
    results = []
    dc = None
    try:
        if dovecot_util.available():
            cert = os.path.join(mh.data_dir, "tls", "cert.pem")
            key = os.path.join(mh.data_dir, "tls", "key.pem")
            dc = dovecot_util.Dovecot(tls=True, cert=cert, key=key,
                                      max_clients=N_IDLE)
            load_dovecot(dc, boxes)
            dc.start()
        else:
            print("dovecot-imapd not installed: mailhub's figures only")
        for part, name, fn in (
                ("flags", f"SELECT + UID FETCH 1:* (FLAGS), {N_FLAGS} "
                 "messages", bench_flags),
                ("envelope", f"FETCH ENVELOPE BODYSTRUCTURE, {N_ENV} "
                 "messages", bench_envelope),
                ("search", f"SEARCH TEXT, {N_TEXT} messages",
                 lambda p, l: bench_search(p, l, expect))):
            if part not in RUN:
                continue
            ours, theirs = timed(fn(mh.port("imap"), ours_login),
                                 fn(dc.port, theirs_login) if dc else None)
            results.append((name, ours, theirs, "s"))
            print_row(results[-1])
        if "idle" in RUN:
            # a fresh daemon: one that has just served the parts above
            # keeps their freed memory in its heap, and new sessions would
            # reuse it unseen
            mh.stop()
            mh.start()
            ours = bench_idle(mh.port("imaps"), ours_login,
                              lambda: [mh.proc.pid], N_IDLE)
            theirs = (bench_idle(dc.tls_port, theirs_login, dc.pids, N_IDLE)
                      if dc else None)
            results.append((f"{N_IDLE} IDLE sessions over TLS", ours,
                             theirs, "KiB"))
            print_row(results[-1])
    finally:
        if dc:
            dc.stop()
        mh.close()
    timed_parts = [r for r in results if r[3] == "s"]
    targets = []
    if timed_parts:
        fast = all(r[2] is None or
                   statistics.median(r[2]) >= 1.5 * statistics.median(r[1])
                   for r in timed_parts)
        targets.append(f"at least 1.5x Dovecot on the median of each: "
                       f"{'met' if fast else 'NOT met'}")
    if "idle" in RUN:
        idle = results[-1][1]
        targets.append(f"under 100 KiB per idle TLS session: "
                       f"{'met' if idle < 100 else 'NOT met'} ({idle:.0f} KiB)")
    print("targets: " + "; ".join(targets))


def print_row(r):
    name, ours, theirs, unit = r
    if unit == "s":
        med, best = statistics.median(ours), min(ours)
        line = (f"{name}, {len(ours)} runs: mailhub median {med * 1000:.0f}"
                f" ms best {best * 1000:.0f} ms")
        if theirs is not None:
            tmed, tbest = statistics.median(theirs), min(theirs)
            line += (f"; dovecot median {tmed * 1000:.0f} ms best "
                     f"{tbest * 1000:.0f} ms; ratio median {tmed / med:.2f}x"
                     f" best {tbest / best:.2f}x")
    else:
        line = f"{name}: mailhub {ours:.0f} KiB/session"
        if theirs is not None:
            line += (f", dovecot {theirs:.0f} KiB/session, ratio "
                     f"{theirs / ours:.2f}x" if ours > 0 else "")
    print(line, flush=True)


if __name__ == "__main__":
    main()
