"""The field side of work orders over real HTTP (uvicorn, urllib): photos (JPEG/PNG judged by their
bytes, the size and per-order limits, read only by who may see the order, audited), idempotency
keys (a repeat gets the first answer and nothing happens twice; a key reused for something else is
refused), who may be given an alarm or an order (the dispatch list; unknown, wrong-role and
out-of-region assignees each refused with their own code), the board's filters and bulk steps,
and region scoping for an operator who holds one city only."""

from __future__ import annotations

import json
import struct
import time
import urllib.error
import urllib.request
import zlib

import pytest

from watertel.cloud import audit
from watertel.cloud.alarms.lifecycle import LifecycleConfig
from watertel.cloud.api.app import create_app
from watertel.cloud.api.auth import hash_password
from watertel.cloud.config import ApiConfig
from watertel.cloud.store.sqlite import SqliteStore
from watertel.cloud.users import UserEntry

from tests.support.api import PASSWORD, Client, registry, serve

HOUR = 3_600_000


def png(width: int = 2, height: int = 2, seed: int = 0) -> bytes:
    """A real (tiny) PNG; ``seed`` changes its pixels, so two calls can differ in content."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes((seed + x + y) % 256 for x in range(width * 3)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def jpeg_head(size: int) -> bytes:
    """``size`` bytes that start as a JPEG does (SOI, then an APP0 marker)."""
    return (b"\xff\xd8\xff\xe0" + b"\x00" * size)[:size]


def upload(client: Client, order_id: int, data: bytes, *, key: str | None = None,
           content_type: str = "image/png") -> tuple[int, dict, dict]:
    headers = {"Content-Type": content_type, **({"Idempotency-Key": key} if key else {})}
    status, body, got = client.call_raw("POST", f"/api/workorders/{order_id}/photos", data, headers)
    return status, body, got


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(tmp_path / "w.db")
    yield store
    store.close()


@pytest.fixture
def api(store):
    digest = hash_password(PASSWORD)
    users = [UserEntry(username=name, password_hash=digest, role=role, regions=regions) for name, role, regions in (
        ("admin", "admin", []), ("operator", "operator", []), ("viewer", "viewer", []), ("crew", "crew", ["zj-hz"]),
        ("crew2", "crew", ["zj-hz"]), ("nb-crew", "crew", ["zj-nb"]), ("nb-operator", "operator", ["zj-nb"]),
        ("nb-viewer", "viewer", ["zj-nb"]))]
    lifecycle = LifecycleConfig.model_validate({"work_orders": {"photos": {"max_kb": 16, "per_order": 3}}})
    base, server, thread = serve(create_app(store, ApiConfig(users=users), registry=registry(), lifecycle=lifecycle))
    yield base
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def people(api):
    """Bearer clients by name, each able to send raw bodies."""
    made: dict[str, Client] = {}

    def who(name: str) -> Client:
        if name not in made:
            client = Client(api)
            status, body = client.login(name, session="bearer")
            assert status == 200, body
            token = body["access_token"]
            plain = client.call
            client.call = lambda method, path, body=None, headers=None: plain(
                method, path, body, {"Authorization": f"Bearer {token}", **(headers or {})})

            def call_raw(method, path, data, headers, token=token):
                request = urllib.request.Request(api + path, data=data, method=method,
                                                 headers={"Authorization": f"Bearer {token}", **headers})
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        status, raw, got = response.status, response.read(), response.headers
                except urllib.error.HTTPError as error:
                    status, raw, got = error.code, error.read(), error.headers
                try:
                    return status, json.loads(raw), got
                except ValueError:
                    return status, raw, got

            client.call_raw = call_raw
            made[name] = client
        return made[name]
    return who


def an_order(store, people, station: str = "ST-XH", accept: bool = True) -> int:
    """An alarm at ``station`` with a work order for the right crew, accepted unless told not to."""
    now = int(time.time() * 1000)
    store.raise_alarm(station, "*", "data_stopped", "orange", "no data", now)
    alarm_id = store.alarm_rows(stations=[station])[0]["id"]
    crew = "crew" if station != "ST-NB" else "nb-crew"
    status, order, _ = people("admin").call("POST", "/api/workorders", {"alarm_id": alarm_id, "assignee": crew})
    assert status == 201, order
    if accept:
        assert people(crew).call("POST", f"/api/workorders/{order['id']}/accept")[0] == 200
    return order["id"]


def refused(answer, status: int, code: str) -> dict:
    got, body, _ = answer
    assert (got, body.get("code") if isinstance(body, dict) else body) == (status, code), body
    return body


# --- photos ---------------------------------------------------------------------------------------------
def test_photos_are_judged_by_their_bytes_and_limited_in_size_and_number(store, people):
    order_id = an_order(store, people)
    crew = people("crew")
    status, photo, _ = upload(crew, order_id, png(seed=1), content_type="application/octet-stream")
    assert status == 201 and (photo["media_type"], photo["size"], photo["order_id"]) == ("image/png", len(png(seed=1)), order_id)
    assert photo["url"] == f"/api/workorders/{order_id}/photos/{photo['id']}"
    assert upload(crew, order_id, jpeg_head(2048), content_type="image/png")[1]["media_type"] == "image/jpeg"
    body = refused(upload(crew, order_id, b"GIF89a" + b"\x00" * 64, content_type="image/jpeg"), 415, "photo.type")
    assert "JPEG or PNG" in body["detail"]
    refused(upload(crew, order_id, b"<html>not a picture</html>"), 415, "photo.type")
    refused(upload(crew, order_id, b""), 415, "photo.type")
    body = refused(upload(crew, order_id, jpeg_head(16 * 1024 + 1), content_type="image/jpeg"), 413, "photo.size")
    assert body["params"] == {"max_kb": 16}
    assert upload(crew, order_id, jpeg_head(16 * 1024), content_type="image/jpeg")[0] == 201, "the limit itself is allowed"
    body = refused(upload(crew, order_id, png(seed=2)), 409, "photo.limit")
    assert body["params"] == {"limit": 3}
    listed = crew.call("GET", f"/api/workorders/{order_id}/photos")[1]
    assert [p["media_type"] for p in listed] == ["image/png", "image/jpeg", "image/jpeg"]
    assert crew.call("GET", f"/api/workorders/{order_id}")[1]["photos"] == 3


def test_the_same_photo_twice_is_kept_once(store, people):
    order_id = an_order(store, people)
    crew = people("crew")
    first = upload(crew, order_id, png(seed=7))[1]
    again = upload(crew, order_id, png(seed=7))[1]
    assert again["id"] == first["id"] and again["sm3"] == first["sm3"]
    assert len(crew.call("GET", f"/api/workorders/{order_id}/photos")[1]) == 1


def test_only_the_assigned_crew_user_adds_photos_and_only_while_the_order_is_theirs(store, people):
    order_id = an_order(store, people, accept=False)
    refused(upload(people("crew"), order_id, png()), 409, "work_order.state")  # not accepted yet
    people("crew").call("POST", f"/api/workorders/{order_id}/accept")
    refused(upload(people("crew2"), order_id, png()), 404, "work_order.unknown")  # same region, not theirs
    refused(upload(people("nb-crew"), order_id, png()), 404, "work_order.unknown")
    refused(upload(people("operator"), order_id, png()), 403, "auth.role")
    refused(upload(people("viewer"), order_id, png()), 403, "auth.role")


def test_a_photo_is_served_only_to_users_who_may_see_its_order(store, people):
    order_id = an_order(store, people)
    data = png(seed=3)
    photo = upload(people("crew"), order_id, data)[1]
    for name in ("crew", "operator", "admin", "viewer"):
        status, body, headers = people(name).call_raw("GET", photo["url"], None, {})
        assert (status, body, headers["Content-Type"], headers["X-Content-Type-Options"]) == (
            200, data, "image/png", "nosniff"), name
        assert people(name).call("GET", f"/api/workorders/{order_id}/photos")[0] == 200, name
    for name in ("crew2", "nb-crew", "nb-operator", "nb-viewer"):  # not theirs, or outside their regions
        status, body, _ = people(name).call_raw("GET", photo["url"], None, {})
        assert status == 404 and body["code"] == "work_order.unknown", name
        assert people(name).call("GET", f"/api/workorders/{order_id}/photos")[0] == 404, name
    assert Client(people("crew").base).call("GET", photo["url"])[0] == 401, "not logged in"
    status, body, _ = people("crew").call_raw("GET", f"/api/workorders/{order_id}/photos/999999", None, {})
    assert (status, body["code"]) == (404, "photo.unknown")


def test_a_photo_upload_is_audited_with_its_size_and_hash(store, people):
    order_id = an_order(store, people)
    photo = upload(people("crew"), order_id, png(seed=4))[1]
    entries = [e for e in audit.recent(store, 50) if e.path == f"/api/workorders/{order_id}/photos"]
    assert [(e.actor, e.method, e.status) for e in entries] == [("crew", "POST", 201)]
    assert f"{photo['size']} bytes" in entries[0].summary and photo["sm3"] in entries[0].summary
    assert audit.verify(store).ok


# --- idempotency -----------------------------------------------------------------------------------------
def test_a_report_sent_twice_with_its_key_is_done_once_and_answered_alike(store, people):
    order_id = an_order(store, people)
    crew = people("crew")
    key = {"Idempotency-Key": "phone-1-report-0001"}
    first = crew.call("POST", f"/api/workorders/{order_id}/report", {"notes": "换了电池"}, key)
    again = crew.call("POST", f"/api/workorders/{order_id}/report", {"notes": "换了电池"}, key)
    assert first[0] == again[0] == 200 and first[1] == again[1]
    assert first[2].get("Idempotent-Replayed") is None and again[2]["Idempotent-Replayed"] == "true"
    alarm_id = first[1]["alarm_id"]
    steps = [h["action"] for h in people("operator").call("GET", f"/api/alarms/{alarm_id}/history")[1]]
    assert steps.count("work_order.reported") == 1
    # without a key, a second report is refused: the order is reported already
    refused(crew.call("POST", f"/api/workorders/{order_id}/report", {"notes": "换了电池"}), 409, "work_order.state")
    # the same key for a different body is a client's mistake, said as such
    refused(crew.call("POST", f"/api/workorders/{order_id}/report", {"notes": "别的"}, key), 422, "idempotency.reuse")


def test_accept_and_photo_repeats_with_their_keys_answer_as_the_first(store, people):
    order_id = an_order(store, people, accept=False)
    crew = people("crew")
    key = {"Idempotency-Key": "phone-1-accept-0001"}
    first = crew.call("POST", f"/api/workorders/{order_id}/accept", None, key)
    again = crew.call("POST", f"/api/workorders/{order_id}/accept", None, key)
    assert first[0] == again[0] == 200 and first[1] == again[1] and again[2]["Idempotent-Replayed"] == "true"
    photo = upload(crew, order_id, png(seed=5), key="phone-1-photo-0001")
    repeat = upload(crew, order_id, png(seed=5), key="phone-1-photo-0001")
    assert photo[0] == repeat[0] == 201 and photo[1] == repeat[1] and repeat[2]["Idempotent-Replayed"] == "true"
    refused(upload(crew, order_id, png(seed=6), key="phone-1-photo-0001"), 422, "idempotency.reuse")
    # keys are the user's own: another user's step with the same key is theirs, not a repeat
    other = an_order(store, people, station="ST-NB", accept=False)
    assert people("nb-crew").call("POST", f"/api/workorders/{other}/accept", None, key)[2].get("Idempotent-Replayed") is None
    bad = crew.call("POST", f"/api/workorders/{order_id}/report", {"notes": "x"}, {"Idempotency-Key": "no spaces allowed"})
    assert bad[0] == 422 and bad[1]["code"] == "request.invalid"


# --- who may be given an alarm or an order -----------------------------------------------------------------
def test_dispatch_offers_only_crews_whose_regions_hold_the_station_and_the_rule_s_deadline(store, people):
    now = int(time.time() * 1000)
    store.raise_alarm("ST-XH", "*", "data_stopped", "orange", "no data", now)
    alarm_id = store.alarm_rows(stations=["ST-XH"])[0]["id"]
    status, dispatch, _ = people("operator").call("GET", f"/api/alarms/{alarm_id}/dispatch")
    assert status == 200 and [c["username"] for c in dispatch["crews"]] == ["crew", "crew2"]
    assert {o["username"] for o in dispatch["operators"]} == {"admin", "operator"}  # nb-operator does not cover it
    assert dispatch["due_hours"] == 72 and abs(dispatch["due_ms"] - (now + 72 * HOUR)) < 60_000
    refused(people("viewer").call("GET", f"/api/alarms/{alarm_id}/dispatch"), 403, "auth.role")
    refused(people("nb-operator").call("GET", f"/api/alarms/{alarm_id}/dispatch"), 404, "alarm.unknown")
    operator = people("operator")
    body = refused(operator.call("POST", "/api/workorders", {"alarm_id": alarm_id, "assignee": "nobody"}), 422,
                   "assignee.unknown")
    assert body["params"] == {"name": "nobody", "roles": ["crew"]}
    body = refused(operator.call("POST", "/api/workorders", {"alarm_id": alarm_id, "assignee": "viewer"}), 422, "assignee.role")
    assert body["params"] == {"name": "viewer", "role": "viewer", "roles": ["crew"]}
    body = refused(operator.call("POST", "/api/workorders", {"alarm_id": alarm_id, "assignee": "nb-crew"}), 422,
                   "assignee.region")
    assert body["params"] == {"name": "nb-crew", "station": "ST-XH"}
    refused(operator.call("POST", "/api/workorders", {"alarm_id": alarm_id, "assignee": "crew",
                                                      "due_ms": now - HOUR}), 422, "work_order.due")
    status, order, _ = operator.call("POST", "/api/workorders", {"alarm_id": alarm_id, "assignee": "crew2"})
    assert status == 201 and order["due_ms"] - order["created_ms"] == 72 * HOUR
    busy = operator.call("GET", f"/api/alarms/{alarm_id}/dispatch")[1]["crews"]
    assert [(c["username"], c["open_orders"]) for c in busy] == [("crew", 0), ("crew2", 1)], "least busy first"


def test_an_operator_of_one_city_sees_and_handles_only_its_alarms_and_orders(store, people):
    hz_order, nb_order = an_order(store, people, "ST-XH"), an_order(store, people, "ST-NB")
    nb = people("nb-operator")
    assert [o["id"] for o in nb.call("GET", "/api/workorders")[1]] == [nb_order]
    refused(nb.call("GET", f"/api/workorders/{hz_order}"), 404, "work_order.unknown")
    refused(nb.call("POST", f"/api/workorders/{hz_order}/assign", {"assignee": "nb-crew"}), 404, "work_order.unknown")
    assert {a["station"] for a in nb.call("GET", "/api/alarms")[1]} == {"ST-NB"}
    view = nb.call("GET", f"/api/workorders/{nb_order}")[1]
    assert (view["station_name"], view["region_path"], view["alarm_type"], view["severity"]) == (
        "海曙一号", "浙江 / 宁波 / 海曙", "data_stopped", "orange")


# --- the board's filters and bulk steps ----------------------------------------------------------------------
def test_the_board_filters_by_rule_time_and_state_and_acknowledges_in_bulk(store, people):
    now = int(time.time() * 1000)
    store.raise_alarm("ST-XH", "*", "data_stopped", "orange", "no data", now - 3 * HOUR)
    store.raise_alarm("ST-BJ", "flow", "spike", "yellow", "spike", now - HOUR)
    store.raise_alarm("ST-NB", "total", "spike", "red", "spike", now)
    store.clear_alarm("ST-BJ", "flow", "spike", now)
    ids = {a["station"]: a["id"] for a in store.alarm_rows()}
    operator = people("operator")
    board = "/api/alarms?state=raised&state=acknowledged&state=cleared"
    assert {a["station"] for a in operator.call("GET", board)[1]} == {"ST-XH", "ST-BJ", "ST-NB"}, "cleared stays"
    assert {a["station"] for a in operator.call("GET", "/api/alarms")[1]} == {"ST-XH", "ST-NB"}
    assert {a["station"] for a in operator.call("GET", f"{board}&type=spike")[1]} == {"ST-BJ", "ST-NB"}
    assert {a["station"] for a in operator.call("GET", f"{board}&raised_from={now - 2 * HOUR}")[1]} == {"ST-BJ", "ST-NB"}
    assert {a["station"] for a in operator.call("GET", f"{board}&raised_to={now - 2 * HOUR}")[1]} == {"ST-XH"}
    assert {a["station"] for a in operator.call("GET", f"{board}&region=zj-hz")[1]} == {"ST-XH", "ST-BJ"}
    # bulk: the out-of-region one is refused as unknown, the cleared one as not in a state for it
    status, outcome, _ = people("nb-operator").call("POST", "/api/alarms/ack", {"ids": [ids["ST-NB"], ids["ST-XH"]]})
    assert status == 200 and [a["id"] for a in outcome["done"]] == [ids["ST-NB"]]
    assert [(r["id"], r["status"], r["code"]) for r in outcome["refused"]] == [(ids["ST-XH"], 404, "alarm.unknown")]
    status, outcome, _ = operator.call("POST", "/api/alarms/ack", {"ids": [ids["ST-XH"], ids["ST-BJ"], ids["ST-NB"]]})
    assert [a["id"] for a in outcome["done"]] == [ids["ST-XH"]]
    assert sorted((r["id"], r["code"]) for r in outcome["refused"]) == sorted(
        [(ids["ST-BJ"], "alarm.state"), (ids["ST-NB"], "alarm.state")])
    refused(people("viewer").call("POST", "/api/alarms/ack", {"ids": [ids["ST-XH"]]}), 403, "auth.role")
    refused(operator.call("POST", "/api/alarms/close", {"ids": [ids["ST-BJ"]]}), 403, "auth.role")
    status, outcome, _ = people("admin").call("POST", "/api/alarms/close", {"ids": [ids["ST-BJ"]]})
    assert [a["state"] for a in outcome["done"]] == ["closed"]
    assert ids["ST-BJ"] not in {a["id"] for a in operator.call("GET", board)[1]}, "closed: off the board"
