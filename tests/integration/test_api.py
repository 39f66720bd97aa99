"""The REST API of the admin listener, as an admin and as nobody: every
route, validation with the field named, problem+json errors, sessions and
CSRF, body limits, SQL metacharacters kept intact, OpenAPI kept true, static
files, and mail client autoconfiguration."""

import json
import smtplib
import socket
import ssl
import unittest
import warnings

import dovecot_upstream
import tap
from api_util import Client, q, source_route_roles, source_routes
from mailhub_fixture import Mailhub, client_tls_context, free_port

ADMIN = "admin@example.org"
ADMIN_PW = "admin-pass-1"


class Api(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # No pop3 and no submission: their SRV records say "not offered".
        # Connection tests go to loopback ports (and a Dovecot there).
        cls.mh = Mailhub(listeners=("smtp", "submissions", "imap", "imaps", "admin"),
                         config_extra="\n[fetch]\nallow_private_hosts = yes\n")
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(ADMIN, ADMIN_PW, admin=True)
        cls.token = cls.mh.cli("token", "create", ADMIN).stdout.strip().split()[-1]
        cls.mh.start()
        cls.port = cls.mh.port("admin")
        cls.admin = Client(cls.port, cls.token)
        cls.anon = Client(cls.port)

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def problem(self, r, status, *words):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.headers.get("Content-Type"), "application/problem+json", r)
        for k in ("type", "title", "status", "detail"):
            self.assertIn(k, r.json)
        self.assertEqual(r.json["status"], status)
        for w in words:
            self.assertIn(w, r.json["detail"])

    # ---- status, 404/405, anonymous ---------------------------------------

    def test_status_anonymous_says_only_ok(self):
        r = self.anon.get("/status")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json, {"status": "ok"})

    def test_status_admin(self):
        r = self.admin.get("/status")
        self.assertEqual(r.status, 200)
        s = r.json
        self.assertEqual(s["hostname"], "mail.test")
        self.assertEqual(s["listeners"]["admin"], f"127.0.0.1:{self.port}")
        self.assertNotIn("pop3", s["listeners"])
        self.assertGreaterEqual(s["users"], 1)
        self.assertGreaterEqual(s["domains"], 1)
        self.assertGreater(s["disk"]["database"], 0)
        self.assertIn("messages", s["queue"])
        self.assertEqual(s["upstreams"]["accounts"], len(self.admin.get("/upstreams").json))
        self.assertFalse(s["admin_tls"])

    def test_every_protected_route_refuses_anonymous(self):
        for method, pattern in source_routes():
            if pattern in ("/api/v1/status", "/api/v1/openapi.json", "/api/v1/session") \
                    and method != "GET" or pattern in ("/api/v1/status", "/api/v1/openapi.json",
                                                       "/api/v1/session/totp",
                                                       # RFC 8460 §3: reporters have no account
                                                       "/api/v1/tlsrpt"):
                continue
            path = pattern.replace("{name}", "example.org").replace(
                "{address}", ADMIN).replace("{source}", "x@example.org").replace("{id}", "1")
            r = self.anon.call(method, path, {} if method in ("POST", "PATCH") else None)
            with self.subTest(route=f"{method} {pattern}"):
                self.problem(r, 401, "authentication required")
                self.assertIn("Bearer", r.headers.get("WWW-Authenticate", ""))

    def test_404_and_405(self):
        self.problem(self.admin.get("/nothing-here"), 404, "no such resource")
        r = self.admin.call("PUT", "/domains")
        self.problem(r, 405, "PUT")
        self.assertEqual(r.headers["Allow"], "GET, POST")
        self.problem(self.admin.call("PATCH", "/status"), 405)

    def test_bad_token(self):
        c = Client(self.port, "0" * 64)
        self.problem(c.get("/users"), 401, "token")
        c = Client(self.port)
        self.problem(c.get("/users", headers={"Authorization": "Basic eDp5"}), 401, "Bearer")

    # ---- request bodies -----------------------------------------------------

    def test_malformed_json(self):
        for body in (b"{", b'{"name": }', b'{"name":"a.org"} trailing', b'{"name":"a.org"}\x00x', b"\xff\xfe"):
            with self.subTest(body=body):
                self.problem(self.admin.post("/domains", raw_body=body), 400, "malformed JSON")

    def test_body_must_be_an_object(self):
        self.problem(self.admin.post("/domains", ["a.org"]), 400, "JSON object")

    def test_content_type_must_be_json(self):
        r = self.admin.post("/domains", raw_body=b'{"name":"ct.org"}',
                            headers={"Content-Type": "text/plain"})
        self.problem(r, 415, "application/json")

    def test_oversized_body(self):
        body = b'{"name":"' + b"a" * (1024 * 1024) + b'"}'
        self.problem(self.admin.post("/domains", raw_body=body), 413, "bytes")
        # The connection was drained in step: the next request is fine.
        self.assertEqual(self.admin.get("/domains").status, 200)

    def test_unknown_and_mistyped_fields_are_named(self):
        self.problem(self.admin.post("/domains", {"name": "x.org", "nmae": 1}), 422, "'nmae'")
        self.problem(self.admin.post("/domains", {}), 422, "'name'", "required")
        self.problem(self.admin.post("/domains", {"name": 5}), 422, "'name'", "string")
        self.problem(self.admin.post("/users", {"address": "q@example.org", "password": "q-password-1",
                                                "quota": -1}), 422, "'quota'")
        self.problem(self.admin.post("/users", {"address": "q@example.org", "password": "q-password-1",
                                                "quota": "10"}), 422, "'quota'")
        self.problem(self.admin.post("/users", {"address": "q@example.org", "password": "q-password-1",
                                                "quota": 1.5}), 422, "'quota'")
        self.problem(self.admin.post("/users", {"address": "q@example.org", "password": "q-password-1",
                                                "admin": "yes"}), 422, "'admin'")

    # ---- domains -------------------------------------------------------------

    def test_domains(self):
        r = self.admin.post("/domains", {"name": "Dom-One.example"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["name"], "dom-one.example")
        self.problem(self.admin.post("/domains", {"name": "dom-one.example"}), 409)
        for bad in ("", "a..b", "-a.org", "a_b.org", "x" * 64 + ".org", "a.org'; --", "a b.org"):
            with self.subTest(bad=bad):
                self.problem(self.admin.post("/domains", {"name": bad}), 422, "'name'")
        names = [d["name"] for d in self.admin.get("/domains").json]
        self.assertIn("dom-one.example", names)
        r = self.admin.get("/domains/dom-one.example")
        self.assertEqual(r.status, 200)
        self.assertIsNotNone(r.json["created"])
        self.assertEqual(self.admin.post("/users", {"address": "u@dom-one.example",
                                                    "password": "u-password-1"}).status, 201)
        self.problem(self.admin.delete("/domains/dom-one.example"), 409)
        self.assertEqual(self.admin.delete("/users/u@dom-one.example").status, 204)
        self.assertEqual(self.admin.delete("/domains/dom-one.example").status, 204)
        self.problem(self.admin.get("/domains/dom-one.example"), 404)
        self.problem(self.admin.delete("/domains/dom-one.example"), 404)

    def test_domain_dns_records(self):
        r = self.admin.get("/domains/example.org/dns")
        self.assertEqual(r.status, 200, r)
        recs = {(x["type"], x["name"]): x["value"] for x in r.json["records"]}
        self.assertEqual(recs[("MX", "example.org.")], "10 mail.test.")
        self.assertTrue(recs[("TXT", "example.org.")].startswith("v=spf1 "))
        self.assertTrue(recs[("TXT", "_dmarc.example.org.")].startswith("v=DMARC1;"))
        self.assertEqual(recs[("CNAME", "autoconfig.example.org.")], "mail.test.")
        self.assertEqual(recs[("CNAME", "autodiscover.example.org.")], "mail.test.")
        self.assertEqual(recs[("SRV", "_imaps._tcp.example.org.")],
                         f"0 1 {self.mh.port('imaps')} mail.test.")
        self.assertEqual(recs[("SRV", "_submissions._tcp.example.org.")],
                         f"0 1 {self.mh.port('submissions')} mail.test.")
        # RFC 6186 §4: services not offered say so.
        self.assertEqual(recs[("SRV", "_submission._tcp.example.org.")], "0 0 0 .")
        self.assertEqual(recs[("SRV", "_pop3s._tcp.example.org.")], "0 0 0 .")
        # RFC 6376 §3.6.2.1: one TXT record per signing key.
        dkim = r.json["dkim"]
        self.assertTrue(dkim["available"], dkim)
        self.assertTrue(dkim["selectors"])
        for sel in dkim["selectors"]:
            v = recs[("TXT", f"{sel}._domainkey.example.org.")]
            self.assertRegex(v, r"^v=DKIM1; k=(ed25519|rsa); p=[A-Za-z0-9+/=]+$")
        # The keys stay the same from one call to the next.
        self.assertEqual(self.admin.get("/domains/example.org/dns").json["dkim"], dkim)
        self.problem(self.admin.get("/domains/nope.example/dns"), 404)

    # ---- users -------------------------------------------------------------

    def test_users_crud(self):
        r = self.admin.post("/users", {"address": "Bob@Example.org", "password": "bob-password-1",
                                       "quota": 1000000, "admin": False})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json, {**r.json, "address": "bob@example.org", "quota": 1000000,
                                  "admin": False, "enabled": True, "used": 0})
        self.assertNotIn("password", r.text)
        self.assertNotIn("CRYPT", r.text)
        self.problem(self.admin.post("/users", {"address": "bob@example.org", "password": "bob-password-3"}), 409)
        self.assertIn("bob@example.org", [u["address"] for u in self.admin.get("/users").json])
        self.assertEqual(self.admin.get("/users/BOB@example.org").json["address"], "bob@example.org")
        r = self.admin.patch("/users/bob@example.org", {"quota": 0, "admin": True, "enabled": False})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["quota"], r.json["admin"], r.json["enabled"]), (0, True, False))
        self.problem(Client(self.port).login("bob@example.org", "bob-password-1"), 401)
        r = self.admin.patch("/users/bob@example.org", {"enabled": True, "password": "bob-password-2"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(Client(self.port).login("bob@example.org", "bob-password-2").status, 200)
        self.problem(self.admin.patch("/users/bob@example.org", {"password": ""}), 422, "'password'")
        self.problem(self.admin.patch("/users/bob@example.org", {"password": "a\nb"}), 422, "'password'")
        self.problem(self.admin.patch("/users/bob@example.org", {"password": "bob-pw-3"}), 422,
                     "'password'", "at least 10 characters")
        self.problem(self.admin.patch("/users/bob@example.org", {"address": "x@example.org"}), 422, "'address'")
        # QUOTA's MESSAGE limit: created, read, changed; "messages" counts
        r = self.admin.post("/users", {"address": "msgs@example.org", "password": "msgs-password-1",
                                       "quota_messages": 3})
        self.assertEqual(r.status, 201, r)
        self.assertEqual((r.json["quota_messages"], r.json["messages"]), (3, 0))
        self.assertEqual(self.admin.get("/users/msgs@example.org").json["quota_messages"], 3)
        r = self.admin.patch("/users/msgs@example.org", {"quota_messages": 0})
        self.assertEqual((r.status, r.json["quota_messages"]), (200, 0))
        r = self.admin.patch("/users/msgs@example.org", {"quota_messages": 12, "quota": 5000})
        self.assertEqual((r.json["quota_messages"], r.json["quota"]), (12, 5000))
        listed = {u["address"]: u for u in self.admin.get("/users").json}
        self.assertEqual(listed["msgs@example.org"]["quota_messages"], 12)
        for bad in (-1, "10", 1.5, None):
            self.problem(self.admin.patch("/users/msgs@example.org", {"quota_messages": bad}),
                         422, "'quota_messages'")
        self.assertEqual(self.admin.delete("/users/msgs@example.org").status, 204)
        self.assertEqual(self.admin.delete("/users/bob@example.org").status, 204)
        self.problem(self.admin.get("/users/bob@example.org"), 404)
        self.problem(self.admin.delete("/users/bob@example.org"), 404)
        self.problem(self.admin.patch("/users/bob@example.org", {"quota": 1}), 404)

    def test_user_validation_names_the_field(self):
        for bad in ("nobody", "@example.org", "a@", "a b@example.org", "a@b@example.org",
                    "x" * 65 + "@example.org", "<a>@example.org"):
            with self.subTest(bad=bad):
                self.problem(self.admin.post("/users", {"address": bad, "password": "p"}), 422, "'address'")
        self.problem(self.admin.post("/users", {"address": "z@not-local.example", "password": "z-password-1"}),
                     422, "'address'")
        self.problem(self.admin.post("/users", {"address": "z@example.org"}), 422, "'password'", "required")
        self.problem(self.admin.post("/users", {"address": "z@example.org", "password": "x" * 1025}),
                     422, "'password'")

    def test_admin_cannot_lock_themself_out(self):
        self.problem(self.admin.patch(f"/users/{ADMIN}", {"admin": False}), 409, "'admin'")
        self.problem(self.admin.patch(f"/users/{ADMIN}", {"enabled": False}), 409, "'enabled'")
        self.problem(self.admin.delete(f"/users/{ADMIN}"), 409)
        self.problem(self.admin.patch(f"/users/{ADMIN}", {"password": "new-admin-pw"}), 422,
                     "'current_password'")
        self.assertTrue(self.admin.get(f"/users/{ADMIN}").json["admin"])

    # ---- aliases -------------------------------------------------------------

    def test_aliases_crud(self):
        self.admin.post("/users", {"address": "carl@example.org", "password": "carl-password-1"})
        r = self.admin.post("/aliases", {"source": "Sales@example.org",
                                         "destinations": ["carl@example.org", "ext@elsewhere.net"]})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["source"], "sales@example.org")
        self.assertEqual(r.json["destinations"], ["carl@example.org", "ext@elsewhere.net"])
        self.assertFalse(r.json["catchall"])
        self.problem(self.admin.post("/aliases", {"source": "sales@example.org",
                                                  "destinations": ["carl@example.org"]}), 409)
        self.problem(self.admin.post("/aliases", {"source": "carl@example.org",
                                                  "destinations": ["x@example.org"]}), 409)
        r = self.admin.post("/aliases", {"source": "@example.org", "destinations": ["carl@example.org"]})
        self.assertEqual(r.status, 201, r)
        self.assertTrue(r.json["catchall"])
        self.assertEqual(self.admin.get("/aliases/@example.org").json["destinations"], ["carl@example.org"])
        r = self.admin.patch("/aliases/sales@example.org", {"destinations": ["ext2@elsewhere.net"]})
        self.assertEqual(r.json["destinations"], ["ext2@elsewhere.net"], r)
        # A loop is refused and nothing is written.
        self.admin.post("/aliases", {"source": "a1@example.org", "destinations": ["a2@example.org"]})
        self.problem(self.admin.post("/aliases", {"source": "a2@example.org",
                                                  "destinations": ["a1@example.org"]}), 409, "'destinations'")
        self.problem(self.admin.get("/aliases/a2@example.org"), 404)
        for d in self.admin.get("/aliases").json:
            self.assertEqual(self.admin.delete("/aliases/" + q(d["source"])).status, 204)
        self.assertEqual(self.admin.get("/aliases").json, [])
        self.problem(self.admin.delete("/aliases/sales@example.org"), 404)
        self.admin.delete("/users/carl@example.org")

    def test_alias_validation_names_the_field(self):
        self.problem(self.admin.post("/aliases", {"source": "x@example.org", "destinations": []}),
                     422, "'destinations'")
        self.problem(self.admin.post("/aliases", {"source": "x@example.org", "destinations": "a@b.org"}),
                     422, "'destinations'")
        self.problem(self.admin.post("/aliases", {"source": "x@example.org",
                                                  "destinations": ["ok@b.org", "not an address"]}),
                     422, "'destinations' item 2")
        self.problem(self.admin.post("/aliases", {"source": "x@example.org",
                                                  "destinations": ["ok@b.org", 7]}), 422, "item 2")
        self.problem(self.admin.post("/aliases", {"source": "bad", "destinations": ["a@b.org"]}),
                     422, "'source'")
        self.problem(self.admin.post("/aliases", {"source": "x@nonlocal.example",
                                                  "destinations": ["a@b.org"]}), 422, "'source'")
        self.problem(self.admin.post("/aliases", {"source": "x@example.org",
                                                  "destinations": ["a@b.org"] * 1001}),
                     422, "'destinations'")
        self.problem(self.admin.patch("/aliases/nope@example.org", {"destinations": ["a@b.org"]}), 404)

    # ---- SQL metacharacters ---------------------------------------------------

    def test_sql_metacharacters_are_stored_intact(self):
        evil_local = "o'brien--x%_y\"z"       # all RFC 5321 atext but '"'
        self.problem(self.admin.post("/users", {"address": evil_local + "@example.org",
                                                "password": "p"}), 422, "'address'")
        local = "o'brien--x%_y=1|{or}"
        addr = local + "@example.org"
        pw = "p'; DROP TABLE users; --\"\\%_"
        r = self.admin.post("/users", {"address": addr, "password": pw})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["address"], addr)
        self.assertEqual(self.admin.get("/users/" + q(addr)).json["address"], addr)
        self.assertEqual(Client(self.port).login(addr, pw).status, 200)
        self.problem(Client(self.port).login(addr, "p' OR '1'='1"), 401)
        self.problem(Client(self.port).login("' OR 1=1 --", "' OR 1=1 --"), 401)
        dest = "x'y--%@elsewhere.net"
        src = "a'b;c@example.org"
        self.problem(self.admin.post("/aliases", {"source": src, "destinations": [dest]}), 422, "'source'")
        src = "a'b%_c@example.org"
        r = self.admin.post("/aliases", {"source": src, "destinations": [dest, addr]})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.admin.get("/aliases/" + q(src)).json["destinations"], [dest, addr])
        name = "n'; DELETE FROM api_tokens; -- \"%_\\ ünïcode"
        r = self.admin.post("/tokens", {"name": name})
        self.assertEqual(r.status, 201, r)
        self.assertIn(name, [t["name"] for t in self.admin.get("/tokens").json])
        self.assertEqual(self.admin.delete(f"/tokens/{r.json['id']}").status, 204)
        self.problem(self.admin.get("/users/" + q("x' OR '1'='1@example.org")), 404)
        self.problem(self.admin.get("/domains/" + q("example.org' OR 1=1--")), 404)
        self.assertEqual(len(self.admin.get("/users").json) >= 2, True)
        self.assertEqual(self.admin.delete("/aliases/" + q(src)).status, 204)
        self.assertEqual(self.admin.delete("/users/" + q(addr)).status, 204)

    # ---- tokens -------------------------------------------------------------

    def test_tokens(self):
        r = self.admin.post("/tokens", {"name": "ci"})
        self.assertEqual(r.status, 201, r)
        tok, tid = r.json["token"], r.json["id"]
        self.assertRegex(tok, r"^[0-9a-f]{64}$")
        self.assertEqual(r.json["prefix"], tok[:8])
        listed = self.admin.get("/tokens")
        self.assertNotIn(tok, listed.text)
        self.assertNotIn("token", listed.json[0])
        me = Client(self.port, tok)
        self.assertEqual(me.get("/session").json["user"], ADMIN)
        self.assertNotIn("csrf", me.get("/session").json)
        self.assertEqual(self.admin.delete(f"/tokens/{tid}").status, 204)
        self.problem(me.get("/users"), 401, "token")
        self.problem(self.admin.delete(f"/tokens/{tid}"), 404)
        self.problem(self.admin.delete("/tokens/abc"), 404)
        self.problem(self.admin.delete("/tokens/0"), 404)
        self.problem(self.admin.post("/tokens", {"name": "x" * 201}), 422, "'name'")
        self.problem(self.admin.post("/tokens", {"name": "a\nb"}), 422, "'name'")
        r = self.admin.post("/tokens", {})
        self.assertEqual(r.status, 201)
        self.admin.delete(f"/tokens/{r.json['id']}")

    # ---- sessions and CSRF --------------------------------------------------

    def test_session_cookie_and_csrf(self):
        c = Client(self.port)
        r = c.login(ADMIN, ADMIN_PW)
        self.assertEqual(r.status, 200, r)
        cookie = r.headers["_set_cookie"][0]
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=Strict", cookie)
        self.assertNotIn("Secure", cookie)      # plain HTTP on loopback
        self.assertEqual(r.json["user"], ADMIN)
        self.assertTrue(r.json["admin"])
        s = c.get("/session").json
        self.assertEqual(s["csrf"], c.csrf)
        # Reading needs no CSRF token; every change does.
        self.assertEqual(c.get("/users").status, 200)
        self.problem(c.post("/domains", {"name": "csrf.example"}, csrf=False), 403, "X-CSRF-Token")
        self.problem(c.post("/domains", {"name": "csrf.example"}, csrf=False,
                            headers={"X-CSRF-Token": "0" * 64}), 403, "X-CSRF-Token")
        self.problem(c.delete("/domains/example.org", csrf=False), 403, "X-CSRF-Token")
        self.problem(c.patch(f"/users/{ADMIN}", {"quota": 5}, csrf=False), 403)
        self.problem(self.admin.get("/domains/csrf.example"), 404)
        self.assertEqual(c.post("/domains", {"name": "csrf.example"}).status, 201)
        self.assertEqual(c.delete("/domains/csrf.example").status, 204)
        # Logging out ends the session for good.
        r = c.delete("/session")
        self.assertEqual(r.status, 204)
        self.assertIn("Max-Age=0", r.headers["_set_cookie"][0])
        self.problem(c.get("/users"), 401)

    def test_session_bad_logins(self):
        c = Client(self.port)
        self.problem(c.login(ADMIN, "wrong"), 401, "wrong username or password")
        self.problem(c.login("nobody@example.org", "wrong"), 401, "wrong username or password")
        self.problem(c.raw("POST", "/api/v1/session", b'{"username":"a"}',
                           {"Content-Type": "application/json"}), 422, "'password'")
        self.problem(c.raw("POST", "/api/v1/session", b'{"username":"a","password":"b","x":1}',
                           {"Content-Type": "application/json"}), 422, "'x'")
        # A forged cookie is nobody.
        c.cookie = "mailhub_session=" + "a" * 64
        self.problem(c.get("/users"), 401)
        c.cookie = "mailhub_session=../../etc"
        self.problem(c.get("/users"), 401)

    # ---- log, queue -----------------------------------------------------------

    def test_log(self):
        r = self.admin.get("/log")
        self.assertEqual(r.status, 200)
        ev = r.json["events"]
        self.assertTrue(ev)
        seqs = [e["seq"] for e in ev]
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(r.json["last"], seqs[-1])
        self.assertTrue(all(e["level"] in ("debug", "info", "warning", "error") for e in ev))
        self.admin.post("/domains", {"name": "logged.example"})
        later = self.admin.get(f"/log?after={r.json['last']}").json["events"]
        self.assertTrue(any("logged.example" in e["text"] for e in later), later)
        self.assertTrue(all(e["seq"] > r.json["last"] for e in later))
        self.assertEqual(len(self.admin.get("/log?limit=2").json["events"]), 2)
        self.problem(self.admin.get("/log?limit=abc"), 422, "'limit'")
        # the ring keeps 4096 events (core/log.h LOG_RING_SIZE)
        self.problem(self.admin.get("/log?limit=4097"), 422, "'limit'")
        self.problem(self.admin.get("/log?after=-1"), 422, "'after'")
        self.admin.delete("/domains/logged.example")
        # Passwords never reach the log.
        self.admin.post("/users", {"address": "logpw@example.org", "password": "Secret-In-Log-1"})
        self.assertNotIn("Secret-In-Log-1", self.admin.get("/log").text)
        self.admin.delete("/users/logpw@example.org")

    def test_queue_routes(self):
        r = self.admin.get("/queue")
        self.assertEqual(r.status, 200)
        self.assertIsInstance(r.json, list)
        self.problem(self.admin.get("/queue/999999"), 404)
        self.problem(self.admin.delete("/queue/999999"), 404)
        self.problem(self.admin.post("/queue/999999/retry"), 404)
        self.problem(self.admin.get("/queue/x1"), 404, "not an id")

    # ---- upstream accounts and the relay -----------------------------------

    def test_upstream_validation_names_the_field(self):
        base = {"protocol": "imap", "host": "imap.example.net", "username": "u", "password": "p"}
        for change, fld in (({"protocol": "smtp"}, "protocol"), ({"tls": "maybe"}, "tls"),
                            ({"port": 70000}, "port"), ({"port": "993"}, "port"),
                            ({"host": "bad host!"}, "host"), ({"host": "h" * 254}, "host"),
                            ({"tls_verify": "pin:xyz"}, "tls_verify"), ({"tls_verify": "sometimes"}, "tls_verify"),
                            ({"folders": []}, "folders"), ({"folders": ["a", "a"]}, "folders"),
                            ({"folders": "INBOX"}, "folders"), ({"interval": 5}, "interval"),
                            ({"username": ""}, "username"), ({"password": ""}, "password"),
                            ({"keep": "yes"}, "keep"), ({"owner": "nobody@example.org"}, "owner"),
                            ({"owner": "not an address"}, "owner"), ({"color": 1}, "color")):
            with self.subTest(change=change):
                self.problem(self.admin.post("/upstreams", {**base, **change}), 422, f"'{fld}'")
        for missing in ("protocol", "host", "username", "password"):
            body = dict(base)
            del body[missing]
            with self.subTest(missing=missing):
                self.problem(self.admin.post("/upstreams", body), 422, f"'{missing}'")
        self.assertEqual(self.admin.get("/upstreams").json, [])

    def test_upstream_crud_and_connection_test(self):
        closed = free_port()
        body = {"protocol": "pop3", "host": "127.0.0.1", "port": closed, "tls": "starttls",
                "username": "far'; DROP TABLE upstreams; --", "password": "Up-Secret-1",
                "keep": False, "interval": 120}
        r = self.admin.post("/upstreams", body)
        self.assertEqual(r.status, 201, r)
        u = r.json
        self.assertEqual((u["protocol"], u["port"], u["tls"], u["keep"], u["interval"]),
                         ("pop3", closed, "starttls", False, 120))
        self.assertEqual(u["username"], body["username"])
        self.assertEqual(u["tls_verify"], "system")
        self.assertIsNone(u["state"]["last_ok"])
        self.assertNotIn("Up-Secret-1", self.admin.get("/upstreams").text)
        self.assertNotIn("Up-Secret-1", self.admin.get("/log").text)
        # Defaults: the port for the protocol and TLS mode.
        r = self.admin.post("/upstreams", {"protocol": "imap", "host": "imap.example.net",
                                           "username": "x", "password": "y", "enabled": False})
        self.assertEqual((r.json["port"], r.json["folders"], r.json["target"]), (993, ["INBOX"], "INBOX"))
        self.assertEqual(self.admin.delete(f"/upstreams/{r.json['id']}").status, 204)
        # The connection test says what failed, in words.
        t = self.admin.post("/upstreams/test", {**body, "port": closed})
        self.assertEqual(t.status, 200, t)
        self.assertFalse(t.json["ok"])
        self.assertIn("cannot connect", t.json["error"])
        self.assertIn(f"port {closed}", t.json["error"])
        t = self.admin.post("/upstreams/test", {"protocol": "imap", "host": "127.0.0.1",
                                                "port": self.mh.port("imaps"), "tls": "implicit",
                                                "username": "x", "password": "y"})
        self.assertFalse(t.json["ok"])
        self.assertIn("certificate", t.json["error"])     # self-signed, tls_verify system
        self.problem(self.admin.post("/upstreams/test", {"id": 999999}), 404)
        self.problem(self.admin.post("/upstreams/test", {"protocol": "imap"}), 422, "'host'")
        # Where the stored password goes changes only with the password.
        r = self.admin.patch(f"/upstreams/{u['id']}", {"tls": "implicit", "port": 0})
        self.problem(r, 422, "'password'", "changes")
        r = self.admin.patch(f"/upstreams/{u['id']}", {"tls": "implicit", "port": 0,
                                                        "password": "Up-Secret-2"})
        self.assertEqual((r.json["tls"], r.json["port"]), ("implicit", 995), r)
        self.problem(self.admin.patch(f"/upstreams/{u['id']}", {"owner": ADMIN}), 422, "'owner'")
        self.assertEqual(self.admin.post(f"/upstreams/{u['id']}/fetch").status, 202)
        self.assertEqual(self.admin.delete(f"/upstreams/{u['id']}").status, 204)
        self.problem(self.admin.get(f"/upstreams/{u['id']}"), 404)
        self.problem(self.admin.post(f"/upstreams/{u['id']}/fetch"), 404)

    @unittest.skipUnless(dovecot_upstream.available(), "Dovecot is not installed")
    def test_upstream_connection_test_against_dovecot(self):
        dc = dovecot_upstream.Dovecot(users={"far": "far-pass-1"})
        try:
            dc.start()
            body = {"protocol": "imap", "host": "127.0.0.1", "port": dc.port("imaps"),
                    "tls": "implicit", "tls_verify": "pin:" + dc.cert_sha256,
                    "username": "far", "password": "far-pass-1"}
            t = self.admin.post("/upstreams/test", body)
            self.assertTrue(t.json["ok"], t)
            self.assertIn("INBOX", t.json["folders"])
            self.assertEqual(t.json["certificate_sha256"], dc.cert_sha256)
            t = self.admin.post("/upstreams/test", dict(body, password="wrong"))
            self.assertFalse(t.json["ok"], t)
            self.assertTrue(t.json["error"])
            t = self.admin.post("/upstreams/test", dict(body, tls_verify="pin:" + "0" * 64))
            self.assertFalse(t.json["ok"], t)
            self.assertIn("certificate", t.json["error"])
            t = self.admin.post("/upstreams/test", {"protocol": "pop3", "host": "127.0.0.1",
                                                    "port": dc.port("pop3s"), "tls": "implicit",
                                                    "tls_verify": "off", "username": "far",
                                                    "password": "far-pass-1"})
            self.assertTrue(t.json["ok"], t)
            self.assertEqual(t.json["messages"], 0)
        finally:
            dc.close()

    def test_relay(self):
        self.assertEqual(self.admin.get("/relay").json, {"mode": "direct", "smarthost": None})
        put = lambda b: self.admin.call("PUT", "/relay", b)
        r = put({"smarthost": {"host": "smtp.provider.example", "port": 587, "tls": "starttls",
                               "username": "me'--@provider.example", "password": "Relay-Secret-1"}})
        self.assertEqual(r.status, 200, r)
        sh = r.json["smarthost"]
        self.assertEqual((sh["host"], sh["port"], sh["tls"], sh["username"], sh["password_set"]),
                         ("smtp.provider.example", 587, "starttls", "me'--@provider.example", True))
        self.assertNotIn("Relay-Secret-1", self.admin.get("/relay").text)
        # The same username without a password keeps the password.
        r = put({"smarthost": {"host": "smtp2.provider.example", "port": 465, "tls": "implicit",
                               "username": "me'--@provider.example"}})
        self.assertTrue(r.json["smarthost"]["password_set"], r)
        self.problem(put({"smarthost": {"host": "h.example", "port": 465, "tls": "implicit",
                                        "username": "other"}}), 422, "'password'")
        for change, fld in (({"host": "bad host!"}, "host"), ({"port": 0}, "port"),
                            ({"port": 70000}, "port"), ({"tls": "none"}, "tls"),
                            ({"extra": 1}, "extra")):
            with self.subTest(change=change):
                b = {"host": "h.example", "port": 465, "tls": "implicit", **change}
                self.problem(put({"smarthost": b}), 422, f"'{fld}'")
        self.problem(put({}), 422, "'smarthost'")
        self.problem(put({"smarthost": "h.example"}), 422, "'smarthost'")
        r = put({"smarthost": None})
        self.assertEqual(r.json, {"mode": "direct", "smarthost": None})

    # ---- OpenAPI --------------------------------------------------------------

    def test_openapi_matches_the_route_table(self):
        r = self.anon.get("/openapi.json")
        self.assertEqual(r.status, 200, r)
        doc = r.json
        self.assertTrue(doc["openapi"].startswith("3."))
        described = sorted((m.upper(), p) for p, ops in doc["paths"].items()
                           for m in ops if m in ("get", "post", "put", "patch", "delete"))
        self.assertEqual(described, source_routes())
        # Who may call each route is described as the table enforces it.
        roles = {(m.upper(), p): op["x-mailhub-role"] for p, ops in doc["paths"].items()
                 for m, op in ops.items() if m in ("get", "post", "put", "patch", "delete")}
        self.assertEqual(roles, source_route_roles())
        # Every $ref resolves.
        text = json.dumps(doc)
        import re
        for ref in set(re.findall(r'"#/components/([a-zA-Z]+)/([A-Za-z]+)"', text)):
            self.assertIn(ref[1], doc["components"][ref[0]], ref)
        # And every described route is answered by the server (never 404/405).
        for method, path in described:
            concrete = path.replace("{name}", "example.org").replace("{address}", ADMIN) \
                .replace("{source}", "none@example.org").replace("{id}", "999999")
            if method == "DELETE" and ("{address}" in path or "{name}" in path or path.endswith("/session")):
                continue    # would remove the admin or their domain
            r = self.admin.call(method, concrete, {} if method in ("POST", "PATCH") else None)
            with self.subTest(route=f"{method} {path}"):
                self.assertNotIn(r.status, (404, 405)) if "{" not in path else \
                    self.assertNotEqual(r.status, 405)
                if r.status == 404:
                    self.assertNotIn("no such resource", r.detail)

    # ---- static files ---------------------------------------------------------

    def test_static_index_and_headers(self):
        r = self.anon.raw("GET", "/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["Content-Type"], "text/html; charset=utf-8")
        csp = r.headers["Content-Security-Policy"]
        self.assertIn("default-src 'self'", csp)
        self.assertIn("script-src 'self'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertEqual(r.headers["X-Content-Type-Options"], "nosniff")
        self.assertIn("Cache-Control", r.headers)
        self.assertNotIn("http://", r.text.replace('xmlns="http://www.w3.org', ""))
        self.assertNotIn("https://", r.text)
        for path, ctype in (("/app.css", "text/css; charset=utf-8"),
                            ("/js/app.js", "text/javascript; charset=utf-8"),
                            ("/icon.svg", "image/svg+xml"),
                            ("/openapi.json", "application/json")):
            r = self.anon.raw("GET", path)
            with self.subTest(path=path):
                self.assertEqual(r.status, 200)
                self.assertEqual(r.headers["Content-Type"], ctype)
                self.assertEqual(r.headers["Cache-Control"], "no-cache")
                lm = r.headers["Last-Modified"]
                r2 = self.anon.raw("GET", path, headers={"If-Modified-Since": lm})
                self.assertEqual(r2.status, 304)
                self.assertEqual(r2.body, b"")
        r = self.anon.raw("HEAD", "/app.css")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"")
        # The panel routes after '#': other paths are files or nothing.
        self.problem(self.anon.raw("GET", "/users"), 404)
        r = self.anon.raw("POST", "/index.html")
        self.problem(r, 405)
        self.assertEqual(r.headers["Allow"], "GET, HEAD")

    def test_percent_nul_never_cuts_a_path(self):
        self.problem(self.admin.get("/users/" + ADMIN + "%00x"), 404)
        self.problem(self.admin.get("/domains%00"), 404)
        r = self.admin.get("/log?limit=5%00")
        self.problem(r, 422, "'limit'")

    def test_static_path_traversal(self):
        for path in ("/../mailhub.conf", "/..%2fmailhub.conf", "/%2e%2e/%2e%2e/etc/passwd",
                     "/js/../../../etc/passwd", "/js/%2e%2e/%2e%2e/etc/passwd",
                     "/.hidden", "/js/.x.js", "//etc/passwd", "/static/../../etc/passwd",
                     "/%2F%2Fetc%2Fpasswd", "/index.html%00.js", "/index.html%00",
                     "/js%2f..%2f..%2fetc%2fpasswd", "/js\\..\\..\\etc\\passwd", "/etc/passwd",
                     "/" + "a/" * 200 + "x.js"):
            r = self.anon.raw("GET", path)
            with self.subTest(path=path):
                self.assertIn(r.status, (400, 404), r)
                self.assertNotIn(b"root:", r.body)
                self.assertNotIn(b"data_dir", r.body)

    # ---- autoconfig -----------------------------------------------------------

    def test_thunderbird_autoconfig(self):
        for path in ("/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml",
                     "/mail/config-v1.1.xml?emailaddress=a%40example.org"):
            r = self.anon.raw("GET", path)
            with self.subTest(path=path):
                self.assertEqual(r.status, 200)
                self.assertTrue(r.headers["Content-Type"].startswith("application/xml"))
                import xml.etree.ElementTree as ET
                root = ET.fromstring(r.body)
                prov = root.find("emailProvider")
                self.assertIn("example.org", [d.text for d in prov.findall("domain")])
                inc = prov.findall("incomingServer")
                self.assertEqual(inc[0].find("port").text, str(self.mh.port("imaps")))
                self.assertEqual(inc[0].find("socketType").text, "SSL")
                self.assertEqual(inc[1].find("socketType").text, "STARTTLS")
                out = prov.findall("outgoingServer")
                self.assertEqual([o.find("port").text for o in out], [str(self.mh.port("submissions"))])
                self.assertEqual(prov.find("incomingServer/hostname").text, "mail.test")

    def test_autodiscover(self):
        body = (b'<?xml version="1.0"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/'
                b'autodiscover/outlook/requestschema/2006"><Request><EMailAddress>a&lt;b@example.org'
                b'</EMailAddress><AcceptableResponseSchema>x</AcceptableResponseSchema></Request></Autodiscover>')
        for path in ("/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"):
            r = self.anon.raw("POST", path, body, {"Content-Type": "text/xml"})
            with self.subTest(path=path):
                self.assertEqual(r.status, 200, r)
                import xml.etree.ElementTree as ET
                root = ET.fromstring(r.body)
                ns = {"r": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
                protos = root.findall(".//r:Protocol", ns)
                types = {p.find("r:Type", ns).text: p for p in protos}
                self.assertEqual(types["IMAP"].find("r:Port", ns).text, str(self.mh.port("imaps")))
                self.assertEqual(types["SMTP"].find("r:Port", ns).text, str(self.mh.port("submissions")))
                self.assertNotIn("POP3", types)
                self.assertEqual(types["IMAP"].find("r:Server", ns).text, "mail.test")


class Https(unittest.TestCase):
    """[admin] tls = yes: HTTPS with the server's certificate, Secure cookies."""

    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(listeners=("imaps", "admin"), config_extra="\n[admin]\ntls = yes\n")
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(ADMIN, ADMIN_PW, admin=True)
        cls.mh.start()
        cls.port = cls.mh.port("admin")

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def test_https_session_cookie_is_secure(self):
        c = Client(self.port, tls_context=client_tls_context())
        r = c.login(ADMIN, ADMIN_PW)
        self.assertEqual(r.status, 200, r)
        cookie = r.headers["_set_cookie"][0]
        self.assertIn("Secure", cookie)
        self.assertIn("HttpOnly", cookie)
        self.assertTrue(c.get("/status").json["admin_tls"])
        self.assertEqual(c.post("/domains", {"name": "tls.example"}).status, 201)
        self.assertEqual(c.raw("GET", "/").status, 200)

    def test_same_certificate_as_the_other_listeners(self):
        def peer_cert(port):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                with client_tls_context().wrap_socket(raw) as s:
                    return s.getpeercert(binary_form=True), s.version()
        admin_cert, version = peer_cert(self.port)
        self.assertEqual(admin_cert, peer_cert(self.mh.port("imaps"))[0])
        self.assertIn(version, ("TLSv1.2", "TLSv1.3"))

    def test_old_tls_is_refused(self):
        ctx = client_tls_context()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        except (ValueError, ssl.SSLError):
            self.skipTest("this OpenSSL cannot offer TLS 1.1")
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw:
            with self.assertRaises((ssl.SSLError, OSError)):
                ctx.wrap_socket(raw)

    def test_plain_http_gets_no_page(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            try:
                while len(data) < 65536:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
        self.assertNotIn(b"<html", data)

    def test_bad_tls_setting_is_a_config_error(self):
        mh = Mailhub(listeners=("admin",), config_extra="\n[admin]\ntls = maybe\n", init=False)
        try:
            r = mh.cli("init", "--hostname", "mail.test", check=False)
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("[admin] tls must be auto, yes or no", r.stderr)
        finally:
            mh.cleanup()


class QueueWithMail(unittest.TestCase):
    """The queue routes on a real queued message: one submitted for a remote
    recipient whose domain cannot be resolved (the resolver is a closed
    loopback port), so it stays deferred.  Skipped while submission is not
    served yet."""

    def test_list_get_retry_delete(self):
        dead = free_port()
        mh = Mailhub(listeners=("submission", "admin"), plaintext_on_loopback=True,
                     config_extra=f"\n[dns]\nresolver = 127.0.0.1:{dead}\n")
        try:
            mh.cli("domain", "add", "example.org")
            mh.add_user(ADMIN, ADMIN_PW, admin=True)
            token = mh.cli("token", "create", ADMIN).stdout.strip().split()[-1]
            mh.start()
            try:
                s = smtplib.SMTP("127.0.0.1", mh.port("submission"), timeout=10)
            except smtplib.SMTPConnectError as e:
                self.skipTest(f"submission is not served yet: {e}")
            with s:
                s.login(ADMIN, ADMIN_PW)
                s.sendmail(ADMIN, ["x@remote.example"],
                           f"From: {ADMIN}\r\nTo: x@remote.example\r\nSubject: q\r\n\r\nhi\r\n")
            c = Client(mh.port("admin"), token)
            q = c.get("/queue").json
            self.assertEqual(len(q), 1, q)
            m = q[0]
            self.assertEqual(m["sender"], ADMIN)
            self.assertEqual(m["recipients"], 1)
            one = c.get(f"/queue/{m['id']}").json
            self.assertEqual([r["address"] for r in one["recipient_list"]], ["x@remote.example"])
            self.assertIn(one["recipient_list"][0]["state"], ("pending", "deferred"))
            self.assertEqual(c.get("/status").json["queue"]["messages"], 1)
            self.assertEqual(c.post(f"/queue/{m['id']}/retry").status, 204)
            self.assertEqual(c.delete(f"/queue/{m['id']}").status, 204)
            self.assertEqual(c.get(f"/queue/{m['id']}").status, 404)
            self.assertEqual(c.get("/queue").json, [])
        finally:
            mh.close()


class Throttle(unittest.TestCase):
    """Panel logins go through the shared failed-login throttle."""

    def test_login_blocks_after_failures(self):
        mh = Mailhub(listeners=("admin",), config_extra="\n[auth]\nblock_after = 3\ndelay_max_ms = 0\n")
        try:
            mh.cli("domain", "add", "example.org")
            mh.add_user(ADMIN, ADMIN_PW, admin=True)
            mh.start()
            c = Client(mh.port("admin"))
            statuses = [c.login(ADMIN, "wrong").status for _ in range(4)]
            self.assertEqual(statuses[:3], [401, 401, 401])
            self.assertEqual(statuses[3], 429)
            r = c.login(ADMIN, ADMIN_PW)
            self.assertEqual(r.status, 429, r)
            self.assertIn("too many failed logins", r.detail)
            # Bad bearer tokens count too.
            self.assertEqual(Client(mh.port("admin"), "f" * 64).get("/users").status, 429)
        finally:
            mh.close()


if __name__ == "__main__":
    tap.main()
