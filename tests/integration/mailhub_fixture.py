"""A running mailhub for integration tests.

    from mailhub_fixture import Mailhub

    class T(unittest.TestCase):
        @classmethod
        def setUpClass(cls):
            cls.mh = Mailhub()                  # temp data dir + config, `mailhub init`
            cls.mh.cli("domain", "add", "example.org")
            cls.mh.add_user("alice@example.org", "secret-alice")
            cls.mh.start()                      # `mailhub serve`, waits for every port

        @classmethod
        def tearDownClass(cls):
            cls.mh.close()      # SIGTERM, remove the temp dir; fails on a bad
                                # exit status or a sanitizer report in the log

        def test_x(self):
            s = smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=10)

Every listener is on 127.0.0.1 with a free port picked at start-up;
`port(name)` tells which.  `plaintext_on_loopback` defaults to False so that
tests see the TLS rules; pass True to allow plaintext AUTH from loopback.
`config_extra` is appended to the config file (for [limits] and the like).
The binary is $MAILHUB_BIN (set by `make check` and `make bench`), else the
one built in the checkout (build/mailhub, as README's "Building by hand"
does, or mailhub at its root); the panel's files are $MAILHUB_SRCDIR/static,
else the checkout's.
"""

import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

LISTENERS = ("smtp", "submission", "submissions", "imap", "imaps",
             "pop3", "pop3s", "admin")

HOSTNAME = "mail.test"


SRCDIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                      "..", ".."))


def mailhub_bin():
    path = os.environ.get("MAILHUB_BIN")
    if path:
        return path
    for cand in (os.path.join(SRCDIR, "build", "mailhub"), os.path.join(SRCDIR, "mailhub")):
        if os.access(cand, os.X_OK):
            return cand
    raise FileNotFoundError("no mailhub binary: build it (README, \"Building by hand\") "
                            "or set MAILHUB_BIN=path/to/mailhub")


def need_binary(name):
    """For a script run on its own (a benchmark): without a binary, say so
    in one line and exit."""
    try:
        mailhub_bin()
    except FileNotFoundError as e:
        raise SystemExit(f"{name}: {e}")


def source_dir():
    """The checkout (absolute: the config takes absolute paths only)."""
    return os.path.abspath(os.environ.get("MAILHUB_SRCDIR") or SRCDIR)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n):
    """n different free ports: each socket held until all are bound (one
    at a time, the kernel may hand the same port out twice)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def client_tls_context():
    """A client context that accepts the self-signed test certificate."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Mailhub:
    def __init__(self, listeners=LISTENERS, plaintext_on_loopback=False,
                 config_extra="", limits=None, init=True, small_quarantine=False):
        # small_quarantine: under ASan, a quarantine of 16 MiB instead of
        # 256, for tests that bound the daemon's peak RSS while megabytes
        # pass through buffers already freed
        self.small_quarantine = small_quarantine
        self.dir = tempfile.mkdtemp(prefix="mailhub-it.")
        self.data_dir = os.path.join(self.dir, "data")
        self.config_path = os.path.join(self.dir, "mailhub.conf")
        self.log_path = os.path.join(self.dir, "serve.log")
        self.ports = dict(zip(listeners, free_ports(len(listeners))))
        self.proc = None
        self._log = None
        lines = [
            "[server]",
            f"hostname = {HOSTNAME}",
            f"data_dir = {self.data_dir}",
            "static_dir = " + os.path.join(source_dir(), "static"),
            "",
            "[auth]",
            "plaintext_on_loopback = " + ("yes" if plaintext_on_loopback else "no"),
            "",
        ]
        if self.ports:
            lines.append("[listen]")
        for name, port in self.ports.items():
            lines.append(f"{name} = 127.0.0.1:{port}")
        if limits:
            lines += ["", "[limits]"]
            lines += [f"{k} = {v}" for k, v in limits.items()]
        lines.append("")
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + config_extra + "\n")
        if init:
            self.cli("init", "--hostname", HOSTNAME)

    # ---- the command line ------------------------------------------------

    def cli(self, *args, input=None, check=True, timeout=60):
        """Runs `mailhub --config CONF ARGS...`; returns CompletedProcess."""
        r = subprocess.run([mailhub_bin(), "--config", self.config_path, *args],
                           input=input, capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(
                f"mailhub {' '.join(args)} exited {r.returncode}: {r.stderr}")
        return r

    def add_user(self, address, password, admin=False, quota=None):
        args = ["user", "add", address, "--password-stdin"]
        if admin:
            args.append("--admin")
        if quota is not None:
            args += ["--quota", str(quota)]
        return self.cli(*args, input=password + "\n")

    # ---- the daemon ------------------------------------------------------

    def port(self, name):
        return self.ports[name]

    def start(self, timeout=30):
        self._log = open(self.log_path, "ab")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        if self.small_quarantine:
            env["ASAN_OPTIONS"] += ":quarantine_size_mb=16"
        self.proc = subprocess.Popen(
            [mailhub_bin(), "--config", self.config_path, "serve"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
            env=env)
        deadline = time.monotonic() + timeout
        pending = set(self.ports)
        while pending and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"mailhub serve exited {self.proc.returncode}:\n{self.log()}")
            for name in list(pending):
                try:
                    with socket.create_connection(
                            ("127.0.0.1", self.ports[name]), timeout=1):
                        pending.discard(name)
                except OSError:
                    pass
            if pending:
                time.sleep(0.05)
        if pending:
            self.stop(check=False)
            raise AssertionError(f"listeners never came up: {sorted(pending)}\n{self.log()}")

    def stop(self, check=True):
        """SIGTERM and wait; with check, fails on a bad exit or sanitizer report."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                if check:
                    raise AssertionError("mailhub serve ignored SIGTERM:\n" + self.log())
        code = self.proc.returncode
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None
        text = self.log()
        if check:
            for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                           "ThreadSanitizer"):
                if marker in text:
                    raise AssertionError(f"sanitizer report in serve log:\n{text}")
            if code != 0:
                raise AssertionError(f"mailhub serve exited {code}:\n{text}")

    def repair_after_crash(self):
        """Ages every blob file past fsck's hour (the orphans and strays a
        crash left are removed only then), runs `fsck --repair`, and
        returns what a plain fsck says afterwards."""
        old = time.time() - 7200
        for root, _, files in os.walk(os.path.join(self.data_dir, "blobs")):
            for name in files:
                os.utime(os.path.join(root, name), (old, old))
        self.cli("fsck", "--repair", check=False)
        return self.cli("fsck", check=False)

    def kill(self):
        """SIGKILL, for crash tests."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def wait_indexed(self, timeout=60, gone=False):
        """Waits until the daemon's background indexer has indexed every
        message (no row left in fields_pending: delivery leaves the search
        index to it); gone: and has removed the index rows of the files
        whose last message was expunged (blob_keys_gone, sql/049), which
        it does when it next runs: at an arrival, or when it looks."""
        import sqlite3
        deadline = time.monotonic() + timeout
        db = sqlite3.connect(os.path.join(self.data_dir, "mailhub.db"), timeout=30)
        sql = "SELECT count(*) FROM fields_pending"
        if gone:
            sql += " UNION ALL SELECT count(*) FROM blob_keys_gone"
        try:
            while True:
                n = sum(r[0] for r in db.execute(sql).fetchall())
                if n == 0:
                    return
                if time.monotonic() > deadline:
                    raise AssertionError("%d messages still unindexed" % n)
                time.sleep(0.05)
        finally:
            db.close()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def close(self):
        """stop() with checks, then remove the temporary directory."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def cleanup(self):
        self.stop(check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False
