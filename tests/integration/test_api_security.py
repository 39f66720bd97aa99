"""The admin API against a hostile user or admin (issue 14, findings 3, 7
and 11), through the real admin listener:

- a stored upstream password only ever goes to the host, port, TLS and
  username it was saved with: a test or a PATCH that changes any of them
  needs the password again, and a tiny TCP server standing for "anywhere"
  proves that nothing reaches it;
- connection errors say what failed in plain words and never echo what the
  peer sent (banner or reply text), neither in the test's answer nor in the
  account's state;
- tests and fetches to loopback (and other private) addresses are refused
  unless [fetch] allow_private_hosts = yes, checked on the address actually
  connected to (a name that resolves to loopback is refused too);
- slow connection tests do not stall the panel: ten of them against a
  listener that accepts and never answers, and anonymous GET /status still
  answers (the time is printed);
- a JSON string holding \\u0000 is refused with 422 instead of being cut.
"""

import base64
import socket
import threading
import time
import unittest

import tap
from api_util import Client
from mailhub_fixture import Mailhub

ADMIN, ADMIN_PW = "admin@example.org", "admin-pass-1"
ALICE, ALICE_PW = "alice@example.org", "alice-pass-1"
STORED_PW = "Stored-Upstream-Secret-7"
BANNER_SECRET = "banner-secret-XYZ"
REPLY_SECRET = "reply-secret-QWE"
ALLOW_PRIVATE = "\n[fetch]\nallow_private_hosts = yes\n"


class TinyServer:
    """A TCP server on 127.0.0.1 standing for "any host": it records every
    connection and every byte it is sent.  mode "imap" plays a minimal IMAP
    server (LOGIN answered by login_reply), "banner" sends a greeting that
    is no IMAP one, "blackhole" accepts and never says a word."""

    def __init__(self, mode="imap", login_reply=None, greeting=None):
        self.mode = mode
        self.login_reply = login_reply or "OK LOGIN done"
        self.greeting = greeting or "* OK [CAPABILITY IMAP4rev1] " + BANNER_SECRET
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.received = b""
        self.lock = threading.Lock()
        self.stopping = False
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _record(self, data):
        with self.lock:
            self.received += data

    def _serve(self, c):
        c.settimeout(60)
        try:
            if self.mode == "blackhole":
                # read (and record) until the peer gives up; answer nothing
                for _ in range(10000):
                    data = c.recv(4096)
                    if not data:
                        return
                    self._record(data)
                return
            c.sendall(self.greeting.encode() + b"\r\n")
            if self.mode == "banner":
                data = c.recv(4096)
                self._record(data)
                return
            buf = b""
            for _ in range(1000):
                data = c.recv(4096)
                if not data:
                    return
                self._record(data)
                buf += data
                while b"\r\n" in buf:
                    line, buf = buf.split(b"\r\n", 1)
                    words = line.decode("utf-8", "replace").split(" ")
                    tag, cmd = words[0], (words[1].upper() if len(words) > 1 else "")
                    if cmd == "LOGIN":
                        c.sendall(f"{tag} {self.login_reply}\r\n".encode())
                    elif cmd == "LIST":
                        c.sendall(f'* LIST () "/" INBOX\r\n{tag} OK done\r\n'.encode())
                    elif cmd == "CAPABILITY":
                        c.sendall(f"* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n".encode())
                    elif cmd == "LOGOUT":
                        c.sendall(f"* BYE bye\r\n{tag} OK done\r\n".encode())
                        return
                    else:
                        c.sendall(f"{tag} OK done\r\n".encode())
        except OSError:
            pass
        finally:
            c.close()

    def saw(self, secret):
        """True when secret came in, plain or in an AUTHENTICATE PLAIN."""
        with self.lock:
            data = self.received
        if secret.encode() in data:
            return True
        for word in data.split():
            try:
                if secret.encode() in base64.b64decode(word, validate=True):
                    return True
            except ValueError:
                continue
        return False

    def close(self):
        self.stopping = True
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.thread.join(timeout=5)


