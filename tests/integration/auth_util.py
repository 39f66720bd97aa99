"""Raw logins over IMAP, POP3 and SMTP AUTH for the authentication tests:
one TLS connection from a chosen loopback source address, one login, and
the server's verdict sorted into a word.

    c = Login("imap", mh.port("imaps"), source="127.0.44.1")
    c.login("alice@example.org", "secret")   # "ok", "failed" or "refused"

"failed" means the server checked the credentials and said no (IMAP
[AUTHENTICATIONFAILED], POP3 [AUTH] authentication failed, SMTP 535);
"refused" means it answered without checking them (a block, or a
temporary failure while another check from the address runs).
"""

import base64
import socket
import ssl
import struct

from mailhub_fixture import client_tls_context


def plain_ir(user, password, authzid=""):
    return base64.b64encode(f"{authzid}\0{user}\0{password}".encode()).decode()


class Login:
    """One TLS session of protocol "imap", "pop3" or "smtp" (implicit TLS:
    imaps, pop3s, submissions)."""

    def __init__(self, protocol, port, source="127.0.0.1", timeout=60,
                 tls_version=None, tls=True):
        self.protocol = protocol
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                       source_address=(source, 0))
        self.sock = raw
        if tls:
            ctx = client_tls_context()
            if tls_version is not None:
                ctx.minimum_version = ctx.maximum_version = tls_version
            self.sock = ctx.wrap_socket(raw)
        self.file = self.sock.makefile("rb")
        self.greeting = self.line()
        if protocol == "smtp":
            self.send("EHLO client.test")
            self.ehlo = self.smtp_reply()

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def line(self):
        line = self.file.readline(65536)
        if not line:
            raise ConnectionError("connection closed")
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def smtp_reply(self):
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines

    def send_login(self, user, password):
        """Sends a one-line login (LOGIN, AUTH PLAIN with an initial
        response) without reading the answer."""
        if self.protocol == "imap":
            self.send(f'a LOGIN "{user}" "{password}"')
        elif self.protocol == "pop3":
            self.send(f"AUTH PLAIN {plain_ir(user, password)}")
        else:
            self.send(f"AUTH PLAIN {plain_ir(user, password)}")

    def read_verdict(self):
        if self.protocol == "imap":
            while True:
                line = self.line()
                if line.startswith("a "):
                    break
            if line.startswith("a OK"):
                return "ok"
            if "[AUTHENTICATIONFAILED]" in line:
                return "failed"
            return "refused"
        if self.protocol == "pop3":
            line = self.line()
            if line.startswith("+OK"):
                return "ok"
            if "[AUTH] authentication failed" in line:
                return "failed"
            return "refused"
        line = self.smtp_reply()[-1]
        if line.startswith("235"):
            return "ok"
        if line.startswith("535"):
            return "failed"
        return "refused"

    def login(self, user, password):
        self.send_login(user, password)
        return self.read_verdict()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


TLS_PORTS = {"imap": "imaps", "pop3": "pop3s", "smtp": "submissions"}


# ---- SCRAM-SHA-256 (RFC 5802, RFC 7677): a client written for the tests ----

import hashlib
import hmac
import os


def _b64(b):
    return base64.b64encode(b).decode()


def _saslname(name):
    return name.replace("=", "=3D").replace(",", "=2C")


