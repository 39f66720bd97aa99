#!/usr/bin/env python3
"""The POP3 server against real clients: Python's poplib, curl, fetchmail
and getmail6, plus raw transcripts where the exact bytes on the wire
matter (dot-stuffing, octet counts, pipelining, response codes).

Messages are delivered through the daemon's own SMTP listener, then
compared byte for byte with what POP3 hands out: the retrieved message must
be the delivered one with only trace header fields (RFC 5321 §4.4) in
front.  Each test works on its own user, so tests do not see each other's
mail.
"""

import base64
import itertools
import os
import poplib
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import unittest

import tap
from mailhub_fixture import Mailhub, client_tls_context

DOMAIN = "example.org"
# RFC 1939 §7: PASS takes the rest of the line, so a password may hold spaces
PASSWORD = "pop secret 1"
TIMEOUT = 30

# Messages that make dot-stuffing, octet counting and 8-bit transfer work.
DOTS = (b"Subject: dots\r\n\r\n.\r\n..\r\n.leading dot\r\nmiddle . dot\r\n"
        b"...\r\n. \r\nlast\r\n")
LONG_LINE = b"Subject: long line\r\n\r\n" + b"x" * 5000 + b"\r\n"
EIGHT_BIT = ("Subject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\n"
             "Content-Transfer-Encoding: 8bit\r\n\r\n"
             "Gr\u00fc\u00dfe aus K\u00f6ln\r\n").encode("utf-8")
EMPTY_BODY = b"Subject: empty body\r\n\r\n"
BIG = b"Subject: big\r\n\r\n" + (b"A" * 76 + b"\r\n") * 14000
FROM_LINE = b"Subject: from\r\n\r\nFrom the start\r\n \r\n>From\r\n"
MESSAGES = [DOTS, LONG_LINE, EIGHT_BIT, EMPTY_BODY, BIG, FROM_LINE]

_users = itertools.count(1)

# poplib refuses lines over 2048 octets; LONG_LINE has a 5000-octet line,
# which mail servers must pass through (RFC 5322 §2.1.1 allows 998, real
# mail goes beyond), so let poplib read it.
poplib._MAXLINE = 1 << 20


def deliver(mh, rcpt, data):
    """Delivers data to rcpt through the daemon's smtp listener."""
    with smtplib.SMTP("127.0.0.1", mh.port("smtp"), timeout=TIMEOUT) as s:
        s.ehlo("client.test")
        opts = ["BODY=8BITMIME"] if s.has_extn("8bitmime") else []
        refused = s.sendmail("sender@example.net", [rcpt], data,
                             mail_options=opts)
        if refused:
            raise AssertionError(f"refused: {refused}")


TRACE_LINE = re.compile(rb"^([!-9;-~]+:|[ \t])")


def strip_trace(testcase, got, sent):
    """Checks that got is sent with only trace header lines in front."""
    testcase.assertTrue(got.endswith(sent),
                        f"retrieved message does not end with the delivered "
                        f"one:\n{got[:300]!r}\n...\n{got[-200:]!r}")
    prefix = got[:len(got) - len(sent)]
    if prefix:
        testcase.assertTrue(prefix.endswith(b"\r\n"))
        for line in prefix[:-2].split(b"\r\n"):
            testcase.assertRegex(line, TRACE_LINE)
    return prefix


class Raw:
    """A line-oriented POP3 client that shows the exact bytes."""

    def __init__(self, port, tls=False):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=TIMEOUT)
        if tls:
            self.sock = client_tls_context().wrap_socket(self.sock)
        self.buf = b""

    def line(self):
        for _ in range(100000):
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                if not line.endswith(b"\r\n"):
                    raise AssertionError(f"line without CRLF: {line!r}")
                return line[:-2]
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed")
            self.buf += data
        raise AssertionError("line never ended")

    def send(self, data):
        """Sends bytes as they are (for pipelining)."""
        self.sock.sendall(data)

    def cmd(self, text):
        """Sends one command line (str or bytes) and reads one line."""
        self.send((text if isinstance(text, bytes) else text.encode())
                  + b"\r\n")
        return self.line()

    def multi(self):
        """The lines of a multi-line response up to ".", as sent."""
        lines = []
        for _ in range(10000000):
            line = self.line()
            if line == b".":
                return lines
            lines.append(line)
        raise AssertionError("no end of multi-line response")

    def stls(self):
        resp = self.cmd("STLS")
        if not resp.startswith(b"+OK"):
            raise AssertionError(resp)
        if self.buf:
            raise AssertionError("data after +OK to STLS")
        self.sock = client_tls_context().wrap_socket(self.sock)

    def closed(self):
        """True when the server has closed the connection."""
        try:
            for _ in range(1000):
                if not self.sock.recv(4096):
                    return True
        except (ConnectionResetError, ssl.SSLError):
            return True
        return False

    def close(self):
        self.sock.close()


