"""Can the agent start with this configuration? The files it names, checked without a socket.

`watertel edge check` prints every problem found here; `watertel edge run` runs the same checks
before it polls and refuses to start on any of them (a missing CA file used to end the agent
with a ``FileNotFoundError`` from ``ssl`` naming no file, a missing password file left the
uplink dead without a word). Each problem is one line, ``config: key: problem (fix)``.

Serial ports are the exception: an adapter missing at boot may appear a few seconds later (USB
enumeration), and the poller opens it again on every poll, so `edge run` only warns about them.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from watertel.crypto import SM2PrivateKey, SM2PublicKey
from watertel.crypto.sm2_common import SignatureError
from watertel.edge_agent.config import EdgeConfig, RtuBus
from watertel.tls import TlsConfig

EX_CONFIG = 78  # sysexits.h: the configuration is wrong (the systemd unit does not restart on it)


@dataclass(frozen=True)
class Problem:
    """One line for the operator; ``blocks_run``: `edge run` refuses to start on it."""

    text: str
    blocks_run: bool = True


class _Checker:
    """Collects problems, each naming the config file and the key the path came from."""

    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self.problems: list[Problem] = []

    def add(self, key: str, problem: str, blocks_run: bool = True) -> None:
        self.problems.append(Problem(f"{self.config_path}: {key}: {problem}", blocks_run))

    def readable(self, key: str, path: Path, fix: str) -> bytes | None:
        """The file's content, or None after adding why it cannot be read."""
        try:
            return path.read_bytes()
        except FileNotFoundError:
            self.add(key, f"{path} does not exist ({fix})")
        except IsADirectoryError:
            self.add(key, f"{path} is a folder, not a file ({fix})")
        except PermissionError:
            self.add(key, f"{path} is not readable by this user, uid {os.getuid()} "
                          "(run as the agent's user; the file must belong to it)")
        except OSError as err:
            self.add(key, f"{path} cannot be read ({err.strerror})")
        return None

    def secret(self, key: str, path: Path, fix: str) -> bytes | None:
        """A secret's content; a file that group or others may read or write is a problem too."""
        data = self.readable(key, path, fix)
        if data is not None:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                self.add(key, f"{path} is open to group or others (mode {mode:04o}) "
                              f"(chmod 600 {path}, owned by the agent's user)")
        return data


def check_files(cfg: EdgeConfig, config_path: Path, now: dt.datetime | None = None) -> list[Problem]:
    """Every problem with the files and devices ``cfg`` names (paths already resolved)."""
    c = _Checker(config_path)
    _signing_key(c, cfg)
    if cfg.key.payload_key:
        c.secret("key.payload_key.key_file", cfg.key.payload_key.key_file, "run `watertel keys new-sm4`")
    up = cfg.uplink
    if up.password_file:
        password = c.secret("uplink.password_file", up.password_file, "write the gateway's broker password into it")
        if password is not None and not password.strip():
            c.add("uplink.password_file", f"{up.password_file} is empty (write the gateway's broker password into it)")
    if up.tls and any(url.startswith("mqtts:") for url in up.brokers):
        _tls(c, up.tls, now or dt.datetime.now(dt.timezone.utc))
    if cfg.commands:
        data = c.readable("commands.cloud_public_key", cfg.commands.cloud_public_key, "copy the cloud's public key here")
        if data is not None and _public_key(data) is None:
            c.add("commands.cloud_public_key", f"{cfg.commands.cloud_public_key} is not an SM2 public key in PEM "
                                               "(copy the cloud's commands public key, `-----BEGIN PUBLIC KEY-----`)")
    _writable_folder(c, "buffer.path", cfg.buffer.path)
    _buffer_file(c, cfg.buffer.path)
    _writable_folder(c, "status_file", cfg.status_path)
    _serial_ports(c, cfg)
    return c.problems


def _signing_key(c: _Checker, cfg: EdgeConfig) -> None:
    """The private key parses, and matches a public key filed beside it under its key id."""
    path = cfg.key.private_key
    data = c.secret("key.private_key", path, "run `watertel keys new`")
    if data is None:
        return
    try:
        key = SM2PrivateKey.from_pem(data.decode("ascii"))
    except (SignatureError, ValueError) as err:
        c.add("key.private_key", f"{path} is not an SM2 private key ({err}) (run `watertel keys new`)")
        return
    for pub_path in _public_key_files(path, cfg.key.key_id):
        public = _public_key(pub_path.read_bytes())
        if public is not None and public.point != key.public.point:
            c.add("key.private_key", f"{path} does not match {pub_path}, the public key of key id {cfg.key.key_id} "
                                     "(the cloud would refuse every envelope: point key.private_key at the pair's "
                                     "private half, or set key.key_id to this key's id)")


