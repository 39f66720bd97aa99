"""Stronger accounts through the admin listener: a new password, a disabled
or deleted account ends the user's panel sessions and API tokens, whoever
made the change (the API, or `mailhub user passwd` in another process);
tokens expire and show when they were last used."""

import datetime
import os
import sqlite3
import unittest

import tap
from api_util import Client, q
from mailhub_fixture import Mailhub

ADMIN, ADMIN_PW = "admin@example.org", "admin-pass-long-1"


def db_exec(mh, sql, *args):
    """A write to the daemon's database from outside, as another process
    would (the daemon sees committed changes at once: WAL)."""
    con = sqlite3.connect(os.path.join(mh.data_dir, "mailhub.db"), timeout=30)
    try:
        with con:
            con.execute(sql, args)
    finally:
        con.close()


class Revocation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(listeners=("admin",))
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(ADMIN, ADMIN_PW, admin=True)
        cls.admin_token = cls.mh.cli("token", "create", ADMIN).stdout.strip()
        cls.mh.start()
        cls.port = cls.mh.port("admin")
        cls.admin = Client(cls.port, cls.admin_token)

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def new_user(self, name, password):
        address = f"{name}@example.org"
        r = self.admin.post("/users", {"address": address, "password": password})
        self.assertEqual(r.status, 201, r)
        return address

    def signed_in(self, address, password):
        """A browser session and a bearer token of the user, both working."""
        s = Client(self.port)
        self.assertEqual(s.login(address, password).status, 200)
        token = self.mh.cli("token", "create", address).stdout.strip()
        t = Client(self.port, token)
        for c in (s, t):
            r = c.get("/users/" + q(address))
            self.assertEqual(r.status, 200, r)
        return s, t

    def assert_revoked(self, *clients):
        for c in clients:
            r = c.get("/session")
            self.assertEqual(r.status, 401, r)

    def test_cli_passwd_ends_sessions_and_tokens(self):
        # The CLI writes the database from another process while the
        # daemon holds the session in its memory.
        addr = self.new_user("cli-pw", "first-Secret-pw-1")
        s, t = self.signed_in(addr, "first-Secret-pw-1")
        self.mh.cli("user", "passwd", addr, "--password-stdin", input="second-Secret-pw-2\n")
        self.assert_revoked(s, t)
        self.assertEqual(Client(self.port).login(addr, "second-Secret-pw-2").status, 200)

    def test_admin_api_password_change_ends_sessions_and_tokens(self):
        addr = self.new_user("api-pw", "first-Secret-pw-1")
        s, t = self.signed_in(addr, "first-Secret-pw-1")
        r = self.admin.patch("/users/" + q(addr), {"password": "second-Secret-pw-2"})
        self.assertEqual(r.status, 200, r)
        self.assert_revoked(s, t)
        self.assertEqual(self.admin.get("/session").status, 200)

    def test_own_password_change_keeps_only_this_session(self):
        addr = self.new_user("own-pw", "first-Secret-pw-1")
        s, t = self.signed_in(addr, "first-Secret-pw-1")
        other = Client(self.port)
        self.assertEqual(other.login(addr, "first-Secret-pw-1").status, 200)
        r = s.patch("/users/" + q(addr), {"password": "second-Secret-pw-2",
                                          "current_password": "first-Secret-pw-1"})
        self.assertEqual(r.status, 200, r)
        # The session that made the change goes on (and can still change
        # things: its CSRF token is the same); the rest end.
        self.assertEqual(s.get("/session").status, 200)
        self.assertEqual(s.post("/tokens", {"name": "after"}).status, 201)
        self.assert_revoked(other, t)
        names = [x["name"] for x in s.get("/tokens").json]
        self.assertEqual(names, ["after"])

    def test_disabling_ends_sessions_and_tokens_for_good(self):
        addr = self.new_user("dis", "first-Secret-pw-1")
        s, t = self.signed_in(addr, "first-Secret-pw-1")
        self.assertEqual(self.admin.patch("/users/" + q(addr), {"enabled": False}).status, 200)
        self.assert_revoked(s, t)
        # Enabling the account again does not bring them back.
        self.assertEqual(self.admin.patch("/users/" + q(addr), {"enabled": True}).status, 200)
        self.assert_revoked(s, t)
        self.assertEqual(Client(self.port).login(addr, "first-Secret-pw-1").status, 200)

    def test_disabling_from_another_process_ends_sessions(self):
        addr = self.new_user("dis-db", "first-Secret-pw-1")
        s, t = self.signed_in(addr, "first-Secret-pw-1")
        db_exec(self.mh, "UPDATE users SET enabled = 0 WHERE address = ?", addr)
        db_exec(self.mh, "UPDATE users SET enabled = 1 WHERE address = ?", addr)
        self.assert_revoked(s, t)

    def test_a_deleted_users_session_never_passes_to_a_new_user(self):
        # SQLite hands the highest rowid out again: the next user can get
        # the id of the one just deleted.
        addr = self.new_user("gone", "first-Secret-pw-1")
        s, t = self.signed_in(addr, "first-Secret-pw-1")
        self.assertEqual(self.admin.delete("/users/" + q(addr)).status, 204)
        self.new_user("newcomer", "other-Secret-pw-3")
        self.assert_revoked(s, t)
        self.assertEqual(self.admin.delete("/users/newcomer@example.org").status, 204)


