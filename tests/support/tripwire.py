"""A loopback port that accepts and drops connections, remembering that they happened: a command that must not
connect anywhere (bad input, a refused detect.toml) is pointed at it, and the test checks nothing came."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Tripwire:
    url: str
    contacts: list[str]


@contextmanager
def tripwire_port() -> Iterator[Tripwire]:
    server = socket.create_server(("127.0.0.1", 0))
    contacts: list[str] = []

    def serve() -> None:
        while True:
            try:
                connection, peer = server.accept()
            except OSError:
                return
            contacts.append(f"{peer[0]}:{peer[1]}")
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield Tripwire(f"http://127.0.0.1:{server.getsockname()[1]}", contacts)
    finally:
        server.shutdown(socket.SHUT_RDWR)
        server.close()
