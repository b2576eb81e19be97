"""``flyte-ls local start|status``. (Skeleton: the local-command worker fills it in.)"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="local_command", metavar="ACTION")
    sub.add_parser("start", help="start the local backend in the foreground")
    sub.add_parser("status", help="report whether a local backend is running and where")


def run(args: argparse.Namespace) -> int:
    print("flyte-ls local: not implemented yet", file=sys.stderr)
    return 2
