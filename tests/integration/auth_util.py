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

from mailhub_fixture import client_tls_context


def plain_ir(user, password, authzid=""):
    return base64.b64encode(f"{authzid}\0{user}\0{password}".encode()).decode()


class Login:
    """One TLS session of protocol "imap", "pop3" or "smtp" (implicit TLS:
    imaps, pop3s, submissions)."""

    def __init__(self, protocol, port, source="127.0.0.1", timeout=60,
                 tls_version=None):
        self.protocol = protocol
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                       source_address=(source, 0))
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
