"""Which text encoding a CSV file is in: UTF-8 (with or without a BOM), else GB18030, else refused.

Excel on Chinese Windows saves "CSV (逗号分隔)" in the ANSI code page, GBK (code page 936), and
only "CSV UTF-8 (逗号分隔)" in UTF-8, so an operator's station table is often GBK. GB18030 is the
national standard that contains GBK, so every GBK file reads the same under it.

The order is what makes this safe: strict UTF-8 is tried first, and text in GBK (or any legacy
encoding with bytes above 0x7F) is practically never valid UTF-8, so a UTF-8 file is never misread.
The risk left is a file in some third encoding (Big5, Shift-JIS, Latin-1) whose bytes also happen to
decode as GB18030, into wrong characters; the reader therefore says when it used GB18030 (a
warning naming the file), so wrong names are noticed. A file neither encoding can read — UTF-16
(Excel's "Unicode Text"), a workbook renamed to .csv, any other binary — is refused with its line.

The whole file is checked before the first row is parsed (a second pass over the bytes, cheap
beside parsing), so a GBK character on line 2,000,000 cannot stop a run halfway through.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import BinaryIO

from watertel.errors import ConfigError

UTF8 = "utf-8-sig"  # strips Excel's BOM
GB18030 = "gb18030"
NAMES = {UTF8: "UTF-8", GB18030: "GB18030"}
CHUNK = 1 << 20
SAVE = 'save it in Excel as "CSV UTF-8 (逗号分隔)"'
CONVERT = "iconv -f {source} -t UTF-8 {path} > {stem}-utf8.csv"
UTF16 = 'UTF-16 text (what Excel saves as "Unicode Text")'
NOT_TEXT = {  # leading bytes of what is often saved or renamed as .csv by mistake
    b"PK\x03\x04": "an Excel workbook (.xlsx) or another zip file, not CSV text",
    b"\xd0\xcf\x11\xe0": "an old Excel workbook (.xls), not CSV text",
    codecs.BOM_UTF16_LE: UTF16,
    codecs.BOM_UTF16_BE: UTF16,
}


def sniff(path: Path) -> str:
    """The codec to read ``path`` with (``UTF8`` or ``GB18030``); ConfigError when it is neither.

    Raises:
        ConfigError: the file cannot be opened, or is not text in either encoding; one line
            ``file:line: (encoding): problem (fix)``.
    """
    try:
        handle = open(path, "rb")
    except OSError as err:
        raise ConfigError(path, [f"{path}: cannot read ({err.strerror})"]) from err
    with handle:
        head = handle.read(4)
        for magic, what in NOT_TEXT.items():
            if head.startswith(magic):
                fix = _fix(path, "UTF-16") if what == UTF16 else SAVE
                raise ConfigError(path, [f"{path}:1: (encoding): {what} ({fix})"])
        handle.seek(0)
        if _first_unreadable(handle, UTF8) is None:
            return UTF8
        handle.seek(0)
        found = _first_unreadable(handle, GB18030)
        if found is None:
            return GB18030
    line, where = found
    raise ConfigError(path, [f"{path}:{line}: (encoding): neither UTF-8 nor GB18030 (GBK) text: {where}"
                             f" ({_fix(path, '<encoding>')})"])


def _first_unreadable(handle: BinaryIO, encoding: str) -> tuple[int, str] | None:
    """(line, what) of the first bytes ``encoding`` cannot decode, or None when the whole file decodes.

    Chunks end at a line break: 0x0A is never part of a UTF-8 or GB18030 multi-byte character, so
    no character is cut in two. A NUL byte is never in a CSV file, whatever the encoding.
    """
    lines = 0
    while chunk := handle.read(CHUNK):
        chunk += handle.readline()
        nul = chunk.find(b"\x00")
        try:
            chunk.decode(encoding)
        except UnicodeDecodeError as err:
            at = err.start if nul < 0 else min(nul, err.start)
            return lines + chunk.count(b"\n", 0, at) + 1, f"bytes {chunk[at:at + 4].hex(' ')} cannot be read"
        if nul >= 0:
            return lines + chunk.count(b"\n", 0, nul) + 1, "a NUL byte (binary data, or UTF-16 without a BOM)"
        lines += chunk.count(b"\n")
    return None


def _fix(path: Path, source: str) -> str:
    """Both ways out: Excel's own UTF-8 CSV, or iconv from the encoding the file is in."""
    return f"{SAVE}, or convert it: " + CONVERT.format(source=source, path=path, stem=Path(path).with_suffix(""))
