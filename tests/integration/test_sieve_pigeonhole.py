"""Differential test of the Sieve interpreter against Dovecot Pigeonhole
(Debian's dovecot-sieve, its sieve-test tool): every script of
sieve_corpus.py over every message gives the same actions from both
(the folders filed into with their flags, :create, redirects, rejects,
discards, the implicit keep, notifications, runtime errors), and for
scripts with a vacation action the same decision (reply or not) and the
same reply header fields (From, To, Subject, In-Reply-To, References,
Auto-Submitted) from Pigeonhole's executing mode (sieve-test -e).
"""

import concurrent.futures
import email.header
import email.utils
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import sieve_corpus
import tap

MAILHUB = os.environ.get("MAILHUB_BIN", "./mailhub")
SIEVE_TEST = shutil.which("sieve-test")
RCPT = sieve_corpus.RECIPIENT
NOW = "1743500000"
WORKERS = 3


def spam_value(text):
    """The spamtest value Pigeonhole derives from X-Spam-Score (max 10)."""
    m = re.search(r"^X-Spam-Score: *([0-9.]+)", text, re.M | re.I)
    if not m:
        return None
    score = float(m.group(1))
    # RFC 5235 §3.2: 1 + 9 * score / max, rounded, within 1..10
    return max(1, min(10, int(1 + 9 * min(score, 10) / 10 + 0.5)))


def norm_flags(text):
    return tuple(sorted(f.lower() for f in text.split()))


class Norm:
    """The comparable outcome of one run."""

    def __init__(self):
        self.error = False
        self.stores = set()      # (folder, flags, create)
        self.redirects = set()
        self.reject = None
        self.vacation = None     # seconds
        self.notify = set()      # (recipients, subject)

    def key(self):
        return (self.error, sorted(self.stores), sorted(self.redirects), self.reject,
                self.vacation, sorted(self.notify))


def parse_ours(out):
    n = Norm()
    for line in out.splitlines():
        if line.startswith("error:"):
            n.error = True
        m = re.match(r'^(keep|implicit keep|fileinto "((?:[^"\\]|\\.)*)")'
                     r'(?: flags="([^"]*)")?( :create)?( :copy)?$', line)
        if m:
            folder = "INBOX" if m.group(1) in ("keep", "implicit keep") else \
                re.sub(r"\\(.)", r"\1", m.group(2))
            n.stores.add((folder, norm_flags(m.group(3) or ""), bool(m.group(4))))
            continue
        m = re.match(r"^redirect <([^>]*)>", line)
        if m:
            n.redirects.add(m.group(1))
        m = re.match(r'^reject "(.*)"$', line)
        if m:
            n.reject = m.group(1)
        m = re.match(r"^vacation \S+ to=<[^>]*> seconds=(\d+)", line)
        if m:
            n.vacation = int(m.group(1))
        m = re.match(r"^notify \S+ to=<([^>]*)>", line)
        if m:
            n.notify_to = m.group(1)
        m = re.match(r"^  Subject: (.*)$", line)
        if m and hasattr(n, "notify_to") and not hasattr(n, "notify_subject"):
            n.notify_subject = m.group(1)
            n.notify.add((n.notify_to, n.notify_subject))
    return n


def parse_pigeonhole(out):
    n = Norm()
    if "final result: failed" in out:
        # "resolved with successful implicit keep", as mailhub does
        n.error = True
        n.stores.add(("INBOX", (), False))
        return n
    cur = None
    notify_to = notify_subject = None
    for line in out.splitlines():
        m = re.match(r"^ \* store message in folder: (.*)$", line)
        if m:
            cur = [m.group(1), (), False]
            n.stores.add(tuple(cur))
            continue
        m = re.match(r"^\s+\+ add IMAP flags: (.*)$", line)
        if m and cur is not None:
            n.stores.discard(tuple(cur))
            cur[1] = norm_flags(m.group(1))
            n.stores.add(tuple(cur))
            continue
        if re.match(r"^\s+\+ create mailbox if it does not exist", line) and cur is not None:
            n.stores.discard(tuple(cur))
            cur[2] = True
            n.stores.add(tuple(cur))
            continue
        if line.startswith(" * "):
            cur = None
        m = re.match(r"^ \* redirect message to: <(.*)>$", line)
        if m:
            n.redirects.add(m.group(1))
        m = re.match(r"^ \* reject message with reason: (.*)$", line)
        if m:
            n.reject = m.group(1)
        m = re.match(r"^\s+=> seconds : (\d+)$", line)
        if m:
            n.vacation = int(m.group(1))
        m = re.match(r"^\s+=> subject\s+: (.*)$", line)
        if m:
            notify_subject = m.group(1)
        m = re.match(r"^\s+\+ To: (.*)$", line)
        if m:
            notify_to = m.group(1)
            n.notify.add((notify_to, notify_subject))
    return n


