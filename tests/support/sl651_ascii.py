"""SL 651 ASCII-mode frames for the codec and `watertel frame decode` tests."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as D

from watertel.protocols import sl651, sl651_ascii
from watertel.protocols.common import CHINA
from watertel.protocols.sl651 import Category, Element, End, Frame, Function, Report

T = datetime(2023, 12, 1, 10, 0, 0, tzinfo=CHINA)


STATION = "0012345678"


def element(ident: int, text: str) -> Element:
    value = D(text)
    return Element(ident, sl651_ascii.definition(value), (value,))


def report(function: Function = Function.TIMED, *elements: Element) -> Frame:
    body = Report(1, T, STATION, Category.RIVER, T, elements or (element(0x20, "12.5"), element(0x39, "-1.234"),
                                                                  element(0x38, "12.60")))
    return Frame(function, True, 5, STATION, 0x03E8, End.ETX, body, ascii=True)


TIMED = report()


def good() -> bytes:
    return sl651.encode(TIMED)


