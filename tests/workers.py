"""Helpers of the tests that start several TensorFlow worker processes on localhost."""
from __future__ import annotations

import socket
from typing import List


def free_ports(count: int) -> List[int]:
    """``count`` TCP ports free on localhost right now (each bound once, then released)."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports
