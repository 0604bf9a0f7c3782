"""``python -m llamahome_gui`` opens the window; ``python -m llamahome_gui SUBCOMMAND`` is the CLI."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and not argv[0].startswith("-") or argv[:1] in (["--help"], ["-h"], ["--version"]):
        from llamahome_gui.cli import main as cli_main

        return cli_main(argv)
    from llamahome_gui.app import main as gui_main

    return gui_main(argv)


if __name__ == "__main__":
    sys.exit(main())
