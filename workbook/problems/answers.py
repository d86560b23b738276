"""Answers as learners write them: ``'0x100042'``, ``'False'``, ``'ZONE_NORMAL'``, ``'-EBUSY'``, ``33``.

A check compares the learner's value with the model's answer after :func:`normalize` has
turned it into the answer's own type, so an answer typed into a form or read back from a
CSV file (always text) is marked like the Python value:

* a whole number: an ``int`` (numpy integers too), a whole ``float``, or a string in decimal
  or hex (``'1048642'``, ``'0x100042'``, ``'1_048_642'``, ``'1,048,642'``); never ``True``;
* ``True``/``False``: a ``bool`` or the words ``true``/``false``, ``yes``/``no`` (any case);
* a zone name: with or without ``ZONE_``, any case (``'ZONE_NORMAL'``, ``'normal'`` -> ``'Normal'``);
* an errno name: any case, with or without the minus sign, or its number (``'-EBUSY'``, ``16``);
* ``'memoryN'``: also ``N`` or ``'N'``;
* a tuple: a list or tuple, or a string of items separated by commas or blanks, each item
  normalised like the answer's item at the same place.

Anything else stays as it is (and is then simply compared).
"""
from __future__ import annotations

import errno as _errno
import re
from numbers import Integral, Real

from ..mmzone import ZONE_NAMES

__all__ = ["NOT_A_NUMBER", "normalize", "parse_int", "format_answer"]

#: What :func:`parse_int` returns for a value that is no whole number.
NOT_A_NUMBER = object()

_BOOL_WORDS = {"true": True, "yes": True, "false": False, "no": False}
_ZONES = {z.lower(): z for z in ZONE_NAMES}
_BLOCK = re.compile(r"memory(\d+)")
_SEPARATORS = re.compile(r"[\s,;()\[\]'\"]+")


def parse_int(value: object) -> object:
    """``value`` as an ``int`` if it is a whole number written in any usual way, else :data:`NOT_A_NUMBER`."""
    if isinstance(value, bool):
        return NOT_A_NUMBER
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return int(value) if float(value).is_integer() else NOT_A_NUMBER
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+", text):          # 1,048,642
            text = text.replace(",", "")
        try:
            if re.fullmatch(r"[+-]?0[xX][0-9a-fA-F]+", text):
                return int(text, 16)
            if re.fullmatch(r"[+-]?\d+", text):
                return int(text, 10)
        except ValueError:                                         # pragma: no cover - the patterns are ints
            return NOT_A_NUMBER
    return NOT_A_NUMBER


def _errno_name(value: object) -> str | None:
    """An errno's name from ``'-ebusy'``, ``'EBUSY'``, ``16`` or ``-16``; None if it is none."""
    number = parse_int(value)
    if number is not NOT_A_NUMBER:
        return _errno.errorcode.get(abs(int(number)))            # type: ignore[arg-type]
    if isinstance(value, str):
        name = value.strip().lstrip("-").upper()
        return name if name in _errno.errorcode.values() else None
    return None


def normalize(value: object, answer: object) -> object:
    """``value`` written as ``answer`` is written, where it names the same thing (see the module docstring)."""
    if value is None:
        return None
    if isinstance(answer, tuple):
        items: object = value
        if isinstance(value, str):
            items = [x for x in _SEPARATORS.split(value.strip()) if x]
        if isinstance(items, (list, tuple)) and len(items) == len(answer):
            return tuple(normalize(v, a) for v, a in zip(items, answer))
        return value
    if isinstance(answer, bool):
        if isinstance(value, str):
            return _BOOL_WORDS.get(value.strip().lower(), value)
        return value
    if isinstance(answer, Integral):
        number = parse_int(value)
        return value if number is NOT_A_NUMBER else number
    if isinstance(answer, str):
        if isinstance(value, str):
            text = value.strip()
        elif parse_int(value) is not NOT_A_NUMBER:
            text = str(parse_int(value))
        else:
            return value
        if answer in ZONE_NAMES:
            name = text[5:] if text.upper().startswith("ZONE_") else text
            return _ZONES.get(name.lower(), text)
        if _BLOCK.fullmatch(answer) or answer == "deleted":
            if text.isdigit():
                return f"memory{int(text)}"
            return text.lower()
        if answer in _errno.errorcode.values() or answer == "ok":
            if text.lower() in ("ok", "0", "success"):
                return "ok"
            return _errno_name(text) or text
        return text
    return value


def format_answer(answer: object, style: str = "") -> str:
    """An answer as the answer key prints it: ``style="hex"`` writes a whole number as ``0x... (decimal)``."""
    if style == "hex" and isinstance(answer, Integral) and not isinstance(answer, bool):
        return f"{int(answer):#x} ({int(answer)})"
    if isinstance(answer, tuple):
        return ", ".join(format_answer(a, style) for a in answer)
    return str(answer)
