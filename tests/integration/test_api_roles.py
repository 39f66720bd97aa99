"""Roles on every route of the REST API: what an admin, a plain user and
nobody may do, and that a user can never see or change another user's
account, alias or token, whether signed in with a token or a session."""

import time
import unittest

import tap
from api_util import Client, q, source_route_roles, source_routes
from mailhub_fixture import Mailhub, free_port

ADMIN, ADMIN_PW = "admin@example.org", "admin-pass-1"
ALICE, ALICE_PW = "alice@example.org", "alice-pass-1"
BOB, BOB_PW = "bob@example.org", "bob-pass-1"

# Every route with a concrete request and what a plain user gets:
#   "admin"  -> 403 for a user (the dispatcher's ROUTE_ADMIN)
#   "own"    -> allowed, narrowed to the user's own data
#   "public" -> allowed for anyone
ROUTES = {
    ("GET", "/api/v1/status"): ("public", "/status", None),
    ("GET", "/api/v1/openapi.json"): ("public", "/openapi.json", None),
    ("GET", "/api/v1/session"): ("own", "/session", None),
    ("POST", "/api/v1/session"): ("public", None, None),
    ("DELETE", "/api/v1/session"): ("public", None, None),
    ("POST", "/api/v1/session/totp"): ("public", None, None),
    ("GET", "/api/v1/domains"): ("admin", "/domains", None),
    ("POST", "/api/v1/domains"): ("admin", "/domains", {"name": "role.example"}),
    ("GET", "/api/v1/domains/{name}"): ("admin", "/domains/example.org", None),
    ("DELETE", "/api/v1/domains/{name}"): ("admin", "/domains/example.org", None),
    ("GET", "/api/v1/domains/{name}/dns"): ("admin", "/domains/example.org/dns", None),
    ("GET", "/api/v1/users"): ("own", "/users", None),
    ("POST", "/api/v1/users"): ("admin", "/users", {"address": "new@example.org", "password": "x"}),
    ("GET", "/api/v1/users/{address}"): ("own", f"/users/{ALICE}", None),
    ("PATCH", "/api/v1/users/{address}"): ("own", f"/users/{ALICE}", {"password": "z"}),
    ("DELETE", "/api/v1/users/{address}"): ("admin", f"/users/{BOB}", None),
    ("GET", "/api/v1/users/{address}/totp"): ("own", f"/users/{ALICE}/totp", None),
    ("POST", "/api/v1/users/{address}/totp"): ("own", f"/users/{ALICE}/totp", None),
    ("DELETE", "/api/v1/users/{address}/totp"): ("admin", f"/users/{BOB}/totp", None),
    ("POST", "/api/v1/users/{address}/totp/confirm"): ("own", f"/users/{ALICE}/totp/confirm",
                                                       {"code": "000000"}),
    ("POST", "/api/v1/users/{address}/totp/disable"): ("own", f"/users/{ALICE}/totp/disable",
                                                       {"code": "000000"}),
    ("GET", "/api/v1/aliases"): ("own", "/aliases", None),
    ("POST", "/api/v1/aliases"): ("admin", "/aliases", {"source": "n@example.org", "destinations": [ALICE]}),
    ("GET", "/api/v1/aliases/{source}"): ("own", "/aliases/team@example.org", None),
    ("PATCH", "/api/v1/aliases/{source}"): ("admin", "/aliases/team@example.org", {"destinations": [ALICE]}),
    ("DELETE", "/api/v1/aliases/{source}"): ("admin", "/aliases/team@example.org", None),
    ("GET", "/api/v1/tokens"): ("own", "/tokens", None),
    ("POST", "/api/v1/tokens"): ("own", "/tokens", {"name": "x"}),
    ("DELETE", "/api/v1/tokens/{id}"): ("own", "/tokens/1", None),
    ("GET", "/api/v1/app-passwords"): ("own", "/app-passwords", None),
    ("POST", "/api/v1/app-passwords"): ("own", "/app-passwords", {"name": "x"}),
    ("DELETE", "/api/v1/app-passwords/{id}"): ("own", "/app-passwords/1", None),
    ("GET", "/api/v1/sieve"): ("own", "/sieve", None),
    # the caller's own scripts by name (test_api_sieve.py covers them)
    ("GET", "/api/v1/sieve/{name}"): ("own", None, None),
    ("PUT", "/api/v1/sieve/{name}"): ("own", None, None),
    ("DELETE", "/api/v1/sieve/{name}"): ("own", None, None),
    ("POST", "/api/v1/sieve/{name}/activate"): ("own", None, None),
    ("POST", "/api/v1/sieve/{name}/deactivate"): ("own", None, None),
    ("GET", "/api/v1/upstreams"): ("own", "/upstreams", None),
    ("POST", "/api/v1/upstreams"): ("own", "/upstreams", {"protocol": "imap", "host": "127.0.0.1",
                                                           "username": "x", "password": "y"}),
    ("POST", "/api/v1/upstreams/test"): ("own", "/upstreams/test", {"protocol": "imap"}),
    ("GET", "/api/v1/upstreams/{id}"): ("own", "/upstreams/1", None),
    ("PATCH", "/api/v1/upstreams/{id}"): ("own", "/upstreams/1", {"enabled": False}),
    ("DELETE", "/api/v1/upstreams/{id}"): ("own", "/upstreams/1", None),
    ("POST", "/api/v1/upstreams/{id}/fetch"): ("own", "/upstreams/1/fetch", None),
    ("GET", "/api/v1/upstreams/{id}/folders"): ("own", "/upstreams/1/folders", None),
    ("POST", "/api/v1/upstreams/{id}/oauth/device"): ("own", "/upstreams/1/oauth/device", None),
    ("POST", "/api/v1/upstreams/{id}/oauth/device/poll"): ("own", "/upstreams/1/oauth/device/poll",
                                                          None),
    ("POST", "/api/v1/upstreams/{id}/oauth/authorize"): (
        "own", "/upstreams/1/oauth/authorize", {"redirect_uri": "https://panel.example/oauth"}),
    ("POST", "/api/v1/upstreams/{id}/oauth/code"): ("own", "/upstreams/1/oauth/code",
                                                    {"state": "x", "code": "y"}),
    ("GET", "/api/v1/upstream-presets"): ("own", "/upstream-presets", None),
    ("GET", "/api/v1/relay"): ("admin", "/relay", None),
    ("PUT", "/api/v1/relay"): ("admin", "/relay", {"smarthost": None}),
    ("GET", "/api/v1/relay/domains"): ("admin", "/relay/domains", None),
    ("GET", "/api/v1/queue"): ("admin", "/queue", None),
    ("GET", "/api/v1/queue/{id}"): ("admin", "/queue/1", None),
    ("DELETE", "/api/v1/queue/{id}"): ("admin", "/queue/1", None),
    ("POST", "/api/v1/queue/{id}/retry"): ("admin", "/queue/1/retry", None),
    ("POST", "/api/v1/queue/{id}/release"): ("admin", "/queue/1/release", None),
    ("GET", "/api/v1/relay/tls-reports"): ("admin", "/relay/tls-reports", None),
    ("POST", "/api/v1/tlsrpt"): ("public", None, None),
    ("GET", "/api/v1/log"): ("admin", "/log", None),
    ("GET", "/api/v1/metrics/history"): ("admin", "/metrics/history", None),
    # a domain that is not local: 404 before any DNS question leaves the machine
    ("GET", "/api/v1/doctor"): ("admin", "/doctor?domain=nosuch.example&probe=none", None),
    ("GET", "/api/v1/users/{address}/download"): ("own", f"/users/{ALICE}/download", None),
    # test_imports_are_private covers them
    ("POST", "/api/v1/users/{address}/import"): ("own", None, None),
    ("GET", "/api/v1/users/{address}/import"): ("own", f"/users/{ALICE}/import", None),
    ("DELETE", "/api/v1/users/{address}/import"): ("own", None, None),
}


