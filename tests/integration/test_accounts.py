"""Stronger accounts through the admin listener: a new password, a disabled
or deleted account ends the user's panel sessions and API tokens, whoever
made the change (the API, or `mailhub user passwd` in another process);
tokens expire and show when they were last used; two-factor sign-in with
TOTP (RFC 6238) and recovery codes; the minimum password strength."""

import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import sqlite3
import struct
import time
import unittest

import tap
from api_util import Client, q
from mailhub_fixture import Mailhub

ADMIN, ADMIN_PW = "admin@example.org", "admin-pass-long-1"


def totp(secret, step):
    """RFC 6238 with SHA-1, 6 digits: the code of a base32 secret at a step."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7fffffff) % 1000000)


def step_now():
    return int(time.time()) // 30


def fresh(secret):
    """A code the server takes now whatever steps were used before now: the
    next step's (it accepts one step either side of its own)."""
    return totp(secret, step_now() + 1)


def db_query(mh, sql, *args):
    con = sqlite3.connect(os.path.join(mh.data_dir, "mailhub.db"), timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


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



class TwoFactor(unittest.TestCase):
    """TOTP sign-in to the panel.  Failures would block 127.0.0.1 after a
    few tests: the throttle's own test is below, with its own daemon."""

    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(listeners=("admin",),
                         config_extra="\n[auth]\nblock_after = 1000\ndelay_max_ms = 0\n")
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(ADMIN, ADMIN_PW, admin=True)
        cls.admin_token = cls.mh.cli("token", "create", ADMIN).stdout.strip()
        cls.mh.start()
        cls.port = cls.mh.port("admin")
        cls.admin = Client(cls.port, cls.admin_token)

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    PW = "Two-factor-pass-1"

    def new_user(self, name):
        address = f"{name}@example.org"
        r = self.admin.post("/users", {"address": address, "password": self.PW})
        self.assertEqual(r.status, 201, r)
        s = Client(self.port)
        self.assertEqual(s.login(address, self.PW).status, 200)
        return address, s

    def enrol(self, name):
        """A user with two-factor sign-in on, confirmed with the code of the
        test's current step T: T + 1 is the next code that a sign-in takes
        (the server accepts one step either side of its own)."""
        address, s = self.new_user(name)
        r = s.post(f"/users/{q(address)}/totp")
        self.assertEqual(r.status, 201, r)
        secret = r.json["secret"]
        t = step_now()
        r = s.post(f"/users/{q(address)}/totp/confirm", {"code": totp(secret, t)})
        self.assertEqual(r.status, 200, r)
        return address, s, secret, t, r.json["recovery_codes"]

    def sign_in(self, address, password=None, **extra):
        c = Client(self.port)
        r = c.raw("POST", "/api/v1/session",
                  json.dumps(dict(username=address, password=password or self.PW, **extra)).encode(),
                  {"Content-Type": "application/json"})
        if r.status == 200:
            c.cookie = r.headers["_set_cookie"][0].split(";", 1)[0]
            c.csrf = r.json["csrf"]
        return c, r

    def second_step(self, challenge, code):
        c = Client(self.port)
        r = c.raw("POST", "/api/v1/session/totp",
                  json.dumps({"challenge": challenge, "code": code}).encode(),
                  {"Content-Type": "application/json"})
        if r.status == 200:
            c.cookie = r.headers["_set_cookie"][0].split(";", 1)[0]
            c.csrf = r.json["csrf"]
        return c, r

    def wrong_code(self, secret, t):
        near = {totp(secret, x) for x in range(t - 3, t + 4)}
        return next(c for c in ("%06d" % n for n in range(123456, 999999, 7919)) if c not in near)

    def test_enrol_confirm_and_sign_in_with_a_code(self):
        address, s = self.new_user("enrol")
        path = f"/users/{q(address)}/totp"
        self.assertEqual(s.get(path).json,
                         {"enabled": False, "pending": False, "recovery_codes_left": 0})
        r = s.post(path)
        self.assertEqual(r.status, 201, r)
        secret = r.json["secret"]
        self.assertRegex(secret, r"^[A-Z2-7]{32}$")
        self.assertEqual(r.json["uri"],
                         f"otpauth://totp/mail.test:enrol%40example.org?secret={secret}"
                         "&issuer=mail.test&algorithm=SHA1&digits=6&period=30")
        self.assertEqual(s.get(path).json["pending"], True)
        # The secret is sealed at rest.
        (sealed,), = db_query(self.mh, "SELECT secret_sealed FROM user_totp t"
                              " JOIN users u ON u.id = t.user_id WHERE u.address = ?", address)
        self.assertTrue(sealed.startswith("v1:"), sealed)
        self.assertNotIn(secret, sealed)
        # Until it is confirmed the password alone still signs in.
        self.assertEqual(self.sign_in(address)[1].status, 200)
        t = step_now()
        r = s.post(path + "/confirm", {"code": self.wrong_code(secret, t)})
        self.assertEqual(r.status, 422, r)
        self.assertIn("'code'", r.detail)
        r = s.post(path + "/confirm", {"code": totp(secret, t)})
        self.assertEqual(r.status, 200, r)
        codes = r.json["recovery_codes"]
        self.assertEqual(len(codes), 10)
        self.assertEqual(len(set(codes)), 10)
        for c in codes:
            self.assertRegex(c, r"^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$")
        self.assertEqual(s.get(path).json,
                         {"enabled": True, "pending": False, "recovery_codes_left": 10})
        self.assertEqual(s.post(path).status, 409)
        self.assertEqual(s.post(path + "/confirm", {"code": totp(secret, t + 1)}).status, 409)
        # The session that turned it on goes on.
        self.assertEqual(s.get("/session").status, 200)

        # The password alone earns a challenge, no cookie, no session.
        c, r = self.sign_in(address)
        self.assertEqual(r.status, 401, r)
        self.assertIs(r.json["totp_required"], True)
        self.assertEqual(r.headers["_set_cookie"], [])
        challenge = r.json["challenge"]
        self.assertRegex(challenge, r"^[0-9a-f]{64}$")
        as_cookie = Client(self.port)
        as_cookie.cookie = "mailhub_session=" + challenge
        self.assertEqual(as_cookie.get("/session").status, 401)
        self.assertEqual(Client(self.port, challenge).get("/session").status, 401)
        # A wrong code, then the right one.
        _, r = self.second_step(challenge, self.wrong_code(secret, t))
        self.assertEqual(r.status, 401, r)
        code = fresh(secret)
        c, r = self.second_step(challenge, code)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["user"], address)
        self.assertEqual(c.get("/session").json["user"], address)
        self.assertEqual(c.post("/tokens", {"name": "after 2fa"}).status, 201)
        # The challenge is spent.
        self.assertEqual(self.second_step(challenge, code)[1].status, 401)

    def test_each_code_once_and_the_totp_field(self):
        address, s, secret, t, _ = self.enrol("once")
        # The code that confirmed the enrolment is spent already.
        self.assertEqual(self.sign_in(address, totp=totp(secret, t))[1].status, 401)
        _, r = self.sign_in(address, totp=self.wrong_code(secret, t))
        self.assertEqual(r.status, 401, r)
        self.assertIn("code", r.detail)
        self.assertNotIn("challenge", r.json)
        _, r = self.sign_in(address, password="Wrong-password-1", totp=totp(secret, step_now() + 1))
        self.assertEqual(r.status, 401, r)
        self.assertIn("wrong username or password", r.detail)
        code = fresh(secret)
        c, r = self.sign_in(address, totp=code)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(c.get("/session").status, 200)
        # Used once: the same code again is refused, as is an older one.
        _, r = self.sign_in(address, totp=code)
        self.assertEqual(r.status, 401, r)
        self.assertEqual(self.sign_in(address, totp=totp(secret, t))[1].status, 401)
        _, r = self.sign_in(address)
        self.assertEqual(self.second_step(r.json["challenge"], code)[1].status, 401)
        for bad in ("", "12345", "1234567", "abcdef", "x" * 100):
            self.assertEqual(self.sign_in(address, totp=bad)[1].status, 401)

    def test_a_recovery_code_works_once(self):
        address, s, secret, t, codes = self.enrol("recover")
        _, r = self.sign_in(address)
        c, r = self.second_step(r.json["challenge"], codes[0])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(c.get("/session").status, 200)
        _, r = self.sign_in(address)
        self.assertEqual(self.second_step(r.json["challenge"], codes[0])[1].status, 401)
        self.assertEqual(self.sign_in(address, totp=codes[0])[1].status, 401)
        # Another one, typed in capitals without the dashes, in the totp field.
        c, r = self.sign_in(address, totp=codes[1].replace("-", "").upper())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(s.get(f"/users/{q(address)}/totp").json["recovery_codes_left"], 8)
        # Only hashes are stored.
        rows = db_query(self.mh, "SELECT hash FROM user_recovery_codes")
        for (h,) in rows:
            self.assertRegex(h, r"^[0-9a-f]{64}$")
        self.assertNotIn(codes[2].replace("-", ""), repr(rows))

    def test_a_challenge_takes_five_tries(self):
        address, s, secret, t, _ = self.enrol("tries")
        _, r = self.sign_in(address)
        ch = r.json["challenge"]
        for _ in range(5):
            self.assertEqual(self.second_step(ch, self.wrong_code(secret, t))[1].status, 401)
        _, r = self.second_step(ch, fresh(secret))
        self.assertEqual(r.status, 401, r)
        self.assertIn("sign in again", r.detail)
        # A new sign-in gets a new challenge and the code still works.
        _, r = self.sign_in(address)
        self.assertEqual(self.second_step(r.json["challenge"], fresh(secret))[1].status, 200)

    def test_a_challenge_ends_with_the_password(self):
        address, s, secret, t, _ = self.enrol("chpw")
        _, r = self.sign_in(address)
        ch = r.json["challenge"]
        self.assertEqual(self.admin.patch("/users/" + q(address),
                                          {"password": "Changed-meanwhile-1"}).status, 200)
        _, r = self.second_step(ch, fresh(secret))
        self.assertEqual(r.status, 401, r)
        self.assertEqual(s.get("/session").status, 401)

    def test_turning_it_off_needs_a_code_or_the_password(self):
        address, s, secret, t, codes = self.enrol("off")
        path = f"/users/{q(address)}/totp/disable"
        for body, fld in (({}, "'code'"), ({"code": self.wrong_code(secret, t)}, "'code'"),
                          ({"code": totp(secret, t)}, "'code'"),
                          ({"password": "Not-the-password-1"}, "'password'"),
                          ({"code": fresh(secret), "password": self.PW}, "'code'")):
            with self.subTest(body=body):
                r = s.post(path, body)
                self.assertEqual(r.status, 422, r)
                self.assertIn(fld, r.detail)
        self.assertTrue(s.get(f"/users/{q(address)}/totp").json["enabled"])
        r = s.post(path, {"password": self.PW})
        self.assertEqual(r.status, 204, r)
        self.assertFalse(s.get(f"/users/{q(address)}/totp").json["enabled"])
        self.assertEqual(s.get("/session").status, 200)
        self.assertEqual(self.sign_in(address)[1].status, 200)
        self.assertEqual(s.post(path, {"password": self.PW}).status, 409)
        self.assertEqual(db_query(self.mh, "SELECT count(*) FROM user_recovery_codes r"
                                  " JOIN users u ON u.id = r.user_id WHERE u.address = ?",
                                  address), [(0,)])
        # On again with a new secret, and off with a code this time.
        r = s.post(f"/users/{q(address)}/totp")
        secret = r.json["secret"]
        t = step_now()
        self.assertEqual(s.post(f"/users/{q(address)}/totp/confirm",
                                {"code": totp(secret, t)}).status, 200)
        self.assertEqual(s.post(path, {"code": fresh(secret)}).status, 204)

    def test_only_the_user_sets_it_up(self):
        address, s = self.new_user("mine")
        other, o = self.new_user("other")
        self.assertEqual(self.admin.post(f"/users/{q(address)}/totp").status, 403)
        self.assertEqual(o.post(f"/users/{q(address)}/totp").status, 404)
        self.assertEqual(o.get(f"/users/{q(address)}/totp").status, 404)
        self.assertEqual(o.post(f"/users/{q(address)}/totp/disable",
                                {"password": self.PW}).status, 404)
        self.assertEqual(self.admin.get(f"/users/{q(address)}/totp").status, 200)
        self.assertEqual(o.delete(f"/users/{q(address)}/totp").status, 403)

    def test_admin_reset(self):
        address, s, secret, t, _ = self.enrol("lost")
        r = self.admin.delete(f"/users/{q(address)}/totp")
        self.assertEqual(r.status, 204, r)
        # The device may be in the wrong hands: the user's sessions end.
        self.assertEqual(s.get("/session").status, 401)
        self.assertEqual(self.sign_in(address)[1].status, 200)
        self.assertEqual(self.admin.delete(f"/users/{q(address)}/totp").status, 404)
        self.assertEqual(self.admin.delete(f"/users/{q(ADMIN)}/totp").status, 409)
        self.assertEqual(self.admin.delete("/users/nobody@example.org/totp").status, 404)

    def test_cli_reset(self):
        address, s, secret, t, _ = self.enrol("clireset")
        r = self.mh.cli("user", "show", address)
        self.assertIn("two-factor: on (10 recovery codes left)", r.stdout)
        r = self.mh.cli("user", "totp-reset", address)
        self.assertIn("is off", r.stdout)
        self.assertEqual(s.get("/session").status, 401)
        self.assertEqual(self.sign_in(address)[1].status, 200)
        self.assertIn("two-factor: off", self.mh.cli("user", "show", address).stdout)
        r = self.mh.cli("user", "totp-reset", address)
        self.assertIn("nothing to reset", r.stdout)
        r = self.mh.cli("user", "totp-reset", "nobody@example.org", check=False)
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(self.mh.cli("user", "totp-reset", check=False).returncode, 2)


