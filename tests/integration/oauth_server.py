"""A small OAuth2 authorization server on loopback for the fetcher's OAuth2
tests, built on python3-oauthlib: the authorization code grant with PKCE
(RFC 7636), the refresh token grant (RFC 6749 §6, refresh tokens rotated),
revocation (RFC 7009) and token introspection (RFC 7662) come from
oauthlib's endpoints; the device authorization grant (RFC 8628), which
oauthlib 3.2 serves only as a client, is written here by the RFC.

    srv = AuthServer(cert, key, users={"u1"}, client_id="c", client_secret="s")
    srv.start()                     # HTTPS on srv.port, plain HTTP on srv.http_port
    srv.url("/token")               # https://127.0.0.1:PORT/token
    srv.approve(user_code, "u1")    # the user says yes on the provider's page
                                    # (or POST user_code, user to /device/approve)
    srv.revoke_user("u1")           # the user revokes mailhub at the provider
    srv.count("refresh_token")      # token requests seen per grant type
    srv.stop()

The HTTPS listener is what mailhub talks to (its token endpoint must be
https); the HTTP one serves the same paths for Dovecot's introspection.
/authorize is the provider's consent page: it signs in the user named in
the login_hint parameter, approves at once and redirects back with the
code (or an error) and the state.
"""

import json
import secrets
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from oauthlib.common import generate_token
from oauthlib.oauth2 import RequestValidator, Server


class _Client:
    def __init__(self, client_id):
        self.client_id = client_id


class _Validator(RequestValidator):
    def __init__(self, srv):
        self.srv = srv

    # clients -----------------------------------------------------------
    def client_authentication_required(self, request, *a, **k):
        return True

    def authenticate_client(self, request, *a, **k):
        cid, secret = request.client_id, request.client_secret
        if request.headers.get("Authorization", "").startswith("Basic "):
            import base64
            raw = base64.b64decode(request.headers["Authorization"][6:]).decode()
            cid, _, secret = raw.partition(":")
            cid, secret = urllib.parse.unquote(cid), urllib.parse.unquote(secret)
        if cid != self.srv.client_id or secret != self.srv.client_secret:
            return False
        request.client = _Client(cid)
        request.client_id = cid
        return True

    def authenticate_client_id(self, client_id, request, *a, **k):
        return False

    def validate_client_id(self, client_id, request, *a, **k):
        return client_id == self.srv.client_id

    def validate_redirect_uri(self, client_id, redirect_uri, request, *a, **k):
        return True

    def get_default_redirect_uri(self, client_id, request, *a, **k):
        return None

    def validate_response_type(self, client_id, response_type, client, request, *a, **k):
        return response_type == "code"

    def validate_grant_type(self, client_id, grant_type, client, request, *a, **k):
        return grant_type in ("authorization_code", "refresh_token")

    def validate_scopes(self, client_id, scopes, client, request, *a, **k):
        return True

    def get_default_scopes(self, client_id, request, *a, **k):
        return ["mail"]

    def is_pkce_required(self, client_id, request):
        return True

    # codes -------------------------------------------------------------
    def save_authorization_code(self, client_id, code, request, *a, **k):
        with self.srv.lock:
            self.srv.codes[code["code"]] = {
                "user": request.user, "redirect_uri": request.redirect_uri,
                "challenge": request.code_challenge,
                "method": request.code_challenge_method,
                "scopes": request.scopes}

    def validate_code(self, client_id, code, client, request, *a, **k):
        with self.srv.lock:
            c = self.srv.codes.get(code)
        if c is None:
            return False
        request.user = c["user"]
        request.scopes = c["scopes"]
        return True

    def get_code_challenge(self, code, request):
        c = self.srv.codes.get(code)
        return c["challenge"] if c else None

    def get_code_challenge_method(self, code, request):
        c = self.srv.codes.get(code)
        return c["method"] if c else None

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request,
                             *a, **k):
        c = self.srv.codes.get(code)
        return c is not None and c["redirect_uri"] == redirect_uri

    def invalidate_authorization_code(self, client_id, code, request, *a, **k):
        with self.srv.lock:
            self.srv.codes.pop(code, None)

    # tokens ------------------------------------------------------------
    def save_bearer_token(self, token, request, *a, **k):
        self.srv.save_token(token, request.user)

    def validate_refresh_token(self, refresh_token, client, request, *a, **k):
        with self.srv.lock:
            r = self.srv.refresh.get(refresh_token)
        if r is None or not r["active"]:
            return False
        request.user = r["user"]
        request.refresh_token_record = r
        return True

    def get_original_scopes(self, refresh_token, request, *a, **k):
        return ["mail"]

    def is_within_original_scope(self, request_scopes, refresh_token, request, *a, **k):
        return True

    def rotate_refresh_token(self, request):
        return True

    def revoke_token(self, token, token_type_hint, request, *a, **k):
        self.srv.revoke_token(token)

    def introspect_token(self, token, token_type_hint, request, *a, **k):
        with self.srv.lock:
            t = self.srv.access.get(token)
            if t is None or not t["active"] or t["expires"] < time.time():
                return None
            return {"username": t["user"], "scope": "mail",
                    "exp": int(t["expires"]), "client_id": self.srv.client_id}


