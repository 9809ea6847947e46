"""Joining a Ray cluster at ``--ray-address HOST:PORT`` without Ray's minutes of retries and log lines.

Given an address where no cluster answers, ``ray.init`` retries for minutes, and Ray's C++ core prints a
warning to the process's stderr (file descriptor 2, past ``sys.stderr``) at every attempt. ``check_reachable``
finds out first, in seconds: it connects to the address Ray would dial and checks that a gRPC server (Ray's
GCS is one) answers there. ``quiet_stderr`` holds back what Ray's C++ core prints while ``ray.init`` joins,
so a failure is one line; after a success what it printed is passed on.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from agents.errors import ConfigError

# The HTTP/2 client connection preface and an empty SETTINGS frame (RFC 9113, 3.4). A server's first frame in
# reply is its own SETTINGS frame, which every gRPC server sends at once.
_HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_SETTINGS = 4


def check_reachable(address: str, timeout: float = 5.0, answer_timeout: float = 2.0) -> None:
    """A one-line ``ConfigError`` unless a gRPC server answers at ``address`` (``HOST:PORT``).

    Nobody listening fails at once, a host that drops packets after ``timeout`` seconds, and a port whose
    server does not speak gRPC (another service, a wrong port) after ``answer_timeout`` more: a GCS answers in
    milliseconds. ``auto`` and ``ray://`` addresses are left to Ray (they fail fast by themselves).
    """
    if address == "auto" or address.startswith("ray://") or ":" not in address:
        return
    host, port = address.rsplit(":", 1)
    hint = "start one with `ray start --head` or use --ray-address auto"
    try:
        with socket.create_connection((_dialled_host(host), int(port)), timeout=timeout) as conn:
            answers = _answers_http2(conn, answer_timeout)
    except (OSError, ValueError) as e:
        raise ConfigError(f"--ray-address {address}: no Ray cluster reachable there ({e}); {hint}") from None
    if not answers:
        raise ConfigError(f"--ray-address {address}: no Ray cluster reachable there (the port accepts connections "
                          f"but no Ray GCS answers on it); {hint}")


def _dialled_host(host: str) -> str:
    """The host Ray connects to for ``host``: it replaces localhost with this node's IP address, so a check of
    127.0.0.1 itself could pass where Ray then fails."""
    try:
        from ray._private.services import resolve_ip_for_localhost

        return str(resolve_ip_for_localhost(host))
    except Exception:  # a private helper: if Ray moves it, check the address as given
        return host


def _answers_http2(conn: socket.socket, timeout: float) -> bool:
    """Whether the server behind ``conn`` replies to an HTTP/2 preface with a SETTINGS frame."""
    if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
        return True  # the server waits for a TLS handshake first; Ray checks the cluster itself
    deadline = time.monotonic() + timeout
    try:
        conn.sendall(_HTTP2_HELLO)
        header = b""
        while len(header) < 9:  # a frame header: length (3 bytes), type, flags, stream id (4 bytes)
            conn.settimeout(max(deadline - time.monotonic(), 1e-3))
            data = conn.recv(9 - len(header))
            if not data:
                return False  # closed on us: not an HTTP/2 server
            header += data
    except OSError:  # TimeoutError included: nothing answered
        return False
    return header[3] == _SETTINGS


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """Hold back what is written to file descriptor 2 (Ray's C++ core logs there) inside the block: dropped if
    the block raises (the caller reports the failure in one line), written out after a normal exit."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all (a daemon): nothing to keep quiet
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        ok = False
        try:
            yield
            ok = True
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if ok:
                held.seek(0)
                rest = memoryview(held.read())
                while rest:
                    rest = rest[os.write(2, rest):]
