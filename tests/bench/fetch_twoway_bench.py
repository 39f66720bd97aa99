"""Benchmark: two-way sync of an upstream IMAP account against mbsync
(isync), between the same Dovecot (on loopback, plain IMAP) and, for
mbsync, a local Maildir; for mailhub its own store.

1. The first two-way sync of N messages (default 10,000; FETCH_BENCH_N)
   in 20 folders: mailhub's `upstream run` of an account with --two-way
   --mirror, and `mbsync -a` of a channel with Sync All.
2. Then an incremental sync of 500 changes (scaled with N), the same on
   both pairs: upstream (by IMAP to Dovecot) 150 flag changes, 50 expunges
   and 50 new messages; locally (mailhub: by IMAP to mailhub; mbsync: in
   its Maildir) 150 flag changes, 50 deletions and 50 moves to another
   folder.  Both pairs are checked to hold the same messages on both sides
   afterwards.  BENCH_ROUNDS rounds of it (default 5), each on other
   messages; the medians are compared (one pass takes a tenth of a
   second or so, and a single one said more about the moment's disk than
   about either program).

What each side guarantees when it says it is done: mailhub makes every
fetched message durable (its blob files and their folders fsynced, or
syncfs'd for a batch of more than 256, the SQLite transaction committed
with synchronous=FULL) before it counts it fetched, and commits
each change it owes the upstream (deletions, moves, messages made here) in
a WAL commit that is fdatasync'ed before it sends the command; the merge's
results (flags pulled down, the new bases) are a lazy commit that no
command waits for: `upstream run` has its fdatasync started at once behind
the next folder's commands (the daemon within 200 ms) and waits at its exit
for what is not synced yet (a crash of the process loses none, a power
failure before that sync at most those, which the next sync merges again);
mbsync (FSync yes, its default) fsyncs each Maildir file it writes and its
sync state journal.

Ratios are mbsync's time / mailhub's (higher is better for mailhub); the
target is 3x on both.  Plain IMAP (no TLS) for both.

FETCH_BENCH_RTT_MS (default 0) puts a proxy between both clients and
Dovecot that holds every chunk for half that long each way: a round trip
of that many milliseconds, as to a provider's server over the internet
(the upstreams a household aggregates are rarely on its own machine).
"""

import collections
import imaplib
import os
import re
import shutil
import socket
import statistics
import threading
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from dovecot_upstream import Dovecot, available  # noqa: E402
from mailhub_fixture import Mailhub, mailhub_bin, need_binary  # noqa: E402

N = int(os.environ.get("FETCH_BENCH_N", "10000"))
FOLDERS = [f"F{i:02d}" for i in range(20)]
CHANGES = max(10, 500 * N // 10000)
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
RTT_MS = float(os.environ.get("FETCH_BENCH_RTT_MS", "0"))
OWNER = "bench@example.org"
PASSWORD = "bench-password-1"


class DelayProxy:
    """A TCP proxy on 127.0.0.1 to port that delivers every chunk, each
    way, rtt_ms / 2 after it came (in order): a link with that round trip
    and no limit on its rate.  Runs its own thread."""

    def __init__(self, port, rtt_ms):
        self.target = port
        self.delay = rtt_ms / 2000.0
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.port = self.lsock.getsockname()[1]
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target))
            for s in (c, u):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                q = collections.deque()
                cv = threading.Condition()
                threading.Thread(target=self.read, args=(a, q, cv), daemon=True).start()
                threading.Thread(target=self.write, args=(b, q, cv), daemon=True).start()

    def read(self, a, q, cv):
        while True:
            try:
                data = a.recv(65536)
            except OSError:
                data = b""
            with cv:
                q.append((time.monotonic() + self.delay, data))
                cv.notify()
            if not data:
                return

    def write(self, b, q, cv):
        while True:
            with cv:
                while not q:
                    cv.wait()
                due, data = q.popleft()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                if not data:
                    b.shutdown(socket.SHUT_WR)
                    return
                b.sendall(data)
            except OSError:
                return

    def close(self):
        self.lsock.close()
        with self.lock:
            for s in self.conns:
                s.close()


def message(i):
    body = b"".join(b"Line %d of message %d, some text to make it a realistic size.\r\n"
                    % (k, i) for k in range(40))
    return (b"From: Sender <sender@upstream.test>\r\nTo: <u@upstream.test>\r\n"
            b"Subject: bench %d\r\nMessage-ID: <%d.twoway@upstream.test>\r\n"
            b"Date: Mon, 23 Nov 2026 08:00:00 +0000\r\n\r\n" % (i, i)) + body


