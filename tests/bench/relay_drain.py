#!/usr/bin/env python3
"""Benchmark: draining 2,000 queued messages to a local sink, mailhub's
relay side by side with Debian's Postfix relaying the same messages to the
same sink.

The sink is a small threaded SMTP server on 127.0.0.20 (PIPELINING and
8BITMIME, no TLS, so the figures compare the relays, not OpenSSL) that
counts what it is given.  Each relay first gets all the messages queued
while the sink is down, then the sink comes up and the queue is released:

- mailhub: submitted through its submission listener (AUTH), deferred by
  the refused connections, then the daemon is stopped, `mailhub queue
  flush` makes everything due, and `mailhub serve` starts again.  The MX of
  the sink's domain comes from unbound on loopback ([dns] resolver).
  mailhub also DKIM-signs every message (Ed25519 and RSA-2048): Postfix
  does not, so mailhub's figure includes that work.
- Postfix: a private instance (its own config_directory and queue under a
  temporary folder, smtpd on a loopback port) with defer_transports = smtp
  while the messages are submitted, then defer_transports is emptied,
  `postfix reload` and `postqueue -f` release them.  relayhost names the
  sink's address directly (no DNS: Postfix cannot be pointed at a resolver
  port).

The drain time is from the sink's first received message to its last (so
neither daemon's start-up nor its queue-scan interval counts); the time
from the release to the last message is printed too.  Prints messages/s
for both and the ratio mailhub/Postfix (higher is better for mailhub; the
target is at least 1.0x).

Environment: MAILHUB_BIN (set by `make bench`), BENCH_MESSAGES (default
2000).  Needs unbound (mailhub's MX lookups); without Debian's postfix
only mailhub's figures are printed.  Run as root for Postfix (it drops to
its postfix user).
"""

import os
import shutil
import smtplib
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

# runnable on its own: `python3 tests/bench/relay_drain.py`
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))

from mailhub_fixture import Mailhub, client_tls_context, need_binary  # noqa: E402
from relay_util import Unbound, free_port_on, have_unbound  # noqa: E402

N = int(os.environ.get("BENCH_MESSAGES", "2000"))
SINK_IP = "127.0.0.20"
SENDER = "bench@example.org"
PASSWORD = "bench-password"
RCPT = "sink@sink.test"
POSTFIX = "/usr/sbin/postfix"
TIMEOUT = 600


