#!/usr/bin/env python3
"""Benchmark: RETR of 10,000 messages over one POP3 session, mailhub side by
side with Debian's Dovecot pop3d serving the same messages.

Both servers listen on loopback without TLS (so the figures compare the
servers, not OpenSSL), both get a warm-up session first (Dovecot builds its
index then, mailhub warms its page cache), and then each runs ROUNDS timed
sessions of: login, RETR 1..N one at a time (as fetchmail and getmail do),
QUIT; the RETR part is timed.  The best round of each counts.  Both check
the same yescrypt password hash (Dovecot reads mailhub's {CRYPT} hash).  The messages are delivered to
mailhub through its SMTP listener; Dovecot gets exactly the bytes mailhub
then hands out, written to a Maildir as Dovecot's own LDA would write them
(LF line ends, ,S= and ,W= sizes in the file name).

Prints messages/s and MB/s for both and the ratio mailhub/Dovecot (higher
is better for mailhub; the target is at least 1.0x).

Environment: MAILHUB_BIN (set by `make bench`), BENCH_MESSAGES (default
10000), BENCH_ROUNDS (default 3).  Needs Debian's dovecot-pop3d; without it
only mailhub's figures are printed.
"""

import grp
import os
import pwd
import random
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

# runnable on its own: `python3 tests/bench/pop3_retr.py` (the fixture
# finds the built binary; MAILHUB_BIN names another)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))

from mailhub_fixture import Mailhub, need_binary  # noqa: E402

