"""The browser test's harness: a running mailhub with one admin, then
panel.mjs in Chromium against it.  Prints TAP: one line per step of the
spec, and one for the daemon's clean exit.  Called by run.sh with the
directory holding panel.mjs and its node_modules."""

import gzip
import http.client
import json
import os
import smtplib
import subprocess
import sys

import shutil
import tempfile

import dovecot_upstream
from mailhub_fixture import Mailhub, free_port

try:
    import oauth_server
    from relay_util import make_cert
except ImportError:      # python3-oauthlib missing: no OAuth2 step
    oauth_server = None


def main():
    workdir = sys.argv[1]
    out = os.environ.get("MAILHUB_TEST_OUTPUT") or os.path.join(workdir, "output")
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        if name.endswith(".png") and name.startswith(("panel-", "failed-")):
            os.unlink(os.path.join(out, name))
    lines = []
    # A private Dovecot as the upstream account's server, when installed
    # (the fetcher's tests use the same one); without it the connection
    # test runs against a closed port and must say so.
    dc = None
    upstream = {"UPSTREAM_PORT": str(free_port()), "UPSTREAM_OK": "0"}
    # An OAuth2 authorization server on loopback (oauth_server.py) whose
    # tokens the Dovecot checks, for the "Connect" step.
    srv, tmp, oauth_conf = None, None, ""
    if oauth_server is not None and dovecot_upstream.available():
        tmp = tempfile.mkdtemp(prefix="mailhub-panel-oauth.")
        ca, cert, key = make_cert(tmp, "auth.test", ip="127.0.0.1")
        srv = oauth_server.AuthServer(cert, key, users={"carol.remote"})
        srv.start()
        os.environ["SSL_CERT_FILE"] = ca      # for mailhub serve, started below
        oauth_conf = (f"\n[oauth2_custom]\nclient_id = {srv.client_id}\n"
                      f"client_secret = {srv.client_secret}\n"
                      f"token_endpoint = {srv.url('/token')}\n"
                      f"device_authorization_endpoint = {srv.url('/device')}\n")
        upstream["OAUTH_APPROVE_URL"] = srv.url("/device/approve", plain=True)
    if dovecot_upstream.available():
        dc = dovecot_upstream.Dovecot(users={"carol.remote": "remote-pass-1"},
                                      oauth2=srv.url("/introspect", plain=True) if srv else None)
        dc.start()
        dc.add_message("carol.remote", b"From: a@remote.example\r\nSubject: upstream\r\n\r\nhi\r\n")
        # the old account's archive, for the import step
        dc.add_messages("carol.remote", [
            f"From: b@remote.example\r\nSubject: archived {i}\r\n\r\nold mail {i}\r\n".encode()
            for i in range(40)], folder="Archive")
        # (update: OAUTH_APPROVE_URL above stays)
        upstream.update({"UPSTREAM_PORT": str(dc.port("imaps")), "UPSTREAM_OK": "1",
                         "UPSTREAM_PIN": dc.cert_sha256})
    else:
        lines.append("# dovecot is not installed: the upstream test expects a failure")
    # Mail for a remote domain stays queued: the resolver is a closed
    # loopback port, so the relay can only defer it.
    mh = Mailhub(listeners=("smtp", "submission", "submissions", "imaps",
                            "pop3s", "admin"), plaintext_on_loopback=True,
                 config_extra=f"\n[dns]\nresolver = 127.0.0.1:{free_port()}\n"
                              "\n[fetch]\nallow_private_hosts = yes\n"   # Dovecot on loopback
                              + oauth_conf)
    try:
        mh.cli("domain", "add", "example.org")
        mh.add_user("admin@example.org", "admin-pass-1", admin=True)
        mh.start()
        queued = "0"
        try:
            with smtplib.SMTP("127.0.0.1", mh.port("submission"), timeout=10) as s:
                s.login("admin@example.org", "admin-pass-1")
                s.sendmail("admin@example.org", ["friend@remote.example"],
                           "From: admin@example.org\r\nTo: friend@remote.example\r\n"
                           "Subject: queued\r\n\r\nhi\r\n")
                queued = "1"
        except (smtplib.SMTPException, OSError) as e:
            lines.append(f"# no queued message for the queue screen: {e}")
        # a TLS report about example.org, as a reporter POSTs it (RFC 8460 §3)
        rpt = {"organization-name": "Panel Reporter", "contact-info": "r@reporter.example",
               "report-id": "panel-1",
               "date-range": {"start-datetime": "2026-12-05T00:00:00Z",
                              "end-datetime": "2026-12-05T23:59:59Z"},
               "policies": [{"policy": {"policy-type": "sts", "policy-domain": "example.org"},
                             "summary": {"total-successful-session-count": 9,
                                         "total-failure-session-count": 2},
                             "failure-details": [{"result-type": "certificate-expired",
                                                  "failed-session-count": 2}]}]}
        conn = http.client.HTTPConnection("127.0.0.1", mh.port("admin"), timeout=30)
        conn.request("POST", "/api/v1/tlsrpt", gzip.compress(json.dumps(rpt).encode()),
                     {"Content-Type": "application/tlsrpt+gzip"})
        status = conn.getresponse().status
        conn.close()
        if status != 201:
            lines.append(f"# the TLS report was not taken: HTTP {status}")
        env = dict(os.environ, BASE_URL=f"http://127.0.0.1:{mh.port('admin')}",
                   ADMIN_USER="admin@example.org", ADMIN_PASS="admin-pass-1",
                   OUT_DIR=out, QUEUED=queued, UPSTREAM_HOST="127.0.0.1", UPSTREAM_USER="carol.remote",
                   UPSTREAM_PASS="remote-pass-1", **upstream)
        try:
            r = subprocess.run(["node", "panel.mjs"], cwd=workdir, env=env,
                               capture_output=True, text=True, timeout=600)
            text = r.stdout
            if r.returncode != 0 and "not ok" not in text:
                text += "not ok - panel.mjs ran to the end\n"
                text += "".join("# " + l + "\n" for l in r.stderr.splitlines()[-30:])
        except subprocess.TimeoutExpired:
            text = "not ok - panel.mjs finished within 10 minutes\n"
        lines += text.splitlines()
    finally:
        if dc is not None:
            dc.close()
        if srv is not None:
            srv.stop()
            shutil.rmtree(tmp, ignore_errors=True)
        try:
            mh.close()
            lines.append("ok - the daemon exited cleanly")
        except AssertionError as e:
            lines.append("not ok - the daemon exited cleanly")
            lines += ["# " + l for l in str(e).splitlines()[-40:]]
    n = 0
    for line in lines:
        if line.startswith("ok - ") or line.startswith("not ok - "):
            n += 1
            ok, rest = line.split(" - ", 1)
            print(f"{ok} {n} - {rest}")
        elif line.startswith("#"):
            print(line)
        else:
            print("# " + line)
    print(f"1..{n}")
    print(f"# screenshots in {out}")


if __name__ == "__main__":
    main()
