"""TCP ports: a free one to listen on, whether something listens on one, ``HOST:PORT`` from a
command line, and why a server cannot listen. Used by the simulators, the demo, the commands
that take ``--tcp``/``--listen``/``--connect``, and the tests."""

from __future__ import annotations

import errno
import socket

from watertel.errors import OperatorError


def free_port() -> int:
    """A port nothing listens on now (the kernel's choice); the caller binds it soon after."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def host_port(text: str | None, option: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``HOST:PORT`` from a command line (HOST may be empty: ``default_host``).

    Raises:
        OperatorError: naming ``option``, the form wanted and what was given.
    """
    host, sep, port = (text or "").rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise OperatorError(f"{option} wants HOST:PORT with a port from 1 to 65535, e.g. 127.0.0.1:5020 (got {text!r})")
    return host.strip("[]") or default_host, int(port)


def cannot_listen(host: str, port: int) -> str:
    """Why a server could not listen on ``host:port``, asked of the kernel again (libraries such as
    pymodbus say only "could not start listen"), with what to do about it."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            return (f"{host}:{port} is in use by another program (stop it, `ss -ltnp 'sport = :{port}'` "
                    "names it, or choose another port)")
        return f"cannot listen on {host}:{port}: {err.strerror} (check the address is this machine's)"
    return f"cannot listen on {host}:{port} (it was taken meanwhile, or refused: try again or choose another port)"
