#!/usr/bin/env python3
"""Benchmark: the cost of the outbound TLS policies (MTA-STS, RFC 8461, and
DANE, RFC 7672) when draining the queue, and the same drain by Debian's
Postfix with `smtp_tls_security_level = dane`.

2,000 messages go to 200 domains (10 each, one recipient each).  Half the
domains (dN.dane.test) live in a zone signed in the run with ldns-signzone,
each MX host with a DANE-EE TLSA record (3 1 1) for the sink's key; the
other half (dN.sts.test) live in an unsigned zone and publish an MTA-STS
policy in enforce mode, served over HTTPS on loopback.  unbound validates
the signed zone (the same resolver for both relays).  Every MX host is the
same sink: a threaded SMTP server with STARTTLS (a certificate from a test
CA naming every dN.sts.test MX host) that counts what it is given.

Three kinds of run, each with all messages queued while the sink is down
(each tried once and deferred), then released:

- mailhub, policies off: `[relay] mta_sts = no`, `[dns] dnssec = no`,
  i.e. opportunistic STARTTLS without checking the certificate;
- mailhub, policies on: `mta_sts = yes`, `dnssec = yes`; before the
  measured drain, one message per domain has been delivered so that every
  MTA-STS policy is cached (the run measures cached policies, as a
  running server has them: the policies in the database, the MX, TLSA
  and TXT answers in the relay's DNS cache for their TTL); the off run
  gets the same warm-up.  The queue is released with `mailhub queue
  flush` while the daemon runs;
- Postfix: `smtp_tls_security_level = dane`, `smtp_dns_support_level =
  dnssec`: DANE where TLSA records are validated, opportunistic TLS
  elsewhere (Postfix has no MTA-STS of its own); released with `postfix
  reload` and `postqueue -f` (its DNS answers cached by unbound).  Postfix reads the
  resolver from /etc/resolv.conf on port 53 only, so it runs in a private
  mount namespace (unshare -m) where /etc/resolv.conf names the test
  unbound (bound to port 53 of a 127.0.0.x address, `options trust-ad`),
  and `smtp_tcp_port` points it at the sink's port.

Guarantees on each side: mailhub acknowledges a submission after the
message file is fsynced (and its directory) and the queue rows committed
with SQLite synchronous=FULL; each delivery result is committed the same
way (group-committed across workers).  Postfix's cleanup fsyncs each queue
file before the 250 reply; a delivered message's queue file is unlinked
(no fsync).  mailhub also DKIM-signs each message at submission (not in the
drain).

The drain time is from the sink's first received message to its last;
mailhub's CPU time (user and system, /proc) over the drain is printed
too, a figure a busy machine disturbs less.
Prints messages/s for each, the cost of the policies (on/off time ratio,
target under 1.10) and mailhub (on) against Postfix (target at least 1.0x).
Exit 1 when a target is missed.

mailhub's off and on runs alternate BENCH_ROUNDS times (default 3) and
the fastest drain of each counts (the machine may be shared; timing each
batch inside the daemon showed the policies' own work, the cached policy
and TLSA answers, at well under a millisecond a session, so what spread
there is between runs is the machine's).

Environment: MAILHUB_BIN (set by `make bench`), BENCH_MESSAGES (default
2000), BENCH_DOMAINS (default 200), BENCH_ROUNDS.  Needs unbound, ldnsutils and
python3-cryptography; Postfix needs Debian's postfix and root.
"""

import os
import random
import shutil
import smtplib
import socket
import socketserver
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time

# runnable on its own: `python3 tests/bench/relay_policy_bench.py`
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))

from mailhub_fixture import Mailhub, client_tls_context, need_binary  # noqa: E402
from relay_util import (PolicyServer, TestCA, ZoneDns, free_port_on,  # noqa: E402
                        have_ldns, have_unbound, spki_sha256)

N = int(os.environ.get("BENCH_MESSAGES", "2000"))
DOMAINS = max(2, min(int(os.environ.get("BENCH_DOMAINS", "200")), N))
SINK_IP = "127.0.0.40"
POLICY_IP = "127.0.0.41"
SENDER = "bench@example.org"
PASSWORD = "bench-password"
POSTFIX = "/usr/sbin/postfix"
POSTQUEUE = "/usr/sbin/postqueue"
TIMEOUT = 900
ROUNDS = max(1, int(os.environ.get("BENCH_ROUNDS", "3")))


def domains():
    half = DOMAINS // 2
    return ([f"d{i}.dane.test" for i in range(half)]
            + [f"d{i}.sts.test" for i in range(DOMAINS - half)])


def rcpt(i):
    d = domains()
    return f"user{i}@{d[i % len(d)]}"