class Scram:
    """The client side of SCRAM-SHA-256; with cb_type ("tls-exporter",
    "tls-unique") and cb_data, of SCRAM-SHA-256-PLUS (RFC 5802 §6)."""

    def __init__(self, user, password, cb_type=None, cb_data=b"", nonce=None,
                 flag=None):
        self.user, self.password = user, password
        self.cb_data = cb_data
        self.nonce = nonce or _b64(os.urandom(18))
        if flag is None:
            flag = f"p={cb_type}" if cb_type else "n"
        self.gs2 = f"{flag},,"
        self.bare = f"n={_saslname(user)},r={self.nonce}"
        self.server_signature = None

    def first(self):
        return self.gs2 + self.bare

    def final(self, server_first):
        attrs = dict(a.split("=", 1) for a in server_first.split(","))
        if not attrs["r"].startswith(self.nonce):
            raise ValueError("server nonce does not extend ours")
        salt, iterations = base64.b64decode(attrs["s"]), int(attrs["i"])
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), salt, iterations)
        client_key = hmac.new(salted, b"Client Key", "sha256").digest()
        stored_key = hashlib.sha256(client_key).digest()
        server_key = hmac.new(salted, b"Server Key", "sha256").digest()
        without_proof = (f"c={_b64(self.gs2.encode() + self.cb_data)},"
                         f"r={attrs['r']}")
        auth = f"{self.bare},{server_first},{without_proof}".encode()
        signature = hmac.new(stored_key, auth, "sha256").digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self.server_signature = hmac.new(server_key, auth, "sha256").digest()
        return f"{without_proof},p={_b64(proof)}"

    def check_final(self, server_final):
        """True when the server proved it holds the keys (RFC 5802 §3)."""
        return server_final == "v=" + _b64(self.server_signature)


def scram_self_test():
    """RFC 7677 §3: the client above computes the RFC's messages."""
    c = Scram("user", "pencil", nonce="rOprNGfwEbeRWgbNEkqO")
    assert c.first() == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    server_first = ("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
    final = c.final(server_first)
    assert final == ("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="), final
    assert c.check_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")


class PyOpenSSLLogin(Login):
    """A Login over pyOpenSSL (python3-openssl), whose connection can export
    keying material: the tls-exporter channel binding of RFC 9266."""

    def __init__(self, protocol, port, source="127.0.0.1", timeout=60):
        from OpenSSL import SSL
        self.protocol = protocol
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                       source_address=(source, 0))
        # pyOpenSSL wants a blocking socket; the kernel's receive timeout
        # still bounds every wait (a read then fails instead of hanging)
        raw.setblocking(True)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                       struct.pack("ll", timeout, 0))
        ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
        self.conn = SSL.Connection(ctx, raw)
        self.conn.set_connect_state()
        self.conn.do_handshake()
        self.sock = self.conn
        self.buf = b""
        self.greeting = self.line()
        if protocol == "smtp":
            self.send("EHLO client.test")
            self.ehlo = self.smtp_reply()

    def line(self):
        while b"\n" not in self.buf:
            data = self.conn.recv(65536)
            if not data:
                raise ConnectionError("connection closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8", "replace").rstrip("\r")

    def tls_exporter(self):
        return self.conn.export_keying_material(b"EXPORTER-Channel-Binding", 32)

    def close(self):
        try:
            self.conn.close()
        except Exception:
            pass


def sasl_login(conn, mechanism, client, initial=True):
    """A SASL exchange of client (a Scram) over conn (a Login); returns
    (verdict, server_final) with verdict as Login.read_verdict() says."""
    first = _b64(client.first().encode())
    if conn.protocol == "imap":
        conn.send(f"a AUTHENTICATE {mechanism}" + (f" {first}" if initial else ""))
    else:
        conn.send(f"AUTH {mechanism}" + (f" {first}" if initial else ""))
    server_final = None
    sent_first = initial
    while True:
        line = conn.line()
        if conn.protocol == "smtp":
            if not line.startswith("334"):
                conn.last = line
                break
            challenge = line[4:]
        else:
            if not (line.startswith("+ ") or line == "+"):
                conn.last = line
                break
            challenge = line[2:]
        text = base64.b64decode(challenge).decode() if challenge else ""
        if not sent_first:
            conn.send(first)
            sent_first = True
        elif text.startswith("r="):
            conn.send(_b64(client.final(text).encode()))
        else:
            server_final = text
            conn.send("")
    line = conn.last
    if conn.protocol == "imap":
        ok = line.startswith("a OK")
        failed = "[AUTHENTICATIONFAILED]" in line
    elif conn.protocol == "pop3":
        ok = line.startswith("+OK")
        failed = "[AUTH] authentication failed" in line
    else:
        ok = line.startswith("235")
        failed = line.startswith("535")
    verdict = "ok" if ok else "failed" if failed else "refused"
    return verdict, server_final


