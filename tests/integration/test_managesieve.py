"""ManageSieve (RFC 5804) on the managesieve listener, with a real client
(Debian's sieve-connect: STARTTLS, SASL PLAIN) uploading, checking,
activating, listing, downloading and deleting scripts, one of them with a
syntax error; then transcripts over a socket for what sieve-connect does
not exercise: the capabilities before and after STARTTLS, no credentials in
clear, SCRAM-SHA-256 with an app password, literals, the response codes
(NONEXISTENT, ACTIVE, ALREADYEXISTS, QUOTA/MAXSIZE, TAG), UNAUTHENTICATE and
the login throttle.  A script activated over ManageSieve then sorts a
message that arrives over SMTP."""

import base64
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import unittest

import tap
from auth_util import Scram
from mailhub_fixture import Mailhub, client_tls_context
from smtp_util import inbox_rows

ALICE = "alice@example.org"
PASSWORD = "alice-secret-1"

GOOD = """require ["fileinto", "mailbox"];
# list mail goes to its folder
if exists "list-id" {
    fileinto :create "Lists";
}
"""

BAD = """require "fileinto";
if header :contains "subject" "x" {
    fileinto "A"
}
"""


def have_sieve_connect():
    return shutil.which("sieve-connect") is not None


class Client:
    """A ManageSieve client for transcripts: reads responses, strings and
    literals as RFC 5804 §4 writes them."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.f = self.sock.makefile("rb")

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def read_response(self):
        """Lines up to and including OK/NO/BYE; a literal's octets are
        joined into the line that announced it."""
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                raise ConnectionError("closed: " + repr(lines))
            line = line.decode()
            m = re.search(r"\{(\d+)\}\r\n$", line)
            if m:
                data = self.f.read(int(m.group(1))).decode()
                rest = self.f.readline().decode()
                line = line[:m.start()] + "{" + data + "}" + rest
            line = line.rstrip("\r\n")
            lines.append(line)
            if re.match(r"^(OK|NO|BYE)\b", line):
                return lines

    def starttls(self):
        self.send("STARTTLS\r\n")
        r = self.read_response()
        assert r[-1].startswith("OK"), r
        self.sock = client_tls_context().wrap_socket(self.sock)
        self.f = self.sock.makefile("rb")
        return self.read_response()

    def plain(self, user, password):
        ir = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        self.send(f'AUTHENTICATE "PLAIN" "{ir}"\r\n')
        return self.read_response()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class ManageSieve(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # a short delay and an early block, so that the throttle test
        # does not wait long
        cls.mh = Mailhub(listeners=("smtp", "managesieve"),
                         config_extra="\n[auth]\nblock_after = 4\ndelay_max_ms = 100\n")
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(ALICE, PASSWORD)
        cls.mh.add_user("bob@example.org", "bob-secret-1")
        cls.mh.add_user("carol@example.org", "carol-secret-1")
        cls.tmp = tempfile.mkdtemp(prefix="msieve-")
        cls.mh.start()

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def client(self):
        c = Client(self.mh.port("managesieve"))
        self.addCleanup(c.close)
        return c

    def logged_in(self, user=ALICE, password=PASSWORD):
        c = self.client()
        c.read_response()
        c.starttls()
        r = c.plain(user, password)
        self.assertTrue(r[-1].startswith("OK"), r)
        return c

    # ---- a real client ---------------------------------------------------

    def sieve_connect(self, *args, user="bob@example.org", password="bob-secret-1"):
        rfd, wfd = os.pipe()
        os.write(wfd, (password + "\n").encode())
        os.close(wfd)
        try:
            return subprocess.run(
                ["sieve-connect", "--server", "127.0.0.1", "--nosrv",
                 "--port", str(self.mh.port("managesieve")), "--user", user,
                 "--passwordfd", str(rfd), "--notlsverify", "--noclearchan",
                 "--authmech", "PLAIN", *args],
                pass_fds=(rfd,), capture_output=True, text=True, timeout=60)
        finally:
            os.close(rfd)

    @unittest.skipUnless(have_sieve_connect(), "sieve-connect is not installed")
    def test_01_sieve_connect(self):
        good = os.path.join(self.tmp, "good.sieve")
        bad = os.path.join(self.tmp, "bad.sieve")
        with open(good, "w") as f:
            f.write(GOOD)
        with open(bad, "w") as f:
            f.write(BAD)

        r = self.sieve_connect("--checkscript", "--localsieve", good)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        r = self.sieve_connect("--checkscript", "--localsieve", bad)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("line 4", r.stdout + r.stderr)

        r = self.sieve_connect("--upload", "--localsieve", good, "--remotesieve", "lists")
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        # the broken script is refused with the compiler's line number
        r = self.sieve_connect("--upload", "--localsieve", bad, "--remotesieve", "broken")
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stdout + r.stderr, r"line 4: error")

        # sieve-connect prints the LISTSCRIPTS lines as they come
        r = self.sieve_connect("--list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(), ['"lists"'])
        r = self.sieve_connect("--activate", "--remotesieve", "lists")
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        r = self.sieve_connect("--list")
        self.assertEqual(r.stdout.splitlines(), ['"lists" ACTIVE'])

        out = os.path.join(self.tmp, "down.sieve")
        r = self.sieve_connect("--download", "--remotesieve", "lists", "--localsieve", out)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        with open(out) as f:
            self.assertEqual(f.read(), GOOD)

        # the active script cannot be deleted; deactivated, it can
        r = self.sieve_connect("--delete", "--remotesieve", "lists")
        self.assertNotEqual(r.returncode, 0)
        r = self.sieve_connect("--deactivate")
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        r = self.sieve_connect("--delete", "--remotesieve", "lists")
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        r = self.sieve_connect("--list")
        self.assertEqual(r.stdout.split(), [])
        self.assertRegex(self.mh.log(), r"managesieve\[\d+\] login user=bob@example.org .*tls=TLS")

    # ---- transcripts -----------------------------------------------------

    def test_capability_and_starttls(self):
        c = self.client()
        greeting = c.read_response()
        self.assertIn('"IMPLEMENTATION" "mailhub"', greeting)
        self.assertIn('"STARTTLS"', greeting)
        self.assertIn('"SASL" ""', greeting)      # nothing in clear
        self.assertTrue(any(l.startswith('"SIEVE" "fileinto') for l in greeting))
        self.assertIn('"VERSION" "1.0"', greeting)
        self.assertEqual(greeting[-1], "OK")
        # RFC 5804 §2.1: no credentials before TLS
        r = c.plain(ALICE, PASSWORD)
        self.assertTrue(r[-1].startswith("NO (ENCRYPT-NEEDED)"), r)
        c.send("LISTSCRIPTS\r\n")
        self.assertTrue(c.read_response()[-1].startswith("NO"))
        caps = c.starttls()
        self.assertNotIn('"STARTTLS"', caps)
        sasl = [l for l in caps if l.startswith('"SASL"')][0]
        self.assertIn("PLAIN", sasl)
        self.assertIn("SCRAM-SHA-256", sasl)
        r = c.plain(ALICE, "wrong")
        self.assertTrue(r[-1].startswith("NO"), r)
        r = c.plain(ALICE, PASSWORD)
        self.assertEqual(r[-1], 'OK "logged in"')
        c.send("CAPABILITY\r\n")
        self.assertIn(f'"OWNER" "{ALICE}"', c.read_response())
        c.send("LOGOUT\r\n")
        self.assertTrue(c.read_response()[-1].startswith("OK"))
        self.assertEqual(c.f.read(), b"")

    def test_commands(self):
        c = self.logged_in()
        script = "keep;\r\n"
        c.send(f'PUTSCRIPT "one" {{{len(script)}+}}\r\n{script}\r\n')
        self.assertEqual(c.read_response(), ["OK"])
        # the synchronizing form is taken too
        c.send(f'PUTSCRIPT "two" {{{len(GOOD)}}}\r\n{GOOD}\r\n')
        self.assertEqual(c.read_response(), ["OK"])
        c.send('CHECKSCRIPT "if true {"\r\n')
        r = c.read_response()
        self.assertRegex(r[-1], r'^NO "line 1: error')
        c.send(f'PUTSCRIPT "bad" {{{len(BAD)}+}}\r\n{BAD}\r\n')
        r = c.read_response()
        self.assertRegex(r[-1], r"^NO .*line 4: error")
        c.send('SETACTIVE "two"\r\nLISTSCRIPTS\r\n')
        self.assertEqual(c.read_response(), ["OK"])
        self.assertEqual(sorted(c.read_response()), sorted(['"one"', '"two" ACTIVE', "OK"]))
        c.send('GETSCRIPT "two"\r\n')
        r = c.read_response()
        self.assertEqual(r[0], "{" + GOOD + "}")
        c.send('GETSCRIPT "nope"\r\n')
        self.assertTrue(c.read_response()[-1].startswith("NO (NONEXISTENT)"))
        c.send('DELETESCRIPT "two"\r\n')
        self.assertTrue(c.read_response()[-1].startswith("NO (ACTIVE)"))
        c.send('RENAMESCRIPT "one" "two"\r\n')
        self.assertTrue(c.read_response()[-1].startswith("NO (ALREADYEXISTS)"))
        c.send('RENAMESCRIPT "one" "three"\r\nGETSCRIPT "three"\r\n')
        self.assertEqual(c.read_response(), ["OK"])
        self.assertEqual(c.read_response()[0], "{" + script + "}")
        c.send('HAVESPACE "x" 100\r\nHAVESPACE "x" 99999999\r\n')
        self.assertEqual(c.read_response(), ["OK"])
        self.assertTrue(c.read_response()[-1].startswith("NO (QUOTA/MAXSIZE)"))
        # a literal over the limit is refused unread, and the session
        # stays in step
        big = 2 * 1024 * 1024
        c.send(f'PUTSCRIPT "big" {{{big}+}}\r\n')
        c.send(b"#" * big + b"\r\nNOOP \"t1\"\r\n")
        self.assertTrue(c.read_response()[-1].startswith("NO (QUOTA/MAXSIZE)"))
        self.assertEqual(c.read_response(), ['OK (TAG "t1") "done"'])
        c.send('SETACTIVE ""\r\nDELETESCRIPT "two"\r\nDELETESCRIPT "three"\r\nLISTSCRIPTS\r\n')
        self.assertEqual(c.read_response(), ["OK"])
        self.assertEqual(c.read_response(), ["OK"])
        self.assertEqual(c.read_response(), ["OK"])
        self.assertEqual(c.read_response(), ["OK"])
        c.send('GETSCRIPT "a/b"\r\n')
        self.assertTrue(c.read_response()[-1].startswith("NO"))
        c.send("UNAUTHENTICATE\r\nLISTSCRIPTS\r\n")
        self.assertEqual(c.read_response(), ["OK"])
        self.assertTrue(c.read_response()[-1].startswith("NO"))
        c.send("AUTHENTICATE \"PLAIN\"\r\n")
        self.assertEqual(c.f.readline(), b'""\r\n')
        ir = base64.b64encode(f"\0carol@example.org\0carol-secret-1".encode()).decode()
        c.send(f'{{{len(ir)}+}}\r\n{ir}\r\n')
        self.assertEqual(c.read_response(), ['OK "logged in"'])
        c.send("LISTSCRIPTS\r\n")
        self.assertEqual(c.read_response(), ["OK"])

    def test_scram_with_app_password(self):
        app = self.mh.cli("user", "app-password", "add", ALICE, "sieve editor").stdout.strip()
        c = self.client()
        c.read_response()
        c.starttls()
        s = Scram(ALICE, app)
        first = base64.b64encode(s.first().encode()).decode()
        c.send(f'AUTHENTICATE "SCRAM-SHA-256" "{first}"\r\n')
        server_first = base64.b64decode(c.f.readline().decode().strip().strip('"')).decode()
        final = base64.b64encode(s.final(server_first).encode()).decode()
        c.send(f'"{final}"\r\n')
        server_final = base64.b64decode(c.f.readline().decode().strip().strip('"')).decode()
        self.assertTrue(s.check_final(server_final), server_final)
        c.send('""\r\n')
        self.assertEqual(c.read_response(), ['OK "logged in"'])
        c.send("LISTSCRIPTS\r\n")
        self.assertEqual(c.read_response()[-1], "OK")
        # cancelled exchanges are NO
        c2 = self.client()
        c2.read_response()
        c2.starttls()
        c2.send('AUTHENTICATE "SCRAM-SHA-256"\r\n')
        self.assertEqual(c2.f.readline(), b'""\r\n')
        c2.send('"*"\r\n')
        self.assertTrue(c2.read_response()[-1].startswith("NO"))

    def test_sorts_smtp_mail(self):
        c = self.logged_in("carol@example.org", "carol-secret-1")
        c.send(f'PUTSCRIPT "lists" {{{len(GOOD)}+}}\r\n{GOOD}\r\nSETACTIVE "lists"\r\n')
        self.assertEqual(c.read_response(), ["OK"])
        self.assertEqual(c.read_response(), ["OK"])
        msg = ("From: dev@lists.example.com\r\nTo: carol@example.org\r\n"
               "Subject: post\r\nList-Id: <dev.lists.example.com>\r\n\r\nhello\r\n")
        with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30) as s:
            s.sendmail("dev-bounces@lists.example.com", ["carol@example.org"], msg)
        self.assertEqual(len(inbox_rows(self.mh, "carol@example.org", "Lists")), 1)
        c.send('SETACTIVE ""\r\n')
        self.assertEqual(c.read_response(), ["OK"])

    def test_zz_throttle(self):
        # every failure counts with the other protocols' (store/login.h);
        # [auth] block_after (4 here) failures block the address
        blocked = False
        for i in range(6):
            c = self.client()
            c.read_response()
            c.starttls()
            r = c.plain("nobody@example.org", f"wrong-{i}")
            c.close()
            if r[-1].startswith("NO (TRYLATER)"):
                blocked = True
                break
            self.assertTrue(r[-1].startswith("NO"), r)
        self.assertTrue(blocked)
        c = self.client()
        c.read_response()
        c.starttls()
        r = c.plain(ALICE, PASSWORD)
        self.assertTrue(r[-1].startswith("NO (TRYLATER)"), r)


if __name__ == "__main__":
    tap.main()
