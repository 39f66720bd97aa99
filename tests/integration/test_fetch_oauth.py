"""OAuth2 for upstream accounts (issue 17), through a real chain on loopback:
a small authorization server written on python3-oauthlib
(oauth_server.py), Debian's Dovecot as the upstream whose oauth2 passdb
checks each bearer token by introspection (RFC 7662) against that server,
and mailhub's `upstream add --auth oauth2`, `upstream connect` (the device
authorization grant, RFC 8628) and `upstream run`.

The account logs in with SASL OAUTHBEARER (RFC 7628) where the server
offers it and XOAUTH2 where only that is offered, over IMAP and POP3; an
access token near its end is refreshed at the token endpoint first; a grant
the user revoked at the provider pauses the account with the plain words
"reconnect this account" instead of a stream of login errors.
"""

import base64
import hashlib
import json
import os
import re
import secrets
import select
import shutil
import smtplib
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

import tap
from dovecot_upstream import Dovecot, available
from api_util import Client
from mailhub_fixture import Mailhub, client_tls_context, free_port, mailhub_bin
from relay_util import make_cert

try:
    import oauth_server
except ImportError:      # python3-oauthlib missing
    oauth_server = None

OWNER = "alice@example.org"


def message(tag, i):
    return (f"From: s@upstream.test\r\nTo: u@upstream.test\r\nSubject: {tag} {i}\r\n"
            f"Message-ID: <{tag}.{i}@upstream.test>\r\n\r\nbody {i}\r\n").encode()


class OAuthBase(unittest.TestCase):
    users = {}
    mechanisms = "xoauth2 oauthbearer"
    listeners = ("admin",)

    @classmethod
    def setUpClass(cls):
        if not available():
            raise unittest.SkipTest("Dovecot (dovecot-imapd, dovecot-pop3d) is not installed")
        if oauth_server is None:
            raise unittest.SkipTest("python3-oauthlib is not installed")
        cls.tmp = tempfile.mkdtemp(prefix="mailhub-oauth.")
        cls.ca, cls.cert, cls.key = make_cert(cls.tmp, "auth.test", ip="127.0.0.1")
        cert, key = cls.cert, cls.key
        cls.srv = oauth_server.AuthServer(cert, key, users=set(cls.users))
        cls.srv.start()
        cls.old_cert_file = os.environ.get("SSL_CERT_FILE")
        # mailhub checks the token endpoint's certificate against this CA
        os.environ["SSL_CERT_FILE"] = cls.ca
        cls.dc = None
        try:
            cls.dc = Dovecot(cls.users, oauth2=cls.srv.url("/introspect", plain=True),
                             oauth2_mechanisms=cls.mechanisms)
            cls.dc.start()
            extra = (f"\n[fetch]\nallow_private_hosts = yes\n"
                     f"\n[oauth2_custom]\nclient_id = {cls.srv.client_id}\n"
                     f"client_secret = {cls.srv.client_secret}\n"
                     f"authorization_endpoint = {cls.srv.url('/authorize')}\n"
                     f"token_endpoint = {cls.srv.url('/token')}\n"
                     f"device_authorization_endpoint = {cls.srv.url('/device')}\n"
                     f"revocation_endpoint = {cls.srv.url('/revoke')}\n"
                     f"scopes = mail\n")
            cls.mh = Mailhub(listeners=cls.listeners, config_extra=extra)
            cls.mh.cli("domain", "add", "example.org")
            cls.mh.add_user(OWNER, "secret-alice")
        except BaseException:
            cls._cleanup()
            raise

    @classmethod
    def _cleanup(cls):
        if cls.dc is not None:
            cls.dc.close()
        cls.srv.stop()
        if cls.old_cert_file is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = cls.old_cert_file
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.mh.close()
        finally:
            cls._cleanup()

    # ---- helpers -----------------------------------------------------------

    def add(self, user, protocol="imap", token=None):
        name = protocol + "s"
        args = ["upstream", "add", OWNER, "--protocol", protocol, "--host", "127.0.0.1",
                "--port", str(self.dc.port(name)), "--tls", "implicit",
                "--tls-verify", "pin:" + self.dc.cert_sha256, "--username", user,
                "--auth", "oauth2", "--provider", "custom", "--target", f"T-{user}"]
        if token is not None:
            args.append("--refresh-token-stdin")
        r = self.mh.cli(*args, input=(token + "\n") if token is not None else None)
        return int(r.stdout.strip())

    def connect(self, uid, user):
        """`upstream connect`: the device grant, the user approving the code
        shown at the provider."""
        p = subprocess.Popen([mailhub_bin(), "--config", self.mh.config_path, "upstream",
                              "connect", str(uid)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            ready, _, _ = select.select([p.stdout], [], [], 30)
            self.assertTrue(ready, "upstream connect printed nothing")
            line = p.stdout.readline()
            m = re.search(r"open (\S+) and enter the code (\S+)", line)
            self.assertIsNotNone(m, line)
            self.assertEqual(m.group(1), self.srv.url("/device/verify"))
            self.assertTrue(self.srv.approve(m.group(2), user))
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 0, err)
        self.assertIn(f"{uid} connected", out)

    def run_fetch(self, uid, check=True):
        r = self.mh.cli("upstream", "run", str(uid), check=check, timeout=120)
        m = re.search(r"fetched=(\d+)", r.stdout)
        return (int(m.group(1)) if m else None), r

    def state(self, uid):
        for line in self.mh.cli("upstream", "list").stdout.splitlines():
            if line.startswith(f"{uid} "):
                return line
        self.fail(f"upstream {uid} not listed")

    def login_methods(self, user):
        """The SASL mechanisms Dovecot logged for user's logins."""
        return re.findall(r"Login: user=<" + re.escape(user) + r">, method=([A-Z0-9]+)",
                          self.dc.log())

    def pkce_grant(self, user):
        """A refresh token from the authorization code grant with PKCE, as a
        browser and a client would get it (RFC 6749 §4.1, RFC 7636)."""
        verifier = secrets.token_urlsafe(32)
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        redirect = "https://panel.test/oauth/callback"
        q = urllib.parse.urlencode({
            "response_type": "code", "client_id": self.srv.client_id,
            "redirect_uri": redirect, "scope": "mail", "state": "st1",
            "code_challenge": challenge, "code_challenge_method": "S256",
            "login_hint": user})
        ctx = __import__("ssl").create_default_context(cafile=self.ca)

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None
        opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=ctx))
        try:
            opener.open(self.srv.url("/authorize?" + q), timeout=10)
            self.fail("no redirect")
        except urllib.error.HTTPError as e:
            loc = e.headers["Location"]
        got = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
        self.assertEqual(got.get("state"), "st1")
        form = urllib.parse.urlencode({
            "grant_type": "authorization_code", "code": got["code"],
            "redirect_uri": redirect, "code_verifier": verifier,
            "client_id": self.srv.client_id,
            "client_secret": self.srv.client_secret}).encode()
        with opener.open(self.srv.url("/token"), data=form, timeout=10) as resp:
            return json.load(resp)["refresh_token"]


