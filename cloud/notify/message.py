"""What a robot or an SMS says about one event: Chinese by default, English on request.

A robot shows a title, labelled lines and a link to the alarm in the console; an SMS is one line
cut to the gateway's length (70 characters for one Chinese SMS), most important words first.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from watertel.cloud.alarms.lifecycle import local_time

SEVERITY = {"zh": {"red": "红色", "orange": "橙色", "yellow": "黄色", "blue": "蓝色"},
            "en": {"red": "Red", "orange": "Orange", "yellow": "Yellow", "blue": "Blue"}}
TYPES_ZH = {  # the alarm types of cloud/alarms, as duty staff call them
    "water_quality": "水质超标", "data_stopped": "数据中断", "consecutive_zeros": "连续零值", "spike": "数据突变",
    "volume_change": "水量突变", "device_fault": "设备故障", "clock_unsynced": "时钟不同步", "totaliser_reset": "累计量清零",
    "gateway_offline": "网关离线", "refused_envelope": "报文被拒", "chain_gap": "报文缺失", "over_permit": "超许可水量",
    "over_permit_projected": "预计超许可", "over_plan": "超计划水量",
}
WORDS = {
    "zh": {"raised": "告警发生", "escalated": "告警升级（第 {level} 级）", "work_order.overdue": "工单超期",
           "event": "事件", "station": "站点", "severity": "级别", "detail": "说明", "time": "发生时间", "id": "告警编号",
           "open": "查看告警", "whole": "全站", "head": "【{sev}告警】", "colon": "："},
    "en": {"raised": "raised", "escalated": "escalated (level {level})",
           "work_order.overdue": "work order overdue", "event": "Event", "station": "Station", "severity": "Severity",
           "detail": "Detail", "time": "Raised", "id": "Alarm", "open": "Open alarm", "whole": "station", "head": "[{sev} alarm] ",
           "colon": ": "},
}


@dataclass(frozen=True)
class Message:
    """One event in words: ``lines`` are (label, value) pairs; ``link`` the console's alarm page."""

    severity: str
    title: str
    lines: tuple[tuple[str, str], ...]
    link: str | None
    link_text: str
    short: str  # the SMS text, before cutting
    colon: str = "："

    def labelled(self) -> list[str]:
        return [f"{label}{self.colon}{value}" for label, value in self.lines]

    def plain(self) -> str:
        body = "\n".join(self.labelled())
        return f"{self.title}\n{body}" + (f"\n{self.link}" if self.link else "")


def compose(history: dict, alarm: dict, tz: ZoneInfo, language: str = "zh", console_url: str | None = None) -> Message:
    """The words for one history row (``raised``, ``escalated``, ``work_order.overdue``) of ``alarm``."""
    w, sev = WORDS[language], alarm.get("severity", "")
    sev_name = SEVERITY[language].get(sev, sev)
    type_name = TYPES_ZH.get(alarm.get("type"), alarm.get("type")) if language == "zh" else alarm.get("type")
    event = w.get(history["action"], history["action"]).format(level=history["level"])
    point = alarm.get("point")
    where = f"{alarm.get('station')} {w['whole'] if point == '*' else point}"
    detail = alarm.get("message", "")
    if history.get("note") and history["note"] != detail:
        detail = f"{detail}{'；' if language == 'zh' else '; '}{history['note']}" if detail else history["note"]
    raised = local_time(alarm.get("raised_ms") or 0, tz)
    link = f"{console_url.rstrip('/')}/alarms?alarm={alarm.get('id')}" if console_url else None
    head = w["head"].format(sev=sev_name)
    title = f"{head}{type_name} {alarm.get('station')}"
    lines = ((w["event"], event), (w["station"], where), (w["severity"], sev_name), (w["detail"], detail),
             (w["time"], raised), (w["id"], str(alarm.get("id"))))
    short = f"{head}{event}{w['colon']}{type_name} {where} {raised[5:16]} #{alarm.get('id')} {detail}"
    return Message(sev, title, lines, link, w["open"], short, w["colon"])


def cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters: whole characters, an ellipsis where it was cut,
    trailing spaces and punctuation dropped before the ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit - 1].rstrip(" ,，;；:：、") + "…"
