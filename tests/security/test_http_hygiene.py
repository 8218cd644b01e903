"""Issue 21, item 6 (bodies, echo) and the API's "Hygiene" and "Low" findings, replayed against a
running `watertel cloud api`: a 300 MB /api/login body (declared, and chunked), error answers
that echo the input, security headers on every answer, /docs and its CDN, secure cookies."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from watertel.cloud.api.auth import hash_password

from tests.support.api import PASSWORD
from tests.support.api_process import ApiProcess, From, api_process

BIG = 300 * 1024 * 1024  # the review's body
MARK = "<script>alert('ECHO-7f3a')</script>"


@pytest.fixture(scope="module")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture(scope="module")
def api(tmp_path_factory, password_hash):
    with api_process(tmp_path_factory.mktemp("api"), password_hash) as running:
        yield running


@pytest.fixture(scope="module")
def tls_api(tmp_path_factory, password_hash):
    """As deployed behind a TLS proxy (deploy/cloud.example.yaml), with /docs turned on."""
    with api_process(tmp_path_factory.mktemp("tls"), password_hash, secure_cookies=True, docs=True,
                     forwarded_allow_ips=["127.0.0.1"]) as running:
        yield running


def send_huge(api: ApiProcess, chunked: bool) -> tuple[bytes, int, int]:
    """POST 300 MB to /api/login (declared by Content-Length, or chunked) while reading the
    answer; (the answer's bytes, bytes sent before the server stopped reading, peak RSS in kB)."""
    sock = socket.create_connection(("127.0.0.1", api.port), timeout=30)
    framing = b"Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {BIG}\r\n".encode()
    sock.sendall(b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + framing + b"\r\n")
    answer, peak = bytearray(), [api.rss_kb()]

    def read() -> None:
        try:
            while data := sock.recv(65536):
                answer.extend(data)
        except ConnectionResetError:  # after the answer: the body we were still sending was not read
            pass

    reader = threading.Thread(target=read)
    reader.start()
    piece, sent = b'{"username": "' + b"a" * (1024 * 1024 - 14), 0
    try:
        while sent < BIG:
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
            sent += len(piece)
            peak[0] = max(peak[0], api.rss_kb())
    except OSError:  # the server closed the connection: what we wanted
        pass
    reader.join(30)
    peak[0] = max(peak[0], api.rss_kb())
    sock.close()
    return bytes(answer), sent, peak[0]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_300_mb_login_body_is_refused_early_and_memory_stays_flat(api, chunked):
    """Before: one 300 MB /api/login body took the API to 1.44 GB."""
    for _ in range(2):
        From(api, "127.0.0.1").call("GET", "/healthz")
    before = api.rss_kb()
    started = time.monotonic()
    answer, sent, peak = send_huge(api, chunked)
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n")[0].decode()
    print(f"300 MB login body ({'chunked' if chunked else 'content-length'}): {status_line},"
          f" {sent / 2**20:.0f} MiB sent before the close, RSS {before / 1024:.0f} -> {peak / 1024:.0f} MB,"
          f" {time.monotonic() - started:.2f} s")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert json.loads(body)["code"] == "body.too_large" and json.loads(body)["params"] == {"max_kb": 64}
    assert b"aaaa" not in body
    assert sent < BIG, "the server stopped reading"
    assert (peak - before) / 1024 < 30
    assert From(api, "127.0.0.1").call("GET", "/healthz")[0] == 200


def test_a_body_just_over_64_kb_is_refused_and_one_under_it_read(api):
    client = From(api, "127.0.0.30")
    status, body, _ = client.call("POST", "/api/login", {"username": "viewer", "password": "x" * (66 * 1024)})
    assert (status, body["code"]) == (413, "body.too_large")
    status, body, _ = client.call("POST", "/api/login", {"username": "viewer", "password": "x" * 2000})
    assert status == 422  # read, and refused by its schema (a password is at most 1024 characters)


def test_error_answers_never_echo_the_input(api):
    """Before: the 422 reply echoed the input."""
    client = From(api, "127.0.0.31")
    answers = [client.call("POST", "/api/login", {"username": MARK * 10, "password": "x"}),
               client.call("POST", "/api/login", {"username": "viewer", "password": [MARK]}),
               client.call("POST", "/api/login", MARK)]
    conn_body = f'{{"username": "{MARK}", "password": '  # broken JSON
    admin = From(api, "127.0.0.32")
    assert admin.login("admin") == 200
    answers += [admin.call("POST", "/api/admin/users", {"username": MARK, "password": "a long enough phrase"}),
                admin.call("GET", f"/api/audit?limit={MARK}"),
                admin.call("GET", f"/api/alarms/{MARK}")]
    raw = socket.create_connection(("127.0.0.1", api.port), timeout=10)
    raw.sendall(b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(conn_body)).encode() + b"\r\nConnection: close\r\n\r\n" + conn_body.encode())
    broken = b"".join(iter(lambda: raw.recv(65536), b""))
    raw.close()
    head, _, body = broken.partition(b"\r\n\r\n")
    assert b" 422 " in head.split(b"\r\n")[0] and b"ECHO-7f3a" not in body and b"script" not in body
    for status, body, _ in answers:
        assert 400 <= status < 500, (status, body)
        assert "ECHO-7f3a" not in json.dumps(body) and "script" not in json.dumps(body), body


