"""`mailhub serve`: listeners, initialisation, signals (INTERFACE.md)."""

import hashlib
import os
import signal
import socket
import ssl
import subprocess
import time
import unittest

import tap
from mailhub_fixture import Mailhub, client_tls_context, mailhub_bin

GREETINGS = {
    "smtp": b"220",
    "submission": b"220",
    "imap": b"* OK",
    "pop3": b"+OK",
}


def first_line(sock):
    sock.settimeout(10)
    data = b""
    while not data.endswith(b"\n") and len(data) < 4096:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def cert_fingerprint(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with client_tls_context().wrap_socket(raw) as s:
            return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


def replace_certificate(mh):
    """A new self-signed pair where serve finds its certificate."""
    tls = os.path.join(mh.data_dir, "tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-subj", "/CN=reloaded.test", "-days", "2",
                    "-keyout", os.path.join(tls, "key.pem.new"),
                    "-out", os.path.join(tls, "cert.pem.new")],
                   check=True, capture_output=True)
    os.replace(os.path.join(tls, "key.pem.new"), os.path.join(tls, "key.pem"))
    os.replace(os.path.join(tls, "cert.pem.new"), os.path.join(tls, "cert.pem"))


def changed_fingerprint(port, before):
    """The certificate fingerprint on port once it differs from before (a
    few seconds at most), or before."""
    for _ in range(100):
        try:
            after = cert_fingerprint(port)
        except (ssl.SSLError, OSError):
            # a handshake with a listener as it is replaced
            after = before
        if after != before:
            return after
        time.sleep(0.1)
    return before


class ServeTest(unittest.TestCase):
    def test_every_listener_answers(self):
        with Mailhub() as mh:
            mh.start()
            for name in ("smtp", "submission", "imap", "pop3"):
                with socket.create_connection(("127.0.0.1", mh.port(name)), timeout=10) as s:
                    line = first_line(s)
                    self.assertTrue(line.startswith(GREETINGS[name]), f"{name} greeted {line!r}")
                    self.assertTrue(line.endswith(b"\r\n"), f"{name}: {line!r}")
            for name in ("submissions", "imaps", "pop3s"):
                with socket.create_connection(("127.0.0.1", mh.port(name)), timeout=10) as raw:
                    with client_tls_context().wrap_socket(raw) as s:
                        self.assertIn(s.version(), ("TLSv1.2", "TLSv1.3"))
                        line = first_line(s)
                        plain = name[:-1]
                        self.assertTrue(line.startswith(GREETINGS[plain]),
                                        f"{name} greeted {line!r}")
            with socket.create_connection(("127.0.0.1", mh.port("admin")), timeout=10) as s:
                s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                s.settimeout(10)
                reply = b""
                while len(reply) < 65536:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
                self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply[:200])
                self.assertTrue(reply.endswith(b'{"status":"ok"}'), reply[-200:])
            mh.stop()

    def test_serve_initialises_a_fresh_data_dir(self):
        with Mailhub(init=False, listeners=("smtp",)) as mh:
            self.assertFalse(os.path.exists(mh.data_dir))
            mh.start()
            for rel in ("mailhub.db", "blobs", "tls/cert.pem", "tls/key.pem", "secret.key"):
                self.assertTrue(os.path.exists(os.path.join(mh.data_dir, rel)), rel)
            self.assertEqual(os.stat(os.path.join(mh.data_dir, "secret.key")).st_mode & 0o077, 0)
            mh.stop()

    def test_sighup_reloads_the_certificate(self):
        with Mailhub(listeners=("imaps",)) as mh:
            mh.start()
            before = cert_fingerprint(mh.port("imaps"))
            # A new key pair in the configured place, then SIGHUP.
            replace_certificate(mh)
            mh.proc.send_signal(signal.SIGHUP)
            after = changed_fingerprint(mh.port("imaps"), before)
            self.assertNotEqual(before, after)
            self.assertIn("reloading TLS", mh.log())
            mh.stop()

    def test_sighup_reloads_the_admin_certificate(self):
        with Mailhub(listeners=("imaps", "admin"), config_extra="\n[admin]\ntls = yes\n") as mh:
            mh.start()
            port = mh.port("admin")
            before = cert_fingerprint(port)
            self.assertEqual(before, cert_fingerprint(mh.port("imaps")))
            replace_certificate(mh)
            mh.proc.send_signal(signal.SIGHUP)
            after = changed_fingerprint(port, before)
            self.assertNotEqual(before, after)
            self.assertEqual(after, cert_fingerprint(mh.port("imaps")))
            # the new daemon answers requests on the same socket
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                with client_tls_context().wrap_socket(raw) as s:
                    s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n"
                              b"Connection: close\r\n\r\n")
                    reply = b""
                    while len(reply) < 65536:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        reply += chunk
            self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply[:200])
            self.assertNotIn("admin tls reload failed", mh.log())
            mh.stop()

    def test_sigterm_ends_open_sessions(self):
        with Mailhub(listeners=("smtp",), limits={"shutdown_grace": 1}) as mh:
            mh.start()
            idle = socket.create_connection(("127.0.0.1", mh.port("smtp")), timeout=10)
            first_line(idle)
            mh.proc.send_signal(signal.SIGTERM)
            mh.proc.wait(timeout=20)
            self.assertEqual(mh.proc.returncode, 0, mh.log())
            idle.close()
            mh.stop()

    def test_bad_config_fails_with_file_and_line(self):
        with Mailhub(init=False, listeners=(), config_extra="\n[listen]\nsmpt = 25\n") as mh:
            r = subprocess.run([mailhub_bin(), "--config", mh.config_path, "serve"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1)
            self.assertIn(mh.config_path + ":", r.stderr)
            self.assertIn("smpt", r.stderr)

    def test_port_in_use_is_an_error(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            with Mailhub(listeners=()) as mh:
                with open(mh.config_path, "a") as f:
                    f.write(f"[listen]\nsmtp = 127.0.0.1:{port}\n")
                r = subprocess.run([mailhub_bin(), "--config", mh.config_path, "serve"],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 1)
                self.assertIn(f"127.0.0.1:{port}", r.stderr)


if __name__ == "__main__":
    tap.main()
