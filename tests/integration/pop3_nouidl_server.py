"""A small RFC 1939 POP3 server without UIDL, on loopback, as the upstream of
test_fetch_nouidl.py (no Debian POP3 server lacks UIDL: Dovecot always has it).

    from pop3_nouidl_server import Pop3Server
    srv = Pop3Server("user", "password", pipelining=False)
    srv.start()                         # 127.0.0.1, a free port: srv.port
    srv.add_messages([b"Subject: x\\r\\n\\r\\nhi\\r\\n"])
    srv.set_fault("QUIT", 1)            # drop the connection at the next QUIT
    srv.messages()                      # what the maildrop holds
    srv.wait_sessions(2)                # the 2nd connection has ended
    srv.sessions                        # one Session per connection
    srv.close()

What it does, as RFC 1939 says: AUTHORIZATION with USER/PASS (APOP
refused); TRANSACTION with STAT, LIST, RETR, TOP, DELE, NOOP, RSET, QUIT;
message numbers fixed at login, deleted ones no longer reachable; every
deletion happens at QUIT in the UPDATE state, and a session that ends any
other way (the client closes, or the server drops it) deletes nothing.
Multi-line replies are dot-stuffed and end with CRLF.CRLF, so a message
that does not end with CRLF gets one on the wire (§3).  CAPA (RFC 2449)
lists USER, TOP, RESP-CODES and, when asked, PIPELINING; never UIDL, and
UIDL itself is answered -ERR like any unknown command.  No TLS.

Faults for the crash tests: set_fault(COMMAND, n) drops the connection
when the n-th COMMAND from now on arrives, before any answer (for RETR:
after half of the message is sent); once.  on_dele, when set, is called with the
message (bytes) each time a DELE is accepted, before the +OK is sent; what
it returns (None or a complaint) is collected in violations.

One connection at a time, in one thread; every loop is bounded (accepted
connections, commands per session, line lengths, socket timeouts).
"""

import socket
import threading

MAX_CONNECTIONS = 1000
MAX_COMMANDS = 100000
MAX_LINE = 512          # RFC 2449 §4: 255 octets for a command line
TIMEOUT = 30


class Session:
    """What one connection did: commands (PASS hidden) and how it ended."""

    def __init__(self):
        self.commands = []
        self.end = None     # "update", "quit", "client closed", "dropped", "timeout"
        self.deleted = 0    # messages removed in UPDATE

    def verbs(self):
        return [c.split(" ", 1)[0] for c in self.commands]


class _Dropped(Exception):
    pass


