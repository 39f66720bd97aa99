"""A recording TCP proxy on loopback between an IMAP client under test
(mailhub's fetcher) and a real server (the Dovecot of dovecot_upstream.py),
so that a test can see the commands the client sent and whether it sent
them pipelined: for each command, how many tagged answers the server had
sent back to the client before the command went out (RFC 3501 §5.5).

    with ImapProxy(dovecot_port) as p:
        ... point the client at 127.0.0.1:p.port ...
        for cmd in p.commands():   # (text, answers_before) in order
            ...

Bounded: at most 8 connections at once, each line at most 64 KiB kept
(the rest of a long line and message literals are passed on, not kept),
at most 100,000 lines kept in all.
"""

import re
import socket
import threading

_TAGGED = re.compile(rb"^[A-Za-z0-9]+ (OK|NO|BAD)\b")
MAX_LINES = 100000
MAX_LINE = 65536


class ImapProxy:
    def __init__(self, upstream_port, host="127.0.0.1"):
        self.upstream = (host, upstream_port)
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.log = []       # (connection number, command line, tagged answers before it)
        self.conns = 0
        self.closing = False
        self.threads = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self.threads.append(t)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.closing = True
        try:
            self.lsock.close()
        except OSError:
            pass
        for t in self.threads:
            t.join(timeout=10)

    def commands(self, conn=None):
        """[(command text, tagged answers the client had received before
        it was sent)] of every connection (or of connection number conn),
        in the order they were sent."""
        with self.lock:
            return [(c, n) for (k, c, n) in self.log if conn is None or k == conn]

    def clear(self):
        with self.lock:
            self.log.clear()

    def _accept(self):
        for _ in range(1000):
            try:
                client, _ = self.lsock.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream, timeout=60)
            client.settimeout(60)
            with self.lock:
                self.conns += 1
                k = self.conns
            state = {"answers": 0}
            for fn, a, b in ((self._up, client, server), (self._down, server, client)):
                t = threading.Thread(target=fn, args=(a, b, k, state), daemon=True)
                t.start()
                self.threads.append(t)

    def _pump(self, src, dst, on_line):
        pending = b""
        try:
            while not self.closing:
                data = src.recv(65536)
                if not data:
                    break
                # the lines seen before the bytes go on: a command is
                # logged before the server can answer it
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    on_line(line[:MAX_LINE])
                if len(pending) > MAX_LINE:
                    pending = pending[-MAX_LINE:]
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _up(self, client, server, k, state):
        def line(text):
            with self.lock:
                if len(self.log) < MAX_LINES:
                    self.log.append((k, text.rstrip(b"\r").decode("utf-8", "replace"),
                                     state["answers"]))
        self._pump(client, server, line)
        client.close()

    def _down(self, server, client, k, state):
        def line(text):
            if _TAGGED.match(text):
                with self.lock:
                    state["answers"] += 1
        self._pump(server, client, line)
        server.close()