def settle():
    """Dirty data written out and, for the big run, a pause (ext4 skips
    recently freed inodes for a few seconds: see fetch_bench.py)."""
    os.sync()
    if N >= 1000:
        time.sleep(6)


def timed(argv, **kw):
    """Runs argv: its wall time and its CPU time (user + system seconds of
    the process and its children: the client side only, the Dovecot both
    talk to is not counted).  FETCH_BENCH_STRACE=1 counts the sync calls
    (fsync, fdatasync, syncfs) of each run instead (slower: no timing)."""
    settle()
    strace = os.environ.get("FETCH_BENCH_STRACE") == "1"
    if strace:
        out = os.path.join(tempfile.gettempdir(), f"twoway-strace.{os.getpid()}")
        argv = ["strace", "-f", "-c", "-w", "-o", out, "-e",
                "trace=fsync,fdatasync,syncfs,rename,renameat,renameat2,read,write,"
                "poll,ppoll,recvfrom,sendto"] + argv
    cpu0 = os.times()
    t = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    dt = time.monotonic() - t
    cpu1 = os.times()
    if r.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({r.returncode}): {r.stderr[-2000:]}"
                         f"{r.stdout[-2000:]}")
    if strace:
        with open(out) as f:
            print(f"# {os.path.basename(argv[9])}:\n" + f.read(), file=sys.stderr)
        os.unlink(out)
    cpu = (cpu1.children_user - cpu0.children_user) + (cpu1.children_system -
                                                       cpu0.children_system)
    return dt, cpu


def plan(rnd):
    """The changes of round rnd, by message number (disjoint, spread over
    the folders, and none touched by an earlier round): what each pair
    gets."""
    per = N // len(FOLDERS)
    n = CHANGES // 10
    step = N // (9 * n)
    if step <= rnd:
        raise SystemExit(f"FETCH_BENCH_N={N} is too small for {CHANGES} changes "
                         f"in {ROUNDS} rounds")
    c = [k * step + rnd for k in range(9 * n)]
    return {"per": per, "up_flag": c[0:3 * n], "up_del": c[3 * n:4 * n],
            "loc_flag": c[4 * n:7 * n], "loc_del": c[7 * n:8 * n],
            "loc_move": c[8 * n:9 * n],
            "new": list(range(N + rnd * n, N + (rnd + 1) * n))}


