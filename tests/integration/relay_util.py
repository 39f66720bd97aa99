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

    def _server_lines(self, modules):
        return [
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
            f'  module-config: "{modules}"',
            "  access-control: 127.0.0.0/8 allow",
            "  num-threads: 1",
            "  so-reuseport: no",
        ]

    def _write(self):
        lines = self._server_lines("iterator")
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


# ---- TLS policy peers: certificates, a DNSSEC-signed zone, an HTTPS host ----

LDNS_SIGNZONE = shutil.which("ldns-signzone") or "/usr/bin/ldns-signzone"
LDNS_KEYGEN = shutil.which("ldns-keygen") or "/usr/bin/ldns-keygen"


def have_ldns():
    return os.path.exists(LDNS_SIGNZONE) and os.path.exists(LDNS_KEYGEN)


class TestCA:
    """A CA (python3-cryptography) that issues server certificates: good
    ones, ones for another name, expired ones.  ca.path is its PEM."""

    def __init__(self, dir, cn="mailhub policy test CA"):
        import datetime
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        self.dir = dir
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=2))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                                    critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.path = os.path.join(dir, "ca-%d.pem" % id(self))
        with open(self.path, "wb") as f:
            f.write(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, label, names, expired=False, self_signed=False):
        """(chain_path, key_path, leaf_der) for names; the chain file holds
        the leaf and the CA (DANE-TA needs the anchor in the chain)."""
        import datetime
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        if expired:
            nb, na = now - datetime.timedelta(days=10), now - datetime.timedelta(days=3)
        else:
            nb, na = now - datetime.timedelta(days=1), now + datetime.timedelta(days=2)
        subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        b = (x509.CertificateBuilder().subject_name(subj)
             .issuer_name(subj if self_signed else self.cert.subject)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(nb).not_valid_after(na)
             .add_extension(x509.SubjectAlternativeName(
                 [x509.DNSName(n) for n in names]), critical=False))
        cert = b.sign(key if self_signed else self.key, hashes.SHA256())
        chain = os.path.join(self.dir, f"{label}.pem")
        keyp = os.path.join(self.dir, f"{label}.key")
        with open(chain, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
            if not self_signed:
                f.write(self.cert.public_bytes(serialization.Encoding.PEM))
        with open(keyp, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        return chain, keyp, cert

    def ca_der(self):
        from cryptography.hazmat.primitives import serialization
        return self.cert.public_bytes(serialization.Encoding.DER)


def spki_sha256(cert):
    """The SHA-256 of a certificate's SubjectPublicKeyInfo (TLSA x 1 1)."""
    import hashlib
    from cryptography.hazmat.primitives import serialization
    return hashlib.sha256(cert.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()


class ZoneDns(Unbound):
    """unbound as a DNSSEC-validating resolver over zones served from its
    own auth-zones: zones maps an origin ("dane.test.") to its records;
    the origins in signed are signed with ldns-signzone (a new ECDSA key
    each run) and their DS is given to unbound as the trust anchor, so its
    answers for them carry the AD bit; the others are insecure."""

    def __init__(self, zones, signed=(), port=None, ttl=300):
        super().__init__([], zones=(), port=port)
        self.zone_records = zones
        self.signed = set(signed)
        self.ttl = ttl

    def _zonefile(self, origin, records):
        path = os.path.join(self.dir, origin + "zone")
        lines = [f"$ORIGIN {origin}", f"$TTL {self.ttl}",
                 f"@ IN SOA ns.{origin} admin.{origin} 1 3600 600 86400 300",
                 f"@ IN NS ns.{origin}", f"ns.{origin} IN A 127.0.0.1"]
        lines += records
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        if origin not in self.signed:
            return path, None
        run = lambda *a: subprocess.run(a, check=True, capture_output=True,  # noqa: E731
                                        cwd=self.dir, text=True).stdout.strip()
        name = origin.rstrip(".")
        ksk = run(LDNS_KEYGEN, "-a", "ECDSAP256SHA256", "-k", name)
        zsk = run(LDNS_KEYGEN, "-a", "ECDSAP256SHA256", name)
        run(LDNS_SIGNZONE, "-n", path, ksk, zsk)
        with open(os.path.join(self.dir, ksk + ".ds")) as f:
            ds = " ".join(f.read().split())
        ds = ds.replace(" IN DS ", " DS ")
        return path + ".signed", ds

    def _write(self):
        lines = self._server_lines("validator iterator") + [
            # RFC 6761 reserves test.: unbound answers it itself unless told
            '  local-zone: "test." nodefault',
        ]
        auth = []
        for origin, records in self.zone_records.items():
            path, ds = self._zonefile(origin, records)
            if ds:
                lines.append(f'  trust-anchor: "{ds}"')
            else:
                lines.append(f'  domain-insecure: "{origin}"')
            auth += ["auth-zone:", f'  name: "{origin}"', f'  zonefile: "{path}"',
                     "  for-upstream: yes", "  for-downstream: no"]
        path = os.path.join(self.dir, "unbound.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines + auth) + "\n")
        return path


class PolicyServer:
    """An HTTPS server (http.server over ssl) answering
    /.well-known/mta-sts.txt by the Host field: policies maps a host name
    to (status, content type, body).  requests: the Host of each GET.
    It also takes POSTs (TLS reports, RFC 8460 §5.4): posts lists each as
    (host, path, content type, body, status answered); the status is the
    next of post_statuses, 201 once they are used up."""

    def __init__(self, host, port, cert, key, policies):
        self.host, self.port = host, port
        self.cert, self.key = cert, key
        self.policies = policies
        self.requests = []
        self.posts = []
        self.post_statuses = []
        self.httpd = None

    def start(self):
        import http.server
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                h = (self.headers.get("Host") or "").split(":")[0].lower()
                srv.requests.append((h, self.path))
                p = srv.policies.get(h) if self.path == "/.well-known/mta-sts.txt" else None
                if p is None:
                    p = (404, "text/plain", "not here\n")
                status, ctype, body = p
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                h = (self.headers.get("Host") or "").split(":")[0].lower()
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                status = srv.post_statuses.pop(0) if srv.post_statuses else 201
                srv.posts.append((h, self.path, self.headers.get("Content-Type"), body,
                                  status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer((self.host, self.port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