class Pop3Server:
    def __init__(self, user, password, pipelining=False):
        self.user = user
        self.password = password
        self.pipelining = pipelining
        self._fault = None
        self.on_dele = None
        self.violations = []
        self.sessions = []
        self._counts = {}
        self._drop = []     # the maildrop: [bytes], deleted by identity
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._thread = None
        self._ended = threading.Condition()
        self._n_ended = 0
        self.error = None   # an exception the server thread hit

    # ---- the maildrop ----------------------------------------------------

    def add_messages(self, msgs):
        for m in msgs:
            # RFC 1939 §3: the maildrop's lines end with CRLF on the wire;
            # a bare CR or LF has no faithful transfer
            body = m[:-2] if m.endswith(b"\r\n") else m
            if b"\n" in body.replace(b"\r\n", b"") or b"\r" in body.replace(b"\r\n", b""):
                raise ValueError("a bare CR or LF in a test message")
            if not m:
                raise ValueError("an empty test message")
        with self._lock:
            self._drop.extend(bytes(m) for m in msgs)

    def messages(self):
        with self._lock:
            return list(self._drop)

    # ---- life ------------------------------------------------------------

    def start(self):
        self._thread = threading.Thread(target=self._serve, name="pop3-nouidl",
                                        daemon=True)
        self._thread.start()

    def wait_sessions(self, n, timeout=TIMEOUT + 5):
        """Waits until n sessions have ended; whether they did."""
        with self._ended:
            return self._ended.wait_for(lambda: self._n_ended >= n, timeout)

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=TIMEOUT + 5)
        self._sock.close()

    def _serve(self):
        for _ in range(MAX_CONNECTIONS):
            if self._stop.is_set():
                return
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            s = Session()
            self.sessions.append(s)
            try:
                conn.settimeout(TIMEOUT)
                self._session(conn, s)
            except _Dropped:
                s.end = "dropped"
                self._drop_conn(conn)
            except socket.timeout:
                s.end = "timeout"
            except Exception as e:     # reported by the test, not swallowed
                self.error = e
                s.end = "error"
            finally:
                conn.close()
                with self._ended:
                    self._n_ended += 1
                    self._ended.notify_all()

    def _drop_conn(self, conn):
        """Ends the connection without an answer: FIN, then the client's
        own close awaited (so no RST takes our last bytes with it)."""
        try:
            conn.shutdown(socket.SHUT_WR)
            for _ in range(10000):
                if not conn.recv(65536):
                    break
        except OSError:
            pass

    # ---- one session -----------------------------------------------------

    def set_fault(self, verb, n):
        with self._lock:
            self._fault = (verb, n)
            self._counts = {}

    def _count(self, verb):
        with self._lock:
            self._counts[verb] = self._counts.get(verb, 0) + 1
            if self._fault is None or self._fault != (verb, self._counts[verb]):
                return False
            self._fault = None
            return True

    def _session(self, conn, s):
        rf = conn.makefile("rb")
        out = conn.makefile("wb")

        def send(data):
            out.write(data)
            out.flush()

        def ok(text=""):
            send(b"+OK" + (b" " + text.encode() if text else b"") + b"\r\n")

        def err(text):
            send(b"-ERR " + text.encode() + b"\r\n")

        send(b"+OK POP3 test server (no UIDL) ready\r\n")
        state = "authorization"
        user_ok = False
        listing = None      # the messages numbered at login
        deleted = set()     # indexes into listing
        for _ in range(MAX_COMMANDS):
            line = rf.readline(MAX_LINE + 1)
            if not line:
                s.end = "client closed"
                return
            if len(line) > MAX_LINE or not line.endswith(b"\r\n"):
                err("line too long or without CRLF")
                s.end = "client closed"
                return
            words = line[:-2].decode("latin-1").split(" ")
            verb = words[0].upper()
            args = words[1:]
            s.commands.append("PASS ****" if verb == "PASS" else " ".join([verb] + args))
            fault = self._count(verb)
            if fault and verb != "RETR":
                raise _Dropped()

            def msgno(i=0):
                """The message args[i] names, or None (-ERR sent)."""
                if len(args) <= i or not args[i].isdigit():
                    err("a message number is needed")
                    return None
                n = int(args[i])
                if n < 1 or n > len(listing):
                    err(f"no such message, only {len(listing)} in maildrop")
                    return None
                if n - 1 in deleted:
                    err(f"message {n} already deleted")
                    return None
                return n - 1

            if verb == "CAPA":
                # RFC 2449 §5: in both states
                caps = [b"USER", b"TOP", b"RESP-CODES"]
                if self.pipelining:
                    caps.append(b"PIPELINING")
                caps.append(b"IMPLEMENTATION mailhub-test-nouidl")
                send(b"+OK Capability list follows\r\n" +
                     b"".join(c + b"\r\n" for c in caps) + b".\r\n")
            elif verb == "QUIT":
                if state == "transaction":
                    # RFC 1939 §6: the UPDATE state
                    with self._lock:
                        gone = [listing[i] for i in sorted(deleted)]
                        self._drop = [m for m in self._drop
                                      if not any(m is g for g in gone)]
                        left = len(self._drop)
                    s.deleted = len(gone)
                    s.end = "update"
                    ok(f"bye ({left} messages left)")
                else:
                    s.end = "quit"
                    ok("bye")
                return
            elif state == "authorization":
                if verb == "USER" and len(args) == 1:
                    user_ok = args[0] == self.user
                    ok("send PASS")
                elif verb == "PASS" and args:
                    if user_ok and " ".join(args) == self.password:
                        with self._lock:
                            listing = list(self._drop)
                        deleted = set()
                        state = "transaction"
                        ok(f"maildrop locked and ready, {len(listing)} messages")
                    else:
                        user_ok = False
                        err("[AUTH] invalid user name or password")
                else:
                    err("not in the AUTHORIZATION state: USER, PASS, QUIT or CAPA")
            elif verb == "STAT" and not args:
                live = [m for i, m in enumerate(listing) if i not in deleted]
                ok(f"{len(live)} {sum(len(m) for m in live)}")
            elif verb == "LIST" and len(args) <= 1:
                if args:
                    i = msgno()
                    if i is not None:
                        ok(f"{i + 1} {len(listing[i])}")
                else:
                    live = [(i, m) for i, m in enumerate(listing) if i not in deleted]
                    send(f"+OK {len(live)} messages\r\n".encode() +
                         b"".join(f"{i + 1} {len(m)}\r\n".encode() for i, m in live) +
                         b".\r\n")
            elif verb == "RETR" and len(args) == 1:
                i = msgno()
                if i is not None:
                    data = stuff(listing[i])
                    head = f"+OK {len(listing[i])} octets\r\n".encode()
                    if fault:
                        send(head + data[:len(data) // 2])
                        raise _Dropped()
                    send(head + data + b".\r\n")
            elif verb == "TOP" and len(args) == 2 and args[1].isdigit():
                i = msgno()
                if i is not None:
                    m = listing[i]
                    end = m.find(b"\r\n\r\n")
                    head, body = (m, b"") if end < 0 else (m[:end + 4], m[end + 4:])
                    body = b"".join(body.splitlines(keepends=True)[:int(args[1])])
                    ok()
                    send(stuff(head + body) + b".\r\n")
            elif verb == "DELE" and len(args) == 1:
                i = msgno()
                if i is not None:
                    if self.on_dele is not None:
                        v = self.on_dele(listing[i])
                        if v is not None:
                            self.violations.append(v)
                    deleted.add(i)
                    ok(f"message {i + 1} deleted")
            elif verb == "NOOP" and not args:
                ok()
            elif verb == "RSET" and not args:
                deleted = set()
                ok(f"maildrop has {len(listing)} messages")
            else:
                # UIDL (RFC 1939 §7 makes it optional) is unknown here
                err("unknown command or wrong arguments")
        s.end = "too many commands"


def stuff(msg):
    """The message as a multi-line reply's lines (RFC 1939 §3): each line
    ends with CRLF (one is added at the end when missing), and a line that
    starts with "." gets one more; without the terminating ".CRLF"."""
    lines = msg.split(b"\r\n")
    if msg.endswith(b"\r\n"):
        lines.pop()
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)