def folder_of(i, per):
    return FOLDERS[min(i // per, len(FOLDERS) - 1)]


def subjects_uids(c):
    typ, data = c.uid("FETCH", "1:*", "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    out = {}
    for item in data:
        if isinstance(item, tuple):
            uid = re.search(rb"UID (\d+)", item[0]).group(1).decode()
            out[int(item[1].decode().split(":", 1)[1].split()[1])] = uid
    return out


def imap_changes(c, per, flag, delete, move=(), move_to=None, prefix=""):
    """Flag (+\\Seen), delete and move message numbers over one session."""
    by_folder = collections.defaultdict(lambda: ([], [], []))
    for k, lst in enumerate((flag, delete, move)):
        for i in lst:
            by_folder[folder_of(i, per)][k].append(i)
    for folder, (fl, de, mv) in sorted(by_folder.items()):
        assert c.select(f'"{prefix}{folder}"')[0] == "OK", folder
        uids = subjects_uids(c)
        if fl:
            assert c.uid("STORE", ",".join(uids[i] for i in fl), "+FLAGS",
                         "(\\Seen)")[0] == "OK"
        if de:
            s = ",".join(uids[i] for i in de)
            assert c.uid("STORE", s, "+FLAGS", "(\\Deleted)")[0] == "OK"
            assert c.uid("EXPUNGE", s)[0] == "OK"
        if mv:
            dest = move_to(folder)
            assert c.uid("MOVE", ",".join(uids[i] for i in mv),
                         f'"{prefix}{dest}"')[0] == "OK"


def next_folder(folder):
    return FOLDERS[(FOLDERS.index(folder) + 1) % len(FOLDERS)]


def count_imap(c, folders, prefix=""):
    total = 0
    for f in folders:
        typ, data = c.select(f'"{prefix}{f}"', readonly=True)
        total += int(data[0])
    return total


class MaildirSide:
    def __init__(self, root):
        self.root = root
        self.index = None

    def scan(self):
        idx = {}
        for f in FOLDERS:
            for sub in ("cur", "new"):
                d = os.path.join(self.root, f, sub)
                for fn in os.listdir(d):
                    p = os.path.join(d, fn)
                    with open(p, "rb") as fh:
                        m = re.search(rb"Subject: bench (\d+)", fh.read(400))
                    idx[int(m.group(1))] = p
        self.index = idx

    def apply(self, flag, delete, move, per):
        self.scan()
        for i in flag:
            p = self.index[i]
            d, fn = os.path.split(p)
            base, _, fl = fn.partition(":2,")
            os.rename(p, os.path.join(os.path.dirname(d), "cur",
                                      base + ":2," + "".join(sorted(set(fl) | {"S"}))))
        for i in delete:
            os.unlink(self.index[i])
        for i in move:
            p = self.index[i]
            fn = re.sub(r",U=\d+", "", os.path.basename(p))
            dest = next_folder(folder_of(i, per))
            os.rename(p, os.path.join(self.root, dest, "cur", fn))

    def count(self):
        return sum(len(os.listdir(os.path.join(self.root, f, s)))
                   for f in FOLDERS for s in ("cur", "new"))


def main():
    need_binary("fetch_twoway_bench")
    if not available():
        print("skipped: Dovecot is not installed (dovecot-imapd, dovecot-pop3d)")
        return 0
    if shutil.which("mbsync") is None:
        print("skipped: mbsync (isync) is not installed, the peer of this benchmark")
        return 0
    users = {"mh": "pw1", "mb": "pw2"}
    dc = Dovecot(users)
    work = tempfile.mkdtemp(prefix="mailhub-twowaybench.")
    mh = None
    proxy = None
    try:
        dc.start()
        per = N // len(FOLDERS)
        for u in users:
            print(f"preparing {N} messages in {len(FOLDERS)} folders for {u}",
                  file=sys.stderr)
            for k, f in enumerate(FOLDERS):
                hi = N if k == len(FOLDERS) - 1 else (k + 1) * per
                dc.add_messages(u, [message(i) for i in range(k * per, hi)], folder=f)
                subprocess.run([shutil.which("doveadm") or "doveadm", "-c", dc.conf,
                                "fetch", "-u", u, "uid flags size.virtual", "mailbox", f],
                               check=True, capture_output=True, timeout=600)

        # mailhub: an account with two-way sync of the 20 folders, mirrored
        mh = Mailhub(listeners=("imap",), plaintext_on_loopback=True,
                     config_extra="\n[fetch]\nallow_private_hosts = yes\n")
        mh.cli("domain", "add", "example.org")
        mh.add_user(OWNER, PASSWORD)
        far_port = dc.port("imap")
        if RTT_MS > 0:
            proxy = DelayProxy(far_port, RTT_MS)
            far_port = proxy.port
        r = mh.cli("upstream", "add", OWNER, "--host", "127.0.0.1", "--port",
                   str(far_port), "--tls", "none", "--username", "mh",
                   "--password-stdin", "--folders", ",".join(FOLDERS), "--target", "Acc",
                   "--mirror", "--two-way", "--disabled", input=users["mh"] + "\n")
        up = r.stdout.strip()
        run = [mailhub_bin(), "--config", mh.config_path, "upstream", "run", up]

        # mbsync: the same folders into a Maildir, both ways
        near = os.path.join(work, "maildir")
        os.makedirs(near)
        rc = os.path.join(work, "mbsyncrc")
        with open(rc, "w") as f:
            f.write(f"IMAPAccount a\nHost 127.0.0.1\nPort {far_port}\nUser mb\n"
                    f"Pass {users['mb']}\nSSLType None\nAuthMechs LOGIN\n"
                    f"PipelineDepth 50\n\nIMAPStore far\nAccount a\n\n"
                    f"MaildirStore near\nPath {near}/\nSubFolders Verbatim\n\n"
                    f"Channel c\nFar :far:\nNear :near:\nPatterns {' '.join(FOLDERS)}\n"
                    f"Create Near\nExpunge Both\nSync All\nSyncState *\n")
        mbsync = ["mbsync", "-q", "-c", rc, "-a"]

        first_mh, first_mh_cpu = timed(run, timeout=3600)
        first_mb, first_mb_cpu = timed(mbsync, timeout=3600)
        c = imaplib.IMAP4("127.0.0.1", dc.port("imap"))
        c.login("mh", users["mh"])
        if count_imap(c, FOLDERS) != N:
            raise SystemExit("the upstream changed during the first sync")
        c.logout()

        mh.start()
        md = MaildirSide(near)
        want = N
        inc = {"mh": [], "mb": [], "mh_cpu": [], "mb_cpu": []}
        for rnd in range(ROUNDS):
            # the same changes on both pairs
            p = plan(rnd)
            for u in users:
                c = imaplib.IMAP4("127.0.0.1", dc.port("imap"))
                c.login(u, users[u])
                imap_changes(c, per, p["up_flag"], p["up_del"])
                for i in p["new"]:
                    c.append(f'"{FOLDERS[i % len(FOLDERS)]}"', None, None, message(i))
                c.logout()
            c = imaplib.IMAP4("127.0.0.1", mh.port("imap"))
            c.login(OWNER, PASSWORD)
            if count_imap(c, FOLDERS, "Acc/") != want:
                raise SystemExit("mailhub's last sync did not bring every message")
            imap_changes(c, per, p["loc_flag"], p["loc_del"], p["loc_move"], next_folder,
                         "Acc/")
            c.logout()
            if md.count() != want:
                raise SystemExit("mbsync's last sync did not bring every message")
            md.apply(p["loc_flag"], p["loc_del"], p["loc_move"], per)
            changes = sum(len(p[k]) for k in ("up_flag", "up_del", "new", "loc_flag",
                                              "loc_del", "loc_move"))

            t, cpu = timed(run, timeout=3600)
            inc["mh"].append(t)
            inc["mh_cpu"].append(cpu)
            t, cpu = timed(mbsync, timeout=3600)
            inc["mb"].append(t)
            inc["mb_cpu"].append(cpu)

            # both pairs converged: the same count on each side
            want += len(p["new"]) - len(p["up_del"]) - len(p["loc_del"])
            got = {}
            for u in users:
                c = imaplib.IMAP4("127.0.0.1", dc.port("imap"))
                c.login(u, users[u])
                got[u] = count_imap(c, FOLDERS)
                c.logout()
            c = imaplib.IMAP4("127.0.0.1", mh.port("imap"))
            c.login(OWNER, PASSWORD)
            got["mailhub"] = count_imap(c, FOLDERS, "Acc/")
            c.logout()
            got["maildir"] = md.count()
            if set(got.values()) != {want}:
                raise SystemExit(f"the sides do not agree after round {rnd + 1}: "
                                 f"want {want}, {got}")
            print(f"incremental round {rnd + 1}: mailhub {inc['mh'][-1]:.3f} s | mbsync "
                  f"{inc['mb'][-1]:.3f} s = {inc['mb'][-1] / inc['mh'][-1]:.1f}x",
                  file=sys.stderr)
        inc_mh, inc_mb = statistics.median(inc["mh"]), statistics.median(inc["mb"])
        inc_mh_cpu = statistics.median(inc["mh_cpu"])
        inc_mb_cpu = statistics.median(inc["mb_cpu"])

        r1, r2 = first_mb / first_mh, inc_mb / inc_mh
        link = f"a {RTT_MS:g} ms round trip" if RTT_MS > 0 else "loopback"
        print(f"two-way sync with Dovecot over {link} (seconds, lower is better; "
              f"ratio = mbsync's time / mailhub's)")
        print(f"first sync, {N} messages in {len(FOLDERS)} folders: mailhub {first_mh:7.2f}"
              f" | mbsync {first_mb:7.2f} = {r1:5.1f}x   (CPU user+sys: mailhub "
              f"{first_mh_cpu:.2f} | mbsync {first_mb_cpu:.2f} = "
              f"{first_mb_cpu / max(first_mh_cpu, 0.001):.1f}x)")
        print(f"incremental sync, {changes} changes, median of {ROUNDS}: mailhub {inc_mh:7.3f}"
              f" | mbsync {inc_mb:7.3f} = {r2:5.1f}x   (CPU user+sys: mailhub "
              f"{inc_mh_cpu:.2f} | mbsync {inc_mb_cpu:.2f} = "
              f"{inc_mb_cpu / max(inc_mh_cpu, 0.001):.1f}x)")
        ok = r1 >= 3 and r2 >= 3
        print("target: mailhub at least 3x faster than mbsync on both:",
              "met" if ok else "NOT met")
        return 0 if ok else 1
    finally:
        if mh is not None:
            mh.stop(check=False)
            mh.close()
        dc.close()
        if proxy is not None:
            proxy.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