N = int(os.environ.get("BENCH_MESSAGES", "10000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
USER = "bench@example.org"
PASSWORD = "bench-password"
TIMEOUT = 120
DOVECOT = "/usr/sbin/dovecot"


def make_messages(n):
    """n messages of mixed sizes (1 KB to ~200 KB, most a few KB), with
    dot-led lines so that stuffing is exercised; deterministic."""
    rnd = random.Random(1939)
    words = [b"lorem", b"ipsum", b"dolor", b"sit", b"amet", b"mail", b"hub",
             b"pop3", b"retrieve", b"octets", b"."]
    out = []
    for i in range(n):
        r = rnd.random()
        lines = rnd.randint(10, 60) if r < 0.8 else (
            rnd.randint(100, 400) if r < 0.98 else rnd.randint(1500, 3000))
        body = []
        for _ in range(lines):
            line = b" ".join(rnd.choice(words) for _ in range(rnd.randint(1, 14)))
            body.append(line)
        head = (f"From: sender{i % 97}@example.net\r\nTo: {USER}\r\n"
                f"Subject: bench message {i}\r\n"
                f"Message-ID: <bench.{i}@example.net>\r\n"
                "Date: Mon, 23 Nov 2026 08:00:00 +0000\r\n\r\n").encode()
        out.append(head + b"\r\n".join(body) + b"\r\n")
    return out


def deliver_all(mh, messages):
    """Delivers every message through mailhub's SMTP listener, in one
    SMTP session."""
    with smtplib.SMTP("127.0.0.1", mh.port("smtp"), timeout=TIMEOUT) as s:
        s.ehlo("bench.test")
        for m in messages:
            refused = s.sendmail("sender@example.net", [USER], m)
            if refused:
                raise RuntimeError(f"refused: {refused}")


class Client:
    """A minimal POP3 client that reads big chunks, so that the client is
    not what is measured."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=TIMEOUT)
        self.buf = bytearray()

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("server closed the connection")
        self.buf += data

    def line(self):
        for _ in range(1 << 20):
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            self._fill()
        raise RuntimeError("no line")

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        line = self.line()
        if not line.startswith(b"+OK"):
            raise RuntimeError(f"{text.split()[0]}: {line!r}")
        return line

    def multi(self):
        """The body of a multi-line response (stuffed, with its CRLFs),
        found by its terminator without looking at each line."""
        start = 0
        if self.buf.startswith(b".\r\n"):
            del self.buf[:3]
            return b""
        for _ in range(1 << 24):
            i = self.buf.find(b"\r\n.\r\n", start)
            if i >= 0:
                body = bytes(self.buf[:i + 2])
                del self.buf[:i + 5]
                return body
            start = max(0, len(self.buf) - 4)
            self._fill()
        raise RuntimeError("no terminator")

    def close(self):
        self.sock.close()


def unstuff(body):
    lines = body.split(b"\r\n")
    return b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)


def login(port):
    c = Client(port)
    greeting = c.line()
    if not greeting.startswith(b"+OK"):
        raise RuntimeError(f"greeting: {greeting!r}")
    c.cmd(f"USER {USER}")
    c.cmd(f"PASS {PASSWORD}")
    return c


def fetch_all(port):
    """Returns the messages as the server sends them (unstuffed)."""
    c = login(port)
    n = int(c.cmd("STAT").split()[1])
    out = []
    for i in range(1, n + 1):
        c.cmd(f"RETR {i}")
        out.append(unstuff(c.multi()))
    c.cmd("QUIT")
    c.close()
    return out


def session(port, n):
    """One session: login, RETR 1..n, QUIT.  Returns (seconds, octets) of
    the RETR part: the login (a yescrypt hash check on both servers) is
    not what this benchmark compares."""
    c = login(port)
    octets = 0
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        c.cmd(f"RETR {i}")
        octets += len(c.multi())
    secs = time.perf_counter() - t0
    c.cmd("QUIT")
    c.close()
    return secs, octets


def measure(servers, n):
    """Runs ROUNDS timed sessions against each server, taking turns (so
    that a busy moment of the machine hits both alike), after one warm-up
    session each.  servers: [(name, port)].  Returns {name: (secs,
    octets)} of each server's best round."""
    for name, port in servers:
        session(port, n)
    best = {}
    for r in range(ROUNDS):
        for name, port in servers:
            secs, octets = session(port, n)
            print(f"  round {r + 1} {name}: {secs:.3f} s, {octets} octets",
                  flush=True)
            if name not in best or secs < best[name][0]:
                best[name] = (secs, octets)
    return best


def password_hash(mh):
    """mailhub's hash of the bench user ("{CRYPT}$y$..."), which Dovecot
    understands as it is, read from the database (`user show` never prints
    it); {PLAIN} if it cannot be read."""
    import sqlite3
    try:
        con = sqlite3.connect(os.path.join(mh.data_dir, "mailhub.db"))
        try:
            row = con.execute("SELECT password_hash FROM users WHERE address = ?",
                              (USER,)).fetchone()
        finally:
            con.close()
        if row and row[0].startswith("{CRYPT}"):
            return row[0]
    except sqlite3.Error as e:
        print(f"  ({e})")
    print("  (no password hash from mailhub's database: Dovecot uses PLAIN)")
    return "{PLAIN}" + PASSWORD


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    """A private Dovecot instance: its own config in a temporary folder,
    POP3 only, on a loopback port; never the system service."""

    def __init__(self, messages, password_hash):
        self.dir = tempfile.mkdtemp(prefix="mailhub-bench-dovecot.")
        self.port = free_port()
        self.proc = None
        me = pwd.getpwuid(os.getuid())
        if os.getuid() == 0:
            # Dovecot will not run mail processes as root
            mail_user = pwd.getpwnam("dovecot")
            login_user = "dovenull"
        else:
            mail_user = me
            login_user = me.pw_name
        maildir = os.path.join(self.dir, "mail", "Maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(maildir, sub))
        base = int(time.time())
        for i, m in enumerate(messages):
            lf = m.replace(b"\r\n", b"\n")
            name = f"{base}.M{i}P{os.getpid()}.bench,S={len(lf)},W={len(m)}:2,"
            with open(os.path.join(maildir, "cur", name), "wb") as f:
                f.write(lf)
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            f.write(f"{USER}:{password_hash}::::::\n")
        conf = os.path.join(self.dir, "dovecot.conf")
        with open(conf, "w") as f:
            f.write(f"""base_dir = {self.dir}/run
state_dir = {self.dir}/state
log_path = {self.dir}/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = {mail_user.pw_uid}
default_internal_user = {mail_user.pw_name}
default_internal_group = {grp.getgrgid(mail_user.pw_gid).gr_name}
default_login_user = {login_user}
mail_location = maildir:{maildir}
pop3_uidl_format = %08Xu%08Xv
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    port = {self.port}
  }}
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = {self.dir}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={self.dir}/mail
}}
""")
        if os.getuid() == 0:
            for root, dirs, files in os.walk(self.dir):
                for name in dirs + files:
                    os.chown(os.path.join(root, name), mail_user.pw_uid,
                             mail_user.pw_gid)
            os.chown(self.dir, mail_user.pw_uid, mail_user.pw_gid)
        self.conf = conf

    def start(self):
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), 1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("dovecot did not start:\n" + self.log())

    def log(self):
        try:
            with open(os.path.join(self.dir, "dovecot.log")) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def main():
    need_binary("pop3_retr")
    messages = make_messages(N)
    print(f"pop3_retr: {N} messages, "
          f"{sum(len(m) for m in messages) / 1e6:.1f} MB delivered, "
          f"best of {ROUNDS} sessions each")
    mh = Mailhub(listeners=("smtp", "pop3"), plaintext_on_loopback=True)
    dovecot = None
    try:
        mh.cli("domain", "add", "example.org")
        mh.add_user(USER, PASSWORD)
        mh.start()
        t0 = time.perf_counter()
        deliver_all(mh, messages)
        print(f"  delivered through SMTP in {time.perf_counter() - t0:.1f} s",
              flush=True)
        served = fetch_all(mh.port("pop3"))
        if len(served) != N:
            raise RuntimeError(f"mailhub serves {len(served)} messages")
        for sent, got in zip(messages, served):
            if not got.endswith(sent):
                raise RuntimeError("mailhub served different bytes")
        servers = [("mailhub", mh.port("pop3"))]
        if os.access(DOVECOT, os.X_OK):
            dovecot = Dovecot(served, password_hash(mh))
            dovecot.start()
            if fetch_all(dovecot.port) != served:
                raise RuntimeError("dovecot serves other bytes than mailhub")
            servers.append(("dovecot", dovecot.port))
        else:
            print("  dovecot-pop3d is not installed: no comparison")
        best = measure(servers, N)
    finally:
        if dovecot is not None:
            dovecot.close()
        mh.close()

    print(f"{'':10} {'seconds':>9} {'msgs/s':>9} {'MB/s':>8}")
    for name, (secs, octets) in best.items():
        print(f"{name:10} {secs:9.3f} {N / secs:9.0f} "
              f"{octets / secs / 1e6:8.1f}")
    if "dovecot" in best:
        ratio = best["dovecot"][0] / best["mailhub"][0]
        print(f"ratio mailhub/dovecot (throughput): {ratio:.2f}x "
              "(target >= 1.0x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