REPLY_FIELDS = ("from", "to", "subject", "in-reply-to", "references", "auto-submitted")


def reply_fields(lines):
    out = {}
    last = None
    for line in lines:
        m = re.match(r"^([A-Za-z-]+): (.*)$", line)
        if m:
            last = m.group(1).lower() if m.group(1).lower() in REPLY_FIELDS else None
            if last:
                out[last] = m.group(2).strip()
        elif last and line[:1] in (" ", "\t"):
            out[last] += "\n" + line.rstrip()    # a folded line, as it is
        else:
            last = None
    return out


# Where Pigeonhole (dovecot-sieve 0.5) departs from the RFCs and mailhub
# follows them: (script, message) -> (mailhub's actions, why).
KNOWN = {
    ("index-received", "received"): (
        (False, [("FirstHop", (), False)], [], None, None, []),
        "Pigeonhole's date test ignores :index (RFC 5260 §6 applies it to date): "
        "it reads the first Received field, mailhub the last one (:index 1 :last)"),
}


def decoded_address(value):
    """(display name, address) of an address field, its RFC 2047 words
    decoded and its quotes removed."""
    text = str(email.header.make_header(email.header.decode_header(value)))
    return email.utils.parseaddr(text)


def vacation_ours(out):
    m = re.search(r"^vacation (send|skip)", out, re.M)
    if not m:
        return None
    if m.group(1) == "skip":
        return ("skip", {})
    lines = []
    for line in out[m.end():].splitlines()[1:]:
        if not line.startswith("  ") or line.startswith("  body "):
            break
        lines.append(line[2:])
    return ("send", reply_fields(lines))


def vacation_pigeonhole(out):
    if "sent vacation response" in out:
        m = re.search(r"sending message from <>:\n(.*?)\n\n", out, re.S)
        return ("send", reply_fields(m.group(1).splitlines() if m else []))
    if "vacation action" in out:
        return ("skip", {})
    return None