class Base(unittest.TestCase):
    config_extra = ""

    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(listeners=("admin",), config_extra=cls.config_extra)
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(ADMIN, ADMIN_PW, admin=True)
        cls.mh.add_user(ALICE, ALICE_PW)
        cls.admin_token = cls.mh.cli("token", "create", ADMIN).stdout.strip().split()[-1]
        cls.alice_token = cls.mh.cli("token", "create", ALICE).stdout.strip().split()[-1]
        cls.mh.start()
        cls.port = cls.mh.port("admin")
        cls.admin = Client(cls.port, cls.admin_token)
        cls.alice = Client(cls.port, cls.alice_token)
        cls.anon = Client(cls.port)

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def servers(self, *servers):
        for s in servers:
            self.addCleanup(s.close)
        return servers[0] if len(servers) == 1 else servers

    def add_account(self, port, who=None, **extra):
        body = {"protocol": "imap", "host": "127.0.0.1", "port": port, "tls": "none",
                "username": "alice-far", "password": STORED_PW, "enabled": False, **extra}
        r = (who or self.alice).post("/upstreams", body)
        self.assertEqual(r.status, 201, r)
        self.addCleanup(self.admin.delete, f"/upstreams/{r.json['id']}")
        return r.json

    def problem(self, r, status, *words):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.headers.get("Content-Type"), "application/problem+json", r)
        for w in words:
            self.assertIn(w, r.json["detail"])


class StoredSecret(Base):
    """Finding 3: a stored password never goes anywhere but where it was saved for."""
    config_extra = ALLOW_PRIVATE

    def test_test_with_stored_id_and_new_settings_needs_the_password(self):
        home, anywhere = self.servers(TinyServer(), TinyServer())
        acct = self.add_account(home.port)
        changes = ({"host": "localhost", "port": anywhere.port}, {"port": anywhere.port},
                   {"tls": "starttls"}, {"tls_verify": "off"}, {"username": "someone"},
                   {"protocol": "pop3"})
        for who, client in (("owner", self.alice), ("admin", self.admin)):
            for change in changes:
                with self.subTest(who=who, change=change):
                    r = client.post("/upstreams/test", {"id": acct["id"], **change})
                    self.problem(r, 422, "password")
        self.assertEqual(anywhere.connections, 0)
        self.assertFalse(anywhere.saw(STORED_PW))
        # The same settings: the stored password goes where it was saved for.
        t = self.alice.post("/upstreams/test", {"id": acct["id"]})
        self.assertEqual(t.status, 200, t)
        self.assertTrue(t.json["ok"], t)
        self.assertTrue(home.saw(STORED_PW))
        # A new host with the password given is an ordinary test.
        t = self.alice.post("/upstreams/test", {"id": acct["id"], "port": anywhere.port,
                                                "password": "typed-again"})
        self.assertTrue(t.json["ok"], t)
        self.assertTrue(anywhere.saw("typed-again"))
        self.assertFalse(anywhere.saw(STORED_PW))

    def test_patch_of_host_or_port_needs_the_password(self):
        home, anywhere = self.servers(TinyServer(), TinyServer())
        acct = self.add_account(home.port)
        for change in ({"host": "localhost"}, {"port": anywhere.port}, {"tls": "implicit"},
                       {"tls_verify": "off"}, {"username": "x"}, {"protocol": "pop3"}):
            for who, client in (("owner", self.alice), ("admin", self.admin)):
                with self.subTest(who=who, change=change):
                    self.problem(client.patch(f"/upstreams/{acct['id']}", change), 422,
                                 "password")
        got = self.alice.get(f"/upstreams/{acct['id']}").json
        self.assertEqual((got["host"], got["port"], got["tls"], got["username"]),
                         ("127.0.0.1", home.port, "none", "alice-far"))
        # Other fields change without it, and the stored password stays home.
        r = self.alice.patch(f"/upstreams/{acct['id']}", {"interval": 600, "enabled": True})
        self.assertEqual(r.status, 200, r)
        r = self.mh.cli("upstream", "run", str(acct["id"]), check=False)
        self.assertEqual(anywhere.connections, 0)
        self.assertFalse(anywhere.saw(STORED_PW))
        self.assertTrue(home.saw(STORED_PW), r.stderr)
        # With the password, the account moves.
        r = self.alice.patch(f"/upstreams/{acct['id']}", {"port": anywhere.port,
                                                          "password": "new-one-9"})
        self.assertEqual((r.status, r.json["port"]), (200, anywhere.port), r)
        self.mh.cli("upstream", "run", str(acct["id"]), check=False)
        self.assertTrue(anywhere.saw("new-one-9"))
        self.assertFalse(anywhere.saw(STORED_PW))

    def test_errors_do_not_echo_what_the_peer_sent(self):
        banner, refusing = self.servers(
            TinyServer(mode="banner", greeting="SSH-2.0-OpenSSH " + BANNER_SECRET),
            TinyServer(login_reply="NO [AUTHENTICATIONFAILED] " + REPLY_SECRET))
        for server, words in ((banner, "not an IMAP server"),
                              (refusing, "username or password")):
            with self.subTest(port=server.port):
                t = self.alice.post("/upstreams/test", {
                    "protocol": "imap", "host": "127.0.0.1", "port": server.port,
                    "tls": "none", "username": "u", "password": "p"})
                self.assertEqual(t.status, 200, t)
                self.assertFalse(t.json["ok"], t)
                self.assertIn(words, t.json["error"])
                self.assertNotIn(BANNER_SECRET, t.text)
                self.assertNotIn(REPLY_SECRET, t.text)
                acct = self.add_account(server.port)
                r = self.mh.cli("upstream", "run", str(acct["id"]), check=False)
                self.assertEqual(r.returncode, 1, r)
                state = self.alice.get(f"/upstreams/{acct['id']}").json["state"]
                self.assertIn(words, state["last_error"])
                for secret in (BANNER_SECRET, REPLY_SECRET):
                    self.assertNotIn(secret, state["last_error"])
                    self.assertNotIn(secret, r.stderr)


class PrivateHosts(Base):
    """Finding 3: without [fetch] allow_private_hosts, no test and no fetch
    reaches a loopback address, whatever name or form it is given in."""

    def test_connection_tests_to_loopback_are_refused(self):
        server = self.servers(TinyServer())
        for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "::ffff:127.0.0.1",
                     "0.0.0.0", "0"):
            with self.subTest(host=host):
                t = self.alice.post("/upstreams/test", {
                    "protocol": "imap", "host": host, "port": server.port, "tls": "none",
                    "username": "u", "password": "p"})
                self.assertEqual(t.status, 200, t)
                self.assertFalse(t.json["ok"], t)
                self.assertIn("private", t.json["error"])
                self.assertIn("allow_private_hosts", t.json["error"])
        self.assertEqual(server.connections, 0)

    def test_fetches_to_loopback_are_refused(self):
        server = self.servers(TinyServer())
        acct = self.add_account(server.port, enabled=True)
        r = self.mh.cli("upstream", "run", str(acct["id"]), check=False)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("private", r.stderr)
        # the daemon's own fetcher too
        self.assertEqual(self.alice.post(f"/upstreams/{acct['id']}/fetch").status, 202)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            st = self.alice.get(f"/upstreams/{acct['id']}").json["state"]
            if st["failures"] >= 2:
                break
            time.sleep(0.1)
        self.assertGreaterEqual(st["failures"], 2, st)
        self.assertIn("private", st["last_error"])
        self.assertEqual(server.connections, 0)
        self.assertFalse(server.saw(STORED_PW))


class Responsive(Base):
    """Finding 7: slow connection tests do not hold the panel's threads."""
    config_extra = ALLOW_PRIVATE
    USERS = 10

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = []
        for i in range(cls.USERS):
            addr = f"slow{i}@example.org"
            cls.mh.add_user(addr, f"slow-pass-{i}")
            tok = cls.mh.cli("token", "create", addr).stdout.strip().split()[-1]
            cls.users.append(Client(cls.port, tok))

    def test_ten_slow_tests_do_not_stall_the_panel(self):
        hole = self.servers(TinyServer(mode="blackhole"))
        body = {"protocol": "imap", "host": "127.0.0.1", "port": hole.port,
                "tls": "none", "username": "u", "password": "p"}
        answers = [None] * self.USERS

        def run(i):
            try:
                answers[i] = self.users[i].post("/upstreams/test", body)
            except OSError as e:
                answers[i] = e

        def wait_for(n):
            deadline = time.monotonic() + 10
            while hole.connections < n and time.monotonic() < deadline:
                time.sleep(0.05)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(self.USERS)]
        threads[0].start()
        wait_for(1)
        # the same user again while the first one waits: refused at once
        self.problem(self.users[0].post("/upstreams/test", body), 429, "still running")
        for t in threads[1:]:
            t.start()
        wait_for(4)
        time.sleep(0.5)     # let the rest arrive (and be refused)
        started = time.monotonic()
        r = Client(self.port).get("/status")
        took = time.monotonic() - started
        print(f"# GET /api/v1/status with {self.USERS} slow tests sent: {took:.3f} s")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"status": "ok"})
        self.assertEqual(self.admin.get("/upstreams").status, 200)
        for t in threads:
            t.join(timeout=60)
        codes = sorted(a.status if not isinstance(a, Exception) else str(a) for a in answers)
        print(f"# answers: {codes}")
        for a in answers:
            self.assertNotIsInstance(a, Exception)
            self.assertIn(a.status, (200, 429), a)
            if a.status == 200:
                self.assertFalse(a.json["ok"])
                self.assertIn("timed out", a.json["error"])
        # a bounded number at once, the others told to come back
        self.assertEqual(codes.count(200), 4, codes)
        self.assertEqual(codes.count(429), self.USERS - 4, codes)


