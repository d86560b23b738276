"""Record the kernel call path of every operation, so chapters can show which functions ran (and in which file)."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

__all__ = ["CallTrace", "TraceEntry", "kernel_function"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class TraceEntry:
    """One call: the kernel function, the file it lives in, and its depth in the call tree."""

    function: str
    file: str
    depth: int
    note: str = ""


@dataclass
class CallTrace:
    """The calls of the last operations (a bounded log, newest last)."""

    entries: list[TraceEntry] = field(default_factory=list)
    limit: int = 20000
    depth: int = 0
    enabled: bool = True

    def record(self, function: str, file: str, note: str = "") -> None:
        """Append one call at the current depth."""
        if not self.enabled:
            return
        self.entries.append(TraceEntry(function, file, self.depth, note))
        if len(self.entries) > self.limit:
            del self.entries[: len(self.entries) - self.limit]

    def clear(self) -> None:
        """Forget every recorded call."""
        self.entries.clear()

    def mark(self) -> int:
        """A position to slice the trace from (``trace.since(mark)``)."""
        return len(self.entries)

    def since(self, mark: int) -> list[TraceEntry]:
        """The calls recorded after ``mark``."""
        return self.entries[mark:]

    def format(self, entries: list[TraceEntry] | None = None) -> str:
        """The calls as an indented tree: ``  online_pages()  mm/memory_hotplug.c``."""
        rows = []
        for e in (self.entries if entries is None else entries):
            note = f"  [{e.note}]" if e.note else ""
            rows.append(f"{'  ' * e.depth}{e.function}()  {e.file}{note}")
        return "\n".join(rows)


def kernel_function(file: str, name: str | None = None) -> Callable[[F], F]:
    """Decorate a model function that mirrors a kernel function: each call is recorded in ``machine.trace``.

    The decorated function's first argument must be the :class:`~workbook.machine.Machine`
    or an object with a ``machine`` attribute.
    """

    def wrap(fn: F) -> F:
        fname = name or fn.__name__

        @functools.wraps(fn)
        def inner(first: Any, *args: Any, **kwargs: Any) -> Any:
            m = getattr(first, "machine", first)
            tr: CallTrace | None = getattr(m, "trace", None)
            if tr is None or not tr.enabled:
                return fn(first, *args, **kwargs)
            tr.record(fname, file)
            tr.depth += 1
            try:
                return fn(first, *args, **kwargs)
            finally:
                tr.depth -= 1

        inner.__kernel_file__ = file  # type: ignore[attr-defined]
        return inner  # type: ignore[return-value]

    return wrap