def unstuff(lines):
    """A multi-line response's lines back to the message bytes."""
    return b"".join((l[1:] if l.startswith(b".") else l) + b"\r\n"
                    for l in lines)


def imap_available(mh):
    """True when the imaps listener runs a real IMAP server (not only the
    placeholder that greets with BYE)."""
    try:
        with socket.create_connection(("127.0.0.1", mh.port("imaps")),
                                      timeout=TIMEOUT) as s:
            with client_tls_context().wrap_socket(s) as t:
                return t.recv(512).startswith(b"* OK")
    except OSError:
        return False


class Pop3Case(unittest.TestCase):
    """One daemon for the class; plaintext logins are refused."""

    plaintext_on_loopback = False
    limits = None
    config_extra = ""

    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(plaintext_on_loopback=cls.plaintext_on_loopback,
                         limits=cls.limits, config_extra=cls.config_extra)
        try:
            cls.mh.cli("domain", "add", DOMAIN)
            cls.mh.start()
        except BaseException:
            cls.mh.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def new_user(self, messages=()):
        user = f"pop{next(_users)}@{DOMAIN}"
        self.mh.add_user(user, PASSWORD)
        for m in messages:
            deliver(self.mh, user, m)
        return user

    def pop3s(self, user):
        p = poplib.POP3_SSL("127.0.0.1", self.mh.port("pop3s"),
                            context=client_tls_context(), timeout=TIMEOUT)
        p.user(user)
        p.pass_(PASSWORD)
        return p

    def raw_login(self, user, tls=True):
        r = Raw(self.mh.port("pop3s" if tls else "pop3"), tls=tls)
        self.assertTrue(r.line().startswith(b"+OK"))
        self.assertTrue(r.cmd(f"USER {user}").startswith(b"+OK"))
        resp = r.cmd(f"PASS {PASSWORD}")
        self.assertTrue(resp.startswith(b"+OK"), resp)
        return r

    def stat(self, user):
        p = self.pop3s(user)
        try:
            return p.stat()
        finally:
            p.quit()

    # ---- fetchmail and getmail helpers ----------------------------------

    def retrieved_now(self, user):
        """The messages as POP3 hands them out now (poplib, unstuffed)."""
        p = self.pop3s(user)
        out = [b"".join(l + b"\r\n" for l in p.retr(i)[1])
               for i in range(1, p.stat()[0] + 1)]
        p.quit()
        return out

    @staticmethod
    def save_script(work):
        """An MDA that stores each message it is given in a file of its own
        under work/out; returns (script, out)."""
        out = os.path.join(work, "out")
        os.makedirs(out, exist_ok=True)
        save = os.path.join(work, "save.sh")
        with open(save, "w") as f:
            f.write('#!/bin/sh\nf=$(mktemp "$1/msg.XXXXXXXX") && '
                    'cat > "$f"\n')
        return save, out

    @staticmethod
    def saved(out):
        """The messages under out, removed once read."""
        msgs = []
        for name in sorted(os.listdir(out)):
            with open(os.path.join(out, name), "rb") as f:
                msgs.append(f.read())
            os.unlink(os.path.join(out, name))
        return msgs

    def fetchmail(self, user, keep, work, pop3s):
        save, out = self.save_script(work)
        port = self.mh.port("pop3s" if pop3s else "pop3")
        tls = "ssl" if pop3s else "sslproto 'TLS1.2+'"
        rc = os.path.join(work, "fetchmailrc")
        with open(rc, "w") as f:
            f.write(f"""set no bouncemail
set no syslog
set invisible
poll 127.0.0.1 with proto POP3 port {port} uidl timeout {TIMEOUT}
  user "{user}" there with password "{PASSWORD}" is "someone" here
  options {'keep' if keep else 'no keep'} {tls} no sslcertck
    no stripcr
    mda "/bin/sh {save} {out}"
""")
        os.chmod(rc, 0o600)
        env = dict(os.environ, HOME=work, FETCHMAILHOME=work)
        r = subprocess.run(["fetchmail", "-f", rc, "-v", "--nosyslog",
                            "--pidfile", os.path.join(work, "pid")],
                           capture_output=True, env=env,
                           timeout=TIMEOUT * 4)
        return r, self.saved(out)

    def check_fetched(self, fetched, expected, delivered=MESSAGES):
        """fetchmail and getmail write with local line ends and may add a
        Return-Path; otherwise each message is the bytes POP3 sent, and
        ends with the bytes delivered."""
        def norm(m):
            m = m.replace(b"\r\n", b"\n")
            return b"".join(l for l in m.splitlines(True)
                            if not l.startswith(b"Return-Path:"))
        got = sorted(norm(m) for m in fetched)
        self.assertEqual(got, sorted(norm(m) for m in expected))
        for sent in delivered:
            self.assertTrue(any(m.endswith(norm(sent)) for m in got),
                            f"not fetched: {sent[:40]!r}")

    def getmail(self, user, delete, work, pop3s):
        # An external MDA rather than getmail's Maildir, which refuses to
        # run as root (as CI containers do); allow_root_commands lets it.
        save, out = self.save_script(work)
        kind = "SimplePOP3SSLRetriever" if pop3s else "SimplePOP3Retriever"
        port = self.mh.port("pop3s" if pop3s else "pop3")
        rc = os.path.join(work, "getmailrc")
        with open(rc, "w") as f:
            f.write(f"""[retriever]
type = {kind}
server = 127.0.0.1
port = {port}
username = {user}
password = {PASSWORD}
timeout = {TIMEOUT}

[destination]
type = MDA_external
path = /bin/sh
arguments = ("{save}", "{out}")
allow_root_commands = true

[options]
read_all = false
delete = {'true' if delete else 'false'}
delivered_to = false
received = false
verbose = 0
""")
        r = subprocess.run(["getmail", "--getmaildir", work, "--rcfile", rc],
                           capture_output=True, timeout=TIMEOUT * 4)
        return r, self.saved(out)