def security_headers(headers) -> dict[str, str]:
    return {name: headers.get(name, "") for name in ("Content-Security-Policy", "X-Content-Type-Options",
                                                     "X-Frame-Options", "Referrer-Policy", "Strict-Transport-Security")}


PATHS = ["/login", "/", "/static/common.js", "/static/vendor/leaflet-1.9.4.js", "/api/me", "/healthz", "/nowhere",
         "/api/stations/none/series"]


@pytest.mark.parametrize("path", PATHS)
def test_every_answer_carries_the_security_headers(api, path):
    """Before: no CSP, frame-ancestors, nosniff or HSTS."""
    status, _, headers = From(api, "127.0.0.33").call("GET", path)
    got = security_headers(headers)
    csp = got["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp and "default-src 'self'" in csp, (path, csp)
    assert (got["X-Content-Type-Options"], got["X-Frame-Options"], got["Referrer-Policy"]) == ("nosniff", "DENY",
                                                                                                "same-origin")
    assert got["Strict-Transport-Security"] == "", "no HSTS without TLS (secure_cookies off)"


def test_refusals_before_the_app_carry_them_too(api):
    status, _, headers = From(api, "127.0.0.34").call("POST", "/api/login", {"username": "v" * 70_000, "password": "x"})
    assert status == 413 and "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_docs_are_off_by_default_and_the_schema_stays_public(api):
    """Before: /docs public, loading Swagger UI from a CDN."""
    client = From(api, "127.0.0.35")
    assert client.call("GET", "/docs")[0] == 404 and client.call("GET", "/redoc")[0] == 404
    status, schema, _ = client.call("GET", "/openapi.json")
    assert status == 200 and "/api/login" in schema["paths"]


def test_behind_tls_cookies_are_secure_hsts_is_sent_and_docs_come_from_vendored_files(tls_api):
    client = From(tls_api, "127.0.0.36")
    status, _, headers = client.call("POST", "/api/login", {"username": "viewer", "password": PASSWORD})
    assert status == 200
    cookies = headers.get_all("set-cookie")
    assert len(cookies) == 2 and all("Secure" in c for c in cookies)
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    status, page, headers = client.call("GET", "/docs")
    assert status == 200 and "/static/vendor/swagger-ui-5.36.0-bundle.js" in page and "<script>" not in page
    assert "http" not in page.lower().replace("http-equiv", ""), "no CDN: every file from this origin"
    assert client.call("GET", "/static/vendor/swagger-ui-5.36.0-bundle.js")[0] == 200
    assert client.call("GET", "/docs/docs.js")[0] == 200
    assert tls_api.child.log_tail().count("Traceback") == 0


def test_x_forwarded_for_is_believed_from_the_configured_proxy_only(tls_api):
    """forwarded_allow_ips: [127.0.0.1] (the proxy): its header names the client; anyone else's is ignored."""
    proxy, direct = From(tls_api, "127.0.0.1"), From(tls_api, "127.0.0.37")
    assert proxy.login("crew", "wrong", **{"X-Forwarded-For": "192.0.2.10"}) == 401
    assert direct.login("crew", "wrong", **{"X-Forwarded-For": "192.0.2.11"}) == 401
    admin = From(tls_api, "127.0.0.38")
    assert admin.login("admin") == 200
    rows = admin.call("GET", "/api/audit?limit=1000")[1]
    clients = {row["client"] for row in rows if row["path"] == "/api/login" and row["actor"] == "crew"}
    assert clients == {"192.0.2.10", "127.0.0.37"}
