#!/usr/bin/env python3
"""Logging: [log] target and level, the journal's structured fields (through
a datagram socket the test binds where the journal's would be), and the
admin API's search of recent events by address, queue id, text, level and
time.

syslog(3) writes to /dev/log, which this machine may not have and a test
must not replace: that target is covered by the unit tests of the line
format and by the config test that accepts it."""

import imaplib
import os
import re
import smtplib
import socket
import tempfile
import threading
import time
import unittest
import urllib.parse

import tap
from api_util import Client
from mailhub_fixture import Mailhub, client_tls_context

USER = "alice@example.org"
PASSWORD = "alice-password-1"
ADMIN = "admin@example.org"
ADMIN_PASSWORD = "admin-password-1"


class JournalReader(threading.Thread):
    """Reads the entries ({FIELD: value}) sent to a datagram socket as
    they come, as the journal does (its queue is short: a reader that
    waits would make the daemon write to stderr instead)."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock = sock
        self.sock.settimeout(0.2)
        self.got = []
        self.lock = threading.Lock()
        self.stopping = False

    def run(self):
        while not self.stopping:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = {}
            for line in data.decode("utf-8", "replace").split("\n"):
                if "=" in line:
                    k, v = line.split("=", 1)
                    fields[k] = v
            with self.lock:
                self.got.append(fields)

    def wait_for(self, want, seconds=10):
        """The first entry that satisfies want, or None."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.lock:
                for e in self.got:
                    if want(e):
                        return e
            time.sleep(0.05)
        return None


class JournalTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mailhub-journal.")
        cls.path = os.path.join(cls.tmp, "socket")
        cls.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        cls.sock.bind(cls.path)
        cls.reader = JournalReader(cls.sock)
        cls.reader.start()
        cls.mh = Mailhub(listeners=("smtp", "imaps"),
                         config_extra=f"\n[log]\ntarget = journal\n"
                                      f"journal_socket = {cls.path}\n")
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(USER, PASSWORD)
        try:
            cls.mh.start()
        except AssertionError as e:
            # its reason went to the journal socket, not to stderr
            with cls.reader.lock:
                said = [f.get("MESSAGE", f) for f in cls.reader.got]
            cls.mh.cleanup()
            cls.release_socket()
            raise AssertionError(f"{e}\njournal entries: {said}") from None

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()
        cls.release_socket()

    @classmethod
    def release_socket(cls):
        cls.reader.stopping = True
        cls.reader.join(timeout=5)
        cls.sock.close()
        os.unlink(cls.path)
        os.rmdir(cls.tmp)

    def test_login_has_its_fields(self):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.mh.port("imaps"),
                              ssl_context=client_tls_context())
        m.login(USER, PASSWORD)
        m.logout()
        e = self.reader.wait_for(lambda f: f.get("MAILHUB_USER") == USER and
                                 f.get("MAILHUB_PROTOCOL") == "imap" and
                                 " login " in f.get("MESSAGE", ""))
        self.assertIsNotNone(e, self.reader.got)
        self.assertEqual(e["MAILHUB_IP"], "127.0.0.1")
        self.assertRegex(e["MAILHUB_SESSION"], r"^\d+$")
        self.assertEqual(e["PRIORITY"], "6")
        self.assertEqual(e["SYSLOG_IDENTIFIER"], "mailhub")
        self.assertIn("login", e["MESSAGE"])
        # nothing of it on stderr
        self.assertNotIn(f"login user={USER}", self.mh.log())

    def test_accepted_message_has_its_queue_id(self):
        s = smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=10)
        s.sendmail("sender@remote.example", [USER],
                   b"Subject: journal\r\n\r\nhello\r\n")
        s.quit()
        e = self.reader.wait_for(lambda f: " accepted " in f.get("MESSAGE", ""))
        self.assertIsNotNone(e, self.reader.got)
        self.assertEqual(e["MAILHUB_PROTOCOL"], "smtp")
        self.assertRegex(e["MAILHUB_ID"], r"^\S+$")
        self.assertEqual(e["MAILHUB_FROM"], "<sender@remote.example>")


class LevelAndSearchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(listeners=("smtp", "imaps", "admin"),
                         config_extra="\n[log]\ntarget = stderr\nlevel = info\n")
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(USER, PASSWORD)
        cls.mh.add_user(ADMIN, ADMIN_PASSWORD, admin=True)
        cls.mh.start()
        cls.api = Client(cls.mh.port("admin"))
        r = cls.api.login(ADMIN, ADMIN_PASSWORD)
        assert r.status == 200, r

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def search(self, **params):
        r = self.api.get("/api/v1/log?" + urllib.parse.urlencode(params))
        self.assertEqual(r.status, 200, r)
        return [e["text"] for e in r.json["events"]]

    def test_search(self):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.mh.port("imaps"),
                              ssl_context=client_tls_context())
        m.login(USER, PASSWORD)
        m.logout()
        s = smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=10)
        s.sendmail("someone@remote.example", [USER], b"Subject: s\r\n\r\nx\r\n")
        s.quit()
        time.sleep(0.5)
        by_address = self.search(address=USER)
        self.assertTrue(any("login" in t and USER in t for t in by_address), by_address)
        self.assertTrue(all(USER.lower() in t.lower() for t in by_address))
        by_user = self.search(user=USER.upper())
        self.assertTrue(by_user and all(f"user={USER}" in t for t in by_user), by_user)
        accepted = [t for t in self.search(address="someone@remote.example")
                    if " accepted " in t]
        self.assertEqual(len(accepted), 1, accepted)
        qid = re.search(r" id=(\S+)", accepted[0]).group(1)
        self.assertEqual(self.search(queue=qid), accepted)
        self.assertEqual(self.search(q="no-such-thing-at-all"), [])
        self.assertEqual(self.search(level="error", address=USER), [])
        self.assertEqual(self.search(since=int(time.time()) + 3600), [])
        self.assertTrue(self.search(since="2000-01-01T00:00:00Z", address=USER))
        for bad in ({"level": "loud"}, {"since": "yesterday"}, {"until": "-1"}):
            r = self.api.get("/api/v1/log?" + urllib.parse.urlencode(bad))
            self.assertEqual(r.status, 422, (bad, r))

    def test_level_warning_leaves_info_out(self):
        mh = Mailhub(listeners=("imaps",),
                     config_extra="\n[log]\nlevel = warning\n")
        try:
            mh.cli("domain", "add", "example.org")
            mh.add_user(USER, PASSWORD)
            mh.start()
            m = imaplib.IMAP4_SSL("127.0.0.1", mh.port("imaps"),
                                  ssl_context=client_tls_context())
            m.login(USER, PASSWORD)
            m.logout()
            mh.stop()
            self.assertNotIn(" info ", mh.log())
            self.assertNotIn("login user=", mh.log())
        finally:
            mh.cleanup()

    def test_bad_settings_refused(self):
        for extra, word in (("target = loud", "target"), ("level = chatty", "level")):
            mh = Mailhub(listeners=(), config_extra=f"\n[log]\n{extra}\n", init=False)
            try:
                r = mh.cli("domain", "list", check=False)
                self.assertEqual(r.returncode, 1, r)
                self.assertIn(f"[log] {word}", r.stderr)
            finally:
                mh.cleanup()
        mh = Mailhub(listeners=(), config_extra="\n[log]\ntarget = syslog\n")
        mh.cleanup()


if __name__ == "__main__":
    tap.main()
