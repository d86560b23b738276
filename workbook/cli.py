"""The ``memhotplug-workbook`` command line (also ``python -m workbook``).

Each subcommand is one function registered with :func:`command`; the decorator names
it, documents it and declares its options, so adding one is adding one function.  A
subcommand whose module has its own ``main(argv)`` (``replay``) is registered with
``delegate=True`` and gets every argument, ``--help`` included.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from workbook import __version__

__all__ = ["command", "copy_missing", "find_chapters", "lab_argv", "main"]

Handler = Callable[[argparse.Namespace, list[str]], int]
Configure = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class _Command:
    """One registered subcommand."""

    handler: Handler
    help: str
    configure: Configure | None
    passthrough: bool
    delegate: bool


_COMMANDS: dict[str, _Command] = {}


def command(name: str, help: str, *, configure: Configure | None = None,
            passthrough: bool = False, delegate: bool = False) -> Callable[[Handler], Handler]:
    """Register ``handler(args, extra) -> exit code`` as subcommand ``name``.

    ``configure`` adds the subcommand's own options; with ``passthrough`` unknown
    arguments are handed to the handler as ``extra`` instead of being an error; with
    ``delegate`` all of them are, ``-h`` too, for a handler that parses its own.
    """
    def register(handler: Handler) -> Handler:
        _COMMANDS[name] = _Command(handler, help, configure, passthrough or delegate, delegate)
        return handler
    return register


PACKAGED_CHAPTERS = Path(__file__).resolve().parent / "_chapters"   # the wheel's copy


def find_chapters(start: Path | None = None, option: str = "--root") -> Path:
    """The chapters folder: ``./chapters``, else the clone's beside the package, else the wheel's copy.

    ``option`` is the caller's flag for naming another folder, quoted when there is none.
    """
    for candidate in ((start or Path.cwd()) / "chapters", Path(__file__).resolve().parent.parent / "chapters",
                      PACKAGED_CHAPTERS):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("no chapters/ folder here or beside the workbook package; "
                            f"run from a clone of memhotplug-workbook or pass {option} DIR")


def copy_missing(src: Path, dest: Path) -> list[Path]:
    """Copy every file of ``src`` into ``dest`` that ``dest`` does not have yet; returns the new files.

    A learner's edited notebook is never overwritten: only chapters they do not have arrive.
    """
    import shutil

    new = []
    for path in sorted(src.rglob("*")):
        target = dest / path.relative_to(src)
        if path.is_dir() or "__pycache__" in path.parts or target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        new.append(target)
    return new


def lab_argv(root: Path, extra: Sequence[str] = (), euid: int | None = None) -> list[str]:
    """The ``jupyter lab`` command line serving ``root``, offline-friendly, plus ``extra``."""
    argv = [
        sys.executable, "-m", "jupyterlab",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if (os.geteuid() if euid is None else euid) == 0:
        argv.append("--allow-root")
    return argv + list(extra)


def _configure_lab(parser: argparse.ArgumentParser) -> None:
    """Options of ``lab``."""
    parser.add_argument("--root", type=Path, default=None,
                        help="folder to serve (default: the workbook's chapters/)")
    parser.add_argument("--print-command", action="store_true",
                        help="print the jupyter lab command line instead of running it")


@command("lab", "open the workbook in JupyterLab (extra arguments go to jupyter lab)",
         configure=_configure_lab, passthrough=True)
def _lab(args: argparse.Namespace, extra: list[str]) -> int:
    """Start JupyterLab on the chapters folder; replaces this process."""
    root = (args.root or find_chapters()).resolve()
    if root == PACKAGED_CHAPTERS:
        # installed from a wheel: work on a copy in the current folder, never in site-packages
        work = Path.cwd() / "memhotplug-workbook"
        copied = copy_missing(root, work)
        print(f"chapters in {work} ({len(copied)} new file(s) copied from the installed package)")
        root = work
    argv = lab_argv(root, extra)
    if args.print_command:
        print(" ".join(argv))
        return 0
    os.execv(argv[0], argv)
    return 0  # not reached: execv does not return


def _delegate(name: str, help: str, module: str) -> None:
    """Register ``name`` as a subcommand that hands every argument to ``module.main(argv)``.

    The module is imported only when the command runs, so ``import workbook`` stays free of
    notebook tooling (nbformat, nbconvert) and of the replay's capture loading.
    """
    def run(args: argparse.Namespace, extra: list[str]) -> int:
        import importlib

        return importlib.import_module(module).main(extra)

    run.__doc__ = f"Run :func:`{module}.main` on the remaining arguments."
    command(name, help, delegate=True)(run)


for _name, _help, _module in (
        ("replay", "replay real-kernel captures on the model and compare them field by field", "workbook.replay"),
        ("capture", "run a scenario on a real Linux kernel under QEMU and write a capture folder",
         "workbook.realkernel.cli"),
        ("diff", "compare two real captures of the same scenario field by field", "workbook.realkernel.diff"),
        ("student", "write a student edition of the chapters: solutions emptied, outputs cleared",
         "workbook.teaching.student"),
        ("problems", "print a seeded problem set (answers only with --answers)", "workbook.problems.cli"),
        ("html", "build a static HTML site of every chapter that renders with no network",
         "workbook.teaching.site"),
        ("grade", "execute submitted notebooks with the workbook's checks and write one CSV row per exercise",
         "workbook.teaching.grade"),
        ("nbgrader", "write an nbgrader course folder: source notebooks with solution regions and test cells",
         "workbook.teaching.nbgrader_release"),
        ("pdf", "print the chapters to PDF (for paper hand-outs), from the static site, with chromium",
         "workbook.teaching.pdf")):
    _delegate(_name, _help, _module)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per registered command."""
    parser = argparse.ArgumentParser(
        prog="memhotplug-workbook",
        description="A Jupyter workbook on Linux memory hotplug and memmap-on-memory.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, cmd in _COMMANDS.items():
        child = sub.add_parser(name, help=cmd.help, description=cmd.help, add_help=not cmd.delegate)
        if cmd.configure:
            cmd.configure(child)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the chosen subcommand."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    cmd = _COMMANDS[args.command]
    if extra and not cmd.passthrough:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    from workbook.captures import CaptureError

    try:
        return cmd.handler(args, extra)
    except CaptureError as e:
        # a capture folder that cannot be replayed: one line, no traceback
        print(f"{parser.prog} {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `memhotplug-workbook problems ... | head`: the reader left early, which is no error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
