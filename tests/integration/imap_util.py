"""A transcript IMAP client for the tests that must see the wire as it is
(imaplib hides it): send a line, read until the tagged reply."""

import re
import socket

from mailhub_fixture import client_tls_context


class Raw:
    """One connection, over implicit TLS unless tls is False."""

    def __init__(self, port, tls=True, timeout=10):
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            sock = client_tls_context().wrap_socket(sock)
        self.sock = sock
        self.f = sock.makefile("rb")
        self.greeting = self.f.readline()

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        return self.f.readline()

    def cmd(self, tag, text):
        """Sends a command; returns (untagged lines, tagged line)."""
        self.send(tag.encode() + b" " + text + b"\r\n")
        return self.until(tag)

    def until(self, tag):
        """Reads up to the line tagged tag; a line that ends in a literal
        is read with its literal and the rest of the line."""
        lines = []
        for _ in range(100000):
            line = self.f.readline()
            if not line:
                raise AssertionError("connection closed; got %r" % lines)
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            if m:
                line += self.f.read(int(m.group(1)))
                line += self.f.readline()
            if line.startswith(tag.encode() + b" "):
                return lines, line
            lines.append(line)
        raise AssertionError("no tagged reply")

    def ok(self, tag, text):
        """cmd(), which must end in OK; returns the untagged lines."""
        untagged, tagged = self.cmd(tag, text)
        if not tagged.startswith(tag.encode() + b" OK"):
            raise AssertionError(f"{text!r}: {tagged!r}")
        return untagged

    def idle(self):
        """Starts IDLE (tag i) and reads its continuation."""
        self.send(b"i IDLE\r\n")
        line = self.line()
        if not line.startswith(b"+ "):
            raise AssertionError(f"IDLE: {line!r}")

    def done(self, word=b"DONE"):
        """Ends the IDLE that idle() began; its tagged reply must be OK."""
        self.send(word + b"\r\n")
        _, tagged = self.until("i")
        if not tagged.startswith(b"i OK"):
            raise AssertionError(f"IDLE: {tagged!r}")

    def close(self):
        # the socket is closed only once its file is closed too
        for obj in (self.f, self.sock):
            try:
                obj.close()
            except OSError:
                pass