class TlsSink:
    """A threaded SMTP sink with STARTTLS; counts messages and records the
    arrival time of each."""

    def __init__(self, port, cert, key):
        self.port = port
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.lock = threading.Lock()
        self.times = []
        self.tls_sessions = 0
        self.plain_messages = 0
        self.server = None

    def reset(self):
        with self.lock:
            self.times = []
            self.tls_sessions = 0
            self.plain_messages = 0

    def count(self):
        with self.lock:
            return len(self.times)

    def start(self):
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                sock = self.request
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                rfile = self.rfile
                tls = False
                sock.sendall(b"220 sink ESMTP\r\n")
                while True:
                    line = rfile.readline(4096)
                    if not line:
                        return
                    cmd = line[:4].upper()
                    if cmd == b"EHLO":
                        sock.sendall(b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                                     + (b"" if tls else b"250-STARTTLS\r\n")
                                     + b"250 SIZE 0\r\n")
                    elif line[:8].upper() == b"STARTTLS" and not tls:
                        sock.sendall(b"220 go ahead\r\n")
                        try:
                            sock = sink.ctx.wrap_socket(sock, server_side=True)
                        except (ssl.SSLError, OSError):
                            return
                        rfile = sock.makefile("rb")
                        tls = True
                        with sink.lock:
                            sink.tls_sessions += 1
                    elif cmd == b"DATA":
                        sock.sendall(b"354 go\r\n")
                        while True:
                            d = rfile.readline(65536)
                            if not d or d == b".\r\n":
                                break
                        with sink.lock:
                            sink.times.append(time.monotonic())
                            if not tls:
                                sink.plain_messages += 1
                        sock.sendall(b"250 2.0.0 ok\r\n")
                    elif cmd == b"QUIT":
                        sock.sendall(b"221 bye\r\n")
                        return
                    else:
                        sock.sendall(b"250 ok\r\n")

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True
            request_queue_size = 256

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
            raise SystemExit(f"relay_policy_bench: only {len(times)} of {n} messages"
                             " arrived")
        return times[-1] - times[0], times[-1] - t_release


class Peers:
    """The resolver, the policy server and the sink, shared by every run."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="mailhub-polbench.")
        self.port = free_port_on([SINK_IP, POLICY_IP])
        self.https_port = free_port_on([POLICY_IP])
        self.ca = TestCA(self.tmp)
        names = [f"mx.{d}" for d in domains() if d.endswith(".sts.test")]
        chain, key, cert = self.ca.issue("sink", names)
        self.sink = TlsSink(self.port, chain, key)
        spki = spki_sha256(cert)
        dane, sts = [], []
        policies = {}
        for d in domains():
            if d.endswith(".dane.test"):
                dane += [f"{d}. IN MX 10 mx.{d}.", f"mx.{d}. IN A {SINK_IP}",
                         f"_{self.port}._tcp.mx.{d}. IN TLSA 3 1 1 {spki}"]
            else:
                sts += [f"{d}. IN MX 10 mx.{d}.", f"mx.{d}. IN A {SINK_IP}",
                        f'_mta-sts.{d}. IN TXT "v=STSv1; id=1"',
                        f"mta-sts.{d}. IN A {POLICY_IP}"]
                policies[f"mta-sts.{d}"] = (
                    200, "text/plain",
                    f"version: STSv1\r\nmode: enforce\r\nmx: mx.{d}\r\n"
                    "max_age: 86400\r\n")
        pchain, pkey, _ = self.ca.issue("policy", list(policies) or ["none.sts.test"])
        self.policy = PolicyServer(POLICY_IP, self.https_port, pchain, pkey, policies)
        # port 53 on a loopback address of its own, for Postfix's sake
        self.dns_ip = self._dns_address()
        # TTLs of an hour: the answers stay cached from the warm-up to
        # the drain however slowly the messages are submitted
        self.dns = ZoneDns({"dane.test.": dane, "sts.test.": sts}, signed=["dane.test."],
                           port=53 if self.dns_ip else None, ttl=3600)
        if self.dns_ip:
            self.dns.interface = self.dns_ip

    @staticmethod
    def _dns_address():
        if os.geteuid() != 0:
            return None
        for _ in range(20):
            ip = f"127.{random.randint(2, 250)}.{random.randint(1, 250)}.53"
            try:
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    with socket.socket(socket.AF_INET, kind) as s:
                        s.bind((ip, 53))
                return ip
            except OSError:
                continue
        return None

    def start(self):
        self.dns.start()
        self.policy.start()

    def stop(self):
        self.sink.stop()
        self.policy.stop()
        self.dns.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def message(i, tag):
    body = "".join(f"line {k} of message {i}: the quick brown fox\r\n" for k in range(40))
    return (f"From: Bench <{SENDER}>\r\nTo: <{rcpt(i)}>\r\nSubject: {tag} {i}\r\n"
            f"Message-ID: <{tag}.{i}@example.org>\r\n\r\n{body}").encode()


def submit(host, port, n, tls_login, tag, sessions=4):
    """n messages over a few parallel sessions."""
    errors = []

    def one(k):
        try:
            with smtplib.SMTP(host, port, timeout=120) as s:
                if tls_login:
                    s.starttls(context=client_tls_context())
                    s.login(SENDER, PASSWORD)
                for i in range(k, n, sessions):
                    s.sendmail(SENDER, [rcpt(i)], message(i, tag))
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=one, args=(k,)) for k in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"relay_policy_bench: submission failed: {errors[0]!r}")


def cpu_seconds(pid):
    """User and system CPU time of a process so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def queue_states(data_dir):
    db = sqlite3.connect(os.path.join(data_dir, "mailhub.db"), timeout=30)
    try:
        return dict(db.execute("SELECT state, count(*) FROM queue_recipients"
                               " GROUP BY state").fetchall())
    finally:
        db.close()


