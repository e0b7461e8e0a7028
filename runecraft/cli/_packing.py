"""`rune pack`: build a charm's source tree into the `.charm` files `charmcraft pack` makes.

The packer is the one `rune deploy` runs on a source tree, so a packed file and a deployed
tree hold the same charm. Each slow step prints a line on stderr; the files' paths go to
stdout (or a JSON document with `--format json`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from runecraft import errors
from runecraft.cli import _output
from runecraft.settings import home_settings

__all__ = ["pack_command"]


def _write(directory: Path, name: str, data: bytes) -> Path:
    """Write `directory/name` whole or not at all (a reader never sees half a charm)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, scratch = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(scratch, 0o644)
        os.replace(scratch, directory / name)
    except OSError as exc:
        raise errors.InvalidSpecError(
            f'cannot write "{directory / name}": {exc.strerror or exc}'
        ) from exc
    return directory / name


@click.command("pack")
@click.argument("path", type=click.Path(path_type=Path), default=Path())
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(),
    help="Directory to write the .charm files to (default: the current directory).",
)
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
def pack_command(path: Path, output: Path, output_format: str) -> None:
    """Pack the charm at PATH (default: here) as `charmcraft pack` does: one
    `NAME_PLATFORM.charm` per platform of its charmcraft.yaml that builds on this machine."""
    from runecraft import charms  # noqa: PLC0415 (only commands that pack a charm load it)

    def progress(line: str) -> None:
        _output.err_console.print(f"packing: {line}", markup=False)

    files = charms.pack_platforms(path, home_settings().charm_cache, progress=progress)
    written = [_write(output, file.file_name, file.packed.data) for file in files]
    if output_format == "json":
        _output.emit(
            {
                "charms": [
                    {
                        "path": str(where),
                        "name": file.packed.charm.name,
                        "platform": file.platform,
                        "bases": [base.document() for base in file.bases],
                        "sha256": file.packed.sha256,
                        "size": len(file.packed.data),
                    }
                    for file, where in zip(files, written, strict=True)
                ]
            },
            "json",
        )
        return
    for where in written:
        click.echo(f"Packed {where}")