@unittest.skipIf(SIEVE_TEST is None, "sieve-test (Debian package dovecot-sieve) is not installed")
class PigeonholeDiff(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="sieve-diff-")
        os.chmod(cls.dir, 0o777)
        mail = os.path.join(cls.dir, "mail")
        os.mkdir(mail)
        os.chmod(mail, 0o777)
        sendmail = os.path.join(cls.dir, "sendmail.sh")
        with open(sendmail, "w") as f:
            f.write("#!/bin/sh\ncat >/dev/null\n")
        os.chmod(sendmail, 0o755)
        uid = "65534" if os.getuid() == 0 else str(os.getuid())
        gid = "65534" if os.getuid() == 0 else str(os.getgid())
        cls.conf = os.path.join(cls.dir, "dovecot.conf")
        with open(cls.conf, "w") as f:
            f.write(f"mail_uid = {uid}\nmail_gid = {gid}\n"
                    f"mail_location = maildir:{mail}\n"
                    f"sendmail_path = {sendmail}\npostmaster_address = postmaster@example.org\n"
                    "plugin {\n"
                    "  sieve_extensions = +editheader +vacation-seconds +spamtest "
                    "+spamtestplus +virustest\n"
                    "  sieve_spamtest_status_type = score\n"
                    "  sieve_spamtest_status_header = X-Spam-Score\n"
                    "  sieve_spamtest_max_value = 10\n"
                    "  sieve_vacation_min_period = 1d\n"
                    "}\n")
        cls.scripts = []
        for name, text in sieve_corpus.scripts():
            d = os.path.join(cls.dir, "s-" + name)
            os.mkdir(d)
            os.chmod(d, 0o777)
            path = os.path.join(d, "script.sieve")
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o644)
            cls.scripts.append((name, path, text))
        cls.messages = []
        for name, sender, text in sieve_corpus.messages():
            path = os.path.join(cls.dir, "m-" + name + ".eml")
            with open(path, "w", newline="") as f:
                f.write(text)
            os.chmod(path, 0o644)
            cls.messages.append((name, sender, path, text))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def pigeonhole(self, script, sender, msg, execute=False):
        args = [SIEVE_TEST, "-c", self.conf, "-r", RCPT, "-a", RCPT]
        args += ["-f", sender]  # sieve-test has no null sender
        if execute:
            args.append("-e")
        env = dict(os.environ, HOME=self.dir, TZ="UTC")
        # one stream, so that the reply printed comes after its log line
        p = subprocess.run(args + [script, msg], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=env, timeout=60)
        return p.stdout

    def ours(self, script, sender, msg, text):
        args = [MAILHUB, "sieve", "test", script, msg, "--to", RCPT, "--now", NOW,
                "--from", sender or "<>"]
        v = spam_value(text)
        if v is not None:
            args += ["--spam-score", str(v)]
        p = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ, TZ="UTC"),
                           timeout=60)
        return p.stdout + p.stderr

    def one(self, script, message):
        sname, spath, stext = script
        mname, sender, mpath, mtext = message
        ours = self.ours(spath, sender, mpath, mtext)
        theirs = self.pigeonhole(spath, sender, mpath)
        problems = []
        known = KNOWN.get((sname, mname))
        if known is not None:
            a = parse_ours(ours).key()
            if a != known[0]:
                problems.append(f"known difference changed:\n  mailhub:    {a}\n"
                                f"  expected:   {known[0]} ({known[1]})")
        elif "currentdate" not in sname:
            a, b = parse_ours(ours).key(), parse_pigeonhole(theirs).key()
            if a != b:
                problems.append(f"actions differ:\n  mailhub:    {a}\n  pigeonhole: {b}\n"
                                f"--- mailhub\n{ours}--- pigeonhole\n{theirs}")
        if "vacation" in stext:
            a = vacation_ours(ours)
            b = vacation_pigeonhole(self.pigeonhole(spath, sender, mpath, execute=True))
            if a is not None and b is not None and a[0] == "send" and b[0] == "send":
                # Pigeonhole writes From as given or the bare recipient
                a[1].pop("from", None)
                b[1].pop("from", None)
                # a display name in raw UTF-8: Pigeonhole quotes it as it is,
                # mailhub writes RFC 2047 encoded words: the same decoded
                if any(ord(c) > 127 for c in b[1].get("to", "")):
                    a[1]["to"] = decoded_address(a[1].get("to", ""))
                    b[1]["to"] = decoded_address(b[1]["to"])
            if a != b:
                problems.append(f"vacation differs:\n  mailhub:    {a}\n  pigeonhole: {b}")
        return f"{sname} x {mname}", problems

    def test_corpus_size(self):
        self.assertGreaterEqual(len(self.scripts), 80)
        self.assertGreaterEqual(len(self.messages), 40)

    def test_known_differences_listed(self):
        for (sname, mname), (_, why) in sorted(KNOWN.items()):
            self.assertIn(sname, [s[0] for s in self.scripts])
            self.assertIn(mname, [m[0] for m in self.messages])
            print(f"# known difference: {sname} x {mname}: {why}")

    def test_same_actions(self):
        pairs = [(s, m) for s in self.scripts for m in self.messages]
        failures = []
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as ex:
            for name, problems in ex.map(lambda p: self.one(*p), pairs):
                if problems:
                    failures.append(name + ": " + "\n".join(problems))
        if failures:
            self.fail(f"{len(failures)} of {len(pairs)} runs differ; the first ones:\n" +
                      "\n\n".join(failures[:8]))


if __name__ == "__main__":
    tap.main()
