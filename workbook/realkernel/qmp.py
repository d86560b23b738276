"""A synchronous QMP driver on the ``qemu.qmp`` library (QEMU's own Python QMP client).

``qemu.qmp.QMPClient`` is asyncio-based.  :class:`QmpDriver` runs it on an event loop in a
background thread, so that it works the same from the command line and from a notebook cell
(where an event loop is already running), reads events as they arrive (not only while a command
is pending), and writes every message to ``qmp.log`` in the order it was read: ``send <json>`` /
``recv <json>``.  The library is an optional dependency (``pip install memhotplug-workbook[real]``).
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["QmpDriver", "QmpError", "QmpUnavailable", "ost_event_names"]

# ACPI 6.x section 6.3.5 _OST source event and status codes (QEMU's ACPI_DEVICE_OST event).
OST_SOURCES = {1: "device_check", 3: "eject_request"}
OST_STATUS = {0: "success", 1: "failure", 2: "unrecognized", 128: "eject_not_supported",
              129: "device_in_use", 130: "device_busy", 131: "eject_dependency_busy", 132: "eject_in_progress"}


class QmpError(RuntimeError):
    """QEMU answered a command with an error (``desc`` is QEMU's message)."""

    def __init__(self, command: str, desc: str, cls: str = "") -> None:
        self.command, self.desc, self.error_class = command, desc, cls
        super().__init__(f"QMP {command}: {desc}")


class QmpUnavailable(RuntimeError):
    """The ``qemu.qmp`` package is not installed."""


def ost_event_names(info: dict) -> dict:
    """One ``ost_events`` entry of scenario.json from an ACPI_DEVICE_OST event's ``info``."""
    src, status = int(info.get("source", -1)), int(info.get("status", -1))
    out = {"source": src, "source_name": OST_SOURCES.get(src, str(src)),
           "status": status, "status_name": OST_STATUS.get(status, str(status))}
    if "device" not in info:
        out["device_field_absent"] = True
    return out


def _client_class():
    try:
        from qemu.qmp import QMPClient
    except ImportError as err:   # pragma: no cover - exercised only without the extra
        raise QmpUnavailable("the real-kernel path needs the qemu.qmp package: "
                             "pip install 'memhotplug-workbook[real]' (or pip install qemu.qmp)") from err

    class LoggingClient(QMPClient):
        """QMPClient that hands every message to ``self.record`` (its documented message hooks)."""

        record: Callable[[str, dict], None] = staticmethod(lambda kind, msg: None)

        def _cb_outbound(self, msg):  # noqa: D401 - qemu.qmp hook
            self.record("send", dict(msg))
            return super()._cb_outbound(msg)

        def _cb_inbound(self, msg):
            self.record("recv", dict(msg))
            return super()._cb_inbound(msg)

    return LoggingClient


class QmpDriver:
    """Commands and events of one QEMU, from synchronous code; see the module docstring."""

    def __init__(self, log_path: Path | None = None) -> None:
        self._cls = _client_class()
        self._log = open(log_path, "a", buffering=1) if log_path else None
        self._lock = threading.Condition()
        self.events: list[dict] = []          # every event, in arrival order, with "_t" (host time)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="qmp", daemon=True)
        self._thread.start()
        self._client: Any = None
        self._pump: Any = None

    # -- plumbing ---------------------------------------------------------------------------
    def _run(self, coro, timeout: float | None):
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return fut.result(timeout)
        except BaseException:
            fut.cancel()            # no half-done command left running on the loop
            raise

    def _record(self, kind: str, msg: dict) -> None:
        if self._log:
            self._log.write(f"{kind} {json.dumps(msg)}\n")

    async def _connect(self, path: str) -> None:
        client = self._cls("capture")
        client.record = self._record
        await client.connect(path)
        self._client = client
        self._pump = asyncio.ensure_future(self._pump_events(client))

    async def _pump_events(self, client) -> None:
        async for event in client.events:      # the client's default all-events listener
            ev = dict(event)
            ev["_t"] = time.monotonic()
            with self._lock:
                self.events.append(ev)
                self._lock.notify_all()

    # -- API ----------------------------------------------------------------------------------
    def connect(self, socket_path: Path, timeout: float = 30.0) -> None:
        """Connect to QEMU's ``-qmp unix:PATH,server=on,wait=off`` socket (retrying until it exists)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._run(self._connect(str(socket_path)), timeout=10)
                return
            except Exception:  # the socket is not there yet, or QEMU is still starting
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def execute(self, command: str, arguments: dict | None = None, timeout: float = 60.0) -> Any:
        """Run one QMP command; returns its ``return`` value or raises :class:`QmpError`."""
        from qemu.qmp import ExecuteError

        async def run():
            return await self._client.execute(command, arguments)
        try:
            return self._run(run(), timeout)
        except ExecuteError as err:
            raise QmpError(command, str(err), err.error_class) from None

    def wait_event(self, match: Callable[[dict], bool], timeout: float, since: int = 0) -> dict | None:
        """The first event at index >= ``since`` for which ``match`` holds, waiting up to ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for ev in self.events[since:]:
                    if match(ev):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._lock.wait(left)

    def mark(self) -> int:
        """The index of the next event (pass it as ``since`` to wait only for later events)."""
        with self._lock:
            return len(self.events)

    def close(self) -> None:
        """Disconnect and stop the loop thread (safe to call twice, and after QEMU has gone)."""
        if self._pump is not None:
            self._loop.call_soon_threadsafe(self._pump.cancel)
            self._pump = None
        if self._client is not None:
            try:
                self._run(self._client.disconnect(), timeout=5)
            except Exception:
                pass
            self._client = None
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        if self._log:
            self._log.close()
            self._log = None