class Sink:
    """Counts messages; records the arrival time of each."""

    def __init__(self, port):
        self.port = port
        self.lock = threading.Lock()
        self.times = []
        self.server = None

    def reset(self):
        with self.lock:
            self.times = []

    def count(self):
        with self.lock:
            return len(self.times)

    def start(self):
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                # replies go out at once, as a real MTA's do (no Nagle
                # delay between pipelined replies)
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                w = self.request.sendall
                w(b"220 sink ESMTP\r\n")
                while True:
                    line = self.rfile.readline(4096)
                    if not line:
                        return
                    cmd = line[:4].upper()
                    if cmd == b"EHLO":
                        w(b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 0\r\n")
                    elif cmd == b"DATA":
                        w(b"354 go\r\n")
                        while True:
                            d = self.rfile.readline(65536)
                            if not d or d == b".\r\n":
                                break
                        with sink.lock:
                            sink.times.append(time.monotonic())
                        w(b"250 2.0.0 ok\r\n")
                    elif cmd == b"QUIT":
                        w(b"221 bye\r\n")
                        return
                    else:
                        w(b"250 ok\r\n")

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True
            request_queue_size = 128

        self.server = Server((SINK_IP, self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def wait(self, n, t_release):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and self.count() < n:
            time.sleep(0.02)
        with self.lock:
            times = list(self.times)
        if len(times) < n:
            raise SystemExit(f"only {len(times)} of {n} messages arrived")
        return times[-1] - times[0], times[-1] - t_release


def message(i):
    body = "".join(f"line {k} of message {i}: the quick brown fox\r\n" for k in range(40))
    return (f"From: Bench <{SENDER}>\r\nTo: <{RCPT}>\r\nSubject: drain {i}\r\n"
            f"Message-ID: <drain.{i}@example.org>\r\n\r\n{body}").encode()


def submit(host, port, n, tls_login):
    with smtplib.SMTP(host, port, timeout=60) as s:
        if tls_login:
            s.starttls(context=client_tls_context())
            s.login(SENDER, PASSWORD)
        for i in range(n):
            s.sendmail(SENDER, [RCPT], message(i))


def bench_mailhub(sink):
    dns = Unbound(["sink.test. MX 10 mx.sink.test.", f"mx.sink.test. A {SINK_IP}"])
    dns.start()
    extra = (f"\n[dns]\nresolver = {dns.resolver()}\n[relay]\nmx_port = {sink.port}\n"
             "retry_first = 600\nretry_max = 600\n"
             # Postfix has no hourly sending limits; lift mailhub's
             "user_messages_per_hour = 1000000\nuser_recipients_per_hour = 10000000\n"
             "domain_messages_per_hour = 1000000\ndomain_recipients_per_hour = 10000000\n"
             + os.environ.get("BENCH_RELAY_EXTRA", ""))
    mh = Mailhub(listeners=("submission",), config_extra=extra)
    try:
        mh.cli("domain", "add", "example.org")
        mh.add_user(SENDER, PASSWORD)
        mh.start()
        submit("127.0.0.1", mh.port("submission"), N, True)
        mh.stop()
        mh.cli("queue", "flush")
        sink.reset()
        sink.start()
        t_release = time.monotonic()
        mh.start()
        drain, total = sink.wait(N, t_release)
        mh.stop()
        return drain, total
    finally:
        sink.stop()
        mh.cleanup()
        dns.stop()


def postconf_dir(d):
    return os.path.join(d, "etc")


def bench_postfix(sink):
    d = tempfile.mkdtemp(prefix="mailhub-bench-pf.")
    etc = postconf_dir(d)
    os.makedirs(etc)
    for sub in ("spool", "data"):
        os.makedirs(os.path.join(d, sub))
    shutil.chown(os.path.join(d, "data"), "postfix")
    os.chmod(d, 0o755)
    smtpd_port = free_port_on(["127.0.0.1"])
    main_cf = os.path.join(etc, "main.cf")

    def write_main(defer):
        with open(main_cf, "w") as f:
            f.write("\n".join([
                "compatibility_level = 3.7",
                f"queue_directory = {d}/spool",
                f"data_directory = {d}/data",
                "mail_owner = postfix",
                "setgid_group = postdrop",
                "myhostname = bench.test",
                "mydomain = bench.test",
                "myorigin = bench.test",
                "mydestination =",
                "inet_interfaces = 127.0.0.1",
                "inet_protocols = ipv4",
                f"relayhost = [{SINK_IP}]:{sink.port}",
                "mynetworks = 127.0.0.0/8",
                "smtpd_relay_restrictions = permit_mynetworks, reject",
                f"maillog_file = {d}/maillog",
                f"maillog_file_prefixes = {d}",
                "smtp_tls_security_level = none",
                "defer_transports = smtp" if defer else "defer_transports =",
            ]) + "\n")

    write_main(True)
    with open("/etc/postfix/master.cf") as src, open(os.path.join(etc, "master.cf"), "w") as dst:
        for line in src:
            f = line.split()
            if line.startswith(("#", " ", "\t")) or len(f) < 8:
                dst.write(line)
                continue
            f[4] = "n"      # no chroot in a temporary folder
            if f[0] == "smtp" and f[1] == "inet":
                f[0] = f"127.0.0.1:{smtpd_port}"
            dst.write(" ".join(f) + "\n")
    for name in ("dynamicmaps.cf",):
        if os.path.exists(f"/etc/postfix/{name}"):
            shutil.copy(f"/etc/postfix/{name}", etc)

    def pf(*args):
        r = subprocess.run([POSTFIX, "-c", etc, *args], capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            log = os.path.join(d, "maillog")
            text = open(log, errors="replace").read() if os.path.exists(log) else ""
            raise SystemExit(f"postfix {' '.join(args)} failed: {r.stderr}\n{text}")

    def queued():
        r = subprocess.run(["postqueue", "-c", etc, "-j"], capture_output=True,
                           text=True, timeout=60)
        return sum(1 for line in r.stdout.splitlines() if line.strip())

    try:
        pf("start")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", smtpd_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        submit("127.0.0.1", smtpd_port, N, False)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and queued() < N:
            time.sleep(0.2)
        write_main(False)
        sink.reset()
        sink.start()
        t_release = time.monotonic()
        pf("reload")
        subprocess.run(["postqueue", "-c", etc, "-f"], check=True, timeout=60)
        drain, total = sink.wait(N, t_release)
        return drain, total
    finally:
        sink.stop()
        subprocess.run([POSTFIX, "-c", etc, "stop"], capture_output=True, timeout=60)
        shutil.rmtree(d, ignore_errors=True)


def main():
    need_binary("relay_drain")
    if not have_unbound():
        print("relay_drain: SKIP, unbound is not installed")
        return 0
    port = free_port_on([SINK_IP])
    print(f"relay_drain: {N} queued messages to one sink ({SINK_IP}:{port})")
    m_drain, m_total = bench_mailhub(Sink(port))
    print(f"mailhub: drained in {m_drain:.2f} s ({N / m_drain:.0f} msg/s),"
          f" {m_total:.2f} s from release (start-up included)")
    if not os.path.exists(POSTFIX) or os.geteuid() != 0:
        print("postfix: SKIP (needs Debian's postfix and root)")
        return 0
    p_drain, p_total = bench_postfix(Sink(port))
    print(f"postfix: drained in {p_drain:.2f} s ({N / p_drain:.0f} msg/s),"
          f" {p_total:.2f} s from release")
    print(f"ratio mailhub/postfix (msg/s, drain): {p_drain / m_drain:.2f}x"
          f"  (from release: {p_total / m_total:.2f}x; target >= 1.0x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
