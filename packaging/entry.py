"""The bundle's one entry point: the desktop app, or the command line.

The command line runs when the executable is called ``flowerstudio-cli`` (a symlink on Linux and
macOS, a second, console executable on Windows) or when the first argument is ``cli``:

    FlowerStudio/flowerstudio                     # the window
    FlowerStudio/flowerstudio photos/             # the window, with a dataset folder open
    FlowerStudio/flowerstudio-cli train photos/   # the command line
    FlowerStudio/flowerstudio cli train photos/   # the same

Plain Python, so that tests/test_packaging.py can check it without PyInstaller.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
from typing import Optional, Sequence

CLI_NAMES = ("flowerstudio-cli", "flowerstudio_cli")
CLI_ARG = "cli"


def choose(argv: Sequence[str], executable: str) -> str:
    """'cli' or 'gui' for this command line and the name the executable was started by."""
    name = os.path.basename(executable).lower()
    if name.endswith(".exe"):
        name = name[: -len(".exe")]
    if name in CLI_NAMES:
        return "cli"
    if len(argv) > 1 and argv[1] == CLI_ARG:
        return "cli"
    return "gui"


def main(argv: Optional[Sequence[str]] = None, executable: Optional[str] = None) -> int:
    # First: in a child process started by multiprocessing (spawn), this runs the child's work and exits.
    multiprocessing.freeze_support()
    argv = list(sys.argv if argv is None else argv)
    # argv[0] is the name the user typed (the symlink's), sys.executable the resolved file.
    executable = executable or (argv[0] if argv else sys.executable)
    if choose(argv, executable) == "cli":
        args = argv[1:]
        if args and args[0] == CLI_ARG:
            args = args[1:]
        from flowerstudio.cli import main as cli_main

        return cli_main(args)
    from flowerstudio.gui.app import main as gui_main

    return gui_main(argv)


if __name__ == "__main__":
    sys.exit(main())
