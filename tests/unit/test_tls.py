"""The TLS context names the file it could not load (ssl's own errors say only "No such file")."""

from __future__ import annotations

import pytest

from watertel.tls import TlsConfig


def test_a_missing_ca_file_is_named(tmp_path):
    with pytest.raises(OSError) as raised:
        TlsConfig(ca_file=tmp_path / "tls" / "ca.pem").context()
    assert raised.value.filename == str(tmp_path / "tls" / "ca.pem")
    assert raised.value.strerror.startswith("cannot load the CA certificate: No such file")


def test_a_ca_file_that_is_not_pem_is_named(tmp_path):
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    with pytest.raises(OSError) as raised:
        TlsConfig(ca_file=tmp_path / "ca.pem").context()
    assert raised.value.filename == str(tmp_path / "ca.pem")
    assert raised.value.strerror.startswith("cannot load the CA certificate: ")
