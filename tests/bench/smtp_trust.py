#!/usr/bin/env python3
"""Benchmark (not a test): inbound SMTP messages per second on port 25 with
the sender checks on (SPF at MAIL FROM, DKIM + ARC + DMARC at the end of
DATA, Authentication-Results written; rspamd off) against the same daemon
with [trust] checks = no, and against Debian's Postfix with
postfix-policyd-spf-python (SPF, as a policy service) and the OpenDKIM and
OpenDMARC milters doing the same checks, as ratios (issue 15).

DNS: Debian's unbound on loopback serves the sender's SPF, DKIM key and
DMARC records (zone "bench." static: a name outside the special-use
names that libunbound, which OpenDKIM resolves with, answers itself).  mailhub asks it through [dns]
resolver; the Postfix stack's programs read /etc/resolv.conf, so they run
in a private mount namespace (unshare -m) where that file names unbound.
The load: BENCH_SESSIONS client threads (default 10) sending
BENCH_MESSAGES messages (default 2000) of about BENCH_SIZE bytes (default
20480), one connection per message, from 127.0.0.2 (127.0.0.1 is local
software, which mailhub does not check), each message DKIM-signed by
dkimpy (rsa-sha256, 2048 bits) and passing SPF and DMARC.  BENCH_PEER=0
leaves the Postfix stack out; BENCH_KEEP=1 keeps the work folder;
BENCH_BEFORE_BIN=PATH adds another mailhub binary (an earlier build) as a
fourth side with the checks on, for before/after figures in one run.
mailhub writes the search index after the 250, in its background indexer:
each mailhub side is also measured until that has caught up (wall time and
CPU "with the search index complete").

BENCH_ROUNDS rounds (default 3), the order of the three sides turned
each round, and the median of each side's rounds is what the ratios are
made of.  The CPU each side used (user + system seconds of all its
processes, from a cpuacct cgroup of its own when the machine has one: the
Postfix stack's smtpd, cleanup, qmgr, virtual, policyd-spf, opendkim and
opendmarc together, up to the delivery of its last message) is given per
message, since the machine may be shared and wall time then says little.

mailhub stores each message durably and delivers it into the INBOX before
its 250; Postfix's 250 means its queue file is fsynced (it delivers into a
Maildir afterwards, fsyncing each file: its default durability).  Needs root (Postfix), unbound, python3-dkim; the
Postfix side also postfix, opendkim, opendmarc, postfix-policyd-spf-python
(skipped, and said so, when missing).
"""

import os
import shutil
import socket
import smtplib
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))

from dkim_cases import openssl_rsa  # noqa: E402
from mailhub_fixture import mailhub_bin, need_binary  # noqa: E402
from relay_util import Unbound, have_unbound  # noqa: E402

SESSIONS = int(os.environ.get("BENCH_SESSIONS", "10"))
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "2000"))
ROUNDS = max(1, int(os.environ.get("BENCH_ROUNDS", "3")))
SIZE = int(os.environ.get("BENCH_SIZE", "20480"))
# another mailhub binary (an earlier build) as a fourth side, checks on
BEFORE_BIN = os.environ.get("BENCH_BEFORE_BIN")
CLIENT = "127.0.0.2"
RCPT = "bob@example.org"
SENDER = "news@sender.bench"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} never opened")


def txt(s):
    return " ".join(f'"{s[i:i + 255]}"' for i in range(0, len(s), 255))


def make_key(work):
    key, pub = openssl_rsa(2048, os.path.join(work, "dkim.pem"))
    return key, pub


