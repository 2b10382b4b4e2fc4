"""`SimulatorServer`: a simulator over HTTP/1.1 keep-alive on loopback, stoppable without leaks."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any

from connector.lever.sim.responses import ApiError, SimResponse
from connector.lever.sim.simulator import LeverSimulator


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP/1.1 keep-alive requests into simulator calls."""

    protocol_version = "HTTP/1.1"
    server_version = "LeverSimulator/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    server: SimulatorServer

    def setup(self) -> None:
        """Register the connection so stopping the server can close it."""
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        """Forget the connection."""
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing per request (the console stays quiet and no key can leak)."""

    def _serve(self) -> None:
        """Answer any method through the simulator."""
        body = self._read_body()
        try:
            response = self.server.sim.handle(
                self.command, self.path, self.headers.get("Authorization"), body
            )
        except Exception:
            response = ApiError(500, "InternalServerError", "Simulator error").response()
        if response.delay and self.server.stopping.wait(response.delay):
            response.drop = True
        if response.drop:
            self.close_connection = True
            return
        self._write(response)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve

    def _read_body(self) -> bytes:
        """The request body by Content-Length (none when absent or invalid)."""
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit():
            self.close_connection = True
            return b""
        return self.rfile.read(int(length)) if int(length) else b""

    def _write(self, response: SimResponse) -> None:
        """Send status, headers and body; a client that went away is not an error."""
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
        except OSError:
            self.close_connection = True


class SimulatorServer(ThreadingHTTPServer):
    """The simulator over HTTP/1.1 keep-alive, served from a daemon thread."""

    daemon_threads = True
    block_on_close = True
    request_queue_size = 128

    def __init__(self, sim: LeverSimulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sim = sim
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.connections_accepted = 0
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        """Bind without the reverse DNS lookup HTTPServer does (it can stall for seconds)."""
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    @property
    def url(self) -> str:
        """The API base URL, e.g. http://127.0.0.1:PORT/v1."""
        return f"http://{self.server_name}:{self.server_port}/v1"

    def start(self) -> SimulatorServer:
        """Serve in a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.serve_forever, kwargs={"poll_interval": 0.05},
                name="lever-simulator", daemon=True,
            )  # fmt: skip
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open keep-alive connections, wait for handler threads and stop
        the simulator's webhook deliveries."""
        if self._closed:
            return
        self._closed = True
        self.sim.stop_webhooks()
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
        self._close_connections()
        self.server_close()

    def _close_connections(self) -> None:
        """Wake every handler blocked on an idle keep-alive connection."""
        with self._connections_lock:
            self.stopping.set()
            connections = list(self._connections)
        for connection in connections:
            _shut(connection)

    def track(self, connection: socket.socket) -> None:
        """Remember a live connection (or end it at once when stopping)."""
        with self._connections_lock:
            self.connections_accepted += 1
            if not self.stopping.is_set():
                self._connections.add(connection)
                return
        _shut(connection)

    def untrack(self, connection: socket.socket) -> None:
        """Forget a finished connection."""
        with self._connections_lock:
            self._connections.discard(connection)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connection resets are routine for a test server; keep stderr quiet."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def __enter__(self) -> SimulatorServer:
        """Start serving for the duration of a with-block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop serving and release every socket and thread."""
        self.stop()


def _shut(connection: socket.socket) -> None:
    """Shut a socket down both ways, ignoring one that is already gone."""
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