# ---- Cyrus SASL's sample client (sasl2-bin), a real SASL client ----

import select
import subprocess

SAMPLE_CLIENT = "/usr/bin/sasl-sample-client"


def cyrus_sample_login(conn, mechanism, user, password, timeout=30):
    """Logs in on conn (a Login) with Cyrus SASL's sample client doing the
    mechanism: it prints "C: BASE64" lines (the first one "MECH NUL
    initial-response"), reads "S: BASE64" lines and asks for the password
    on its terminal, here its standard input.  The test only carries the
    lines between it and the server.  Returns (verdict, client transcript)."""
    # stdbuf: its standard output is a pipe here, which stdio would buffer
    # whole while the client waits for the server's answer
    proc = subprocess.Popen(
        ["stdbuf", "-oL", SAMPLE_CLIENT, "-m", mechanism, "-a", user, "-n", "localhost", "-s",
         conn.protocol],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True)
    transcript = []
    out = b""

    def client_line():
        """The client's next "C: " line; answers its password prompt."""
        while True:
            line = client_output()
            if line != "Password:":
                return line
            to_client(password)

    def client_output():
        nonlocal out
        while True:
            while b"\n" in out:
                line, out = out.split(b"\n", 1)
                text = line.decode("utf-8", "replace")
                transcript.append(text)
                if text.startswith("C: ") or text.startswith("Password:"):
                    return text
                if "Password:" in text:
                    return "Password:"
            if b"Password:" in out:
                out = out.replace(b"Password:", b"", 1)
                transcript.append("Password:")
                return "Password:"
            ready, _, _ = select.select([proc.stdout], [], [], timeout)
            if not ready:
                raise TimeoutError("sample client silent:\n" + "\n".join(transcript))
            data = os.read(proc.stdout.fileno(), 65536)
            if not data:
                return None
            out += data

    def to_client(text):
        proc.stdin.write(text.encode() + b"\n")
        proc.stdin.flush()

    try:
        to_client("S: " + _b64(mechanism.encode()))
        line = client_line()
        mech, _, initial = base64.b64decode(line[3:]).partition(b"\0")
        assert mech.decode() == mechanism, mech
        if conn.protocol == "imap":
            conn.send(f"a AUTHENTICATE {mechanism} {_b64(initial)}")
        else:
            conn.send(f"AUTH {mechanism} {_b64(initial)}")
        while True:
            reply = conn.line()
            if conn.protocol == "smtp":
                more, challenge = reply.startswith("334"), reply[4:]
            else:
                # a continuation is "+ " (POP3's "+OK" is the success)
                more, challenge = reply.startswith("+ ") or reply == "+", reply[2:]
            if not more:
                break
            to_client("S: " + challenge.strip())
            line = client_line()
            if line is None:
                raise AssertionError("sample client ended:\n" + "\n".join(transcript))
            conn.send(line[3:].strip())
    finally:
        # what it says once the server said yes ("Negotiation complete");
        # communicate() closes its input, which ends it
        try:
            rest, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            rest, _ = proc.communicate()
        transcript += (out + rest).decode("utf-8", "replace").splitlines()
    if conn.protocol == "imap":
        verdict = "ok" if reply.startswith("a OK") else "failed"
    elif conn.protocol == "pop3":
        verdict = "ok" if reply.startswith("+OK") else "failed"
    else:
        verdict = "ok" if reply.startswith("235") else "failed"
    return verdict, transcript