def signed_message(key):
    import dkim
    line = b"The quick brown fox jumps over the lazy dog, again and again.\r\n"
    body = line * max(1, SIZE // len(line))
    msg = (f"From: News <{SENDER}>\r\nTo: {RCPT}\r\nSubject: bench\r\n"
           "Message-ID: <bench@sender.bench>\r\nDate: Sun, 6 Dec 2026 12:00:00 +0000\r\n"
           "\r\n").encode() + body
    return dkim.sign(msg, b"sel", b"sender.bench", key,
                     include_headers=[b"from", b"to", b"subject", b"message-id",
                                      b"date"]) + msg


def load(port, msg):
    """Sends MESSAGES messages over SESSIONS threads; returns seconds."""
    counter = iter(range(MESSAGES))
    lock = threading.Lock()
    errors = []

    def worker():
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=60, local_hostname="mx.sender.bench",
                                  source_address=(CLIENT, 0)) as s:
                    s.sendmail(SENDER, [RCPT], msg)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

    threads = [threading.Thread(target=worker) for _ in range(SESSIONS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.monotonic() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} sends failed, first: {errors[0]}")
    return secs


CGROUP_ROOT = "/sys/fs/cgroup/cpuacct"


class CpuMeter:
    """The CPU seconds (user + system) that a side's processes use, all of
    them and their children: a cpuacct cgroup made for the side, which the
    started process joins before it runs (so whatever it forks is counted
    too).  Without one (no cgroup v1 cpuacct, or not root) only the
    process itself is read, from /proc, and a side of several processes is
    not measured (None)."""

    def __init__(self, name):
        self.path = os.path.join(CGROUP_ROOT, f"mailhub-bench-{os.getpid()}-{name}")
        try:
            os.mkdir(self.path)
        except OSError:
            self.path = None
        self.pid = None
        self.start = None

    def preexec(self):
        if self.path is not None:
            with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

    def _now(self):
        if self.path is not None:
            with open(os.path.join(self.path, "cpuacct.usage")) as f:
                return int(f.read()) / 1e9
        if self.pid is None:
            return None
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def begin(self, pid=None):
        self.pid = pid
        self.start = self._now()

    def used(self, whole_tree):
        """Seconds since begin(); None when they cannot be known."""
        if self.path is None and whole_tree:
            return None
        now = self._now()
        return None if now is None or self.start is None else now - self.start

    def kill_all(self):
        """SIGTERM to every process still in the side's cgroup (Postfix's
        master leaves the process group it was started in)."""
        if self.path is None:
            return
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                pids = [int(x) for x in f.read().split()]
        except OSError:
            return
        for pid in pids:
            try:
                os.kill(pid, 15)
            except OSError:
                pass

    def close(self):
        if self.path is not None:
            try:
                os.rmdir(self.path)
            except OSError:
                pass


def wait_indexed(db_path, timeout=600):
    """Waits until the daemon's background indexer has indexed every
    message (no row left in fields_pending); True when it did."""
    deadline = time.monotonic() + timeout
    db = sqlite3.connect(db_path, timeout=30)
    try:
        while time.monotonic() < deadline:
            if db.execute("SELECT count(*) FROM fields_pending").fetchone()[0] == 0:
                return True
            time.sleep(0.05)
        return False
    finally:
        db.close()


def run_mailhub(work, dns, msg, checks, rnd, binary=None, tag=""):
    """One round of mailhub; returns (seconds, CPU seconds or None, CPU
    seconds once every message is in the search index, seconds to then).
    The search index is written after the 250 by the daemon's background
    indexer (before, in the delivery's transaction): the second pair
    counts its work too."""
    d = os.path.join(work, f"mailhub-{checks}{tag}-{rnd}")
    os.makedirs(d)
    port = free_port()
    conf = os.path.join(d, "mailhub.conf")
    with open(conf, "w") as f:
        f.write(f"[server]\nhostname = bench.test\ndata_dir = {d}/data\n"
                f"[listen]\nsmtp = 127.0.0.1:{port}\n[limits]\nconnections_per_ip = 1000\n"
                f"[dns]\nresolver = {dns.resolver()}\n[trust]\nchecks = {checks}\n")
    mh = [binary or mailhub_bin(), "--config", conf]
    subprocess.run(mh + ["init", "--hostname", "bench.test"], check=True, capture_output=True)
    subprocess.run(mh + ["domain", "add", "example.org"], check=True, capture_output=True)
    subprocess.run(mh + ["user", "add", RCPT, "--password-stdin"], input=b"bench-password-1\n",
                   check=True, capture_output=True)
    log = open(os.path.join(d, "serve.log"), "wb")
    meter = CpuMeter(f"mailhub-{checks}{tag}-{rnd}")
    proc = subprocess.Popen(mh + ["serve"], stdout=log, stderr=log, preexec_fn=meter.preexec)
    try:
        wait_port(port)
        meter.begin(proc.pid)
        t0 = time.monotonic()
        secs = load(port, msg)
        cpu = meter.used(whole_tree=False)
        if not wait_indexed(os.path.join(d, "data", "mailhub.db")):
            raise RuntimeError("mailhub: the search index never caught up")
        secs_indexed = time.monotonic() - t0
        cpu_indexed = meter.used(whole_tree=False)
    finally:
        proc.terminate()
        proc.wait()
        meter.close()
    db = sqlite3.connect(os.path.join(d, "data", "mailhub.db"))
    stored = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    sample = db.execute("SELECT blob FROM messages LIMIT 1").fetchone()[0]
    with open(os.path.join(d, "data", "blobs", sample[:2], sample), "rb") as f:
        head = f.read(4096).decode("latin-1")
    if stored != MESSAGES:
        raise RuntimeError(f"mailhub checks={checks} stored {stored} of {MESSAGES}")
    if checks == "yes" and "dmarc=pass" not in head:
        raise RuntimeError("mailhub with checks: no dmarc=pass in the stored copy:\n" + head)
    return secs, cpu, cpu_indexed, secs_indexed


POSTFIX_NEEDS = ("/usr/sbin/postfix", "/usr/sbin/opendkim", "/usr/sbin/opendmarc",
                 "/usr/bin/policyd-spf")


def postfix_missing():
    if os.environ.get("BENCH_PEER", "1") == "0":
        return "BENCH_PEER=0"
    if os.geteuid() != 0:
        return "needs root"
    for p in POSTFIX_NEEDS:
        if not os.path.exists(p):
            return f"{p} is not installed"
    return None


def run_postfix(work, dns, msg, rnd):
    """One round of the Postfix stack, in a private mount namespace whose
    /etc/resolv.conf names the test resolver; returns (seconds to the last
    250, CPU seconds up to the last delivery or None, seconds to the last
    delivery)."""
    pf = os.path.join(work, f"postfix-{rnd}")
    for sub in ("conf", "queue", "data", "mail"):
        os.makedirs(os.path.join(pf, sub))
    os.chmod(work, 0o755)
    os.chmod(pf, 0o755)
    shutil.chown(os.path.join(pf, "data"), "postfix")
    shutil.chown(os.path.join(pf, "mail"), "nobody")
    port, dkim_port, dmarc_port = free_port(), free_port(), free_port()
    with open(os.path.join(pf, "resolv.conf"), "w") as f:
        f.write(f"nameserver {dns.interface}\n")
    out = []
    for line in open("/etc/postfix/master.cf"):
        f = line.split()
        if line.startswith("#") or line[:1] in (" ", "\t") or len(f) < 8:
            out.append(line)
            continue
        if f[0] == "smtp" and f[1] == "inet":
            f[0] = f"127.0.0.1:{port}"
        f[4] = "n"
        out.append(" ".join(f) + "\n")
    out.append("policyd-spf unix - n n - 0 spawn\n"
               "  user=nobody argv=/usr/bin/policyd-spf " + pf + "/policyd-spf.conf\n")
    # its default skips loopback clients: only a test address is skipped
    with open(os.path.join(pf, "policyd-spf.conf"), "w") as f:
        f.write("debugLevel = 0\nHELO_reject = False\nMail_From_reject = Fail\n"
                "skip_addresses = 192.0.2.255/32\n")
    with open(os.path.join(pf, "conf", "master.cf"), "w") as f:
        f.writelines(out)
    uid = subprocess.check_output(["id", "-u", "nobody"]).strip().decode()
    gid = subprocess.check_output(["id", "-g", "nobody"]).strip().decode()
    with open(os.path.join(pf, "conf", "main.cf"), "w") as f:
        f.write(f"""compatibility_level = 3.6
queue_directory = {pf}/queue
data_directory = {pf}/data
meta_directory = /etc/postfix
myhostname = bench.test
mydomain = bench.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
alias_maps =
alias_database =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = reject_unauth_destination,
  check_policy_service unix:private/policyd-spf
policyd-spf_time_limit = 3600
smtpd_milters = inet:127.0.0.1:{dkim_port}, inet:127.0.0.1:{dmarc_port}
milter_default_action = tempfail
smtpd_client_connection_count_limit = 1000
biff = no
maillog_file = {pf}/maillog
maillog_file_prefixes = {pf}
mydestination =
virtual_mailbox_domains = example.org
virtual_mailbox_base = {pf}/mail
virtual_mailbox_maps = inline:{{ {RCPT}=bob/ }}
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
""")
    with open(os.path.join(pf, "opendkim.conf"), "w") as f:
        f.write(f"Mode v\nSocket inet:{dkim_port}@127.0.0.1\nBackground no\n"
                f"Nameservers {dns.interface}\nSyslog no\nUserID nobody\n"
                "AuthservID bench.test\nAlwaysAddARHeader yes\n")
    with open(os.path.join(pf, "opendmarc.conf"), "w") as f:
        f.write(f"Socket inet:{dmarc_port}@127.0.0.1\nBackground false\nSyslog false\n"
                "AuthservID bench.test\nTrustedAuthservIDs bench.test\nRejectFailures " + os.environ.get("BENCH_DMARC_REJECT", "true") + "\n"
                "UserID nobody\nSPFSelfValidate false\n"
                "PublicSuffixList /usr/share/publicsuffix/public_suffix_list.dat\n")
    with open(os.path.join(pf, "run.sh"), "w") as f:
        f.write(f"""mount --bind {pf}/resolv.conf /etc/resolv.conf || exit 1
/usr/sbin/opendkim -f -x {pf}/opendkim.conf > {pf}/opendkim.log 2>&1 &
echo $! > {pf}/opendkim.pid
/usr/sbin/opendmarc -f -c {pf}/opendmarc.conf > {pf}/opendmarc.log 2>&1 &
echo $! > {pf}/opendmarc.pid
exec /usr/sbin/postfix -c {pf}/conf start-fg > {pf}/postfix.log 2>&1
""")
    meter = CpuMeter(f"postfix-{rnd}")

    def start():
        os.setsid()
        meter.preexec()

    proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh",
                             os.path.join(pf, "run.sh")], preexec_fn=start)
    try:
        for p in (port, dkim_port, dmarc_port):
            wait_port(p)
        meter.begin()
        t0 = time.monotonic()
        secs = load(port, msg)
        # the checks happened: the last delivered copy carries their results
        new = os.path.join(pf, "mail", "bob", "new")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and (not os.path.isdir(new)
                                               or len(os.listdir(new)) < MESSAGES):
            time.sleep(0.02)
        delivered = time.monotonic() - t0
        cpu = meter.used(whole_tree=True)
        if len(os.listdir(new)) < MESSAGES:
            raise RuntimeError(f"postfix stack delivered {len(os.listdir(new))} of {MESSAGES}")
        with open(os.path.join(new, sorted(os.listdir(new))[-1]), "rb") as f:
            head = f.read(8192).decode("latin-1")
        for want in ("dkim=pass", "dmarc=pass", "Received-SPF: Pass"):
            if want not in head:
                raise RuntimeError(f"postfix stack: no {want} in a delivered copy:\n" + head)
        return secs, cpu, delivered
    finally:
        # Postfix's own stop first: its master runs in a session of its own
        subprocess.run(["/usr/sbin/postfix", "-c", os.path.join(pf, "conf"), "stop"],
                       capture_output=True, timeout=60)
        os.killpg(proc.pid, 15)
        proc.wait()
        for name in ("opendkim.pid", "opendmarc.pid"):
            try:
                with open(os.path.join(pf, name)) as f:
                    os.kill(int(f.read()), 15)
            except (OSError, ValueError):
                pass
        # the cgroup goes once its last process has
        for _ in range(50):
            meter.kill_all()
            meter.close()
            if meter.path is None or not os.path.exists(meter.path):
                break
            time.sleep(0.1)


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def cpu_ms(runs):
    """Median CPU milliseconds per message of a side's rounds, or None."""
    cpus = [r[1] for r in runs]
    return None if None in cpus else 1000 * median(cpus) / MESSAGES


