"""``memhotplug-workbook capture SCENARIO --kernel KERNEL --out DIR`` (also ``python -m workbook capture``)."""
from __future__ import annotations

import argparse
import os
import sys

__all__ = ["main"]

EPILOG = """\
SCENARIO: procedure (the patch discussion's procedure on one 128 MiB DIMM, memmap-on-memory on),
procedure-off (the same with it off), a scenario.json, or a capture folder holding one.
KERNEL: debian:5.10, debian:6.1, debian:6.12, debian:7.2 (or newer; fetched with apt-get download
into ~/.cache/memhotplug-workbook/kernels), or a path to a bzImage such as /boot/vmlinuz-$(uname -r).
Default: debian:<series> of the scenario's own kernel, when it names one.
Needs qemu-system-x86_64, a static busybox, gcc (Debian: apt-get install qemu-system-x86
busybox-static gcc libc6-dev) and the qemu.qmp package (pip install 'memhotplug-workbook[real]').
"""


def _install_line(packages: list[str]) -> str:
    sudo = "" if os.geteuid() == 0 else "sudo "
    return f"{sudo}apt-get install -y {' '.join(packages)}"


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run one capture; exit 0 when it completed, 1 otherwise, 130 on Ctrl-C."""
    ap = argparse.ArgumentParser(prog="memhotplug-workbook capture",
                                 description="Run a scenario on a real Linux kernel under QEMU and write a "
                                             "capture folder (the format replay reads).",
                                 epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", help="procedure, procedure-off, a scenario.json or a capture folder")
    ap.add_argument("--kernel", help="debian:<series> or a bzImage path")
    ap.add_argument("--out", required=True, help="capture folder to write (refused if it exists, unless --force)")
    ap.add_argument("--force", action="store_true", help="replace an existing --out folder")
    accel = ap.add_mutually_exclusive_group()
    accel.add_argument("--accel", choices=("auto", "kvm", "tcg"), default="auto",
                       help="auto: KVM when /dev/kvm works, else TCG (default)")
    accel.add_argument("--tcg", dest="accel", action="store_const", const="tcg", help="force TCG (same as --accel tcg)")
    ns = ap.parse_args(argv)

    from .capture import CaptureError, capture, load_scenario
    from .initramfs import ToolMissing
    from .kernels import KernelError

    try:
        sc = load_scenario(ns.scenario)
    except (FileNotFoundError, ValueError) as err:
        print(f"capture: {err}", file=sys.stderr)
        return 2
    kernel = ns.kernel
    if kernel is None:
        series = (sc.get("kernel") or {}).get("series")
        if not series:
            print("capture: say which kernel with --kernel (debian:6.1, debian:6.12, or a bzImage path)",
                  file=sys.stderr)
            return 2
        kernel = f"debian:{series}"
    print(f"capture {sc.get('scenario') or ns.scenario} on {kernel} -> {ns.out}", flush=True)
    try:
        res = capture(sc, kernel, ns.out, force=ns.force, accel=ns.accel,
                      log=lambda msg: print(msg, flush=True))
    except ToolMissing as err:
        print(f"capture: {str(err).splitlines()[0]}", file=sys.stderr)
        if err.packages:
            print(f"install it with:\n  {_install_line(err.packages)}", file=sys.stderr)
        return 1
    except FileExistsError as err:
        print(f"capture: {err}", file=sys.stderr)
        return 1
    except (KernelError, CaptureError) as err:
        print(f"capture: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ncapture: interrupted; QEMU stopped; the partial capture is in {ns.out} (marked INCOMPLETE)",
              file=sys.stderr)
        return 130
    for note in res.notes:
        if note.startswith(("KVM", "lsmem", "the guest shell")):
            print(f"note: {note}")
    state = "complete" if res.complete else "INCOMPLETE (see INCOMPLETE in the folder)"
    print(f"{res.out}: {len(res.steps)} steps, boot {res.boot_s:.1f} s, total {res.total_s:.1f} s, {state}")
    return 0 if res.complete else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
