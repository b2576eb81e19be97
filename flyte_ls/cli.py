"""The ``flyte-ls`` command line: ``serve`` (the language server) and ``check`` (the lint rules)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from flyte_ls import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flyte-ls", description="A language server and tools for Flyte.")
    parser.add_argument("--version", action="version", version=f"flyte-ls {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    serve.add_argument("--log-file", metavar="PATH", help="also write the server log to this file")
    serve.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")

    check = sub.add_parser("check", help="run the Flyte lint rules on files or folders")
    from flyte_ls import check as check_mod

    check_mod.add_arguments(check)

    local = sub.add_parser("local", help="run a local Flyte backend (Admin + executor) on this machine")
    from flyte_ls.local import cli as local_cli

    local_cli.add_arguments(local)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "check":
        from flyte_ls import check as check_mod

        return check_mod.run(args)
    if args.command == "local":
        from flyte_ls.local import cli as local_cli

        return local_cli.run(args)
    if args.command == "serve" or args.command is None:
        # Bare `flyte-ls` starts the server: that is what editors configured with just the command expect.
        from flyte_ls.server.app import serve

        return serve(
            tcp=getattr(args, "tcp", None),
            log_file=getattr(args, "log_file", None),
            verbose=getattr(args, "verbose", 0),
        )
    parser.print_help(sys.stderr)
    return 2