def report(runs, size, why):
    print(f"load: {SESSIONS} sessions, {MESSAGES} messages of {size} bytes, "
          "one connection per message, from 127.0.0.2 (Python smtplib); "
          f"{ROUNDS} round(s), medians")
    rate = {side: MESSAGES / median([r[0] for r in rs]) for side, rs in runs.items()}
    cpu = {side: cpu_ms(rs) for side, rs in runs.items()}
    for side, rs in runs.items():
        print(f"  rounds {side:8} msg/s: " +
              " ".join(f"{MESSAGES / r[0]:.1f}" for r in rs))

    def cpu_text(side):
        return "CPU not measured" if cpu[side] is None else f"{cpu[side]:.2f} ms CPU/msg"

    print(f"mailhub checks on:  {rate['on']:8.1f} msg/s  {cpu_text('on')} (SPF, DKIM, ARC, "
          "DMARC, Authentication-Results; 250 after the copy is fsynced and its row "
          "committed in the INBOX)")
    print(f"mailhub checks off: {rate['off']:8.1f} msg/s  {cpu_text('off')}")
    for side in ("on", "off", "before"):
        if side not in runs:
            continue
        rs = runs[side]
        cpus = [r[2] for r in rs]
        print(f"  {side:6} with the search index complete: "
              f"{MESSAGES / median([r[3] for r in rs]):.1f} msg/s" +
              ("" if None in cpus else
               f", {1000 * median(cpus) / MESSAGES:.2f} ms CPU/msg"))
    if "before" in runs:
        print(f"BEFORE ({BEFORE_BIN}, checks on): {rate['before']:8.1f} msg/s  "
              f"{cpu_text('before')}; after/before {rate['on'] / rate['before']:.2f}x")
    print(f"cost of the checks: {100 * (1 - rate['on'] / rate['off']):.1f}% of throughput "
          f"(ratio on/off {rate['on'] / rate['off']:.2f})" +
          ("" if cpu["on"] is None or cpu["off"] is None else
           f"; CPU per message +{100 * (cpu['on'] / cpu['off'] - 1):.1f}%"))
    if "postfix" not in runs:
        print(f"postfix + policyd-spf + opendkim + opendmarc: skipped ({why})")
        return
    done = MESSAGES / median([r[2] for r in runs["postfix"]])
    print(f"postfix + policyd-spf + opendkim + opendmarc: {rate['postfix']:8.1f} msg/s  "
          f"{cpu_text('postfix')} (250 after the milters and the policy service, queue "
          f"file fsynced; {done:.1f} msg/s to the last Maildir delivery, which the CPU "
          "figure includes)")
    print(f"ratio mailhub (checks on) / postfix stack: {rate['on'] / rate['postfix']:.2f}x "
          "messages per second" +
          ("" if cpu["on"] is None or cpu["postfix"] is None else
           f", {cpu['postfix'] / cpu['on']:.2f}x less CPU per message"))
    if "before" in runs:
        print(f"ratio BEFORE (checks on) / postfix stack: "
              f"{rate['before'] / rate['postfix']:.2f}x messages per second")
    cost = 1 - rate["on"] / rate["off"]
    print(f"targets (issue 15): checks under 20% of throughput: "
          f"{'met' if cost < 0.20 else 'NOT met'}; at least 2x the Postfix stack: "
          f"{'met' if rate['on'] >= 2 * rate['postfix'] else 'NOT met'}")


