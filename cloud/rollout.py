"""A staged configuration rollout (`watertel cloud rollout --gateways GLOB --file edge.yaml --stage N`).

The file is a template: ``${gateway}`` becomes each gateway's id (its ``gateway_id``, key file
names, …). The first ``stage`` gateways (in name order) get it as signed ``set_config`` commands,
all at once; each answers only once the new file has reached a broker and got a batch
acknowledged (``done``), or after it refused it (``invalid_config``) or rolled it back by itself
(``rolled_back``). Only when every gateway of the first stage succeeded do the others get it; the
rollout stops at the first failure and says which gateways were left as they were.
"""

from __future__ import annotations

import asyncio
import fnmatch
from pathlib import Path
from typing import Any

from watertel.cloud.commands import send_command
from watertel.cloud.config import CloudConfig
from watertel.commands import MAX_CONFIG_BYTES
from watertel.crypto import sm3
from watertel.errors import OperatorError

PLACEHOLDER = "${gateway}"


def render(template: str, gateway_id: str) -> str:
    return template.replace(PLACEHOLDER, gateway_id)


async def _push(cfg: CloudConfig, gateway_id: str, template: str, timeout_s: float) -> dict[str, Any]:
    text = render(template, gateway_id)
    expected = sm3(text.encode()).hex()
    try:
        answer = await send_command(cfg, gateway_id, "set_config", {"yaml": text}, timeout_s)
    except TimeoutError:
        return {"gateway": gateway_id, "ok": False, "status": "no_answer",
                "detail": f"no answer within {timeout_s:g} s (offline, or still on probation)"}
    result = answer.result or {}
    ok = answer.status == "done" and result.get("config_sm3") == expected
    return {"gateway": gateway_id, "ok": ok, "status": answer.status if ok or answer.status != "done" else "wrong_hash",
            "reason": answer.reason, "detail": result.get("detail", ""), "config_sm3": result.get("config_sm3"),
            "expected_sm3": expected}


async def rollout(cfg: CloudConfig, pattern: str, file: Path, stage: int = 1, timeout_s: float = 300.0) -> dict[str, Any]:
    """Push ``file`` to the gateways matching ``pattern``: ``stage`` first, then the rest."""
    template = Path(file).read_text()
    if len(template.encode()) > MAX_CONFIG_BYTES:
        raise OperatorError(f"{file}: {len(template.encode())} bytes, a pushed configuration holds at most {MAX_CONFIG_BYTES}")
    gateways = sorted(g.id for g in cfg.gateways if fnmatch.fnmatchcase(g.id, pattern))
    if not gateways:
        raise OperatorError(f"no registered gateway matches {pattern!r}")
    if stage < 1:
        raise OperatorError("--stage must be at least 1")
    stages = [gateways[:stage], gateways[stage:]] if len(gateways) > stage else [gateways]
    report: dict[str, Any] = {"file": str(file), "gateways": gateways, "stages": stages, "results": [],
                              "stopped": None, "not_attempted": []}
    for n, group in enumerate(stages, 1):
        results = await asyncio.gather(*(_push(cfg, g, template, timeout_s) for g in group))
        report["results"] += list(results)
        failed = [r for r in results if not r["ok"]]
        if failed:
            report["stopped"] = (f"stage {n}: " + "; ".join(f"{r['gateway']} {r['reason'] or r['status']}"
                                                             f"{': ' + r['detail'] if r['detail'] else ''}" for r in failed))
            report["not_attempted"] = [g for later in stages[n:] for g in later]
            break
    report["ok"] = report["stopped"] is None
    return report
