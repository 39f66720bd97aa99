"""A small client of mailhub's REST API for the integration tests (stdlib
only): bearer token or browser-style session (cookie + CSRF header)."""

import http.client
import json
import os
import re


def _routes_text():
    src = os.environ.get("MAILHUB_SRCDIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..")
    with open(os.path.join(src, "web", "routes.c")) as f:
        return f.read()


def source_routes():
    """(method, pattern) of every route in web/routes.c, the one table."""
    return sorted(set(re.findall(r'\{\s*"([A-Z]+)",\s*"(/api/[^"]*)"', _routes_text())))


def source_route_roles():
    """{(method, pattern): "public" | "user" | "admin"} from the flags in
    web/routes.c (A = ROUTE_AUTH, ADM = ROUTE_AUTH | ROUTE_ADMIN)."""
    roles = {}
    for m, p, flags in re.findall(r'\{\s*"([A-Z]+)",\s*"(/api/[^"]*)",\s*\w+,\s*([^}]*)\}',
                                  _routes_text()):
        words = set(re.findall(r"\w+", flags))
        roles[(m, p)] = ("admin" if words & {"ADM", "ROUTE_ADMIN"} else
                         "user" if words & {"A", "ROUTE_AUTH"} else "public")
    return roles


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.text = body.decode("utf-8", "replace")
        ctype = headers.get("Content-Type", "")
        self.json = None
        if "json" in ctype and body:
            self.json = json.loads(self.text)

    @property
    def detail(self):
        return (self.json or {}).get("detail", "")

    def __repr__(self):
        return f"<{self.status} {self.text[:300]!r}>"


class Client:
    """One caller: anonymous, a bearer token, or a signed-in session."""

    def __init__(self, port, token=None, tls_context=None):
        self.port = port
        self.token = token
        self.tls_context = tls_context
        self.cookie = None
        self.csrf = None

    def raw(self, method, path, body=None, headers=None):
        if self.tls_context is not None:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30,
                                               context=self.tls_context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            hdrs = {k: v for k, v in resp.getheaders()}
            # Keep every Set-Cookie (getheaders joins none for us).
            hdrs["_set_cookie"] = resp.headers.get_all("Set-Cookie") or []
            return Response(resp.status, hdrs, data)
        finally:
            conn.close()

    def call(self, method, path, body=None, csrf=True, headers=None, raw_body=None):
        h = dict(headers or {})
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if self.cookie:
            h["Cookie"] = self.cookie
            if csrf and self.csrf and method not in ("GET", "HEAD"):
                h["X-CSRF-Token"] = self.csrf
        data = raw_body
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        return self.raw(method, "/api/v1" + path if path.startswith("/") and
                        not path.startswith("/api/") else path, data, h)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    def login(self, username, password):
        r = self.raw("POST", "/api/v1/session",
                     json.dumps({"username": username, "password": password}).encode(),
                     {"Content-Type": "application/json"})
        if r.status == 200:
            cookie = r.headers["_set_cookie"][0]
            self.cookie = cookie.split(";", 1)[0]
            self.csrf = r.json["csrf"]
        return r


def q(s):
    """Percent-encodes a path segment."""
    from urllib.parse import quote
    return quote(s, safe="@")