class TestPop3(Pop3Case):

    # ---- AUTHORIZATION, TLS and capabilities --------------------------

    def test_capa_before_and_after_stls(self):
        r = Raw(self.mh.port("pop3"))
        greeting = r.line()
        self.assertTrue(greeting.startswith(b"+OK"))
        # APOP is not offered: no timestamp in the greeting
        self.assertNotRegex(greeting, rb"<.*@.*>")
        self.assertEqual(r.cmd("CAPA"), b"+OK capability list follows")
        caps = r.multi()
        for cap in (b"TOP", b"UIDL", b"RESP-CODES", b"AUTH-RESP-CODE",
                    b"PIPELINING", b"STLS", b"IMPLEMENTATION mailhub"):
            self.assertIn(cap, caps)
        # no credentials over plaintext: USER and SASL are not offered
        self.assertNotIn(b"USER", caps)
        self.assertFalse(any(c.startswith(b"SASL") for c in caps))
        self.assertRegex(r.cmd("USER x@example.org"), rb"^-ERR \[AUTH\]")
        self.assertRegex(r.cmd("AUTH PLAIN AHgAeQ=="), rb"^-ERR \[AUTH\]")
        r.stls()
        self.assertEqual(r.cmd("CAPA"), b"+OK capability list follows")
        caps = r.multi()
        self.assertIn(b"USER", caps)
        # over TLS the channel-bound SCRAM too (RFC 5802 §6)
        self.assertIn(b"SASL PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS", caps)
        self.assertNotIn(b"STLS", caps)
        # RFC 2595 §4: STLS only once
        self.assertTrue(r.cmd("STLS").startswith(b"-ERR"))
        self.assertTrue(r.cmd("QUIT").startswith(b"+OK"))
        r.close()

    def test_stls_discards_pipelined_plaintext(self):
        # CVE-2011-0411 class: a command sent in plaintext behind STLS must
        # not be taken as if it came through TLS
        r = Raw(self.mh.port("pop3"))
        r.line()
        r.send(b"STLS\r\nCAPA\r\n")
        self.assertTrue(r.line().startswith(b"+OK"))
        r.sock = client_tls_context().wrap_socket(r.sock)
        # the first answer over TLS belongs to NOOP (an error before
        # login), not to the injected CAPA
        self.assertEqual(r.cmd("NOOP")[:4], b"-ERR")
        self.assertEqual(r.cmd("QUIT")[:3], b"+OK")
        r.close()

    def test_poplib_stls_login(self):
        user = self.new_user([DOTS])
        p = poplib.POP3("127.0.0.1", self.mh.port("pop3"), timeout=TIMEOUT)
        p.stls(client_tls_context())
        p.user(user)
        self.assertTrue(p.pass_(PASSWORD).startswith(b"+OK"))
        self.assertEqual(p.stat()[0], 1)
        p.quit()

    def test_pop3s_has_no_stls(self):
        r = Raw(self.mh.port("pop3s"), tls=True)
        r.line()
        r.cmd("CAPA")
        caps = r.multi()
        self.assertNotIn(b"STLS", caps)
        self.assertIn(b"USER", caps)
        self.assertTrue(r.cmd("STLS").startswith(b"-ERR"))
        r.close()

    def test_wrong_password(self):
        user = self.new_user()
        r = Raw(self.mh.port("pop3s"), tls=True)
        r.line()
        r.cmd(f"USER {user}")
        self.assertEqual(r.cmd("PASS wrong"),
                         b"-ERR [AUTH] authentication failed")
        # PASS without USER after a failure
        self.assertTrue(r.cmd(f"PASS {PASSWORD}").startswith(b"-ERR"))
        # unknown users get the same answer
        r.cmd("USER nobody@example.org")
        self.assertEqual(r.cmd(f"PASS {PASSWORD}"),
                         b"-ERR [AUTH] authentication failed")
        # still in AUTHORIZATION: a right login works now
        r.cmd(f"USER {user}")
        self.assertTrue(r.cmd(f"PASS {PASSWORD}").startswith(b"+OK"))
        self.assertTrue(r.cmd("QUIT").startswith(b"+OK"))
        r.close()

    def test_auth_plain_initial_response(self):
        user = self.new_user([DOTS])
        r = Raw(self.mh.port("pop3s"), tls=True)
        r.line()
        ir = base64.b64encode(f"\0{user}\0{PASSWORD}".encode()).decode()
        self.assertTrue(r.cmd(f"AUTH PLAIN {ir}").startswith(b"+OK"))
        self.assertEqual(r.cmd("STAT")[:5], b"+OK 1")
        r.cmd("QUIT")
        r.close()

    def test_auth_plain_continuation_and_login(self):
        user = self.new_user()
        r = Raw(self.mh.port("pop3s"), tls=True)
        r.line()
        # RFC 5034 §4: an empty challenge is "+ "
        self.assertEqual(r.cmd("AUTH PLAIN"), b"+ ")
        cred = base64.b64encode(f"\0{user}\0{PASSWORD}".encode())
        self.assertTrue(r.cmd(cred).startswith(b"+OK"))
        r.cmd("QUIT")
        r.close()

        r = Raw(self.mh.port("pop3s"), tls=True)
        r.line()
        self.assertTrue(r.cmd("AUTH LOGIN").startswith(b"+ "))
        self.assertTrue(
            r.cmd(base64.b64encode(user.encode())).startswith(b"+ "))
        self.assertTrue(r.cmd(base64.b64encode(PASSWORD.encode()))
                        .startswith(b"+OK"))
        r.cmd("QUIT")
        r.close()

    def test_auth_cancel_unknown_and_list(self):
        user = self.new_user()
        r = Raw(self.mh.port("pop3s"), tls=True)
        r.line()
        self.assertEqual(r.cmd("AUTH PLAIN"), b"+ ")
        self.assertTrue(r.cmd("*").startswith(b"-ERR"))
        self.assertTrue(r.cmd("AUTH CRAM-MD5").startswith(b"-ERR"))
        self.assertTrue(r.cmd("AUTH").startswith(b"+OK"))
        self.assertEqual(r.multi(), [b"PLAIN", b"LOGIN", b"SCRAM-SHA-256",
                                     b"SCRAM-SHA-256-PLUS"])
        # acting as someone else is refused
        other = base64.b64encode(
            f"admin@{DOMAIN}\0{user}\0{PASSWORD}".encode()).decode()
        self.assertRegex(r.cmd(f"AUTH PLAIN {other}"), rb"^-ERR \[AUTH\]")
        # apop is unknown
        self.assertTrue(r.cmd(f"APOP {user} c4c9334bac560ecc979e58001b3e22fb")
                        .startswith(b"-ERR"))
        r.close()

    def test_commands_gated_by_state(self):
        r = Raw(self.mh.port("pop3s"), tls=True)
        r.line()
        for c in ("STAT", "LIST", "RETR 1", "DELE 1", "NOOP", "RSET",
                  "TOP 1 1", "UIDL"):
            self.assertTrue(r.cmd(c).startswith(b"-ERR"), c)
        r.close()
        user = self.new_user()
        r = self.raw_login(user)
        for c in ("USER x", "PASS y", "AUTH PLAIN", "STLS"):
            self.assertTrue(r.cmd(c).startswith(b"-ERR"), c)
        self.assertEqual(r.cmd("NOOP"), b"+OK")
        r.cmd("QUIT")
        r.close()

    # ---- TRANSACTION: sizes, bytes, stuffing ----------------------------

    def test_retr_bytes_and_sizes(self):
        user = self.new_user(MESSAGES)
        r = self.raw_login(user)
        stat = r.cmd("STAT").split()
        self.assertEqual(stat[:2], [b"+OK", str(len(MESSAGES)).encode()])
        self.assertTrue(r.cmd("LIST").startswith(b"+OK"))
        sizes = {}
        for line in r.multi():
            n, size = line.split()
            sizes[int(n)] = int(size)
        self.assertEqual(sorted(sizes), list(range(1, len(MESSAGES) + 1)))
        self.assertEqual(sum(sizes.values()), int(stat[2]))
        for i, sent in enumerate(MESSAGES, 1):
            self.assertEqual(r.cmd(f"LIST {i}"), f"+OK {i} {sizes[i]}".encode())
            resp = r.cmd(f"RETR {i}")
            self.assertEqual(resp, f"+OK {sizes[i]} octets".encode())
            lines = r.multi()
            # RFC 1939 §3: every line starting with "." is stuffed, so no
            # line but the terminator is a lone "."
            got = unstuff(lines)
            self.assertEqual(len(got), sizes[i], f"message {i}")
            strip_trace(self, got, sent)
        # the stuffed form on the wire
        r.cmd("RETR 1")
        wire = r.multi()
        body = wire[wire.index(b"") + 1:]
        self.assertEqual(body, [b"..", b"...", b"..leading dot",
                                b"middle . dot", b"....", b".. ", b"last"])
        r.cmd("QUIT")
        r.close()

    def test_poplib_matches_smtp(self):
        user = self.new_user(MESSAGES)
        p = self.pop3s(user)
        count, octets = p.stat()
        self.assertEqual(count, len(MESSAGES))
        total = 0
        for i, sent in enumerate(MESSAGES, 1):
            resp, lines, size = p.retr(i)
            got = b"".join(l + b"\r\n" for l in lines)
            strip_trace(self, got, sent)
            total += len(got)
        self.assertEqual(total, octets)
        p.quit()

    def test_top(self):
        msg = (b"Subject: top\r\nX-A: b\r\n\r\n.one\r\ntwo\r\nthree\r\n")
        user = self.new_user([msg])
        r = self.raw_login(user)
        r.cmd("RETR 1")
        full = r.multi()
        header = full[:full.index(b"") + 1]
        self.assertTrue(r.cmd("TOP 1 0").startswith(b"+OK"))
        self.assertEqual(r.multi(), header)
        r.cmd("TOP 1 2")
        self.assertEqual(r.multi(), header + [b"..one", b"two"])
        r.cmd("TOP 1 100")
        self.assertEqual(r.multi(), full)
        self.assertTrue(r.cmd("TOP 2 0").startswith(b"-ERR"))
        self.assertTrue(r.cmd("TOP 1").startswith(b"-ERR"))
        r.cmd("QUIT")
        r.close()

    def test_uidl_stable_and_unique(self):
        user = self.new_user([DOTS, EIGHT_BIT, EMPTY_BODY])
        p = self.pop3s(user)
        first = p.uidl()[1]
        self.assertEqual(len(first), 3)
        uidls = [l.split()[1] for l in first]
        self.assertEqual(len(set(uidls)), 3)
        for u in uidls:
            # RFC 1939 §7: 1 to 70 characters 0x21-0x7E
            self.assertRegex(u, rb"^[!-~]{1,70}$")
        self.assertEqual(p.uidl(2).split()[2], uidls[1])
        p.dele(1)
        p.quit()
        # a new message gets a new UIDL; the others keep theirs
        deliver(self.mh, user, FROM_LINE)
        p = self.pop3s(user)
        now = [l.split()[1] for l in p.uidl()[1]]
        p.quit()
        self.assertEqual(now[:2], uidls[1:])
        self.assertNotIn(now[2], uidls)

    def test_dele_only_at_quit(self):
        user = self.new_user([DOTS, EIGHT_BIT, EMPTY_BODY])
        # DELE and then the connection drops: no UPDATE state
        r = self.raw_login(user)
        self.assertTrue(r.cmd("DELE 1").startswith(b"+OK"))
        self.assertTrue(r.cmd("DELE 1").startswith(b"-ERR"))
        self.assertTrue(r.cmd("RETR 1").startswith(b"-ERR"))
        self.assertTrue(r.cmd("LIST 1").startswith(b"-ERR"))
        # numbers stay fixed within the session
        self.assertTrue(r.cmd("LIST 2").startswith(b"+OK 2 "))
        self.assertEqual(r.cmd("STAT").split()[1], b"2")
        r.cmd("LIST")
        self.assertEqual([l.split()[0] for l in r.multi()], [b"2", b"3"])
        r.cmd("UIDL")
        self.assertEqual(len(r.multi()), 2)
        r.close()
        self.assertEqual(self.stat(user)[0], 3)
        # DELE and RSET
        r = self.raw_login(user)
        r.cmd("DELE 2")
        self.assertTrue(r.cmd("RSET").startswith(b"+OK 3 "))
        self.assertTrue(r.cmd("QUIT").startswith(b"+OK"))
        r.close()
        self.assertEqual(self.stat(user)[0], 3)
        # DELE and QUIT: gone
        p = self.pop3s(user)
        keep = p.retr(2)[1]
        p.dele(1)
        p.dele(3)
        p.quit()
        p = self.pop3s(user)
        self.assertEqual(p.stat()[0], 1)
        self.assertEqual(p.retr(1)[1], keep)
        p.quit()

    def test_in_use(self):
        user = self.new_user([DOTS])
        first = self.raw_login(user)
        r = Raw(self.mh.port("pop3s"), tls=True)
        r.line()
        r.cmd(f"USER {user}")
        self.assertEqual(r.cmd(f"PASS {PASSWORD}")[:13], b"-ERR [IN-USE]")
        # the refused session stays in AUTHORIZATION
        self.assertTrue(r.cmd("STAT").startswith(b"-ERR"))
        # another user is not affected
        other = self.new_user()
        self.raw_login(other).close()
        self.assertTrue(first.cmd("QUIT").startswith(b"+OK"))
        first.close()
        r.cmd(f"USER {user}")
        self.assertTrue(r.cmd(f"PASS {PASSWORD}").startswith(b"+OK"))
        r.cmd("QUIT")
        r.close()

    def test_lock_released_on_disconnect(self):
        user = self.new_user()
        r = self.raw_login(user)
        r.close()
        # the server notices the close at its next read; a new login
        # succeeds once it has (bounded retries, no timing assertion)
        for _ in range(200):
            q = Raw(self.mh.port("pop3s"), tls=True)
            q.line()
            q.cmd(f"USER {user}")
            resp = q.cmd(f"PASS {PASSWORD}")
            q.close()
            if resp.startswith(b"+OK"):
                break
            self.assertTrue(resp.startswith(b"-ERR [IN-USE]"), resp)
        else:
            self.fail("the lock was never released")

    def test_pipelining(self):
        user = self.new_user([DOTS, EMPTY_BODY])
        r = Raw(self.mh.port("pop3s"), tls=True)
        r.line()
        r.send(f"USER {user}\r\nPASS {PASSWORD}\r\nSTAT\r\nLIST\r\n"
               "RETR 2\r\nBOGUS\r\nUIDL 1\r\nNOOP\r\nQUIT\r\n".encode())
        self.assertTrue(r.line().startswith(b"+OK"))
        self.assertTrue(r.line().startswith(b"+OK"))
        self.assertTrue(r.line().startswith(b"+OK 2 "))
        self.assertTrue(r.line().startswith(b"+OK"))
        self.assertEqual(len(r.multi()), 2)
        self.assertTrue(r.line().startswith(b"+OK"))
        strip_trace(self, unstuff(r.multi()), EMPTY_BODY)
        self.assertTrue(r.line().startswith(b"-ERR"))
        self.assertTrue(r.line().startswith(b"+OK 1 "))
        self.assertEqual(r.line(), b"+OK")
        self.assertTrue(r.line().startswith(b"+OK"))
        self.assertTrue(r.closed())

    def test_line_limit_and_errors(self):
        r = Raw(self.mh.port("pop3s"), tls=True)
        r.line()
        # RFC 2449 §4: 255 octets; a longer line is refused, in step
        self.assertTrue(r.cmd("NOOP " + "x" * 300).startswith(b"-ERR"))
        self.assertTrue(r.cmd("CAPA").startswith(b"+OK"))
        r.multi()
        self.assertTrue(r.cmd("RETR x").startswith(b"-ERR"))
        # the default limit is 10 protocol errors; 2 so far
        for _ in range(7):
            self.assertTrue(r.cmd("BOGUS").startswith(b"-ERR"))
        self.assertTrue(r.cmd("BOGUS").startswith(b"-ERR"))
        self.assertTrue(r.line().startswith(b"-ERR"))
        self.assertTrue(r.closed())

    def test_message_numbers(self):
        user = self.new_user([DOTS])
        r = self.raw_login(user)
        for c in ("RETR 0", "RETR 2", "DELE 4294967295", "LIST 0",
                  "UIDL 9", "TOP 0 1"):
            self.assertTrue(r.cmd(c).startswith(b"-ERR"), c)
        self.assertTrue(r.cmd("RETR 4294967296").startswith(b"-ERR"))
        self.assertTrue(r.cmd("retr 1").startswith(b"+OK"))
        r.multi()
        r.cmd("QUIT")
        r.close()

    def test_empty_maildrop(self):
        user = self.new_user()
        p = self.pop3s(user)
        self.assertEqual(p.stat(), (0, 0))
        self.assertEqual(p.list()[1], [])
        self.assertEqual(p.uidl()[1], [])
        p.quit()

    def test_logins_survive_restart(self):
        """UIDLs are stable across a restart of the daemon."""
        user = self.new_user([DOTS, EIGHT_BIT])
        p = self.pop3s(user)
        before = p.uidl()[1]
        p.quit()
        self.mh.stop()
        self.mh.start()
        p = self.pop3s(user)
        self.assertEqual(p.uidl()[1], before)
        p.quit()

    # ---- IMAP beside POP3 ------------------------------------------------

    def imap_login(self, user):
        import imaplib
        if not imap_available(self.mh):
            self.skipTest("the IMAP server is not available in this build")
        m = imaplib.IMAP4_SSL("127.0.0.1", self.mh.port("imaps"),
                              ssl_context=client_tls_context(),
                              timeout=TIMEOUT)
        m.login(user, PASSWORD)
        return m

    def test_imap_expunge_seen_at_next_login(self):
        user = self.new_user([DOTS, EIGHT_BIT])
        pop = self.raw_login(user)
        imap = self.imap_login(user)
        imap.select("INBOX")
        imap.store("1", "+FLAGS", "\\Deleted")
        imap.expunge()
        # the POP3 session's list is fixed: message 1 is still listed
        self.assertEqual(pop.cmd("STAT").split()[1], b"2")
        self.assertTrue(pop.cmd("LIST 1").startswith(b"+OK"))
        pop.cmd("QUIT")
        pop.close()
        imap.logout()
        p = self.pop3s(user)
        self.assertEqual(p.stat()[0], 1)
        strip_trace(self, b"".join(l + b"\r\n" for l in p.retr(1)[1]),
                    EIGHT_BIT)
        p.quit()

    def test_pop3_delete_reaches_imap_idle(self):
        user = self.new_user([DOTS, EIGHT_BIT])
        imap = self.imap_login(user)
        imap.select("INBOX")
        tag = imap._new_tag()
        imap.send(tag + b" IDLE\r\n")
        self.assertTrue(imap.readline().startswith(b"+"))
        p = self.pop3s(user)
        p.dele(1)
        p.quit()
        for _ in range(100):
            line = imap.readline()
            if re.match(rb"^\* 1 EXPUNGE", line):
                break
            self.assertTrue(line, "IMAP connection closed")
        else:
            self.fail("no EXPUNGE during IDLE")
        imap.send(b"DONE\r\n")
        imap.logout()

    # ---- curl -----------------------------------------------------------

    def curl(self, *args):
        r = subprocess.run(["curl", "-sS", "-k", "--max-time", str(TIMEOUT),
                            *args], capture_output=True, timeout=TIMEOUT * 2)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        return r.stdout

    @unittest.skipUnless(shutil.which("curl"), "curl is not installed")
    def test_curl_pop3_stls(self):
        user = self.new_user([DOTS, EIGHT_BIT])
        url = f"pop3://127.0.0.1:{self.mh.port('pop3')}/"
        listing = self.curl("--ssl-reqd", "-u", f"{user}:{PASSWORD}", url)
        self.assertEqual(len(listing.splitlines()), 2)
        got = self.curl("--ssl-reqd", "-u", f"{user}:{PASSWORD}", url + "1")
        strip_trace(self, got, DOTS)
        # without TLS, curl cannot log in
        r = subprocess.run(["curl", "-sS", "--max-time", str(TIMEOUT),
                            "-u", f"{user}:{PASSWORD}", url + "1"],
                           capture_output=True, timeout=TIMEOUT * 2)
        self.assertNotEqual(r.returncode, 0)

    @unittest.skipUnless(shutil.which("curl"), "curl is not installed")
    def test_curl_pop3s(self):
        user = self.new_user(MESSAGES)
        url = f"pop3s://127.0.0.1:{self.mh.port('pop3s')}/"
        listing = self.curl("-u", f"{user}:{PASSWORD}", url)
        sizes = [int(l.split()[1]) for l in listing.splitlines()]
        self.assertEqual(len(sizes), len(MESSAGES))
        for i, sent in enumerate(MESSAGES, 1):
            got = self.curl("-u", f"{user}:{PASSWORD}", url + str(i))
            self.assertEqual(len(got), sizes[i - 1])
            strip_trace(self, got, sent)
        # SASL PLAIN with an initial response
        got = self.curl("--sasl-ir", "--login-options", "AUTH=PLAIN",
                        "-u", f"{user}:{PASSWORD}", url + "3")
        strip_trace(self, got, EIGHT_BIT)
        # DELE through curl
        self.curl("-u", f"{user}:{PASSWORD}", "-X", "DELE", "-I", url + "1")
        self.assertEqual(self.stat(user)[0], len(MESSAGES) - 1)

    # ---- fetchmail and getmail --------------------------------------------

    @unittest.skipUnless(shutil.which("fetchmail"), "fetchmail is not installed")
    def test_fetchmail_keep_stls(self):
        user = self.new_user(MESSAGES)
        expected = self.retrieved_now(user)
        with tempfile.TemporaryDirectory() as work:
            r, got = self.fetchmail(user, True, work, pop3s=False)
            self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
            self.check_fetched(got, expected)
            # keep mode with UIDL: nothing new the second time
            r, again = self.fetchmail(user, True, work, pop3s=False)
            self.assertEqual(r.returncode, 1, r.stderr.decode(errors="replace"))
            self.assertEqual(again, [])
        self.assertEqual(self.stat(user)[0], len(MESSAGES))

    @unittest.skipUnless(shutil.which("fetchmail"), "fetchmail is not installed")
    def test_fetchmail_delete_pop3s(self):
        user = self.new_user(MESSAGES)
        expected = self.retrieved_now(user)
        with tempfile.TemporaryDirectory() as work:
            r, got = self.fetchmail(user, False, work, pop3s=True)
            self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
            self.check_fetched(got, expected)
        self.assertEqual(self.stat(user), (0, 0))

    @unittest.skipUnless(shutil.which("getmail"), "getmail6 is not installed")
    def test_getmail_keep_then_delete(self):
        user = self.new_user(MESSAGES)
        expected = self.retrieved_now(user)
        with tempfile.TemporaryDirectory() as work:
            r, got = self.getmail(user, False, work, pop3s=True)
            self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
            self.check_fetched(got, expected)
            # getmail remembers UIDLs: nothing new the second time
            r, again = self.getmail(user, False, work, pop3s=True)
            self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
            self.assertEqual(again, [])
            self.assertEqual(self.stat(user)[0], len(MESSAGES))
            # delete mode removes what it has (read_all = false: nothing
            # is downloaded twice, but seen messages are deleted)
            r, _ = self.getmail(user, True, work, pop3s=True)
            self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(self.stat(user), (0, 0))