class Tokens(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(listeners=("admin",))
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(ADMIN, ADMIN_PW, admin=True)
        cls.admin_token = cls.mh.cli("token", "create", ADMIN).stdout.strip()
        cls.mh.start()
        cls.port = cls.mh.port("admin")
        cls.admin = Client(cls.port, cls.admin_token)

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def listed(self, tid):
        return next(x for x in self.admin.get("/tokens").json if x["id"] == tid)

    def test_expiry_by_days_and_by_date(self):
        r = self.admin.post("/tokens", {"name": "week", "expires_in_days": 7})
        self.assertEqual(r.status, 201, r)
        exp = datetime.datetime.fromisoformat(r.json["expires"].replace("Z", "+00:00"))
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertTrue(datetime.timedelta(days=6) < exp - now <= datetime.timedelta(days=7), exp)
        self.assertEqual(Client(self.port, r.json["token"]).get("/session").status, 200)
        when = (now + datetime.timedelta(days=30)).replace(microsecond=0)
        r = self.admin.post("/tokens", {"name": "month",
                                        "expires": when.astimezone(datetime.timezone(
                                            datetime.timedelta(hours=2))).isoformat()})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["expires"], when.strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.assertEqual(self.listed(r.json["id"])["expires"], r.json["expires"])
        r = self.admin.post("/tokens", {"name": "forever"})
        self.assertIsNone(r.json["expires"])

    def test_bad_expiry_is_refused(self):
        past = (datetime.datetime.now(datetime.timezone.utc)
                - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for body in ({"expires": past}, {"expires": "tomorrow"},
                     {"expires": "2030-02-30T00:00:00Z"}, {"expires": "2030-01-01"},
                     {"expires": "2030-01-01T00:00:00"}, {"expires": 5},
                     {"expires_in_days": 0}, {"expires_in_days": 100000},
                     {"expires_in_days": 1.5}, {"expires_in_days": 1, "expires": "2030-01-01T00:00:00Z"}):
            with self.subTest(body=body):
                r = self.admin.post("/tokens", dict(body, name="bad"))
                self.assertEqual(r.status, 422, r)
                self.assertIn("'expires", r.detail)
        self.assertNotIn("bad", [x["name"] for x in self.admin.get("/tokens").json])

    def test_an_expired_token_is_refused(self):
        r = self.admin.post("/tokens", {"name": "short", "expires_in_days": 1})
        tok, tid = r.json["token"], r.json["id"]
        c = Client(self.port, tok)
        self.assertEqual(c.get("/session").status, 200)
        # The day passes: move the expiry into the past rather than wait.
        db_exec(self.mh, "UPDATE api_tokens SET expires = strftime('%s','now') - 1 WHERE id = ?", tid)
        r = c.get("/session")
        self.assertEqual(r.status, 401, r)
        self.assertIn("token", r.detail)

    def test_cli_token_expiry(self):
        tok = self.mh.cli("token", "create", ADMIN, "--name", "cli-exp", "--expires", "3").stdout.strip()
        self.assertEqual(Client(self.port, tok).get("/session").status, 200)
        t = next(x for x in self.admin.get("/tokens").json if x["name"] == "cli-exp")
        exp = datetime.datetime.fromisoformat(t["expires"].replace("Z", "+00:00"))
        left = exp - datetime.datetime.now(datetime.timezone.utc)
        self.assertTrue(datetime.timedelta(days=2) < left <= datetime.timedelta(days=3), left)
        for bad in ("0", "x", "-1", "100000"):
            r = self.mh.cli("token", "create", ADMIN, "--expires", bad, check=False)
            self.assertEqual(r.returncode, 2, (bad, r.stderr))

    def test_last_used_is_recorded(self):
        r = self.admin.post("/tokens", {"name": "used"})
        tid = r.json["id"]
        self.assertIsNone(self.listed(tid)["last_used"])
        self.assertEqual(Client(self.port, r.json["token"]).get("/session").status, 200)
        used = self.listed(tid)["last_used"]
        self.assertIsNotNone(used)
        # An old last use is brought up to date by the next one.
        db_exec(self.mh, "UPDATE api_tokens SET last_used = 1000 WHERE id = ?", tid)
        self.assertEqual(self.listed(tid)["last_used"], "1970-01-01T00:16:40Z")
        self.assertEqual(Client(self.port, r.json["token"]).get("/session").status, 200)
        self.assertGreaterEqual(self.listed(tid)["last_used"], used)


if __name__ == "__main__":
    tap.main()
