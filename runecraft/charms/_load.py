"""Reading a charm's documents from a directory or an archive, with one clear error.

A charm is described by `metadata.yaml`, `config.yaml` and `actions.yaml`; a source tree may
carry a unified `charmcraft.yaml` instead. Whatever the form, loading ends in a `LoadedCharm`
or in one `InvalidSpecError` that names the file and the field, for example
`metadata.yaml: provides.db.interface: field required`.
"""

from __future__ import annotations

import dataclasses
import enum
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import pydantic
import yaml

from runecraft import errors
from runecraft.schemas import charm as schema
from runecraft.schemas import problems

from . import _archive

__all__ = [
    "CharmForm",
    "Document",
    "LoadedCharm",
    "classify",
    "load_charm_archive",
    "load_charm_dir",
    "read_documents",
]

METADATA = "metadata.yaml"
CONFIG = "config.yaml"
ACTIONS = "actions.yaml"
CHARMCRAFT = "charmcraft.yaml"
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
"""Largest YAML document read; real ones are a few KiB."""

_Model = TypeVar("_Model", bound=pydantic.BaseModel)
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CharmForm(enum.Enum):
    """The three shapes a charm on disk can take."""

    ARCHIVE = "archive"
    """A packed `.charm` zip file."""
    PACKED_DIR = "packed-dir"
    """A directory ready to run: `metadata.yaml` with `dispatch` and/or `hooks/`."""
    SOURCE = "source"
    """A source tree (`charmcraft.yaml`, or `metadata.yaml` with `src/charm.py`): pack it."""


@dataclasses.dataclass(frozen=True, slots=True)
class LoadedCharm:
    """A validated charm: what the controller stores and the agents run."""

    meta: schema.CharmMeta
    config: schema.CharmConfig
    actions: schema.CharmActions
    sha256: str = ""
    """sha256 of the archive bytes; empty when loaded from a directory."""

    @property
    def name(self) -> str:
        """The charm's name, which is also the default application name."""
        return self.meta.name


@dataclasses.dataclass(frozen=True, slots=True)
class Document:
    """One parsed document and where it came from, for error messages."""

    content: Any
    source: str
    """The file it was read from: `metadata.yaml`, or `charmcraft.yaml` after a split."""
    prefix: str = ""
    """Path of the document inside `source` (`config.` for charmcraft's `config:`)."""


def _describe(error: pydantic.ValidationError) -> str:
    """The first error as `field.path: reason`, in lower case as the rest of our messages."""
    first = error.errors()[0]
    location, message = problems.location(first), problems.reason(first)
    return f"{location}: {message}" if location else message


def validate(model: type[_Model], document: Document) -> _Model:
    """Validate a document, turning failure into an `InvalidSpecError` naming the field."""
    try:
        return model.model_validate(document.content)
    except pydantic.ValidationError as exc:
        raise errors.InvalidSpecError(
            f"{document.source}: {document.prefix}{_describe(exc)}"
        ) from exc
    except ValueError as exc:
        raise errors.InvalidSpecError(f"{document.source}: {document.prefix}{exc}") from exc


def parse_yaml(data: bytes | None, source: str, *, allow_empty: bool = False) -> Any:
    """Parse one YAML document that must be a mapping; None if the file is absent."""
    if data is None:
        return None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise errors.InvalidSpecError(
            f"{source}: {len(data)} bytes is larger than the limit of {MAX_DOCUMENT_BYTES}"
        )
    try:
        content = yaml.load(data, Loader=_Loader)  # a safe loader (C if available)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise errors.InvalidSpecError(f"{source}: invalid YAML{where}: {problem}") from exc
    if content is None:
        if allow_empty:
            return {}
        raise errors.InvalidSpecError(f"{source}: the file is empty")
    if not isinstance(content, dict):
        raise errors.InvalidSpecError(
            f"{source}: expected a mapping at the top level, got {type(content).__name__}"
        )
    return content


def read_documents(
    read: Callable[[str], bytes | None], *, charmcraft: Literal["strict", "fill", "ignore"]
) -> dict[str, Document | None]:
    """Gather metadata/config/actions documents from files and, maybe, `charmcraft.yaml`.

    Args:
        read: returns a file's bytes by name relative to the charm root, or None if absent.
        charmcraft: how to treat `charmcraft.yaml`: "strict" (a source tree: each document
            comes from exactly one place, as charmcraft enforces), "fill" (a packed charm:
            separate files win, charmcraft.yaml only fills gaps) or "ignore".

    Returns:
        `metadata.yaml`, `config.yaml`, `actions.yaml` → the document, or None if neither
        a file nor a `charmcraft.yaml` section provides it.
    """
    docs: dict[str, Document | None] = {}
    for name in (METADATA, CONFIG, ACTIONS):
        content = parse_yaml(read(name), name, allow_empty=name == ACTIONS)
        docs[name] = None if content is None else Document(content, name)
    if charmcraft == "ignore" or (charmcraft == "fill" and all(docs.values())):
        return docs
    unified = parse_yaml(read(CHARMCRAFT), CHARMCRAFT)
    if unified is None:
        return docs
    strict = charmcraft == "strict"
    try:
        parts = schema.split_charmcraft(
            unified,
            metadata_yaml=strict and docs[METADATA] is not None,
            config_yaml=strict and docs[CONFIG] is not None,
            actions_yaml=strict and docs[ACTIONS] is not None,
        )
    except pydantic.ValidationError as exc:
        raise errors.InvalidSpecError(f"{CHARMCRAFT}: {_describe(exc)}") from exc
    except ValueError as exc:
        raise errors.InvalidSpecError(f"{CHARMCRAFT}: {exc}") from exc
    for name, content, prefix in (
        (METADATA, parts.metadata, ""),
        (CONFIG, parts.config, "config."),
        (ACTIONS, parts.actions, "actions."),
    ):
        if docs[name] is None and content is not None:
            docs[name] = Document(content, CHARMCRAFT, prefix)
    return docs


