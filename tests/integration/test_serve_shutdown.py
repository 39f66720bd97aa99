"""`mailhub serve` on SIGTERM (issue 14, finding 12): sessions waiting for a
command are told goodbye at once (SMTP 421 4.3.2, IMAP * BYE, POP3 -ERR)
and closed, parked IDLE sessions too; only a session in the middle of a
transaction (SMTP DATA, an IMAP APPEND literal) gets [limits]
shutdown_grace to finish it.  It once waited the whole grace whenever any
client was connected."""

import signal
import socket
import ssl
import time
import unittest

import tap
from mailhub_fixture import Mailhub, client_tls_context
from smtp_util import inbox

ALICE, ALICE_PW = "alice@example.org", "secret-alice"
GRACE = 30
# what a stop with only idle sessions may take at most here: far below the
# grace, so that waiting for the grace fails the test (the measured time
# is printed; it is well under a second)
STOP_BOUND = 10
NO_DNS = "\n[dns]\nresolver = 127.0.0.1:9\n"
IDLE_SESSIONS = 100
# POP3 sessions in the TRANSACTION state, each with a maildrop of its own
POP3_USERS = 10

# kind: (listener, TLS, what the session does first, goodbye)
KINDS = {
    "smtp": ("smtp", False, "ehlo", b"421 4.3.2"),
    "submission": ("submission", False, "ehlo", b"421 4.3.2"),
    "submissions": ("submissions", True, "ehlo", b"421 4.3.2"),
    "imap": ("imap", False, None, b"* BYE"),
    "imap-login": ("imap", False, "login", b"* BYE"),
    "imaps-login": ("imaps", True, "login", b"* BYE"),
    "imap-idle": ("imap", False, "idle", b"* BYE"),
    "imaps-idle": ("imaps", True, "idle", b"* BYE"),
    "pop3": ("pop3", False, None, b"-ERR"),
    "pop3s-login": ("pop3s", True, "pop3-login", b"-ERR"),
}


class Client:
    """One connection, read line by line."""

    def __init__(self, mh, kind, user=ALICE, timeout=30):
        self.kind = kind
        self.user = user
        listener, tls, self.first, self.goodbye = KINDS[kind]
        sock = socket.create_connection(("127.0.0.1", mh.port(listener)),
                                        timeout=timeout)
        if tls:
            sock = client_tls_context().wrap_socket(sock)
        self.sock = sock
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError(f"{self.kind}: closed; got {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def until(self, prefix):
        for _ in range(100):
            line = self.line()
            if line.startswith(prefix):
                return line
        raise AssertionError(f"{self.kind}: no {prefix!r}")

    def begin(self):
        """Brings the session to where it waits for the next command."""
        if self.first == "ehlo":
            self.send(b"EHLO client.test\r\n")
            self.until(b"250 ")
        elif self.first in ("login", "idle"):
            self.send(f"l LOGIN {ALICE} {ALICE_PW}\r\n".encode())
            self.until(b"l OK")
            if self.first == "idle":
                self.send(b"i IDLE\r\n")
                self.until(b"+ ")
        elif self.first == "pop3-login":
            # RFC 1939 §8: one session per maildrop
            self.send(f"USER {self.user}\r\n".encode())
            self.until(b"+OK")
            self.send(f"PASS {ALICE_PW}\r\n".encode())
            self.until(b"+OK")

    def rest(self):
        """Everything up to the end of the connection."""
        data = self.buf
        self.buf = b""
        for _ in range(1000):
            try:
                chunk = self.sock.recv(4096)
            except (ConnectionResetError, ssl.SSLError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
        return data

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def new_mailhub():
    mh = Mailhub(plaintext_on_loopback=True, config_extra=NO_DNS,
                 limits={"shutdown_grace": GRACE, "connections_per_ip": 300})
    mh.cli("domain", "add", "example.org")
    mh.add_user(ALICE, ALICE_PW)
    for i in range(POP3_USERS):
        mh.add_user(f"pop{i}@example.org", ALICE_PW)
    return mh


def stop_time(mh):
    """Sends SIGTERM and waits for the end; the seconds it took."""
    start = time.monotonic()
    mh.proc.send_signal(signal.SIGTERM)
    mh.proc.wait(timeout=GRACE + 30)
    return time.monotonic() - start


class ShutdownTest(unittest.TestCase):
    def test_idle_sessions_are_told_goodbye_at_once(self):
        with new_mailhub() as mh:
            mh.start()
            clients = []
            try:
                kinds = list(KINDS)
                for i in range(IDLE_SESSIONS):
                    kind = kinds[i % len(kinds)]
                    user = ALICE
                    if kind == "pop3s-login":
                        user = f"pop{i // len(kinds)}@example.org"
                    c = Client(mh, kind, user)
                    clients.append(c)
                    c.begin()
                elapsed = stop_time(mh)
                print(f"# SIGTERM with {IDLE_SESSIONS} idle sessions: stopped in {elapsed:.3f} s "
                      f"(grace {GRACE} s)")
                self.assertEqual(mh.proc.returncode, 0, mh.log())
                missing = []
                for c in clients:
                    data = c.rest()
                    if c.goodbye not in data:
                        missing.append((c.kind, data[-200:]))
                self.assertEqual(missing, [], "sessions without a goodbye")
                self.assertLess(elapsed, STOP_BOUND,
                                "idle sessions kept the daemon for its grace")
                mh.stop()
            finally:
                for c in clients:
                    c.close()

    def test_transactions_finish_within_the_grace(self):
        body = b"".join(b"line %d of a message sent across a restart\r\n" % i
                        for i in range(2000))
        message = (b"From: <bob@remote.test>\r\nTo: <alice@example.org>\r\n"
                   b"Subject: across a restart\r\n\r\n" + body)
        with new_mailhub() as mh:
            mh.start()
            data = Client(mh, "smtp")
            data.begin()
            data.send(b"MAIL FROM:<bob@remote.test>\r\n")
            data.until(b"250")
            data.send(f"RCPT TO:<{ALICE}>\r\n".encode())
            data.until(b"250")
            data.send(b"DATA\r\n")
            data.until(b"354")
            data.send(message[:len(message) // 2])
            append = Client(mh, "imap-login")
            append.begin()
            appended = b"Subject: appended across a restart\r\n\r\n" + body
            append.send(b"a APPEND INBOX {%d}\r\n" % len(appended))
            append.until(b"+")
            append.send(appended[:1000])
            idle = [Client(mh, kind) for kind in ("smtp", "imap-idle", "pop3")]
            for c in idle:
                c.begin()
            start = time.monotonic()
            mh.proc.send_signal(signal.SIGTERM)
            # the idle ones are told goodbye while the transactions go on
            for c in idle:
                self.assertIn(c.goodbye, c.rest(), c.kind)
            self.assertIsNone(mh.proc.poll(), "stopped during a transaction")
            data.send(message[len(message) // 2:] + b".\r\n")
            self.assertTrue(data.line().startswith(b"250 "))
            self.assertIn(b"421 4.3.2", data.rest())
            append.send(appended[1000:] + b"\r\n")
            self.assertTrue(append.until(b"a ").startswith(b"a OK [APPENDUID"))
            self.assertIn(b"* BYE", append.rest())
            mh.proc.wait(timeout=GRACE + 30)
            print(f"# SIGTERM during DATA and APPEND: stopped in "
                  f"{time.monotonic() - start:.3f} s (grace {GRACE} s)")
            mh.stop()
            for c in [data, append] + idle:
                c.close()
            stored = inbox(mh, ALICE)
            self.assertEqual(len(stored), 2, stored)
            self.assertTrue(any(m.endswith(message) for m in stored))
            self.assertTrue(any(m.endswith(appended) for m in stored))


if __name__ == "__main__":
    tap.main()
