"""A small client of the milter protocol (version 6, as Sendmail's and
Postfix's libmilter speak it), to drive a real milter such as OpenDMARC
from a test the way an MTA does: one connection per message, every
stage sent, the filter's modifications and final verdict collected.

    m = MilterClient("127.0.0.1", port)
    out = m.message(client_ip="192.0.2.1", helo="mx.example.org",
                    mail_from="a@example.org", rcpts=["b@example.net"],
                    headers=[("From", "a@example.org")], body=b"hi\\r\\n")
    out.verdict            # "accept", "continue", "reject", "tempfail", "discard"
    out.reply              # the SMTP reply of a 'y' (e.g. "550 5.7.1 ...")
    out.inserted_headers   # [(name, value)] from 'h' and 'i'
    out.quarantine         # the reason of a 'q', or None
"""

import socket
import struct

VERSION = 6
# Everything an MTA may let a filter do (SMFIF_*), and every protocol
# step and "no reply" flag we can honour (SMFIP_*).
ACTIONS = 0x1FF
PROTOCOL = 0x1FFFFF

P_NOCONNECT = 0x1
P_NOHELO = 0x2
P_NOMAIL = 0x4
P_NORCPT = 0x8
P_NOBODY = 0x10
P_NOHDRS = 0x20
P_NOEOH = 0x40
P_NR_HDR = 0x80
P_NODATA = 0x200
P_NR_CONN = 0x1000
P_NR_HELO = 0x2000
P_NR_MAIL = 0x4000
P_NR_RCPT = 0x8000
P_NR_DATA = 0x10000
P_NR_EOH = 0x40000
P_NR_BODY = 0x80000

FINAL = {b"a": "accept", b"c": "continue", b"r": "reject", b"t": "tempfail",
         b"d": "discard"}


class MilterError(Exception):
    pass


class Outcome:
    def __init__(self):
        self.verdict = None
        self.reply = None
        self.inserted_headers = []
        self.quarantine = None
        self.stage = None     # where the verdict came


class MilterClient:
    def __init__(self, host, port, timeout=20):
        self.host = host
        self.port = port
        self.timeout = timeout

    # ---- framing ---------------------------------------------------------

    def _send(self, cmd, data=b""):
        self.sock.sendall(struct.pack(">I", len(data) + 1) + cmd + data)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise MilterError("milter closed the connection")
            buf += chunk
        return buf

    def _recv(self):
        (length,) = struct.unpack(">I", self._recv_exact(4))
        if length < 1 or length > 1 << 20:
            raise MilterError(f"bad packet length {length}")
        data = self._recv_exact(length)
        return data[:1], data[1:]

    # ---- one stage: send, then read until a verdict ------------------------

    def _stage(self, name, cmd, data, no_reply, out):
        """Sends a stage; returns True when the message goes on."""
        self._send(cmd, data)
        if no_reply:
            return True
        while True:
            code, body = self._recv()
            if code == b"p":            # progress: still working
                continue
            if code == b"h":
                n, v = body.rstrip(b"\0").split(b"\0", 1)
                out.inserted_headers.append((n.decode(), v.decode()))
                continue
            if code == b"i":
                n, v = body[4:].rstrip(b"\0").split(b"\0", 1)
                out.inserted_headers.append((n.decode(), v.decode()))
                continue
            if code == b"q":
                out.quarantine = body.rstrip(b"\0").decode()
                continue
            if code in (b"m", b"+", b"-", b"e", b"2", b"b"):
                continue                # other modifications: not needed
            if code == b"y":
                out.reply = body.rstrip(b"\0").decode()
                out.verdict = "reject" if out.reply[:1] == "5" else "tempfail"
                out.stage = name
                return False
            if code in FINAL:
                verdict = FINAL[code]
                if verdict != "continue" or name == "eom":
                    out.verdict = verdict
                    out.stage = name
                return verdict == "continue"
            raise MilterError(f"unexpected reply {code!r} at {name}")

    @staticmethod
    def _z(*parts):
        return b"".join(p.encode() + b"\0" for p in parts)

    def message(self, client_ip, helo, mail_from, rcpts, headers, body,
                client_name="client.example", macros=None):
        out = Outcome()
        macros = macros or {}
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        try:
            self._send(b"O", struct.pack(">III", VERSION, ACTIONS, PROTOCOL))
            code, data = self._recv()
            if code != b"O" or len(data) < 12:
                raise MilterError(f"option negotiation failed: {code!r}")
            _, _, proto = struct.unpack(">III", data[:12])

            def stage(name, cmd, payload, skip_flag, nr_flag, macro_cmd=None):
                if skip_flag and proto & skip_flag:
                    return True
                if macro_cmd is not None and macros.get(macro_cmd):
                    pairs = []
                    for k, v in macros[macro_cmd].items():
                        pairs += [k, v]
                    self._send(b"D", macro_cmd + self._z(*pairs))
                return self._stage(name, cmd, payload, bool(nr_flag and proto & nr_flag), out)

            family = b"6" if ":" in client_ip else b"4"
            steps = [
                ("connect", b"C", self._z(client_name) + family
                 + struct.pack(">H", 25) + self._z(client_ip), P_NOCONNECT, P_NR_CONN, b"C"),
                ("helo", b"H", self._z(helo), P_NOHELO, P_NR_HELO, b"H"),
                ("mail", b"M", self._z(f"<{mail_from}>"), P_NOMAIL, P_NR_MAIL, b"M"),
            ]
            for r in rcpts:
                steps.append(("rcpt", b"R", self._z(f"<{r}>"), P_NORCPT, P_NR_RCPT, b"R"))
            steps.append(("data", b"T", b"", P_NODATA, P_NR_DATA, None))
            for n, v in headers:
                steps.append(("header", b"L", self._z(n, v), P_NOHDRS, P_NR_HDR, None))
            steps.append(("eoh", b"N", b"", P_NOEOH, P_NR_EOH, None))
            if body:
                steps.append(("body", b"B", body, P_NOBODY, P_NR_BODY, None))
            for name, cmd, payload, skip, nr, mcmd in steps:
                if not stage(name, cmd, payload, skip, nr, mcmd):
                    return out
            stage("eom", b"E", b"", 0, 0, b"E")
            return out
        finally:
            try:
                self._send(b"Q")
            except OSError:
                pass
            self.sock.close()
