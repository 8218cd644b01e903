"""The Content-Security-Policy's image sources (cloud/api/hygiene.py) and the forwarded_allow_ips check."""

from __future__ import annotations

import pytest

from watertel.cloud.api.hygiene import content_security_policy, tile_sources
from watertel.cloud.config import ApiConfig
from watertel.cloud.console_map import MapConfig


def test_tile_servers_are_allowed_as_image_sources_and_nothing_else():
    cfg = MapConfig(tiles="https://t{s}.tianditu.gov.cn/vec_w/wmts?x={x}&y={y}&l={z}", subdomains="01234567",
                    overlay="http://10.1.2.3:8081/labels/{z}/{x}/{y}.png")
    assert tile_sources(cfg) == ["http://10.1.2.3:8081", "https://*.tianditu.gov.cn"]
    assert tile_sources(MapConfig(tiles="/tiles/{z}/{x}/{y}.png")) == []  # this origin: 'self'
    csp = content_security_policy(cfg)
    assert "img-src 'self' data: blob: http://10.1.2.3:8081 https://*.tianditu.gov.cn;" in csp
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp


def test_forwarded_allow_ips_takes_addresses_and_networks_only():
    assert ApiConfig(forwarded_allow_ips=["127.0.0.1", "10.0.0.0/24", "::1"]).forwarded_allow_ips[1] == "10.0.0.0/24"
    assert ApiConfig().forwarded_allow_ips == []
    with pytest.raises(ValueError, match=r"forwarded_allow_ips: '\*' is not an IP address or network"):
        ApiConfig(forwarded_allow_ips=["*"])