class TwoFactorThrottle(unittest.TestCase):
    def test_wrong_codes_count_as_failed_logins(self):
        mh = Mailhub(listeners=("admin",),
                     config_extra="\n[auth]\nblock_after = 3\ndelay_max_ms = 0\n")
        try:
            mh.cli("domain", "add", "example.org")
            mh.add_user("t@example.org", "Throttled-pass-1")
            mh.start()
            c = Client(mh.port("admin"))
            self.assertEqual(c.login("t@example.org", "Throttled-pass-1").status, 200)
            secret = c.post("/users/t@example.org/totp").json["secret"]
            t = step_now()
            self.assertEqual(c.post("/users/t@example.org/totp/confirm",
                                    {"code": totp(secret, t)}).status, 200)
            near = {totp(secret, x) for x in range(t - 3, t + 4)}
            wrong = next(x for x in ("%06d" % n for n in range(100000, 999999, 7919))
                         if x not in near)
            body = {"username": "t@example.org", "password": "Throttled-pass-1"}
            statuses = []
            for extra in ({"totp": wrong}, {}, {"totp": wrong}, {"totp": wrong}):
                r = c.raw("POST", "/api/v1/session", json.dumps(dict(body, **extra)).encode(),
                          {"Content-Type": "application/json"})
                statuses.append(r.status)
                if "challenge" in (r.json or {}):
                    r = c.raw("POST", "/api/v1/session/totp",
                              json.dumps({"challenge": r.json["challenge"], "code": wrong}).encode(),
                              {"Content-Type": "application/json"})
                    statuses.append(r.status)
            # three wrong codes block the address, the right code included
            self.assertEqual(statuses[:4], [401, 401, 401, 401], statuses)
            self.assertEqual(statuses[4], 429, statuses)
            r = c.raw("POST", "/api/v1/session",
                      json.dumps(dict(body, totp=fresh(secret))).encode(),
                      {"Content-Type": "application/json"})
            self.assertEqual(r.status, 429, r)
        finally:
            mh.close()


