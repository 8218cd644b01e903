"""Notifications against real receivers: a local HTTP server for the webhook (HMAC checked, down
at first, then failing, then up), a real SMTP server (aiosmtpd, plain and STARTTLS); the outbox
keeps every notification across a restart of the notifier, and failures are counted.

This file holds the tests that need a real server or run a command; the others are in
tests/unit/cloud/notify/test_notifications.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from watertel.cloud import metrics
from watertel.cloud.notify.config import NotificationsConfig
from watertel.cloud.notify.outbox import Notifier, run_alarm_handling
from watertel.cloud.store.sqlite import SqliteStore
from watertel.ports import free_port

from tests.support.notify import Receiver

T0 = 1_793_404_800_000
SECRET = b"s3cret-hook-key"
ANCESTRY = {"ST-XH": ["zj-hz-xh", "zj-hz", "zj"], "ST-NB": ["zj-nb-hs", "zj-nb", "zj"]}.get


class Clock:
    def __init__(self, t_ms: int) -> None:
        self.t_ms = t_ms

    def __call__(self) -> float:
        return self.t_ms / 1000


@pytest.fixture
def receiver():
    r = Receiver(free_port())
    yield r
    r.stop()


class Sink:
    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - the aiosmtpd API
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


def notifications(port: int, smtp_port: int | None = None, **smtp) -> NotificationsConfig:
    return NotificationsConfig.model_validate({
        "retry": {"first_s": 30, "max_s": 120},
        "webhooks": [{"id": "dispatch", "url": f"http://127.0.0.1:{port}/hook", "secret_file": smtp.pop("secret")}],
        **({"smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "watertel@example.test", **smtp}}
           if smtp_port else {}),
        "contacts": [{"id": "duty-hz", "webhook": "dispatch", **({"email": "duty@example.test"} if smtp_port else {})},
                     {"id": "boss", "email": "boss@example.test"} if smtp_port else {"id": "boss", "webhook": "dispatch"}],
        "routes": [{"regions": ["zj-hz"], "severities": ["red", "orange"], "level": 0, "contacts": ["duty-hz"]},
                   {"severities": ["red"], "level": 1, "contacts": ["boss"]}],
    })


def failed_count() -> float:
    return metrics.REGISTRY.get_sample_value("watertel_notifications_total",
                                             {"channel": "webhook", "outcome": "failed"}) or 0.0


def test_webhook_retried_after_the_receiver_was_down_signed_and_nothing_lost_over_a_restart(tmp_path, receiver):
    secret = tmp_path / "hook.secret"
    secret.write_bytes(SECRET + b"\n")
    cfg, clock = notifications(receiver.port, secret=secret), Clock(T0)
    store = SqliteStore(tmp_path / "w.db")
    notifier = Notifier(store, cfg, ANCESTRY, clock=clock)
    store.raise_alarm("ST-XH", "turbidity", "water_quality", "red", "turbidity 1.5 NTU above 1.0", T0)
    store.raise_alarm("ST-NB", "*", "data_stopped", "red", "stopped", T0)  # not in zj-hz: level 0 routes nothing
    store.raise_alarm("ST-XH", "flow", "spike", "yellow", "spike", T0)  # not red/orange
    assert notifier.route() == 1 and notifier.route() == 0, "each event routed once"
    before = failed_count()
    assert notifier.deliver() == (0, 1), "the receiver is down"
    assert failed_count() == before + 1
    was = metrics._OPEN_ALARMS.store
    metrics.watch_store(store)  # the outbox as Prometheus sees it
    try:
        assert metrics.REGISTRY.get_sample_value("watertel_notifications_waiting", {"state": "failing"}) == 1
    finally:  # leave the process-wide registry as it was
        if was is None:
            metrics.REGISTRY.unregister(metrics._OPEN_ALARMS)
        metrics._OPEN_ALARMS.store = was
    (row,) = store.outbox(pending=True)
    assert row["attempts"] == 1 and "refused" in row["last_error"].lower() and row["next_ms"] == T0 + 30_000
    store.close()  # the cloud stops (or crashes) with the notification undelivered

    store = SqliteStore(tmp_path / "w.db")
    notifier = Notifier(store, cfg, ANCESTRY, clock=clock)
    receiver.start()
    receiver.fail = 1
    assert notifier.deliver() == (0, 0), "not due before its back-off"
    clock.t_ms = T0 + 30_000
    assert notifier.deliver() == (0, 1), "the receiver answers 500"
    assert store.outbox(pending=True)[0]["next_ms"] == T0 + 90_000 and "HTTP 500" in store.outbox(pending=True)[0]["last_error"]
    clock.t_ms = T0 + 90_000
    assert notifier.deliver() == (1, 0)
    assert store.outbox(pending=True) == [] and notifier.deliver() == (0, 0)
    ((headers, body),) = receiver.got
    assert headers["X-Watertel-Signature"] == "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    assert headers["X-Watertel-Delivery"] == str(row["id"])
    payload = json.loads(body)
    assert (payload["event"], payload["level"], payload["alarm"]["station"]) == ("raised", 0, "ST-XH")
    assert "红色告警" in payload["text"] and "turbidity 1.5 NTU" in payload["text"]

    store.raise_alarm("ST-XH", "ph", "water_quality", "orange", "ph 9", T0 + 100_000)  # history not yet routed
    store.close()
    store = SqliteStore(tmp_path / "w.db")  # restart: the history is the queue
    notifier = Notifier(store, cfg, ANCESTRY, clock=Clock(T0 + 100_000))
    assert notifier.route() == 1 and notifier.deliver() == (1, 0)
    assert [json.loads(b)["alarm"]["point"] for _, b in receiver.got] == ["turbidity", "ph"]
    store.close()


def test_escalation_goes_to_the_next_contact_level_by_email(tmp_path, receiver):
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        secret = tmp_path / "hook.secret"
        secret.write_bytes(SECRET)
        cfg, clock = notifications(receiver.port, port, secret=secret), Clock(T0)
        store = SqliteStore(tmp_path / "w.db")
        notifier = Notifier(store, cfg, ANCESTRY, clock=clock)
        store.raise_alarm("ST-NB", "*", "data_stopped", "red", "no data since 08:00", T0)
        assert notifier.route() == 0, "level 0 routes only zj-hz"
        store.escalate({"red": 30 * 60_000}, 2, T0 + 30 * 60_000)
        assert notifier.route() == 1 and notifier.deliver() == (1, 0)
        ((to, message),) = sink.messages
        assert to == ["boss@example.test"] and message["From"] == "watertel@example.test"
        assert "escalated" in message["Subject"] and "data_stopped ST-NB" in message["Subject"]
        assert "not acknowledged within 30 min: contact level 1" in message.get_content()
        store.close()
    finally:
        controller.stop()


def self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    (tmp_path / "smtp.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "smtp.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    return tmp_path / "smtp.crt", tmp_path / "smtp.key"


def test_email_over_starttls_to_a_server_that_requires_it(tmp_path):
    import ssl

    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True)
    controller.start()
    try:
        store = SqliteStore(tmp_path / "w.db")
        store.raise_alarm("ST-XH", "*", "refused_envelope", "red", "forged", T0)
        def cfg(**smtp) -> NotificationsConfig:
            return NotificationsConfig.model_validate({
                "smtp": {"host": "127.0.0.1", "port": port, "sender": "watertel@example.test", **smtp},
                "contacts": [{"id": "boss", "email": "boss@example.test"}], "routes": [{"contacts": ["boss"]}]})

        plain = Notifier(store, cfg(), ANCESTRY, clock=Clock(T0))
        assert plain.route() == 1 and plain.deliver() == (0, 1), "no STARTTLS: the server refuses"
        assert "SMTP" in store.outbox(pending=True)[0]["last_error"]
        tls = Notifier(store, cfg(starttls=True, ca_file=str(cert)), ANCESTRY, clock=Clock(T0 + 60_000))
        assert tls.deliver() == (1, 0) and sink.messages[0][0] == ["boss@example.test"]
        store.close()
    finally:
        controller.stop()


def test_the_service_loop_routes_and_delivers(tmp_path, receiver):
    from watertel.cloud.alarms.lifecycle import LifecycleConfig

    receiver.start()
    secret = tmp_path / "s"
    secret.write_bytes(SECRET)
    cfg = notifications(receiver.port, secret=secret).model_copy(update={"every_s": 0.05})
    store = SqliteStore(tmp_path / "w.db")
    store.raise_alarm("ST-XH", "turbidity", "water_quality", "red", "t", T0)

    async def run() -> None:
        task = asyncio.create_task(run_alarm_handling(lambda: SqliteStore(tmp_path / "w.db"),
                                                      LifecycleConfig(check_every_s=0.05), cfg, ANCESTRY, None))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if len(receiver.got) == 2:
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    # raised a month ago (by the real clock) and never acknowledged: escalated on the first tick too
    assert sorted(json.loads(b)["event"] for _, b in receiver.got) == ["escalated", "raised"]
    assert store.outbox(pending=True) == []
    store.close()