class TestPop3PlaintextLoopback(Pop3Case):
    """plaintext_on_loopback = yes: logins without TLS from 127.0.0.1."""

    plaintext_on_loopback = True

    def test_user_pass_without_tls(self):
        user = self.new_user([DOTS])
        r = Raw(self.mh.port("pop3"))
        r.line()
        r.cmd("CAPA")
        caps = r.multi()
        self.assertIn(b"USER", caps)
        # no TLS, no channel binding: no SCRAM-SHA-256-PLUS
        self.assertIn(b"SASL PLAIN LOGIN SCRAM-SHA-256", caps)
        self.assertIn(b"STLS", caps)
        r.cmd(f"USER {user}")
        self.assertTrue(r.cmd(f"PASS {PASSWORD}").startswith(b"+OK"))
        r.cmd("QUIT")
        r.close()

    @unittest.skipUnless(shutil.which("getmail"), "getmail6 is not installed")
    def test_getmail_plain_delete(self):
        user = self.new_user(MESSAGES)
        expected = self.retrieved_now(user)
        with tempfile.TemporaryDirectory() as work:
            r, got = self.getmail(user, True, work, pop3s=False)
            self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
            self.check_fetched(got, expected)
        self.assertEqual(self.stat(user), (0, 0))



class TestPop3Throttle(Pop3Case):
    """The shared login-failure throttle blocks an address after
    block_after failures, even for the right password."""

    config_extra = "\n[auth]\nblock_after = 3\ndelay_max_ms = 0\n"

    def test_failures_block_the_address(self):
        user = self.new_user([DOTS])
        r = Raw(self.mh.port("pop3s"), tls=True)
        r.line()
        for _ in range(3):
            r.cmd(f"USER {user}")
            self.assertEqual(r.cmd("PASS wrong"),
                             b"-ERR [AUTH] authentication failed")
        r.close()
        # a new connection with the right password is refused unchecked
        r = Raw(self.mh.port("pop3s"), tls=True)
        r.line()
        r.cmd(f"USER {user}")
        resp = r.cmd(f"PASS {PASSWORD}")
        self.assertRegex(resp, rb"^-ERR \[AUTH\] too many failed logins")
        ir = base64.b64encode(f"\0{user}\0{PASSWORD}".encode()).decode()
        self.assertRegex(r.cmd(f"AUTH PLAIN {ir}"), rb"^-ERR \[AUTH\] too many")
        r.close()


class TestPop3Timeout(Pop3Case):
    """The autologout timer (RFC 1939 §3), shortened for the test."""

    limits = {"pop3_timeout": 1}

    def test_idle_session_is_closed_without_update(self):
        user = self.new_user([DOTS])
        r = self.raw_login(user)
        self.assertTrue(r.cmd("DELE 1").startswith(b"+OK"))
        # the server closes the idle session (the socket timeout is far
        # longer than the server's), and the DELE is not applied
        self.assertTrue(r.closed())
        r.close()
        self.assertEqual(self.stat(user)[0], 1)


if __name__ == "__main__":
    tap.main()