class StopWhileTesting(unittest.TestCase):
    """Finding 7: the daemon stops cleanly with a connection test waiting
    (libmicrohttpd must not be stopped with a suspended connection)."""

    def test_sigterm_with_a_test_waiting(self):
        mh = Mailhub(listeners=("admin",), config_extra=ALLOW_PRIVATE)
        self.addCleanup(mh.close)
        mh.cli("domain", "add", "example.org")
        mh.add_user(ALICE, ALICE_PW)
        token = mh.cli("token", "create", ALICE).stdout.strip().split()[-1]
        mh.start()
        hole = TinyServer(mode="blackhole")
        self.addCleanup(hole.close)
        answer = []

        def run():
            try:
                answer.append(Client(mh.port("admin"), token).post("/upstreams/test", {
                    "protocol": "imap", "host": "127.0.0.1", "port": hole.port,
                    "tls": "none", "username": "u", "password": "p"}))
            except OSError as e:
                answer.append(e)

        t = threading.Thread(target=run)
        t.start()
        deadline = time.monotonic() + 10
        while hole.connections == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(hole.connections, 1)
        started = time.monotonic()
        mh.stop()       # fails on a bad exit status or a sanitizer report
        print(f"# SIGTERM with a connection test waiting: stopped in "
              f"{time.monotonic() - started:.2f} s")
        t.join(timeout=30)
        self.assertEqual(len(answer), 1)
        if not isinstance(answer[0], Exception):
            self.assertEqual(answer[0].status, 503, answer[0])


class JsonNul(Base):
    """Finding 11: \\u0000 in a JSON string is refused, not cut."""

    def test_nul_in_strings_is_refused(self):
        for path, body in (("/tokens", {"name": "a\x00b"}),
                           ("/users", {"address": "nul@example.org", "password": "pw\x00tail"}),
                           ("/upstreams", {"protocol": "imap", "host": "imap.example.net",
                                           "username": "u", "password": "p\x00q"}),
                           ("/upstreams", {"protocol": "imap", "host": "imap.example.net",
                                           "username": "u", "password": "pq",
                                           "folders": ["INBOX", "x\x00y"]}),
                           ("/tokens", {"na\x00me": "x"})):
            with self.subTest(path=path, body=body):
                r = self.admin.post(path, body)
                self.problem(r, 422, "\\u0000")
        self.assertNotIn("a", [t["name"] for t in self.admin.get("/tokens").json])
        self.assertEqual(self.admin.get("/users/nul@example.org").status, 404)
        self.assertEqual(self.admin.get("/upstreams").json, [])
        # A session login with a cut password must not sign in either.
        r = self.anon.post("/session", {"username": ADMIN, "password": ADMIN_PW + "\x00junk"})
        self.problem(r, 422, "\\u0000")

    def test_escaped_backslash_u0000_is_text(self):
        # "\\u0000" in JSON is a backslash and five characters, no NUL
        r = self.admin.post("/tokens", {"name": "a\\u0000b"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["name"], "a\\u0000b")
        self.admin.delete(f"/tokens/{r.json['id']}")
        r = self.admin.post("/tokens", raw_body=b'{"name": "x\\\\\\u0000"}')
        self.problem(r, 422, "\\u0000")


class JsonDuplicate(Base):
    """A member name given twice is refused: cJSON reads the first, a proxy
    in front of the panel may read the last."""

    def test_repeated_name_is_refused(self):
        r = self.admin.post("/users", raw_body=b'{"address": "dup@example.org", '
                            b'"password": "a long enough password", '
                            b'"address": "other@example.org"}')
        self.problem(r, 400, "'address' is given twice")
        self.assertEqual(self.admin.get("/users/dup@example.org").status, 404)
        self.assertEqual(self.admin.get("/users/other@example.org").status, 404)
        # in a nested object too
        r = self.admin.post("/tokens", raw_body=b'{"name": "t", "x": {"k": 1, "k": 2}}')
        self.problem(r, 400, "'k' is given twice")


if __name__ == "__main__":
    tap.main()