class TestOAuthBearer(OAuthBase):
    """Dovecot offers both; mailhub takes OAUTHBEARER (RFC 7628)."""
    users = {"ob1": "pw-ob1", "ob2": "pw-ob2", "ob3": "pw-ob3"}

    def test_device_grant_then_imap_fetch(self):
        uid = self.add("ob1")
        line = self.state(uid)
        for field in ("auth=oauth2", "provider=custom", "paused=reconnect"):
            self.assertIn(f" {field} ", line)
        self.assertIn("connect this account", line)
        # paused: no fetch, no login attempt
        _, r = self.run_fetch(uid, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("connect this account", r.stderr)
        self.connect(uid, "ob1")
        self.assertIn("paused=no", self.state(uid))
        for i in range(3):
            self.dc.add_message("ob1", message("dev", i))
        n, _ = self.run_fetch(uid)
        self.assertEqual(n, 3)
        self.assertIn("last_error=none", self.state(uid))
        self.assertEqual(set(self.login_methods("ob1")), {"OAUTHBEARER"})
        # the token from the device grant was still fresh: no refresh
        self.assertEqual(self.srv.count("refresh_token"), 0)
        self.assertGreater(self.srv.introspections, 0)

    def test_refresh_then_revocation_pauses(self):
        # tokens that live 61 s: within a second they are due for renewal
        # (mailhub renews with less than 60 s left)
        self.srv.expires_in = 61
        try:
            uid = self.add("ob2", protocol="pop3")
            self.connect(uid, "ob2")
            time.sleep(1.2)
            before = self.srv.count("refresh_token")
            self.dc.add_message("ob2", message("ref", 1))
            n, _ = self.run_fetch(uid)
            self.assertEqual(n, 1)
            self.assertEqual(self.srv.count("refresh_token"), before + 1)
            self.assertEqual(set(self.login_methods("ob2")), {"OAUTHBEARER"})
        finally:
            self.srv.expires_in = 3600
        # the access token from that refresh is still valid here; the user
        # now revokes mailhub at the provider: the server refuses the token,
        # the refresh gets invalid_grant, and the account pauses
        self.srv.revoke_user("ob2")
        self.dc.add_message("ob2", message("ref", 2))
        n, r = self.run_fetch(uid, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("reconnect this account", r.stderr)
        line = self.state(uid)
        self.assertIn("paused=reconnect", line)
        self.assertIn("reconnect this account: the provider no longer accepts its "
                      "authorization", line)
        # paused: the next run does not even ask the provider
        refreshes = self.srv.count("refresh_token")
        _, r = self.run_fetch(uid, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(self.srv.count("refresh_token"), refreshes)
        # connecting again resumes it
        self.connect(uid, "ob2")
        n, _ = self.run_fetch(uid)
        self.assertEqual(n, 1)
        self.assertIn("paused=no", self.state(uid))

    def test_wrong_provider_setup_is_plain(self):
        r = self.mh.cli("upstream", "add", OWNER, "--host", "127.0.0.1", "--username", "x",
                        "--auth", "oauth2", "--provider", "google", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        uid = int(r.stdout.strip())
        self.mh.cli("upstream", "connect", str(uid), check=False)
        r = self.mh.cli("upstream", "connect", str(uid), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("the OAuth2 provider google is not set up", r.stderr)
        self.mh.cli("upstream", "del", str(uid))


class TestXOAuth2(OAuthBase):
    """Dovecot offers only XOAUTH2 (Google's and Microsoft's mechanism)."""
    users = {"xo1": "pw-xo1", "xo2": "pw-xo2"}
    mechanisms = "xoauth2"

    def test_pkce_token_imap_and_pop3(self):
        # a refresh token from the code grant with PKCE, given on stdin
        token = self.pkce_grant("xo1")
        uid = self.add("xo1", token=token)
        self.assertIn("paused=no", self.state(uid))
        self.dc.add_message("xo1", message("xo", 1))
        # no access token yet: the first run refreshes
        n, _ = self.run_fetch(uid)
        self.assertEqual(n, 1)
        self.assertEqual(self.srv.count("refresh_token"), 1)
        uid2 = self.add("xo1", protocol="pop3", token=self.pkce_grant("xo1"))
        n, _ = self.run_fetch(uid2)
        self.assertEqual(n, 1)
        self.assertEqual(set(self.login_methods("xo1")), {"XOAUTH2"})

    def test_rejected_token_is_plain(self):
        uid = self.add("xo2", token="not-a-valid-refresh-token")
        _, r = self.run_fetch(uid, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("reconnect this account", r.stderr)
        self.assertIn("paused=reconnect", self.state(uid))


class TestOAuthApi(OAuthBase):
    """The same through the REST API with the daemon running: an account
    added with auth oauth2 waits paused until connected by the device grant
    or by the authorization code flow with PKCE, whose state only the
    session that started it may use; the daemon then fetches it."""
    users = {"ap1": "pw-ap1", "ap2": "pw-ap2"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.mh.start()
        except BaseException:
            cls.mh.cleanup()
            cls._cleanup()
            raise
        cls.web = Client(cls.mh.port("admin"))
        r = cls.web.login(OWNER, "secret-alice")
        assert r.status == 200, r
        token = cls.mh.cli("token", "create", OWNER).stdout.strip().split()[-1]
        cls.bearer = Client(cls.mh.port("admin"), token)

    def create(self, user):
        r = self.web.post("/upstreams", {
            "protocol": "imap", "host": "127.0.0.1", "port": self.dc.port("imaps"),
            "tls": "implicit", "tls_verify": "pin:" + self.dc.cert_sha256,
            "username": user, "auth": "oauth2", "provider": "custom",
            "target": f"T-{user}"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["auth"], "oauth2")
        self.assertEqual(r.json["provider"], "custom")
        self.assertTrue(r.json["state"]["reconnect"])
        self.assertIn("connect this account", r.json["state"]["last_error"])
        return r.json["id"]

    def wait_fetched(self, uid, n, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.web.get(f"/upstreams/{uid}")
            if r.json["state"]["fetched"] >= n:
                return r.json
            time.sleep(0.2)
        self.fail(f"account {uid} never fetched {n}: {r.json}")

    def test_device_grant_through_the_api(self):
        uid = self.create("ap1")
        self.dc.add_message("ap1", message("api", 1))
        r = self.web.post(f"/upstreams/{uid}/oauth/device")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["verification_uri"], self.srv.url("/device/verify"))
        self.assertNotIn("device_code", r.json)
        user_code = r.json["user_code"]
        r = self.web.post(f"/upstreams/{uid}/oauth/device/poll")
        self.assertEqual((r.status, r.json["status"]), (200, "pending"))
        self.assertTrue(self.srv.approve(user_code, "ap1"))
        deadline = time.monotonic() + 20
        while True:
            r = self.web.post(f"/upstreams/{uid}/oauth/device/poll")
            self.assertEqual(r.status, 200, r)
            if r.json["status"] == "connected" or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        self.assertEqual(r.json["status"], "connected")
        up = self.wait_fetched(uid, 1)
        self.assertFalse(up["state"]["reconnect"])
        self.assertIsNone(up["state"]["last_error"])
        # deleting the account revokes the grant at the provider (RFC 7009)
        before = self.srv.count("revoke")
        self.assertEqual(self.web.delete(f"/upstreams/{uid}").status, 204)
        self.assertEqual(self.srv.count("revoke"), before + 1)

    def consent(self, url, user):
        """The user at the provider's page: the redirect back, parsed."""
        ctx = __import__("ssl").create_default_context(cafile=self.ca)

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None
        opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=ctx))
        try:
            opener.open(url + "&login_hint=" + user, timeout=10)
            self.fail("no redirect")
        except urllib.error.HTTPError as e:
            loc = e.headers["Location"]
        self.assertTrue(loc.startswith("https://panel.test/oauth2/callback?"), loc)
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))

    def test_code_flow_with_pkce_bound_to_the_session(self):
        uid = self.create("ap2")
        self.dc.add_message("ap2", message("api", 2))
        redirect = {"redirect_uri": "https://panel.test/oauth2/callback"}
        r = self.web.post(f"/upstreams/{uid}/oauth/authorize", redirect)
        self.assertEqual(r.status, 200, r)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.json["url"]).query))
        self.assertEqual(q["code_challenge_method"], "S256")
        self.assertEqual(q["client_id"], self.srv.client_id)
        got = self.consent(r.json["url"], "ap2")
        # another caller (here the same user's API token) cannot use it,
        # and the state is then spent
        r = self.bearer.post(f"/upstreams/{uid}/oauth/code",
                             {"state": got["state"], "code": got["code"]})
        self.assertEqual(r.status, 422, r)
        r = self.web.post(f"/upstreams/{uid}/oauth/code",
                          {"state": got["state"], "code": got["code"]})
        self.assertEqual(r.status, 422, r)
        # a fresh start in the right session connects it
        r = self.web.post(f"/upstreams/{uid}/oauth/authorize", redirect)
        got = self.consent(r.json["url"], "ap2")
        r = self.web.post(f"/upstreams/{uid}/oauth/code",
                          {"state": got["state"], "code": got["code"]})
        self.assertEqual(r.status, 200, r)
        self.assertFalse(r.json["state"]["reconnect"])
        self.wait_fetched(uid, 1)

    def test_presets(self):
        r = self.web.get("/upstream-presets")
        self.assertEqual(r.status, 200, r)
        names = {p["name"]: p for p in r.json}
        self.assertEqual(set(names), {"gmail", "outlook", "yahoo", "icloud", "fastmail", "gmx"})
        self.assertEqual(names["gmail"]["imap_host"], "imap.gmail.com")
        self.assertEqual(names["gmail"]["provider"], "google")
        self.assertFalse(names["gmail"]["provider_ready"])   # no [oauth2_google] client
        self.assertEqual(names["icloud"]["auth"], "password")
        self.assertIsNone(names["icloud"]["pop3_host"])
        # a preset fills the server; an oauth2 provider not set up is refused
        r = self.web.post("/upstreams", {"preset": "outlook", "username": "a@outlook.com"})
        self.assertEqual(r.status, 422, r)
        self.assertIn("provider microsoft is not set up", r.detail)
        r = self.web.post("/upstreams", {"preset": "fastmail", "username": "a@fastmail.com",
                                         "password": "app-pw", "enabled": False})
        self.assertEqual(r.status, 201, r)
        self.assertEqual((r.json["host"], r.json["port"], r.json["tls"], r.json["auth"]),
                         ("imap.fastmail.com", 993, "implicit", "password"))
        self.web.delete(f"/upstreams/{r.json['id']}")


class TestSmarthostOAuth(OAuthBase):
    """The smarthost logs in with an upstream account's OAuth2 grant (as
    one sends through Gmail with the account whose mail is fetched): AUTH
    XOAUTH2 or OAUTHBEARER with a renewed access token, which the sink
    checks at the authorization server."""
    users = {"sm1": "pw-sm1"}
    listeners = ("admin", "submission")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.sink_logins = []
            cls.sink_msgs = []
            cls.sink_port = free_port()
            cls.sink = cls._start_sink()
            cls.mh.start()
        except BaseException:
            cls.mh.cleanup()
            cls._cleanup()
            raise

    @classmethod
    def _start_sink(cls):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult
        t = cls

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                t.sink_msgs.append(bytes(envelope.original_content or envelope.content))
                return "250 2.0.0 OK"

            def _check(self, mech, raw):
                if mech == "OAUTHBEARER":
                    gs2, _, rest = raw.partition("\x01")
                    user = gs2.split("a=", 1)[1].rstrip(",")
                    fields = dict(kv.split("=", 1) for kv in rest.split("\x01") if "=" in kv)
                else:
                    fields = dict(kv.split("=", 1) for kv in raw.split("\x01") if "=" in kv)
                    user = fields.get("user")
                token = fields.get("auth", "").removeprefix("Bearer ")
                info = t.srv.validator.introspect_token(token, None, None)
                ok = info is not None and info["username"] == user
                t.sink_logins.append((mech, user, ok))
                return AuthResult(success=ok, handled=False)

            async def auth_XOAUTH2(self, server, args):
                return self._check("XOAUTH2", base64.b64decode(args[1]).decode())

            async def auth_OAUTHBEARER(self, server, args):
                return self._check("OAUTHBEARER", base64.b64decode(args[1]).decode())

        ctx = __import__("ssl").SSLContext(__import__("ssl").PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cls.cert, cls.key)
        c = Controller(Handler(), hostname="127.0.0.1", port=cls.sink_port,
                       server_hostname="127.0.0.1", decode_data=False, ready_timeout=10,
                       tls_context=ctx, require_starttls=True, auth_require_tls=True,
                       auth_required=True, authenticator=lambda *a: AuthResult(success=False))
        c.start()
        return c

    @classmethod
    def tearDownClass(cls):
        try:
            cls.sink.stop()
        finally:
            super().tearDownClass()

    def test_smarthost_with_the_grant(self):
        uid = self.add("sm1", token=self.pkce_grant("sm1"))
        # set by the REST API (as the panel does; the CLI's
        # `relay smarthost --oauth-upstream` sets the same)
        self.mh.add_user("root@example.org", "root-password-1", admin=True)
        tok = self.mh.cli("token", "create", "root@example.org").stdout.strip().split()[-1]
        admin = Client(self.mh.port("admin"), tok)
        sh = {"host": "127.0.0.1", "port": self.sink_port, "tls": "starttls"}
        for extra, words in (({"oauth_upstream": uid + 1000}, "does not exist"),
                             ({"oauth_upstream": uid, "username": "x", "password": "y"},
                              "no 'username'")):
            r = admin.call("PUT", "/relay", {"smarthost": dict(sh, **extra)})
            self.assertEqual(r.status, 422, r)
            self.assertIn(words, r.detail)
        pw = self.mh.cli("upstream", "add", OWNER, "--host", "127.0.0.1", "--username", "pw",
                         "--password-stdin", "--disabled", input="pw\n").stdout.strip()
        r = admin.call("PUT", "/relay", {"smarthost": dict(sh, oauth_upstream=int(pw))})
        self.assertEqual(r.status, 422, r)
        self.assertIn("does not sign in with OAuth2", r.detail)
        r = admin.call("PUT", "/relay", {"smarthost": dict(sh, oauth_upstream=uid)})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["smarthost"]["oauth_upstream"], r.json["smarthost"]["username"]),
                         (uid, None))
        self.assertEqual(admin.get("/relay").json["smarthost"]["oauth_upstream"], uid)
        self.assertIn(f"oauth_upstream={uid}", self.mh.cli("relay", "show").stdout)
        with smtplib.SMTP("127.0.0.1", self.mh.port("submission"), timeout=30) as s:
            s.starttls(context=client_tls_context())
            s.login(OWNER, "secret-alice")
            s.sendmail(OWNER, ["someone@elsewhere.test"],
                       f"From: {OWNER}\r\nTo: someone@elsewhere.test\r\n"
                       "Subject: via the grant\r\n\r\nhi\r\n")
        deadline = time.monotonic() + 30
        while not self.sink_msgs and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(len(self.sink_msgs), 1, self.mh.log()[-3000:])
        self.assertIn(b"Subject: via the grant", self.sink_msgs[0])
        self.assertEqual(self.sink_logins, [("OAUTHBEARER", "sm1", True)])
        # the first send renewed the token (the grant came with none stored)
        self.assertEqual(self.srv.count("refresh_token"), 1)


if __name__ == "__main__":
    tap.main()