class AuthServer:
    def __init__(self, cert, key, users, client_id="mailhub-test",
                 client_secret="mailhub-secret", expires_in=3600):
        self.users = set(users)
        self.client_id, self.client_secret = client_id, client_secret
        self.expires_in = expires_in
        self.lock = threading.Lock()
        self.codes = {}          # authorization code -> record
        self.access = {}         # access token -> {user, expires, active}
        self.refresh = {}        # refresh token -> {user, active}
        self.devices = {}        # device_code -> {user_code, user, expires, denied}
        self.counts = {}         # grant type -> requests
        self.introspections = 0
        self.validator = _Validator(self)
        self.oauth = Server(self.validator, token_expires_in=lambda r: self.expires_in)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.daemon_threads = True
        self.plain = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.plain.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.http_port = self.plain.server_address[1]
        self.threads = []

    def url(self, path, plain=False):
        if plain:
            return f"http://127.0.0.1:{self.http_port}{path}"
        return f"https://127.0.0.1:{self.port}{path}"

    def start(self):
        for h in (self.httpd, self.plain):
            t = threading.Thread(target=h.serve_forever, daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self):
        for h in (self.httpd, self.plain):
            h.shutdown()
            h.server_close()

    # the provider's side ----------------------------------------------------
    def save_token(self, token, user):
        with self.lock:
            self.access[token["access_token"]] = {
                "user": user, "expires": time.time() + token["expires_in"],
                "active": True}
            if "refresh_token" in token:
                self.refresh[token["refresh_token"]] = {"user": user, "active": True}

    def revoke_token(self, token):
        with self.lock:
            for table in (self.access, self.refresh):
                if token in table:
                    table[token]["active"] = False
            user = self.refresh.get(token, {}).get("user")
        if user is not None:
            self.revoke_user(user)

    def revoke_user(self, user):
        """The user withdraws the grant: every token of theirs stops working."""
        with self.lock:
            for table in (self.access, self.refresh):
                for rec in table.values():
                    if rec["user"] == user:
                        rec["active"] = False

    def approve(self, user_code, user, deny=False):
        with self.lock:
            for d in self.devices.values():
                if d["user_code"] == user_code:
                    d["user"], d["denied"] = user, deny
                    return True
        return False

    def count(self, grant_type):
        with self.lock:
            return self.counts.get(grant_type, 0)

    def _note(self, grant):
        with self.lock:
            self.counts[grant] = self.counts.get(grant, 0) + 1

    # HTTP -------------------------------------------------------------------
    def _handler(srv):
        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _reply(self, status, headers, body):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                data = body.encode() if isinstance(body, str) else (body or b"")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _json(self, status, obj):
                self._reply(status, {"Content-Type": "application/json",
                                     "Cache-Control": "no-store"}, json.dumps(obj))

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                if u.path != "/authorize":
                    return self._reply(404, {}, "")
                q = dict(urllib.parse.parse_qsl(u.query))
                user = q.get("login_hint")
                uri = srv.url(self.path)
                try:
                    scopes, creds = srv.oauth.validate_authorization_request(uri, "GET")
                except Exception as e:   # noqa: BLE001 - shown to the test
                    return self._reply(400, {}, f"bad authorization request: {e}")
                if user not in srv.users:
                    sep = "&" if "?" in q["redirect_uri"] else "?"
                    loc = q["redirect_uri"] + sep + urllib.parse.urlencode(
                        {"error": "access_denied", "state": q.get("state", "")})
                    return self._reply(302, {"Location": loc}, "")
                creds["user"] = user
                headers, body, status = srv.oauth.create_authorization_response(
                    uri, "GET", None, None, scopes, creds)
                self._reply(status, headers, body)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode()
                form = dict(urllib.parse.parse_qsl(body))
                path = urllib.parse.urlsplit(self.path).path
                headers = dict(self.headers)
                uri = srv.url(self.path)
                if path == "/token":
                    grant = form.get("grant_type", "")
                    srv._note(grant)
                    if grant == "urn:ietf:params:oauth:grant-type:device_code":
                        return self._device_token(form)
                    h, b, s = srv.oauth.create_token_response(uri, "POST", body, headers)
                    return self._reply(s, h, b)
                if path == "/device":
                    return self._device_start(form)
                if path == "/device/approve":
                    # the user's "yes" on the provider's page for a code
                    ok = srv.approve(form.get("user_code"), form.get("user"))
                    return self._json(200 if ok else 404, {"approved": ok})
                if path == "/revoke":
                    srv._note("revoke")
                    h, b, s = srv.oauth.create_revocation_response(uri, "POST", body, headers)
                    return self._reply(s, h, b)
                if path == "/introspect":
                    # Dovecot posts only the token (RFC 7662 §2.1 leaves the
                    # protection of this endpoint to the server: loopback)
                    with srv.lock:
                        srv.introspections += 1
                    info = srv.validator.introspect_token(form.get("token"), None, None)
                    return self._json(200, dict(info, active=True) if info
                                      else {"active": False})
                self._reply(404, {}, "")

            # RFC 8628 §3.1-3.2
            def _device_start(self, form):
                if form.get("client_id") != srv.client_id or \
                        form.get("client_secret") != srv.client_secret:
                    return self._json(401, {"error": "invalid_client"})
                code = generate_token()
                user_code = "-".join(secrets.token_hex(2).upper() for _ in range(2))
                with srv.lock:
                    srv.devices[code] = {"user_code": user_code, "user": None,
                                         "denied": False, "expires": time.time() + 600}
                self._json(200, {"device_code": code, "user_code": user_code,
                                 "verification_uri": srv.url("/device/verify"),
                                 "expires_in": 600, "interval": 1})

            # RFC 8628 §3.4-3.5
            def _device_token(self, form):
                if form.get("client_id") != srv.client_id or \
                        form.get("client_secret") != srv.client_secret:
                    return self._json(401, {"error": "invalid_client"})
                with srv.lock:
                    d = srv.devices.get(form.get("device_code"))
                if d is None:
                    return self._json(400, {"error": "invalid_grant"})
                if d["expires"] < time.time():
                    return self._json(400, {"error": "expired_token"})
                if d["denied"]:
                    return self._json(400, {"error": "access_denied"})
                if d["user"] is None:
                    return self._json(400, {"error": "authorization_pending"})
                with srv.lock:
                    del srv.devices[form["device_code"]]
                token = {"access_token": generate_token(), "token_type": "Bearer",
                         "expires_in": srv.expires_in, "refresh_token": generate_token(),
                         "scope": "mail"}
                srv.save_token(token, d["user"])
                self._json(200, token)
        return H