def build(docs: dict[str, Document | None], *, where: str, sha256: str = "") -> LoadedCharm:
    """Validate gathered documents into a `LoadedCharm`."""
    metadata = docs[METADATA]
    if metadata is None:
        raise errors.InvalidSpecError(f"{where}: no {METADATA} found")
    config, actions = docs[CONFIG], docs[ACTIONS]
    return LoadedCharm(
        meta=validate(schema.CharmMeta, metadata),
        config=schema.CharmConfig(options={})
        if config is None
        else validate(schema.CharmConfig, config),
        actions=schema.CharmActions({})
        if actions is None
        else validate(schema.CharmActions, actions),
        sha256=sha256,
    )


def _dir_reader(root: Path) -> Callable[[str], bytes | None]:
    def read(name: str) -> bytes | None:
        path = root / name
        if not path.is_file():
            return None
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise errors.InvalidSpecError(
                f"{name}: {size} bytes is larger than the limit of {MAX_DOCUMENT_BYTES}"
            )
        return path.read_bytes()

    return read


def classify(path: Path) -> CharmForm:
    """Say which form of charm `path` is, so callers know whether it needs packing.

    Raises:
        InvalidSpecError: `path` does not exist or is not a charm in any form.
    """
    if not path.exists():
        raise errors.InvalidSpecError(f"{path} does not exist")
    if path.is_file():
        if zipfile.is_zipfile(path):
            return CharmForm.ARCHIVE
        raise errors.InvalidSpecError(f"{path} is not a charm: not a zip archive")
    if not path.is_dir():
        raise errors.InvalidSpecError(f"{path} is not a charm: not a file or a directory")
    has_meta = (path / METADATA).is_file()
    has_dispatch = (path / "dispatch").is_file()
    has_hooks = (path / "hooks").is_dir()
    has_entry = (path / "src" / "charm.py").is_file()
    if has_meta and has_dispatch:
        return CharmForm.PACKED_DIR
    if (path / CHARMCRAFT).is_file() or (has_meta and has_entry):
        return CharmForm.SOURCE  # with hooks/ too: a classic charm built with the dump plugin
    if has_meta and has_hooks:
        return CharmForm.PACKED_DIR
    if has_meta or has_dispatch or has_hooks:
        return CharmForm.PACKED_DIR  # a hook-less charm, or one that will fail to load
    raise errors.InvalidSpecError(
        f"{path} is not a charm: no {METADATA}, {CHARMCRAFT} or dispatch found"
    )


def load_charm_dir(path: Path) -> LoadedCharm:
    """Load and validate a charm directory, packed or source.

    In a source tree, a unified `charmcraft.yaml` stands in for missing `metadata.yaml`,
    `config.yaml` and `actions.yaml`, with charmcraft's rule that each comes from one place.

    Raises:
        InvalidSpecError: naming the file and the field at fault.
    """
    form = classify(path)
    if form is CharmForm.ARCHIVE:
        raise errors.InvalidSpecError(f"{path} is a charm archive, not a directory")
    docs = read_documents(
        _dir_reader(path), charmcraft="strict" if form is CharmForm.SOURCE else "fill"
    )
    return build(docs, where=str(path))


def load_charm_archive(data: bytes) -> LoadedCharm:
    """Load and validate a packed `.charm` (zip) from its bytes, checking every entry.

    Raises:
        InvalidSpecError: not a zip, too large, an unsafe entry, or invalid metadata.
    """
    with _archive.open_archive(data) as archive:
        files = {info.filename: info for info in _archive.file_entries(archive)}

        def read(name: str) -> bytes | None:
            info = files.get(name)
            if info is None:
                return None
            if info.file_size > MAX_DOCUMENT_BYTES:
                raise errors.InvalidSpecError(
                    f"{name}: {info.file_size} bytes is larger than the limit of "
                    f"{MAX_DOCUMENT_BYTES}"
                )
            try:
                return archive.read(info)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
                raise errors.InvalidSpecError(f"charm archive: {name}: {exc}") from exc

        docs = read_documents(read, charmcraft="ignore")
    return build(docs, where="charm archive", sha256=_archive.content_hash(data))
