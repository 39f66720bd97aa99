"""ENVELOPE, BODYSTRUCTURE, BODY and body sections of a corpus of
real-world-shaped messages, as mailhub answers them, against what Debian's
Dovecot answers for the same messages.  Both servers get the corpus by
APPEND; the FETCH answers are parsed and compared item by item."""

import os
import re
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
import dovecot_util  # noqa: E402
from imap_corpus import CORPUS  # noqa: E402
from mailhub_fixture import Mailhub, client_tls_context  # noqa: E402

ITEMS = ("ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822.SIZE",
         "BODY[HEADER]", "BODY[TEXT]", "BODY[1]", "BODY[1.MIME]", "BODY[2]",
         "BODY[2.MIME]", "BODY[1.1]", "BODY[2.1]", "BODY[2.HEADER]",
         "BODY[2.TEXT]", "BODY[2.1.MIME]", "BODY[2.2]",
         "BODY[HEADER.FIELDS (FROM SUBJECT)]", "BODY[1]<2.5>")


class Conn:
    def __init__(self, port, tls):
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        if tls:
            sock = client_tls_context().wrap_socket(sock)
        self.sock = sock
        self.f = sock.makefile("rb")
        self.f.readline()
        self.n = 0

    def cmd(self, text, literal=None):
        self.n += 1
        tag = b"t%d" % self.n
        if literal is not None:
            self.sock.sendall(tag + b" " + text + b" {%d+}\r\n" % len(literal)
                              + literal + b"\r\n")
        else:
            self.sock.sendall(tag + b" " + text + b"\r\n")
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                raise AssertionError("connection closed")
            while True:
                m = re.search(rb"\{(\d+)\}\r\n$", line)
                if not m:
                    break
                line += self.f.read(int(m.group(1)))
                line += self.f.readline()
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise AssertionError(f"{text!r}: {line!r}")
                return lines
            lines.append(line)


def tokenize(data):
    """Parses IMAP response data into nested Python lists (strings as bytes,
    NIL as None, atoms as str)."""
    pos = 0
    stack = [[]]
    while pos < len(data):
        c = data[pos:pos + 1]
        if c in (b" ", b"\r", b"\n"):
            pos += 1
        elif c == b"(":
            stack.append([])
            pos += 1
        elif c == b")":
            done = stack.pop()
            stack[-1].append(done)
            pos += 1
        elif c == b'"':
            out = bytearray()
            pos += 1
            while data[pos:pos + 1] != b'"':
                if data[pos:pos + 1] == b"\\":
                    pos += 1
                out += data[pos:pos + 1]
                pos += 1
            pos += 1
            stack[-1].append(bytes(out))
        elif c == b"{":
            end = data.index(b"}", pos)
            n = int(data[pos + 1:end].rstrip(b"+"))
            start = end + 3
            stack[-1].append(data[start:start + n])
            pos = start + n
        else:
            m = re.compile(rb"[^ ()\r\n\[]+(\[[^\]]*\])?(<\d+>)?").match(data, pos)
            word = m.group(0).decode("latin-1")
            pos = m.end()
            stack[-1].append(None if word.upper() == "NIL" else word)
    return stack[0]


def fetch_items(conn, n):
    """{seq: {item: value}} for FETCH 1:n of ITEMS."""
    items = " ".join(i.replace("BODY[", "BODY.PEEK[") for i in ITEMS)
    result = {}
    for line in conn.cmd(b"FETCH 1:%d (%s)" % (n, items.encode())):
        toks = tokenize(line)
        if len(toks) < 4 or toks[2] != "FETCH":
            continue
        seq = int(toks[1])
        kv = toks[3]
        d = {}
        for i in range(0, len(kv), 2):
            d[kv[i].upper()] = kv[i + 1]
        result[seq] = d
    return result


def normalise(item, value):
    # Empty sections: Dovecot answers "" or NIL depending on the case;
    # both mean "no such part" (RFC 3501 §6.4.5).
    if item.startswith("BODY[") and value in (None, b""):
        return b""
    return value


@unittest.skipUnless(dovecot_util.available(), "dovecot-imapd not installed")
class DovecotCompare(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub()
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user("alice@example.org", "secret-alice")
        cls.mh.start()
        cls.dc = dovecot_util.Dovecot()
        cls.dc.start()
        ours = Conn(cls.mh.port("imaps"), tls=True)
        ours.cmd(b"LOGIN alice@example.org secret-alice")
        theirs = Conn(cls.dc.port, tls=False)
        theirs.cmd(b"LOGIN alice " + dovecot_util.PASSWORD.encode())
        for conn in (ours, theirs):
            for _, msg in CORPUS:
                conn.cmd(b"APPEND INBOX", msg)
            conn.cmd(b"SELECT INBOX")
        cls.ours = fetch_items(ours, len(CORPUS))
        cls.theirs = fetch_items(theirs, len(CORPUS))

    @classmethod
    def tearDownClass(cls):
        cls.dc.stop()
        cls.mh.close()

    def compare(self, items):
        problems = []
        for i, (name, _) in enumerate(CORPUS, 1):
            for item in items:
                a = normalise(item, self.ours[i].get(item))
                b = normalise(item, self.theirs[i].get(item))
                if a != b:
                    problems.append(f"{name} {item}:\n  mailhub: {a!r}\n"
                                    f"  dovecot: {b!r}")
        self.assertEqual(problems, [], "\n".join(problems))

    def test_envelope(self):
        self.compare(["ENVELOPE"])

    def test_bodystructure(self):
        self.compare(["BODYSTRUCTURE"])

    def test_body(self):
        self.compare(["BODY"])

    def test_size(self):
        self.compare(["RFC822.SIZE"])

    def test_sections(self):
        self.compare([i for i in ITEMS if i.startswith("BODY[")])


if __name__ == "__main__":
    tap.main()