def bench_mailhub(peers, policies):
    sink = peers.sink
    extra = (f"\n[dns]\nresolver = {peers.dns.resolver()}\n"
             f"dnssec = {'yes' if policies else 'no'}\n"
             f"[relay]\nmx_port = {peers.port}\nretry_first = 600\nretry_max = 600\n"
             f"mta_sts = {'yes' if policies else 'no'}\n"
             f"mta_sts_port = {peers.https_port}\ntls_reports = no\n"
             # Postfix has no hourly sending limits; lift mailhub's
             "user_messages_per_hour = 1000000\nuser_recipients_per_hour = 10000000\n"
             "domain_messages_per_hour = 1000000\ndomain_recipients_per_hour = 10000000\n")
    old = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = peers.ca.path    # the daemon's "system" CAs
    mh = Mailhub(listeners=("submission",), config_extra=extra)
    try:
        mh.cli("domain", "add", "example.org")
        mh.add_user(SENDER, PASSWORD)
        # warm-up: one message per domain, policies fetched and cached
        sink.reset()
        sink.start()
        mh.start()
        submit("127.0.0.1", mh.port("submission"), DOMAINS, True, "warm")
        sink.wait(DOMAINS, time.monotonic())
        sink.stop()
        submit("127.0.0.1", mh.port("submission"), N, True, "drain")
        # every message tried once and deferred (the sink is down)
        deadline = time.monotonic() + TIMEOUT
        while (queue_states(mh.data_dir).get("deferred", 0) < N
               and time.monotonic() < deadline):
            time.sleep(0.2)
        # released while the daemon runs: its caches are warm
        sink.reset()
        sink.start()
        cpu0 = cpu_seconds(mh.proc.pid)
        t_release = time.monotonic()
        mh.cli("queue", "flush")
        drain, total = sink.wait(N, t_release)
        cpu = cpu_seconds(mh.proc.pid) - cpu0
        tls, plain = sink.tls_sessions, sink.plain_messages
        mh.stop()
        # what the relay recorded of each domain's policies
        db = sqlite3.connect(os.path.join(mh.data_dir, "mailhub.db"), timeout=30)
        try:
            dane = db.execute("SELECT count(*) FROM relay_domains"
                              " WHERE dane = 'verified'").fetchone()[0]
            sts = db.execute("SELECT count(*) FROM relay_domains"
                             " WHERE mta_sts = 'enforce'").fetchone()[0]
        finally:
            db.close()
        return drain, total, tls, plain, dane, sts, cpu
    finally:
        sink.stop()
        mh.cleanup()
        if old is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = old


