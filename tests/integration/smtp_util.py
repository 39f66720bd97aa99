"""Helpers for the SMTP integration tests: reading what the daemon stored
(straight from the data dir, read-only), and a raw SMTP client for the
transcripts no library client can produce (pipelining by hand, STARTTLS
injection, bare LF, BDAT).
"""

import os
import re
import socket
import sqlite3
import ssl
import time

from mailhub_fixture import client_tls_context

TIMEOUT = 30


def _db(mh):
    path = os.path.join(mh.data_dir, "mailhub.db")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def blob_bytes(mh, digest):
    with open(os.path.join(mh.data_dir, "blobs", digest[:2], digest), "rb") as f:
        return f.read()


def inbox_rows(mh, address, mailbox="INBOX"):
    """[(uid, blob hash, size)] of a user's mailbox, in UID order."""
    with _db(mh) as db:
        return db.execute(
            "SELECT m.uid, m.blob, m.size FROM messages m"
            " JOIN mailboxes b ON b.id = m.mailbox_id"
            " JOIN users u ON u.id = b.user_id"
            " WHERE u.address = ? AND b.name = ? ORDER BY m.uid",
            (address, mailbox)).fetchall()


def inbox(mh, address):
    """The stored messages of a user's INBOX, as bytes, in UID order."""
    return [blob_bytes(mh, h) for _, h, _ in inbox_rows(mh, address)]


def queue(mh):
    """[(qid, sender, ret, envid, smtputf8, [(address, orcpt, notify, state, last_reply)])]."""
    out = []
    with _db(mh) as db:
        for mid, qid, sender, ret, envid, utf8, blob in db.execute(
                "SELECT id, qid, sender, ret, envid, smtputf8, blob"
                " FROM queue_messages ORDER BY id"):
            rcpts = db.execute(
                "SELECT address, orcpt, notify, state, last_reply"
                " FROM queue_recipients WHERE message_id = ? ORDER BY id",
                (mid,)).fetchall()
            out.append({"qid": qid, "sender": sender, "ret": ret,
                        "envid": envid, "smtputf8": utf8, "blob": blob,
                        "rcpts": rcpts})
    return out


DELIVERY_FIELDS = re.compile(
    rb"Return-Path: [^\r\n]*\r\nX-Original-To: [^\r\n]*\r\nDelivered-To: [^\r\n]*\r\n")


def delivery_fields(msg):
    """{name: value} of the fields final delivery writes at the top of a
    stored message (Return-Path, X-Original-To, Delivered-To)."""
    m = DELIVERY_FIELDS.match(msg)
    if not m:
        raise AssertionError(f"no delivery fields at the top: {msg[:200]!r}")
    out = {}
    for line in m.group(0).split(b"\r\n")[:-1]:
        name, value = line.split(b": ", 1)
        out[name.decode()] = value.decode("utf-8", "replace")
    return out


def split_received(msg):
    """(the first Received field, the rest) of a stored message, after the
    delivery fields."""
    d = DELIVERY_FIELDS.match(msg)
    if d:
        msg = msg[d.end():]
    m = re.match(rb"Received: [^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*", msg)
    if not m:
        raise AssertionError(f"no Received header at the top: {msg[:200]!r}")
    return m.group(0), msg[m.end():]


def wait_for(fn, timeout=10):
    """Polls fn() until it is true (deliveries are synchronous, but a
    client may see the reply before we look)."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.05)


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class RawSMTP:
    """A line-level SMTP client on a plain socket."""

    def __init__(self, port, tls=False, source=None):
        """source: the loopback address to connect from (127.0.0.2...)."""
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT,
                                             source_address=(source, 0) if source else None)
        if tls:
            self.sock = client_tls_context().wrap_socket(self.sock)
        self.buf = b""
        self.greeting = self.reply()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; got " + repr(self.buf))
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        """One whole (multi-line) reply: (code, [texts])."""
        texts = []
        while True:
            line = self._line()
            texts.append(line[4:])
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), texts

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def starttls(self):
        code, _ = self.cmd("STARTTLS")
        assert code == 220, code
        assert self.buf == b""
        self.sock = client_tls_context().wrap_socket(self.sock)

    def closed(self):
        """True when the server has closed the connection."""
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