class Roles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # connection tests go to loopback ports
        cls.mh = Mailhub(listeners=("imaps", "admin"), config_extra="\n[fetch]\nallow_private_hosts = yes\n")
        mh = cls.mh
        mh.cli("domain", "add", "example.org")
        mh.add_user(ADMIN, ADMIN_PW, admin=True)
        mh.add_user(ALICE, ALICE_PW)
        mh.add_user(BOB, BOB_PW)
        mh.cli("alias", "add", "team@example.org", f"{ALICE},{BOB}")
        mh.cli("alias", "add", "bobs@example.org", BOB)
        mh.cli("alias", "add", "@example.org", BOB)
        cls.admin_token = mh.cli("token", "create", ADMIN).stdout.strip().split()[-1]
        cls.alice_token = mh.cli("token", "create", ALICE).stdout.strip().split()[-1]
        cls.bob_token = mh.cli("token", "create", BOB).stdout.strip().split()[-1]
        mh.start()
        cls.port = mh.port("admin")
        cls.admin = Client(cls.port, cls.admin_token)
        cls.bob = Client(cls.port, cls.bob_token)

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def alice_clients(self):
        """Alice by token and Alice by session: both must behave the same."""
        s = Client(self.port)
        self.assertEqual(s.login(ALICE, ALICE_PW).status, 200)
        return [("token", Client(self.port, self.alice_token)), ("session", s)]

    def test_every_route_has_a_role_test(self):
        self.assertEqual(sorted(ROUTES), source_routes())
        as_flags = {"own": "user", "admin": "admin", "public": "public"}
        self.assertEqual({k: as_flags[v[0]] for k, v in ROUTES.items()}, source_route_roles())

    def test_user_is_refused_every_admin_route(self):
        for who, alice in self.alice_clients():
            for (method, pattern), (role, path, body) in ROUTES.items():
                if role != "admin":
                    continue
                with self.subTest(who=who, route=f"{method} {pattern}"):
                    r = alice.call(method, path, body)
                    self.assertEqual(r.status, 403, r)
                    self.assertIn("admin", r.detail)
        # Nothing changed.
        self.assertEqual(self.admin.get("/domains/example.org").status, 200)
        self.assertEqual(self.admin.get(f"/users/{BOB}").status, 200)
        self.assertEqual(self.admin.get("/aliases/team@example.org").status, 200)
        self.assertEqual(self.admin.get("/domains/role.example").status, 404)

    def test_admin_reaches_every_route(self):
        for (method, pattern), (role, path, body) in ROUTES.items():
            if path is None or method == "DELETE":
                continue
            if method in ("POST", "PATCH"):
                continue    # changes are covered resource by resource
            with self.subTest(route=f"{method} {pattern}"):
                r = self.admin.call(method, path, body)
                self.assertIn(r.status, (200, 404) if "/queue/" in path or "/upstreams/" in path
                              or "/doctor" in path or "/import" in path else (200,), r)

    def test_users_see_only_themselves(self):
        for who, alice in self.alice_clients():
            with self.subTest(who=who):
                r = alice.get("/users")
                self.assertEqual([u["address"] for u in r.json], [ALICE])
                self.assertEqual(alice.get(f"/users/{ALICE}").json["address"], ALICE)
                self.assertEqual(alice.get("/users/ALICE@example.org").status, 200)
                for other in (BOB, ADMIN, "nobody@example.org"):
                    r = alice.get("/users/" + q(other))
                    self.assertEqual(r.status, 404, r)
                    self.assertNotIn("quota", r.text)
                    r = alice.patch("/users/" + q(other), {"password": "hijack-1"})
                    self.assertEqual(r.status, 404, r)
                    r = alice.patch("/users/" + q(other), {"quota": 1})
                    self.assertIn(r.status, (403, 404), r)
                    self.assertEqual(alice.delete("/users/" + q(other)).status, 403)
        self.assertEqual(Client(self.port).login(BOB, BOB_PW).status, 200)

    def test_user_cannot_raise_their_own_rights(self):
        for who, alice in self.alice_clients():
            for fld, val in (("admin", True), ("quota", 0), ("enabled", True), ("quota", 99),
                             ("quota_messages", 0), ("quota_messages", 5)):
                with self.subTest(who=who, field=fld):
                    r = alice.patch(f"/users/{ALICE}", {fld: val})
                    self.assertEqual(r.status, 403, r)
                    self.assertIn(f"'{fld}'", r.detail)
        self.assertFalse(self.admin.get(f"/users/{ALICE}").json["admin"])

    def test_user_changes_own_password_with_the_current_one(self):
        self.mh.add_user("carol@example.org", "carol-pw-1")
        carol = Client(self.port)
        other_browser = Client(self.port)
        self.assertEqual(carol.login("carol@example.org", "carol-pw-1").status, 200)
        self.assertEqual(other_browser.login("carol@example.org", "carol-pw-1").status, 200)
        r = carol.patch("/users/carol@example.org", {"password": "carol-pw-2"})
        self.assertEqual(r.status, 422, r)
        self.assertIn("'current_password'", r.detail)
        r = carol.patch("/users/carol@example.org", {"password": "carol-pw-2", "current_password": "nope"})
        self.assertEqual(r.status, 422, r)
        self.assertIn("'current_password'", r.detail)
        r = carol.patch("/users/carol@example.org", {"password": "", "current_password": "carol-pw-1"})
        self.assertEqual(r.status, 422, r)
        self.assertIn("'password'", r.detail)
        r = carol.patch("/users/carol@example.org", {"password": "carol-pw-2", "current_password": "carol-pw-1"})
        self.assertEqual(r.status, 200, r)
        # This session goes on; the other browser must sign in again.
        self.assertEqual(carol.get("/session").status, 200)
        self.assertEqual(other_browser.get("/session").status, 401)
        self.assertEqual(Client(self.port).login("carol@example.org", "carol-pw-1").status, 401)
        self.assertEqual(Client(self.port).login("carol@example.org", "carol-pw-2").status, 200)
        self.assertEqual(self.admin.delete("/users/carol@example.org").status, 204)
        # A deleted user's session is nobody.
        self.assertEqual(carol.get("/session").status, 401)

    def test_users_see_only_aliases_that_reach_them(self):
        for who, alice in self.alice_clients():
            with self.subTest(who=who):
                r = alice.get("/aliases")
                self.assertEqual([a["source"] for a in r.json], ["team@example.org"])
                self.assertEqual(alice.get("/aliases/team@example.org").status, 200)
                self.assertEqual(alice.get("/aliases/bobs@example.org").status, 404)
                self.assertEqual(alice.get("/aliases/@example.org").status, 404)
                self.assertEqual(alice.get("/aliases/none@example.org").status, 404)
        srcs = sorted(a["source"] for a in self.bob.get("/aliases").json)
        self.assertEqual(srcs, ["@example.org", "bobs@example.org", "team@example.org"])
        self.assertEqual(len(self.admin.get("/aliases").json), 3)

    def test_tokens_are_private(self):
        r = self.bob.post("/tokens", {"name": "bob's"})
        self.assertEqual(r.status, 201)
        bob_tid = r.json["id"]
        for who, alice in self.alice_clients():
            with self.subTest(who=who):
                names = [t["name"] for t in alice.get("/tokens").json]
                self.assertNotIn("bob's", names)
                self.assertEqual(alice.delete(f"/tokens/{bob_tid}").status, 404)
        self.assertEqual(self.admin.delete(f"/tokens/{bob_tid}").status, 404)
        self.assertNotIn("bob's", [t["name"] for t in self.admin.get("/tokens").json])
        self.assertIn("bob's", [t["name"] for t in self.bob.get("/tokens").json])
        self.assertEqual(self.bob.delete(f"/tokens/{bob_tid}").status, 204)

    def test_upstream_accounts_are_private(self):
        closed = free_port()
        acct = {"protocol": "imap", "host": "127.0.0.1", "port": closed, "tls": "implicit",
                "username": "alice.remote", "password": "Remote-Secret-1"}
        alice = Client(self.port, self.alice_token)
        r = alice.post("/upstreams", acct)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["owner"], ALICE)
        self.assertNotIn("Remote-Secret-1", r.text)
        self.assertNotIn("password", r.json)
        aid = r.json["id"]
        # A user may not add an account for someone else.
        r = alice.post("/upstreams", dict(acct, owner=BOB))
        self.assertEqual(r.status, 403, r)
        # Bob can neither see nor touch Alice's account, nor test with it.
        self.assertEqual(self.bob.get("/upstreams").json, [])
        for method, path, body in (("GET", f"/upstreams/{aid}", None),
                                   ("PATCH", f"/upstreams/{aid}", {"enabled": False}),
                                   ("DELETE", f"/upstreams/{aid}", None),
                                   ("POST", f"/upstreams/{aid}/fetch", None),
                                   ("GET", f"/upstreams/{aid}/folders", None),
                                   ("POST", f"/upstreams/{aid}/oauth/device", None),
                                   ("POST", f"/upstreams/{aid}/oauth/authorize",
                                    {"redirect_uri": "https://panel.example/oauth"}),
                                   ("POST", "/upstreams/test", {"id": aid})):
            with self.subTest(method=method, path=path):
                r = self.bob.call(method, path, body)
                self.assertEqual(r.status, 404, r)
                self.assertNotIn("alice.remote", r.text)
        self.assertTrue(alice.get(f"/upstreams/{aid}").json["enabled"])
        # Its folders' page is Alice's (nothing synced yet: INBOX, never)
        # and the admin's; a closed port is no folder's error.
        for who in (alice, self.admin):
            r = who.get(f"/upstreams/{aid}/folders")
            self.assertEqual(r.status, 200, r)
            self.assertEqual([(f["folder"], f["local"], f["last_sync"], f["messages"])
                              for f in r.json], [("INBOX", "INBOX", None, None)])
            self.assertIn(r.json[0]["push"], ("polling", "idle"))
        # The admin sees it, by owner too, and may add one for Bob.
        self.assertIn(aid, [u["id"] for u in self.admin.get("/upstreams").json])
        self.assertEqual([u["id"] for u in self.admin.get("/upstreams?owner=" + ALICE).json], [aid])
        self.assertEqual(self.admin.get("/upstreams?owner=" + BOB).json, [])
        r = self.admin.post("/upstreams", dict(acct, owner=BOB))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["owner"], BOB)
        self.assertEqual([u["id"] for u in self.bob.get("/upstreams").json], [r.json["id"]])
        self.assertEqual(self.bob.delete(f"/upstreams/{r.json['id']}").status, 204)
        # Alice's own changes work; the stored password is kept and used.
        r = alice.patch(f"/upstreams/{aid}", {"enabled": False, "interval": 600})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["enabled"], r.json["interval"]), (False, 600))
        self.assertEqual([f["push"] for f in alice.get(f"/upstreams/{aid}/folders").json],
                         ["off"])
        t = alice.post("/upstreams/test", {"id": aid})
        self.assertEqual(t.status, 200, t)
        self.assertFalse(t.json["ok"])
        self.assertIn(f"port {closed}", t.json["error"])
        self.assertEqual(alice.post(f"/upstreams/{aid}/fetch").status, 202)
        self.assertEqual(alice.delete(f"/upstreams/{aid}").status, 204)
        self.assertEqual(alice.get(f"/upstreams/{aid}").status, 404)

    def test_imports_are_private(self):
        """A user starts, follows and cancels imports for themself only; an
        admin for anyone."""
        source = {"host": "127.0.0.1", "port": self.mh.port("imaps"), "tls": "implicit",
                  "tls_verify": "off", "username": BOB, "password": "not-bobs-password"}

        def start(client, address):
            deadline = time.monotonic() + 30
            while True:     # the daemon's workers may still be starting
                r = client.post(f"/users/{address}/import", source)
                if r.status != 503 or time.monotonic() > deadline:
                    return r
                time.sleep(0.2)

        def ended(client, address):
            deadline = time.monotonic() + 30
            while True:
                r = client.get(f"/users/{address}/import")
                if r.status != 200 or r.json["state"] != "running" or \
                        time.monotonic() > deadline:
                    return r
                time.sleep(0.1)

        for who, alice in self.alice_clients():
            with self.subTest(who=who):
                self.assertEqual(start(alice, BOB).status, 403)
                self.assertEqual(alice.get(f"/users/{BOB}/import").status, 403)
                self.assertEqual(alice.delete(f"/users/{BOB}/import").status, 403)
                r = start(alice, ALICE)
                self.assertEqual(r.status, 202, r)
                self.assertEqual(r.json["started_by"], ALICE)
                r = ended(alice, ALICE)
                self.assertEqual(r.json["state"], "failed", r)
                self.assertNotIn("password", r.json)
                self.assertEqual(self.admin.get(f"/users/{ALICE}/import").status, 200)
        r = start(self.admin, BOB)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json["started_by"], ADMIN)
        self.assertEqual(ended(self.bob, BOB).json["state"], "failed")
        self.assertNotIn("not-bobs-password", self.mh.log())

    def test_user_status_has_no_admin_figures(self):
        for who, alice in self.alice_clients():
            with self.subTest(who=who):
                s = alice.get("/status").json
                self.assertIn("version", s)
                for k in ("users", "domains", "disk", "queue"):
                    self.assertNotIn(k, s)

    def test_user_session_changes_need_csrf(self):
        s = Client(self.port)
        self.assertEqual(s.login(ALICE, ALICE_PW).status, 200)
        r = s.post("/tokens", {"name": "no csrf"}, csrf=False)
        self.assertEqual(r.status, 403, r)
        r = s.patch(f"/users/{ALICE}", {"password": "x", "current_password": ALICE_PW}, csrf=False)
        self.assertEqual(r.status, 403, r)
        self.assertNotIn("no csrf", [t["name"] for t in s.get("/tokens").json])

    def test_disabled_user_loses_access(self):
        self.mh.add_user("dan@example.org", "dan-password-1")
        tok = self.mh.cli("token", "create", "dan@example.org").stdout.strip().split()[-1]
        dan_s, dan_t = Client(self.port), Client(self.port, tok)
        self.assertEqual(dan_s.login("dan@example.org", "dan-password-1").status, 200)
        self.assertEqual(dan_t.get("/session").status, 200)
        self.assertEqual(self.admin.patch("/users/dan@example.org", {"enabled": False}).status, 200)
        self.assertEqual(dan_s.get("/session").status, 401)
        self.assertEqual(dan_t.get("/session").status, 401)
        self.assertEqual(Client(self.port).login("dan@example.org", "dan-password-1").status, 401)
        self.admin.delete("/users/dan@example.org")

    def test_anonymous(self):
        anon = Client(self.port)
        for (method, pattern), (role, path, body) in ROUTES.items():
            if path is None:
                continue
            with self.subTest(route=f"{method} {pattern}"):
                r = anon.call(method, path, body)
                self.assertEqual(r.status, 200 if role == "public" else 401, r)


if __name__ == "__main__":
    tap.main()