def bench_postfix(peers):
    sink = peers.sink
    d = tempfile.mkdtemp(prefix="mailhub-polbench-pf.")
    etc = os.path.join(d, "etc")
    os.makedirs(etc)
    for sub in ("spool", "data"):
        os.makedirs(os.path.join(d, sub))
    shutil.chown(os.path.join(d, "data"), "postfix")
    os.chmod(d, 0o755)
    resolv = os.path.join(d, "resolv.conf")
    with open(resolv, "w") as f:
        f.write(f"nameserver {peers.dns_ip}\noptions trust-ad\n")
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
                "mynetworks = 127.0.0.0/8",
                "smtpd_relay_restrictions = permit_mynetworks, reject",
                f"maillog_file = {d}/maillog",
                f"maillog_file_prefixes = {d}",
                f"smtp_tcp_port = {peers.port}",
                "smtp_dns_support_level = dnssec",
                "smtp_tls_security_level = dane",
                "smtp_host_lookup = dns",
                "smtp_tls_loglevel = 1",
                "dnssec_probe =",
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
    if os.path.exists("/etc/postfix/dynamicmaps.cf"):
        shutil.copy("/etc/postfix/dynamicmaps.cf", etc)

    def pf(*args):
        # a mount namespace of its own, where /etc/resolv.conf names the
        # test resolver; postfix's daemons stay in it
        cmd = ["unshare", "-m", "sh", "-c",
               'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv,
               POSTFIX, "-c", etc, *args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            log = os.path.join(d, "maillog")
            text = open(log, errors="replace").read() if os.path.exists(log) else ""
            raise SystemExit(f"postfix {' '.join(args)} failed: {r.stderr}\n{text[-2000:]}")

    def queued():
        r = subprocess.run([POSTQUEUE, "-c", etc, "-j"], capture_output=True,
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
        submit("127.0.0.1", smtpd_port, N, False, "drain")
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and queued() < N:
            time.sleep(0.2)
        write_main(False)
        sink.reset()
        sink.start()
        t_release = time.monotonic()
        pf("reload")
        subprocess.run([POSTQUEUE, "-c", etc, "-f"], check=True, timeout=60)
        drain, total = sink.wait(N, t_release)
        tls, plain = sink.tls_sessions, sink.plain_messages
        log = open(os.path.join(d, "maillog"), errors="replace").read()
        kinds = {k: log.count(f"{k} TLS connection established")
                 for k in ("Verified", "Trusted", "Untrusted", "Anonymous")}
        if os.environ.get("BENCH_DEBUG"):
            print(log[-3000:])
        return drain, total, tls, plain, kinds
    finally:
        sink.stop()
        subprocess.run([POSTFIX, "-c", etc, "stop"], capture_output=True, timeout=60)
        shutil.rmtree(d, ignore_errors=True)


def main():
    sys.stdout.reconfigure(line_buffering=True)
    need_binary("relay_policy_bench")
    if not have_unbound() or not have_ldns():
        print("relay_policy_bench: SKIP, needs unbound and ldnsutils (not installed)")
        return 0
    peers = Peers()
    status = 0
    try:
        peers.start()
        print(f"relay_policy_bench: {N} queued messages to {DOMAINS} domains"
              f" (half DANE-EE, half MTA-STS enforce), one TLS sink"
              f" {SINK_IP}:{peers.port}")
        runs = {False: [], True: []}
        for _ in range(ROUNDS):
            for policies in (False, True):
                r = bench_mailhub(peers, policies)
                runs[policies].append(r)
                print(f"mailhub, policies {'on: ' if policies else 'off:'} drained in"
                      f" {r[0]:.2f} s ({N / r[0]:.0f} msg/s), {r[1]:.2f} s from release,"
                      f" {r[6]:.2f} s of CPU;"
                      f" {r[2]} TLS sessions, {r[3]} messages in plaintext; domains"
                      f" DANE-verified {r[4]}, MTA-STS enforced {r[5]}")
        off = min(runs[False])
        on = min(runs[True])
        cpu_off = min(r[6] for r in runs[False])
        cpu_on = min(r[6] for r in runs[True])
        cost = on[0] / off[0]
        print(f"ratio policies on/off (drain time): {cost:.2f}"
              f" (cost {100 * (cost - 1):+.0f}%; target under +10%)")
        if cpu_off > 0:
            print(f"ratio policies on/off (daemon CPU time in the drain):"
                  f" {cpu_on / cpu_off:.2f}")
        if on[3] != 0:
            print("policies on: messages went out in plaintext")
            status = 1
        if cost >= 1.10:
            status = 1
        if not os.path.exists(POSTFIX) or peers.dns_ip is None:
            print("postfix: SKIP (needs Debian's postfix and root)")
            return status
        pf = bench_postfix(peers)
        print(f"postfix (dane): drained in {pf[0]:.2f} s ({N / pf[0]:.0f} msg/s),"
              f" {pf[1]:.2f} s from release; {pf[2]} TLS sessions, {pf[3]} messages"
              f" in plaintext; sessions by Postfix's TLS verdict: {pf[4]}")
        ratio = pf[0] / on[0]
        print(f"ratio mailhub (policies on)/postfix (msg/s, drain): {ratio:.2f}x"
              f"  (from release: {pf[1] / on[1]:.2f}x; target >= 1.0x)")
        if ratio < 1.0:
            status = 1
        return status
    finally:
        peers.stop()


if __name__ == "__main__":
    sys.exit(main())
