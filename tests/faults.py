"""Dependencies a fault test may break: a private redis-server it pauses and kills, and a TCP proxy in front of
the shared PostgreSQL server that it cuts (the shared servers themselves are never touched)."""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import pytest
from redis import Redis
from redis.exceptions import RedisError

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def eventually(check: Callable[[], T | None], *, within: float = 20.0, what: str = "the condition") -> T:
    """Poll ``check`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {within:.0f} s")
        time.sleep(0.05)


class PrivateRedis:
    """A redis-server of the test's own on a free port, without persistence: paused, resumed, killed, restarted."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self._binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [self._binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        client = Redis.from_url(self.url, socket_timeout=1)
        try:
            eventually(lambda: _pings(client), within=10, what="redis-server answering")
        finally:
            client.close()

    def pause(self) -> None:
        assert self._process is not None
        os.kill(self._process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        os.kill(self._process.pid, signal.SIGCONT)

    def kill(self) -> None:
        if self._process is not None:
            os.kill(self._process.pid, signal.SIGCONT)
            self._process.kill()
            self._process.wait(10)
            self._process = None


def _pings(client: Redis) -> bool:
    try:
        return bool(client.ping())
    except RedisError:
        return False


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.kill()


class TcpProxy:
    """Forwards a local port to ``target``; ``cut()`` drops every connection and refuses new ones (a database
    restart as clients see it) until ``restore()``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="tcp-proxy", daemon=True)

    def start(self) -> None:
        self._listen()
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.cut()

    def cut(self) -> None:
        with self._lock:
            if self._listener is not None:
                self._selector.unregister(self._listener)
                self._listener.close()
                self._listener = None
            for pair in self._pairs:
                for sock in pair:
                    self._selector.unregister(sock)
                    sock.close()
            self._pairs.clear()

    def restore(self) -> None:
        with self._lock:
            if self._listener is None:
                self._listen()

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.setblocking(False)
        self._listener = listener
        self._selector.register(listener, selectors.EVENT_READ, None)

    def _pump(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                for key, _ in self._selector.select(timeout=0.01):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._listener:
                        self._accept(sock)
                    else:
                        self._forward(sock, key.data)

    def _accept(self, listener: socket.socket) -> None:
        client, _ = listener.accept()
        upstream = socket.create_connection(self.target)
        for sock, peer in ((client, upstream), (upstream, client)):
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ, peer)
        self._pairs.append((client, upstream))

    def _forward(self, sock: socket.socket, peer: socket.socket) -> None:
        try:
            data = sock.recv(65536)
            if data:
                peer.setblocking(True)
                peer.sendall(data)
                peer.setblocking(False)
                return
        except OSError:
            pass
        for pair in [p for p in self._pairs if sock in p]:
            self._pairs.remove(pair)
            for s in pair:
                self._selector.unregister(s)
                s.close()


@contextmanager
def tcp_proxy(target: tuple[str, int]) -> Iterator[TcpProxy]:
    proxy = TcpProxy(target)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()
