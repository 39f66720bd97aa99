"""Peers for the relay tests: a DNS server (Debian's unbound) serving a test
zone on loopback, receiving MTAs (Python's aiosmtpd) bound to 127.0.0.x
addresses, and a look into a mailbox through the store's files.

    dns = Unbound(["remote.test. MX 10 mx1.remote.test.",
                   "mx1.remote.test. A 127.0.0.2"])
    dns.start()                     # dns.port: the UDP/TCP port on 127.0.0.1
    sink = Sink("127.0.0.2", port)  # sink.messages: [(envelope, bytes)]
    sink.start()
"""

import asyncio
import os
import shutil
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import threading
import time

UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"


def have_unbound():
    return os.path.exists(UNBOUND)


def have_aiosmtpd():
    try:
        import aiosmtpd  # noqa: F401
        return True
    except ImportError:
        return False


def free_port_on(addresses):
    """A TCP port that is free on every address (for the MX sinks)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((addresses[0], 0))
            port = s.getsockname()[1]
        ok = True
        for a in addresses:
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind((a, port))
            except OSError:
                ok = False
                break
        if ok:
            return port
    raise RuntimeError("no common free port")


def free_udp_tcp_port():
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port")


class Unbound:
    """unbound in the foreground, authoritative for the zones of records
    (local-zone static: anything not listed is NXDOMAIN).  A zone may be
    (name, type) for another local-zone type, e.g. ("fail.test.", "refuse")
    to answer REFUSED: a server failure for the client."""

    def __init__(self, records, zones=("test.",), interface="127.0.0.1", port=None):
        self.dir = tempfile.mkdtemp(prefix="mailhub-dns.")
        self.interface = interface
        self.port = port if port is not None else free_udp_tcp_port()
        self.records = list(records)
        self.zones = zones
        self.proc = None

    def _write(self):
        lines = [
            "server:",
            f"  interface: {self.interface}",
            f"  port: {self.port}",
            "  do-daemonize: no",
            "  do-ip6: no",
            '  chroot: ""',
            '  username: ""',
            f'  directory: "{self.dir}"',
            '  pidfile: ""',
            "  use-syslog: no",
            '  logfile: ""',
            "  verbosity: 0",
            '  module-config: "iterator"',
            "  access-control: 127.0.0.0/8 allow",
            "  num-threads: 1",
            "  so-reuseport: no",
        ]
        for z in self.zones:
            name, kind = (z, "static") if isinstance(z, str) else z
            lines.append(f'  local-zone: "{name}" {kind}')
        for r in self.records:
            lines.append(f"  local-data: '{r}'")
        path = os.path.join(self.dir, "unbound.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def start(self, timeout=20):
        conf = self._write()
        self.log = open(os.path.join(self.dir, "unbound.log"), "wb")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", conf],
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("unbound exited: " + self.read_log())
            try:
                with socket.create_connection((self.interface, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("unbound did not come up: " + self.read_log())

    def read_log(self):
        try:
            with open(os.path.join(self.dir, "unbound.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc = None
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def resolver(self):
        return f"{self.interface}:{self.port}"


class Sink:
    """An aiosmtpd receiving MTA.  rcpt_reply(address) may return a reply
    line ("550 5.1.1 no") to refuse a recipient, or None to take it.
    tls_context offers STARTTLS; auth (user, password) requires AUTH."""

    def __init__(self, host, port, rcpt_reply=None, tls_context=None,
                 auth=None, name=None, data_delay=0):
        self.host = host
        self.port = port
        self.rcpt_reply = rcpt_reply
        self.tls_context = tls_context
        self.auth = auth
        self.name = name or host
        self.data_delay = data_delay
        self.messages = []        # (mail_from, [rcpts], bytes)
        self.rcpt_calls = []
        self.lock = threading.Lock()
        self.controller = None

    def start(self):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult
        sink = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address,
                                  rcpt_options):
                with sink.lock:
                    sink.rcpt_calls.append(address)
                if sink.rcpt_reply is not None:
                    r = sink.rcpt_reply(address)
                    if r is not None:
                        return r
                envelope.rcpt_tos.append(address)
                return "250 2.1.5 OK"

            async def handle_DATA(self, server, session, envelope):
                if sink.data_delay:
                    await asyncio.sleep(sink.data_delay)
                with sink.lock:
                    sink.messages.append((envelope.mail_from,
                                          list(envelope.rcpt_tos),
                                          bytes(envelope.original_content
                                                or envelope.content)))
                return "250 2.0.0 OK sink"

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (sink.auth is not None and auth_data.login.decode() == sink.auth[0]
                  and auth_data.password.decode() == sink.auth[1])
            return AuthResult(success=ok)

        kwargs = dict(hostname=self.host, port=self.port, server_hostname=self.name,
                      decode_data=False, enable_SMTPUTF8=True,
                      ready_timeout=10)
        if self.tls_context is not None:
            kwargs["tls_context"] = self.tls_context
            kwargs["require_starttls"] = True
        if self.auth is not None:
            kwargs["authenticator"] = authenticator
            kwargs["auth_require_tls"] = True
            kwargs["auth_required"] = True
        self.controller = Controller(Handler(), **kwargs)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def wait_messages(self, n, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= n:
                    return list(self.messages)
            time.sleep(0.05)
        with self.lock:
            return list(self.messages)


def make_cert(dir, name, ip=None):
    """A CA and a server certificate for name (and ip) signed by it, with
    openssl(1).  Returns (ca_path, cert_path, key_path)."""
    ca_key = os.path.join(dir, "ca.key")
    ca = os.path.join(dir, "ca.pem")
    key = os.path.join(dir, "srv.key")
    csr = os.path.join(dir, "srv.csr")
    cert = os.path.join(dir, "srv.pem")
    ext = os.path.join(dir, "ext.cnf")
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca_key, "-out", ca,
        "-days", "2", "-subj", "/CN=mailhub test CA")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
    san = f"DNS:{name}" + (f",IP:{ip}" if ip else "")
    with open(ext, "w") as f:
        f.write(f"subjectAltName={san}\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
        "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext)
    return ca, cert, key


def server_tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def inbox_messages(data_dir, address, mailbox="INBOX"):
    """The raw messages in a user's mailbox, read through the store's files
    (the database for the rows, blobs/ for the bytes)."""
    db = sqlite3.connect(os.path.join(data_dir, "mailhub.db"), timeout=30)
    try:
        rows = db.execute(
            "SELECT m.blob FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
            " JOIN users u ON u.id = b.user_id"
            " WHERE u.address = ? AND b.name = ? ORDER BY m.uid",
            (address, mailbox)).fetchall()
    finally:
        db.close()
    out = []
    for (h,) in rows:
        with open(os.path.join(data_dir, "blobs", h[:2], h), "rb") as f:
            out.append(f.read())
    return out


def queue_rows(data_dir):
    db = sqlite3.connect(os.path.join(data_dir, "mailhub.db"), timeout=30)
    try:
        return db.execute(
            "SELECT address, state, attempts, last_reply FROM queue_recipients"
            " ORDER BY id").fetchall()
    finally:
        db.close()


def wait_for(pred, timeout=30, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return pred()
