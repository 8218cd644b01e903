"""The demo's duty desk: where notifications land, and the operator's first step of the shift.

* ``Inbox``: the webhook every contact of the demo's notifications file names, a small HTTP
  server in the demo process that appends each delivery to ``logs/notifications.jsonl``, so
  routes, escalation and the delivery log work without a real WeCom or SMS gateway.
* ``hand_over``: the duty operator, logged in through the console's API like anyone else (so
  the audit log shows it), acknowledges the open data-stopped alarm in Hangzhou and dispatches
  its work order to the crew, who then have an order on the phone when they log in.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from watertel.ports import free_port


class Inbox:
    """A webhook receiver on 127.0.0.1 writing one JSON line per delivery."""

    def __init__(self, path: Path, port: int = 0) -> None:
        self.path, self.count, lock = path, 0, threading.Lock()
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server hook's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock, open(inbox.path, "a", encoding="utf-8") as out:
                    out.write(json.dumps({"delivery": self.headers.get("X-Watertel-Delivery"),
                                          **json.loads(body or b"{}")}, ensure_ascii=False) + "\n")
                    inbox.count += 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:  # deliveries go to the file, not to the terminal
                pass

        path.parent.mkdir(parents=True, exist_ok=True)
        self.server = ThreadingHTTPServer(("127.0.0.1", port or free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/duty-desk"
        self.thread = threading.Thread(target=self.server.serve_forever, name="demo-inbox", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def _call(base: str, method: str, path: str, body: dict | None = None, token: str | None = None):
    request = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=20) as answer:
        return json.loads(answer.read() or b"null")


def hand_over(base: str, operator: tuple[str, str], station: str, crew: str) -> str | None:
    """The operator acknowledges ``station``'s open data-stopped alarm and assigns its work order
    to ``crew``; returns what was done, or None when there was nothing to hand over."""
    token = _call(base, "POST", "/api/login", {"username": operator[0], "password": operator[1],
                                              "session": "bearer"})["access_token"]
    alarm = next((a for a in _call(base, "GET", f"/api/alarms?station={station}", token=token)
                  if a["type"] == "data_stopped"), None)
    if alarm is None:
        return None
    if alarm["state"] == "raised":
        _call(base, "POST", f"/api/alarms/{alarm['id']}/ack", {"note": "值班员已确认，派单处理"}, token)
    order = next((o for o in _call(base, "GET", "/api/workorders", token=token) if o["alarm_id"] == alarm["id"]), None)
    if order is None:
        order = _call(base, "POST", "/api/workorders", {"alarm_id": alarm["id"], "assignee": crew}, token)
    elif order.get("assignee") != crew:
        _call(base, "POST", f"/api/workorders/{order['id']}/assign", {"assignee": crew}, token)
    _call(base, "POST", "/api/logout", {}, token)
    return f"{operator[0]} acknowledged alarm {alarm['id']} ({station} data stopped), work order {order['id']} to {crew}"
