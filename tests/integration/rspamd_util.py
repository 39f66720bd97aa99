"""rspamd as a test peer: Debian's rspamd and redis-server, started on
loopback with a configuration of their own in a temporary folder.

    r = Rspamd()
    r.start()              # redis, then rspamd's normal worker and controller
    r.url(), r.controller_url(), Rspamd.PASSWORD
    r.stat()               # the controller's /stat
    r.stop()

The configuration keeps rspamd small and quick to start: no Lua module
that needs the network, a short list of TLDs, no hyperscan compilation,
DNS pointed at a closed loopback port (answers fail at once).  It keeps
what the tests look at: the GTUBE patterns of every action
(enable_test_patterns: XJS... reject, YJS... add header, ZJS... rewrite
subject), the actions' thresholds, and Bayes statistics in Redis, which
the controller's /learnspam and /learnham fill.
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

RSPAMD = shutil.which("rspamd") or "/usr/bin/rspamd"
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"

# The GTUBE lines rspamd 3.4 knows with enable_test_patterns.
GTUBE = {
    "reject": "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X",
    "add header": "YJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X",
    "rewrite subject": "ZJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X",
}


def have_rspamd():
    return os.path.exists(RSPAMD) and os.path.exists(REDIS)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port, proc, what, log, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited {proc.returncode}: {log()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{what} did not come up: {log()}")


class Rspamd:
    PASSWORD = "rspamd-controller-secret"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mailhub-rspamd.")
        for sub in ("db", "run", "log"):
            os.mkdir(os.path.join(self.dir, sub))
        self.port = _free_port()
        self.controller_port = _free_port()
        self.redis_port = _free_port()
        self.proc = None
        self.redis = None

    def _write(self):
        d = self.dir
        with open(os.path.join(d, "tld.dat"), "w") as f:
            f.write("com\norg\nnet\ntest\nexample\n")
        conf = f"""
options {{
  pidfile = "{d}/run/rspamd.pid";
  enable_test_patterns = true;
  filters = "";
  disable_hyperscan = true;
  url_tld = "{d}/tld.dat";
  dns {{ nameserver = ["127.0.0.1:9"]; timeout = 0.2s; retransmits = 1; }}
}}
logging {{ type = "file"; filename = "{d}/log/rspamd.log"; level = "info"; }}
lua = "$RULESDIR/rspamd.lua"
modules {{ path = "${{PLUGINSDIR}}"; }}
actions {{ reject = 15; add_header = 6; rewrite_subject = 8; greylist = 4;
           subject = "***SPAM*** %s"; }}
redis {{ servers = "127.0.0.1:{self.redis_port}"; }}
classifier "bayes" {{
  tokenizer {{ name = "osb"; }}
  new_schema = true;
  backend = "redis";
  min_tokens = 11;
  min_learns = 200;
  statfile {{ symbol = "BAYES_HAM"; spam = false; }}
  statfile {{ symbol = "BAYES_SPAM"; spam = true; }}
  learn_condition = 'return require("lua_bayes_learn").can_learn';
}}
worker "normal" {{ bind_socket = "127.0.0.1:{self.port}"; count = 1; }}
worker "controller" {{
  bind_socket = "127.0.0.1:{self.controller_port}";
  count = 1;
  password = "{self.PASSWORD}";
  enable_password = "{self.PASSWORD}";
  static_dir = "${{WWWDIR}}";
}}
"""
        path = os.path.join(d, "rspamd.conf")
        with open(path, "w") as f:
            f.write(conf)
        return path

    def log(self):
        try:
            with open(os.path.join(self.dir, "log", "rspamd.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def start(self, timeout=90):
        conf = self._write()
        self._out = open(os.path.join(self.dir, "out.log"), "wb")
        self.redis = subprocess.Popen(
            [REDIS, "--port", str(self.redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=self._out, stderr=self._out)
        _wait_port(self.redis_port, self.redis, "redis-server", self.log, timeout)
        args = [RSPAMD, "-f", "-c", conf, "--var", f"DBDIR={self.dir}/db",
                "--var", f"RUNDIR={self.dir}/run"]
        if os.geteuid() == 0:
            args.insert(2, "-i")    # workers as root: a test peer only
        self.proc = subprocess.Popen(args, stdout=self._out, stderr=self._out)
        _wait_port(self.port, self.proc, "rspamd", self.log, timeout)
        _wait_port(self.controller_port, self.proc, "rspamd controller", self.log, timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url() + "/ping", timeout=5) as r:
                    if r.read().startswith(b"pong"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("rspamd does not answer /ping: " + self.log())
            time.sleep(0.1)

    @staticmethod
    def _end(proc):
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def stop_rspamd(self):
        self._end(self.proc)
        self.proc = None

    def stop(self):
        self.stop_rspamd()
        self._end(self.redis)
        self.redis = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def controller_url(self):
        return f"http://127.0.0.1:{self.controller_port}"

    def stat(self):
        req = urllib.request.Request(self.controller_url() + "/stat",
                                     headers={"Password": self.PASSWORD})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def learns(self):
        """(spam, ham) messages in the Bayes statistics: the learned
        counter of the statfiles, which rspamd refreshes from Redis now
        and then."""
        st = self.stat()
        rev = {s["symbol"]: s["revision"] for s in st.get("statfiles", [])}
        return rev.get("BAYES_SPAM", 0), rev.get("BAYES_HAM", 0)
