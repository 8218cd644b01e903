"""TLS settings shared by every MQTT client (edge uplink, cloud ingest): one shape, one context.

Certificates are verified against ``ca_file`` (a private CA is the usual case for a utility's
broker); a client certificate is optional and adds a second factor to the per-gateway password.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from pydantic import model_validator

from watertel.config import Strict, resolve


class TlsConfig(Strict):
    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None

    @model_validator(mode="after")
    def _pair(self) -> TlsConfig:
        if self.key_file and not self.cert_file:
            raise ValueError("key_file needs cert_file (the client certificate it belongs to)")
        return self

    def resolved(self, base: Path) -> TlsConfig:
        """The same settings with paths relative to ``base`` (the config file's folder)."""
        return self.model_copy(update={k: resolve(base, getattr(self, k)) for k in ("ca_file", "cert_file", "key_file")})

    def context(self) -> ssl.SSLContext:
        """A client context: TLS 1.2 or newer, server certificate and host name checked.

        Raises:
            OSError: naming the file (``filename``) that is missing or not PEM; ssl's own
                errors do not say which one.
        """
        try:
            ctx = ssl.create_default_context(cafile=self.ca_file)
        except OSError as err:
            raise _named(err, self.ca_file, "the CA certificate") from err
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.cert_file:
            try:
                ctx.load_cert_chain(self.cert_file, self.key_file)
            except OSError as err:
                raise _named(err, self.cert_file, "the client certificate and its key") from err
        return ctx


def _named(err: OSError, path: Path, what: str) -> OSError:
    """The same failure with the file named (an ssl.SSLError or FileNotFoundError from ssl has none)."""
    reason = err.strerror or getattr(err, "reason", None) or str(err)
    return OSError(err.errno or 0, f"cannot load {what}: {reason}", str(path))
