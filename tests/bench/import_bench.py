"""Benchmark: importing a Maildir of N messages (default 100,000;
IMPORT_BENCH_N) by `mailhub import USER maildir DIR`, side by side with
Dovecot's `doveadm import` and `doveadm sync` (dsync) of the same tree into
a Dovecot user's Maildir, as ratios (the issue's target: mailhub at least
2x faster than doveadm import).

The tree is a Dovecot Maildir++ as Dovecot writes it: INBOX and three
folders, file names with ",S=" and ",W=" and flags, a dovecot-uidlist and
dovecot-keywords per folder; messages of 1-6 KB of varied text.  Every
tool starts from a fresh, empty destination, and the source's pages are in
the page cache for all (each tool reads it once before the timed run).

What each side guarantees when it ends: mailhub has every message durable
(syncfs of the blobs, then the SQLite transaction with synchronous=FULL,
every IMPORT_BATCH_MESSAGES messages), keeps flags, keywords, internal
dates, UIDs and UIDVALIDITY.  doveadm import copies messages with flags,
keywords and dates but not the UIDs (new ones in the destination); dsync
keeps UIDs too.  Dovecot's mail_fsync=optimized (the default) fsyncs at the
end of each transaction.

`mailhub import` leaves the search index to the daemon's background
indexer (SEARCH reads unindexed messages meanwhile): the daemon is then
started on the imported store and the time and CPU it takes to index
everything are printed too.  BENCH_BEFORE_BIN=PATH imports with an
earlier mailhub build as well, for before/after figures in one run.

Measured on the 2-core development machine (shared, load average about
20, every tool at nice 19): 100,000 messages (330 MB), mailhub import
108 s (926 msg/s), doveadm import 1,396 s (72 msg/s): 12.9x; 4,000
messages on a quieter machine: mailhub 1.66 s, doveadm import 18.5 s
(11.1x), doveadm sync 17.2 s (10.4x).  Run again with eight sessions
building and testing on the 2 cores (nice 19): mailhub import 1,087 s
wall and 123.5 s user+sys CPU, doveadm import 1,537 s and 134.9 s: 1.41x
by wall time, 1.09x by CPU; doveadm sync 627 s and 54.9 s: mailhub 0.58x
by wall time, 0.44x by CPU (slower).  mailhub's wall time is mostly its syncfs(2)
per batch, which waits for every other writer of the shared file system;
half of its CPU samples (perf record, 3,000 messages) are in SQLite,
which besides the rows fills the search index that doveadm import does
not build.  Since the search index moved to the daemon's background
indexer (4,000 messages, one run, shared machine, with BENCH_BEFORE_BIN):
mailhub import 1.68 s wall, 0.85 s CPU (the build before: 3.65 s, 2.86 s),
then the daemon indexes them in 4.32 s, 2.51 s CPU; doveadm import 5.83 s,
2.10 s (3.46x by wall time, 2.49x by CPU), doveadm sync 3.56 s, 1.10 s.

With the folder's known keys read once, 2,000 messages per commit (a
syncfs pair each) and a 64 MB SQLite page cache for the import's
connection (one side-by-side run each, shared machine at load 7-10, four
sessions on 2 cores, nice 19): 100,000 messages (333 MB) mailhub import
38.8 s wall, 14.5 s user+sys CPU (145 us/message); doveadm import 459.3 s,
87.0 s (11.8x by wall, 6.0x by CPU); doveadm sync 302.0 s, 42.5 s (7.8x,
2.9x); then the daemon indexes them in 425 s, 128.5 s CPU.  20,000
messages: mailhub 10.4 s, 3.2 s CPU; doveadm import 33.1 s, 10.0 s (3.2x,
3.1x); doveadm sync 21.4 s, 7.7 s (2.1x, 2.4x); indexing 37.8 s, 16.8 s
CPU.  The whole run at 100,000 takes about 25 minutes here (making the
tree about 5, the indexer 7, each doveadm 5-8).
"""