class PasswordStrength(unittest.TestCase):
    RULE = "at least 10 characters"

    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(listeners=("admin",))
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(ADMIN, ADMIN_PW, admin=True)
        cls.admin_token = cls.mh.cli("token", "create", ADMIN).stdout.strip()
        cls.mh.start()
        cls.admin = Client(cls.mh.port("admin"), cls.admin_token)

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    WEAK = ("short-1", "123456789", "Password123", "QWERTYUIOP", "aaaaaaaaaaaa",
            "jonathan.smith", "Jonathan.Smith@example.org", "\u00e9\u00e9\u00e9\u00e9\u00e9x")

    def test_api_and_cli_refuse_the_same_weak_passwords(self):
        addr = "jonathan.smith@example.org"
        for pw in self.WEAK:
            with self.subTest(pw=pw):
                r = self.admin.post("/users", {"address": addr, "password": pw})
                self.assertEqual(r.status, 422, r)
                self.assertIn("'password'", r.detail)
                self.assertIn(self.RULE, r.detail)
                r = self.mh.cli("user", "add", addr, "--password-stdin", input=pw + "\n",
                                check=False)
                self.assertEqual(r.returncode, 1, r)
                self.assertIn(self.RULE, r.stderr)
        self.assertEqual(self.admin.get("/users/" + q(addr)).status, 404)
        # Ten characters, non-ASCII counted as characters, are enough.
        self.assertEqual(self.admin.post("/users", {"address": addr,
                                                    "password": "\u00e9t\u00e9 chaud!"}).status, 201)
        for pw in ("Password123", "jonathan.smith"):
            r = self.admin.patch("/users/" + q(addr), {"password": pw})
            self.assertEqual(r.status, 422, r)
            r = self.mh.cli("user", "passwd", addr, "--password-stdin", input=pw + "\n",
                            check=False)
            self.assertEqual(r.returncode, 1, r)
        self.assertEqual(self.admin.patch("/users/" + q(addr),
                                          {"password": "a long enough one"}).status, 200)
        self.mh.cli("user", "passwd", addr, "--password-stdin", input="another long one\n")

    def test_show_prints_no_hash(self):
        r = self.mh.cli("user", "show", ADMIN)
        self.assertIn("password: yescrypt", r.stdout)
        self.assertNotIn("$y$", r.stdout)
        self.assertNotIn("{CRYPT}", r.stdout)
        (h,), = db_query(self.mh, "SELECT password_hash FROM users WHERE address = ?", ADMIN)
        self.assertNotIn(h.split("$")[-1], r.stdout)


if __name__ == "__main__":
    tap.main()
