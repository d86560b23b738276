#!/usr/bin/env python3
"""Write docs/instructors-guide.md (workbook.teaching.guide); ``--check`` only compares and exits 1 if it differs."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbook.teaching.guide import render  # noqa: E402

TARGET = ROOT / "docs" / "instructors-guide.md"


def main(argv: list[str]) -> int:
    """Write (or with --check compare) the guide; the exit code."""
    text = render(ROOT / "chapters")
    if "--check" in argv:
        if not TARGET.is_file() or TARGET.read_text() != text:
            print(f"{TARGET.relative_to(ROOT)} is out of date: run python tools/instructors_guide.py")
            return 1
        print(f"{TARGET.relative_to(ROOT)} is up to date")
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