import os
import pwd
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import dovecot_util  # noqa: E402
from mailhub_fixture import Mailhub, mailhub_bin, need_binary  # noqa: E402

N = int(os.environ.get("IMPORT_BENCH_N", "100000"))
FOLDERS = ("", ".Sent", ".Archive.2024", ".Lists.Debian")
WORDS = ("the mail server at home keeps every message once and serves it over "
         "imap and pop3 while the queue relays what the family sends").split()


def make_tree(root, n, owner):
    rnd = random.Random(42)
    t0 = 1700000000
    per = n // len(FOLDERS)
    for fi, folder in enumerate(FOLDERS):
        d = os.path.join(root, folder) if folder else root
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        count = per if fi < len(FOLDERS) - 1 else n - per * (len(FOLDERS) - 1)
        lines = [f"3 V{1600000000 + fi} N{count + 1} G0123456789abcdef0123456789abcde{fi}"]
        for i in range(1, count + 1):
            body = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(150, 1000)))
            body = "\n".join(body[k:k + 72] for k in range(0, len(body), 72))
            msg = (f"Return-Path: <s{i}@example.net>\nFrom: Sender {i} <s{i}@example.net>\n"
                   f"To: user@example.org\nSubject: message {i} of {folder or 'INBOX'}\n"
                   f"Date: Tue, 14 Nov 2023 22:13:20 +0000\n"
                   f"Message-ID: <{fi}.{i}@example.net>\n\n{body}\n").encode()
            vsize = len(msg) + msg.count(b"\n")
            base = f"{t0 + i}.M{i}P{fi}.bench,S={len(msg)},W={vsize}"
            flags = "S" if i % 3 else "FS" if i % 2 else ""
            if i % 10 == 0:
                flags += "a"
            name = base + ":2," + flags
            path = os.path.join(d, "cur", name)
            with open(path, "wb") as f:
                f.write(msg)
            os.utime(path, (t0 + i, t0 + i))
            lines.append(f"{i} :{base}")
        with open(os.path.join(d, "dovecot-uidlist"), "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(d, "dovecot-keywords"), "w") as f:
            f.write("0 $Work\n")
    subprocess.run(["chown", "-R", f"{owner.pw_uid}:{owner.pw_gid}", root], check=True)


def warm(root):
    subprocess.run(["sh", "-c", f"find {root} -type f -print0 | xargs -0 cat > /dev/null"],
                   check=True)


def timed(args, **kw):
    """Runs args; (wall seconds, CompletedProcess, user+sys CPU seconds of
    the command: the measure that other work on a shared machine moves
    least)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    dt = time.monotonic() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"{args[0]} failed ({r.returncode}): {r.stderr[-2000:]}")
    r.cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return dt, r


def proc_cpu(pid):
    """User + system CPU seconds of a running process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def index_by_daemon(mh, timeout=7200):
    """Starts the daemon on the imported store and waits for its indexer
    to index every message (mailhub import leaves the search index to it);
    (wall seconds, CPU seconds)."""
    import sqlite3
    mh.start()
    t = time.monotonic()
    cpu0 = proc_cpu(mh.proc.pid)
    with sqlite3.connect(os.path.join(mh.data_dir, "mailhub.db"), timeout=60) as db:
        while db.execute("SELECT count(*) FROM fields_pending").fetchone()[0] > 0:
            if time.monotonic() - t > timeout:
                raise SystemExit("import_bench: the indexer never caught up")
            time.sleep(0.2)
    dt, cpu = time.monotonic() - t, proc_cpu(mh.proc.pid) - cpu0
    mh.stop()
    return dt, cpu


def import_with(binary, tree):
    """`mailhub import` by another mailhub binary (an earlier build, for
    before/after figures in one run): (wall, CPU) seconds."""
    saved = os.environ.get("MAILHUB_BIN")
    os.environ["MAILHUB_BIN"] = binary
    mh = Mailhub(listeners=())
    try:
        mh.cli("domain", "add", "example.org")
        mh.add_user("user@example.org", "Bench-Import-Pass-1")
        t, r = timed([binary, "--config", mh.config_path, "import",
                      "user@example.org", "maildir", tree, "--quiet"], timeout=7200)
        return t, r.cpu
    finally:
        mh.close()
        if saved is None:
            del os.environ["MAILHUB_BIN"]
        else:
            os.environ["MAILHUB_BIN"] = saved


def main():
    need_binary("import_bench")
    if not dovecot_util.available() or not shutil.which("doveadm"):
        raise SystemExit("import_bench: Dovecot (dovecot-imapd) is not installed")
    dv = dovecot_util.Dovecot()
    dv.start()
    owner = pwd.getpwnam("dovecot") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    src = tempfile.mkdtemp(prefix="mailhub-import-src.")
    os.chmod(src, 0o755)
    mh = None
    try:
        print(f"import_bench: making a Maildir of {N} messages...", flush=True)
        tree = os.path.join(src, "Maildir")
        make_tree(tree, N, owner)
        size = sum(os.path.getsize(os.path.join(d, f))
                   for d, _, fs in os.walk(tree) for f in fs)
        warm(tree)

        mh = Mailhub(listeners=())
        mh.cli("domain", "add", "example.org")
        mh.add_user("user@example.org", "Bench-Import-Pass-1")
        t_mh, r = timed([mailhub_bin(), "--config", mh.config_path, "import",
                         "user@example.org", "maildir", tree, "--quiet"], timeout=7200)
        c_mh = r.cpu
        print(f"  mailhub import:  {t_mh:8.2f} s  {N / t_mh:9.0f} msg/s  cpu {c_mh:8.2f} s"
              f"   ({r.stdout.strip()})", flush=True)
        t_idx, c_idx = index_by_daemon(mh)
        print(f"  then the daemon's background indexer: {t_idx:8.2f} s  cpu {c_idx:8.2f} s"
              " (the search index, which doveadm does not build; SEARCH reads the"
              " messages meanwhile)", flush=True)
        before = os.environ.get("BENCH_BEFORE_BIN")
        if before:
            warm(tree)
            t_b, c_b = import_with(before, tree)
            print(f"  BEFORE import:   {t_b:8.2f} s  {N / t_b:9.0f} msg/s  cpu {c_b:8.2f} s"
                  f"   ({before}, search index written by the import)", flush=True)

        warm(tree)
        t_imp, r = timed(["doveadm", "-c", dv.conf, "import", "-u", "user1",
                          f"maildir:{tree}", "", "all"], timeout=7200)
        c_imp = r.cpu
        print(f"  doveadm import:  {t_imp:8.2f} s  {N / t_imp:9.0f} msg/s  cpu {c_imp:8.2f} s",
              flush=True)
        warm(tree)
        t_sync, r = timed(["doveadm", "-c", dv.conf, "sync", "-u", "user2",
                           f"maildir:{tree}"], timeout=7200)
        c_sync = r.cpu
        print(f"  doveadm sync:    {t_sync:8.2f} s  {N / t_sync:9.0f} msg/s  cpu {c_sync:8.2f} s",
              flush=True)
        print(f"import_bench: {N} messages, {size / 1e6:.0f} MB: mailhub is "
              f"{t_imp / t_mh:.2f}x doveadm import, {t_sync / t_mh:.2f}x doveadm sync "
              f"by wall time; {c_imp / max(c_mh, 1e-6):.2f}x and "
              f"{c_sync / max(c_mh, 1e-6):.2f}x by CPU (target: 2x)")
    finally:
        if mh is not None:
            mh.close()
        dv.stop()
        shutil.rmtree(src, ignore_errors=True)


if __name__ == "__main__":
    main()
