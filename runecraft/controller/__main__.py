"""`python -m runecraft.controller --home DIR`: run a bootstrapped controller."""

from __future__ import annotations

import argparse
from pathlib import Path

from runecraft import _logging
from runecraft.controller import _process


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m runecraft.controller")
    parser.add_argument("--home", required=True, type=Path, help="the Runecraft home")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    _logging.configure(args.log_level, process="controller")
    _process.serve(args.home)


if __name__ == "__main__":
    main()