def _public_key_files(private: Path, key_id: str) -> list[Path]:
    """Public keys `watertel keys new` would have written beside ``private``: ``<key id>.pub.pem``
    and ``<name>.pub.pem`` for ``<name>.key.pem``."""
    names = [f"{key_id}.pub.pem"]
    if private.name.endswith(".key.pem"):
        names.append(private.name.removesuffix(".key.pem") + ".pub.pem")
    return [p for p in dict.fromkeys(private.with_name(n) for n in names) if p.is_file()]


def _public_key(data: bytes) -> SM2PublicKey | None:
    try:
        return SM2PublicKey.from_pem(data.decode("ascii"))
    except (SignatureError, ValueError):
        return None


def _tls(c: _Checker, tls: TlsConfig, now: dt.datetime) -> None:
    """CA and client certificate parse and are valid now; the TLS context loads them."""
    ok = _certificates(c, "uplink.tls.ca_file", tls.ca_file, now, "the broker's CA certificate")
    if tls.cert_file:
        ok &= _certificates(c, "uplink.tls.cert_file", tls.cert_file, now, "the gateway's client certificate")
    if tls.key_file:
        ok &= c.secret("uplink.tls.key_file", tls.key_file, "the client certificate's private key") is not None
    if not ok:
        return
    try:
        tls.context()
    except OSError as err:  # the context names the file (watertel.tls)
        c.add("uplink.tls", f"{err.filename}: {err.strerror} (check that cert_file and key_file are one pair, PEM)")


def _certificates(c: _Checker, key: str, path: Path, now: dt.datetime, what: str) -> bool:
    data = c.readable(key, path, f"copy {what} there, PEM")
    if data is None:
        return False
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        c.add(key, f"{path} holds no PEM certificate (copy {what} there, `-----BEGIN CERTIFICATE-----`)")
        return False
    for cert in certs:
        subject = cert.subject.rfc4514_string() or "(no subject)"
        if cert.not_valid_after_utc < now:
            c.add(key, f"{path}: certificate {subject} expired on {cert.not_valid_after_utc:%Y-%m-%d} "
                       f"(get a current copy of {what})")
        elif cert.not_valid_before_utc > now:
            c.add(key, f"{path}: certificate {subject} is valid only from {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC "
                       "(check the gateway's clock, or wait)")
    return True


def _writable_folder(c: _Checker, key: str, path: Path) -> None:
    """The folder exists (or can be made) and this user may write in it."""
    folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
    if folder is None or not folder.is_dir():
        c.add(key, f"{path.parent} is not a folder (point {key} into a folder the agent may write)")
    elif not os.access(folder, os.W_OK | os.X_OK):
        c.add(key, f"{folder} is not writable by this user, uid {os.getuid()} "
                   "(the systemd unit's StateDirectory makes /var/lib/watertel; elsewhere give the agent's user the folder)")


def _buffer_file(c: _Checker, path: Path) -> None:
    """An existing buffer must be a SQLite database (a file of another kind would stop the start)."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except FileNotFoundError:
        return  # made at the first start
    except OSError as err:
        c.add("buffer.path", f"{path} cannot be read ({err.strerror}) (the agent's user must own it)")
        return
    if head and head != b"SQLite format 3\x00":
        c.add("buffer.path", f"{path} is not a SQLite database (point buffer.path at a new file; keep this one "
                             "if it is an older buffer with unsent readings)")


def _serial_ports(c: _Checker, cfg: EdgeConfig) -> None:
    for b, bus in enumerate(cfg.buses):
        port = bus.transport
        if not isinstance(port, RtuBus):
            continue
        key = f"buses.{b}.transport.port"
        if not os.path.exists(port.port):
            c.add(key, f"{port.port} does not exist (plug the RS-485 adapter in, or name its device: "
                       "ls /dev/ttyUSB* /dev/ttyAMA* /dev/serial/by-id/)", blocks_run=False)
        elif not stat.S_ISCHR(os.stat(port.port).st_mode):
            c.add(key, f"{port.port} is not a serial device (name the adapter's /dev/tty… file)", blocks_run=False)
        elif not os.access(port.port, os.R_OK | os.W_OK):
            c.add(key, f"{port.port} is not readable and writable by this user "
                       "(add the agent's user to the dialout group)", blocks_run=False)
