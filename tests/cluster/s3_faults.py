"""A fault-injecting HTTP proxy in front of the S3 test server (moto), for the nemesis tests.

Each Silt process gets its own listening port (its `--s3-endpoint`), so faults can hit every
process or only some. Requests are forwarded unchanged (the Host header too, so signatures
still match); answers are relayed with a Content-Length. While a fault is switched on, each
request draws one of the enabled kinds with the fault's probability:

- error_before: answer 500 or 503 (an S3 XML error) without forwarding;
- error_after: forward, then answer 500 or 503 anyway (the write happened: the hard case);
- slow: wait before forwarding;
- reset_before / reset_after: drop the connection with a TCP reset, before or after forwarding.

`hold(port, predicate)` parks matching requests from one port until `release(port)`: the
stale-writer test uses it to stop a log node exactly inside its fragment PUT.

Only 127.0.0.1 is ever contacted.
"""

import http.client
import random
import socket
import socketserver
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
               "proxy-connection", "content-length", "expect"}

ERROR_BODY = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>"
              "<Message>injected by the nemesis</Message><RequestId>nemesis</RequestId></Error>")


class Reset(Exception):
    """Raised inside a handler to drop its connection with a TCP reset."""


class FaultState:
    """What the proxy currently injects. Shared by every port; changed by the nemesis."""

    def __init__(self, seed=0):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.probability = 0.0
        self.kinds = ()
        self.ports = None  # None: every port
        self.slow_range = (0.2, 1.5)
        self.counts = Counter()  # faults injected, by kind
        self.requests = 0
        self.holds = {}  # port -> (predicate, threading.Event released)

    def set(self, kinds, probability, ports=None, slow_range=None):
        with self.lock:
            self.kinds, self.probability = tuple(kinds), probability
            self.ports = set(ports) if ports is not None else None
            if slow_range:
                self.slow_range = slow_range

    def clear(self):
        with self.lock:
            self.kinds, self.probability, self.ports = (), 0.0, None

    def draw(self, port):
        """The fault kind for one request from `port`, or None; and a delay for `slow`."""
        with self.lock:
            self.requests += 1
            if not self.kinds or (self.ports is not None and port not in self.ports):
                return None, 0.0
            if self.rng.random() >= self.probability:
                return None, 0.0
            kind = self.rng.choice(self.kinds)
            self.counts[kind] += 1
            return kind, self.rng.uniform(*self.slow_range)

    def status(self):
        with self.lock:
            return self.rng.choice((500, 503))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _upstream(self):
        conns = self.server.local
        conn = getattr(conns, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port, timeout=60)
            conns.conn = conn
        return conn

    def _forward(self, body):
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        if body or self.command in ("PUT", "POST"):
            headers["Content-Length"] = str(len(body))
        for attempt in range(2):
            conn = self._upstream()
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                return resp.status, resp.reason, resp.getheaders(), data
            except (http.client.HTTPException, OSError):
                # A stale keep-alive connection to moto: reconnect once.
                conn.close()
                self.server.local.conn = None
                if attempt:
                    raise

    def _reply(self, status, reason, headers, data):
        self.send_response(status, reason)
        for k, v in headers:
            if k.lower() in HOP_HEADERS:
                continue
            self.send_header(k, v)
        if self.command == "HEAD":
            length = next((v for k, v in headers if k.lower() == "content-length"), "0")
            self.send_header("Content-Length", length)
            self.end_headers()
        else:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        self.wfile.flush()

    def _error(self, status):
        code = "InternalError" if status == 500 else "SlowDown"
        data = ERROR_BODY.format(code=code).encode()
        self._reply(status, None, [("Content-Type", "application/xml")], data)

    def _handle(self):
        body = self._body()
        port = self.server.server_address[1]
        state = self.server.state
        hold = state.holds.get(port)
        if hold and hold[0](self.command, self.path):
            state.counts["held"] += 1
            hold[1].wait()
        kind, delay = state.draw(port)
        if kind == "error_before":
            return self._error(state.status())
        if kind == "reset_before":
            raise Reset()
        if kind == "slow":
            time.sleep(delay)
        try:
            status, reason, headers, data = self._forward(body)
        except (http.client.HTTPException, OSError):
            return self._error(503)
        if kind == "error_after":
            return self._error(state.status())
        if kind == "reset_after":
            raise Reset()
        self._reply(status, reason, headers, data)

    def _dispatch(self):
        try:
            self._handle()
        except Reset:
            self.close_connection = True
            try:
                # SO_LINGER 0: close() sends a RST, as a crashed or overloaded server would.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            except OSError:
                pass

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _dispatch

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        pass  # resets and clients going away are expected here


class FaultProxy:
    """One proxy port per name, all forwarding to `upstream` (http://127.0.0.1:PORT)."""

    def __init__(self, upstream, seed=0):
        host, port = upstream.removeprefix("http://").rstrip("/").split(":")
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError(f"the fault proxy only forwards to 127.0.0.1, not {host}")
        self.upstream = ("127.0.0.1", int(port))
        self.state = FaultState(seed)
        self.servers = {}

    def endpoint(self, name):
        """Starts (once) and returns the endpoint URL for `name`."""
        if name not in self.servers:
            server = _Server(("127.0.0.1", 0), _Handler)
            server.upstream_host, server.upstream_port = self.upstream
            server.state = self.state
            server.local = threading.local()
            threading.Thread(target=server.serve_forever, daemon=True, name=f"s3proxy-{name}").start()
            self.servers[name] = server
        return f"http://127.0.0.1:{self.servers[name].server_address[1]}"

    def port(self, name):
        return self.servers[name].server_address[1]

    def hold(self, name, predicate):
        """Parks requests from `name` that match predicate(method, path) until `release`."""
        self.state.holds[self.port(name)] = (predicate, threading.Event())

    def release(self, name):
        hold = self.state.holds.pop(self.port(name), None)
        if hold:
            hold[1].set()

    def close(self):
        for port in list(self.state.holds):
            self.state.holds.pop(port)[1].set()
        for server in self.servers.values():
            server.shutdown()
            server.server_close()
