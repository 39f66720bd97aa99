"""Each benchmark in tests/bench runs on its own, as README's "Building by
hand" suggests (`python3 tests/bench/pop3_retr.py`): without `make bench`'s
environment (no PYTHONPATH, no MAILHUB_SRCDIR) it finds its fixture and the
panel's files, and without a built binary it says so in one line (issue
22).  The runs here use tiny sizes: they show that each benchmark works,
not how fast anything is.
"""

import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import tap

SRCDIR = os.path.abspath(os.environ.get("MAILHUB_SRCDIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BENCH = os.path.join(SRCDIR, "tests", "bench")
# tiny sizes for every knob the benchmarks read
SMALL = {"BENCH_MESSAGES": "20", "BENCH_ROUNDS": "1", "BENCH_SCALE": "0.001",
         "BENCH_IDLE": "5", "BENCH_SESSIONS": "2", "FETCH_BENCH_N": "20",
         "BENCH_SYNC_N": "200", "IMPORT_BENCH_N": "200",
         "SOAK_MINUTES": "0.1", "SOAK_WARMUP": "0", "SOAK_SAMPLE": "2",
         "LOAD_SECONDS": "1", "LOAD_ROUNDS": "1", "LOAD_SESSIONS": "5"}


def benchmarks(root):
    d = os.path.join(root, "tests", "bench")
    return sorted(f for f in os.listdir(d) if f.endswith((".py", ".sh")))


def run_alone(root, name, extra=None, timeout=600):
    """The benchmark as a user starts it by hand: a clean environment, from
    an unrelated directory."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/"),
           **(extra or {})}
    path = os.path.join(root, "tests", "bench", name)
    cmd = [sys.executable, path] if name.endswith(".py") else ["sh", path]
    with tempfile.TemporaryDirectory() as cwd:
        return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)


class BenchAlone(unittest.TestCase):
    def test_there_are_benchmarks(self):
        self.assertGreaterEqual(len(benchmarks(SRCDIR)), 5, benchmarks(SRCDIR))

    def test_without_a_binary_each_says_so_in_one_line(self):
        # a checkout with no build in it: tests/ alone
        with tempfile.TemporaryDirectory() as root:
            shutil.copytree(os.path.join(SRCDIR, "tests", "bench"),
                            os.path.join(root, "tests", "bench"))
            shutil.copytree(os.path.join(SRCDIR, "tests", "integration"),
                            os.path.join(root, "tests", "integration"))
            for name in benchmarks(root):
                with self.subTest(bench=name):
                    r = run_alone(root, name, timeout=120)
                    out = (r.stdout + r.stderr).strip()
                    self.assertEqual(len(out.splitlines()), 1, out)
                    self.assertNotIn("Traceback", out)
                    # either what it lacks, or a peer it lacks (then it skips)
                    if r.returncode != 0:
                        self.assertIn("MAILHUB_BIN", out)

    def test_each_runs_on_its_own(self):
        binary = os.environ.get("MAILHUB_BIN")
        if not binary:
            self.skipTest("MAILHUB_BIN is not set")
        if os.environ.get("MAILHUB_SANITIZERS") == "yes":
            # they time the daemon; the sanitizer build's daemon is what
            # the integration tests are for
            self.skipTest("benchmarks are not run in the sanitizer build")

        def run(name):
            start = time.monotonic()
            r = run_alone(SRCDIR, name, {"MAILHUB_BIN": binary, **SMALL})
            return r, time.monotonic() - start

        # they wait on their peers' start-up far more than they compute:
        # a few at once (each has its own ports, directories and addresses)
        names = benchmarks(SRCDIR)
        with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
            runs = dict(zip(names, pool.map(run, names)))
        for name in names:
            r, seconds = runs[name]
            with self.subTest(bench=name):
                out = r.stdout + r.stderr
                print(f"# {name}: exit {r.returncode} in {seconds:.0f} s, last line: "
                      f"{(out.strip().splitlines() or [''])[-1][:100]}")
                self.assertNotIn("Traceback", out)
                # 0, or 1 when a figure missed its target: a verdict, not a breakage
                self.assertIn(r.returncode, (0, 1), out[-2000:])
                self.assertRegex(out, r"(?i)ratio|soak: (ok|failed)|skip|not installed|target",
                                 out[-2000:])


if __name__ == "__main__":
    tap.main()