def main():
    need_binary("smtp_trust")
    if not have_unbound():
        print("smtp_trust: unbound not installed; skipped")
        return 0
    try:
        import dkim  # noqa: F401 - only whether it is there
    except ImportError:
        print("smtp_trust: python3-dkim not installed; skipped")
        return 0
    work = tempfile.mkdtemp(prefix="mailhub-bench-trust.")
    try:
        key, pub = make_key(work)
        records = [
            'sender.bench. TXT "v=spf1 ip4:127.0.0.2 -all"',
            "sel._domainkey.sender.bench. TXT " + txt(f"v=DKIM1; k=rsa; p={pub}"),
            '_dmarc.sender.bench. TXT "v=DMARC1; p=reject"',
            "mx.sender.bench. A 127.0.0.2",
        ]
        # port 53 on its own loopback address: resolv.conf has no port
        # (the Postfix stack's programs read it)
        dns = Unbound(records, zones=("bench.", "example.org."), interface="127.0.0.53",
                      port=53)
        dns.start()
        why = postfix_missing()
        sides = ["on", "off"] + (["postfix"] if why is None else []) + \
            (["before"] if BEFORE_BIN else [])
        runs = {side: [] for side in sides}
        try:
            msg = signed_message(key)
            for rnd in range(ROUNDS):
                # the order turned each round: no side always first or last
                for side in sides[rnd % len(sides):] + sides[:rnd % len(sides)]:
                    if side == "postfix":
                        runs[side].append(run_postfix(work, dns, msg, rnd))
                    elif side == "before":
                        runs[side].append(run_mailhub(work, dns, msg, "yes", rnd,
                                                      BEFORE_BIN, "-before"))
                    else:
                        runs[side].append(run_mailhub(work, dns, msg,
                                                      "yes" if side == "on" else "no", rnd))
        finally:
            dns.stop()
        report(runs, len(msg), why)
    finally:
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
