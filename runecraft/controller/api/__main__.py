"""The API's OpenAPI document, for `docs/openapi.json`.

    python -m runecraft.controller.api --openapi                  print it
    python -m runecraft.controller.api --write docs/openapi.json  write it there
    python -m runecraft.controller.api --check docs/openapi.json  is it up to date?

`--write` and `--check` refuse a document that breaks the one at the path (a removed
operation or response field, a narrowed type, a new required input) unless it bumps the
major version (`API_VERSION`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from runecraft.controller.api._app import openapi_document
from runecraft.controller.api._compat import allowed_breaks
from runecraft.controller.api._openapi import API_VERSION, render

REGENERATE = "python -m runecraft.controller.api --write docs/openapi.json"


def _breaks(path: Path, document: dict[str, object]) -> list[str]:
    if not path.exists():
        return []
    committed = json.loads(path.read_text(encoding="utf-8"))
    return allowed_breaks(committed, document)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runecraft.controller.api")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--openapi", action="store_true", help="print the OpenAPI document")
    action.add_argument("--write", type=Path, metavar="PATH", help="write it to PATH")
    action.add_argument("--check", type=Path, metavar="PATH", help="compare it with PATH")
    args = parser.parse_args(argv)
    document = openapi_document()
    text = render(document)
    if args.openapi:
        sys.stdout.write(text)
        return 0
    path: Path = args.write or args.check
    breaks = _breaks(path, document)
    if breaks:
        sys.stderr.write(
            f"the API document breaks {path} without a major version bump (API_VERSION is "
            f"{API_VERSION}, in runecraft/controller/api/_openapi.py):\n"
            + "".join(f"  {line}\n" for line in breaks)
        )
        return 1
    if args.write:
        path.write_text(text, encoding="utf-8")
        return 0
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        sys.stderr.write(f"{path} is not the API's document: regenerate it with `{REGENERATE}`\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
