"""Reading bundle files and YAML safely: size, nesting and alias-expansion guards."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import yaml

from runecraft.schemas._bundle_model import (
    MAX_DEPTH,
    MAX_DOCUMENT_CHARS,
    MAX_NODES,
    BundleProblem,
    _one_line,
    _Problems,
)

# --- reading: files and YAML ----------------------------------------------------------


def _read_text_file(path: str, problems: list[BundleProblem]) -> str | None:
    """The UTF-8 text of a bundle file, or None after recording why it cannot be read."""
    data, error = _read_bytes(path, MAX_DOCUMENT_CHARS)
    if data is None:
        problems.append(BundleProblem("", f"cannot read the file: it {error}", path))
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(BundleProblem("", f"is not UTF-8 text ({exc.reason})", path))
        return None


def _read_bytes(path: str, limit: int) -> tuple[bytes | None, str]:
    """A file's bytes, or None and the reason ("does not exist", ...)."""
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            return None, "is a directory"
        if info.st_size > limit:
            return None, f"is larger than {limit} bytes"
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        return None, f"does not exist (looked for {path})"
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, f"cannot be read ({reason})"
    if len(data) > limit:
        return None, f"is larger than {limit} bytes"
    return data, ""


if TYPE_CHECKING:
    _LoaderBase = yaml.SafeLoader
else:
    _LoaderBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_LoaderBase):
    """PyYAML's safe loader with two changes that match Juju and catch mistakes.

    Timestamps stay strings (Go's YAML library leaves `2024-01-01` a string in a config
    value), and a key written twice in one mapping is an error rather than a silent
    overwrite that would drop, say, a whole application. Keys brought in by a `<<` merge
    may still be overridden, as YAML intends.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key = self.construct_object(key_node)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:
                continue  # unhashable: the base class reports it
            if first is not key_node:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}"
                    f" (first given on line {first.start_mark.line + 1})",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


def _timestamp_as_text(loader: _Loader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


class _TooBigError(Exception):
    """A YAML document beyond MAX_DEPTH or MAX_NODES; carries the message and line."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _parse_yaml(text: str, source: str, problems: _Problems) -> list[object]:
    """Every document of a YAML stream, or [] after recording why it cannot be parsed.

    The stream is scanned for nesting depth before it is composed, because libyaml's
    composer recurses in C and crashes the interpreter on very deep input; then each
    document's alias expansion is measured before it is turned into Python objects.
    """
    if len(text) > MAX_DOCUMENT_CHARS:
        problems.add(source, "", f"is larger than {MAX_DOCUMENT_CHARS} characters")
        return []
    documents: list[object] = []
    try:
        _check_nesting(text)
        loader = _Loader(text)
        try:
            while loader.check_node():
                node = loader.get_node()
                if node is None:
                    break
                _check_expansion(node)
                documents.append(loader.construct_document(node))
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = exc.problem or exc.context or "invalid YAML"
        where = "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"
        problems.add(source, "", f"invalid YAML{where}: {reason}")
        return []
    except yaml.YAMLError as exc:
        problems.add(source, "", f"invalid YAML: {_one_line(str(exc))}")
        return []
    except _TooBigError as exc:
        where = "" if exc.line is None else f" (line {exc.line})"
        problems.add(source, "", f"{exc.message}{where}")
        return []
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        problems.add(source, "", f"invalid YAML: {_one_line(str(exc))}")
        return []
    return documents


def _check_nesting(text: str) -> None:
    """Refuse collections nested deeper than MAX_DEPTH, reading events (no recursion).

    Some libyaml builds refuse deep nesting themselves, in their own words and before our
    limit is reached (the scanner reads up to 1024 characters ahead for a simple key): a
    stream libyaml rejects is read again by the pure-Python parser, which has no such limit,
    so the refusal is always ours and names the line.
    """
    try:
        _count_depth(text, _Loader)
    except yaml.YAMLError as exc:
        if _Loader is yaml.SafeLoader:
            raise
        with contextlib.suppress(yaml.YAMLError):
            _count_depth(text, yaml.SafeLoader)
        raise exc from None


def _count_depth(text: str, loader: type[Any]) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = None if event.start_mark is None else event.start_mark.line + 1
                raise _TooBigError(f"YAML collections are nested more than {MAX_DEPTH} deep", line)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _node_children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        yield from node.value
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a document whose aliases expand it past MAX_NODES or MAX_DEPTH, or loop.

    An alias is the same node object as its anchor, so sizes are memoised per node: the
    walk costs the document's written size, not its expanded size.
    """
    sizes: dict[int, tuple[int, int]] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            children = [sizes[id(child)] for child in _node_children(node)]
            size = 1 + sum(count for count, _ in children)
            depth = 1 + max((d for _, d in children), default=0)
            if isinstance(node, yaml.ScalarNode):
                depth = 0
            line = node.start_mark.line + 1 if node.start_mark is not None else None
            if size > MAX_NODES:
                raise _TooBigError(
                    f"YAML aliases expand this document past {MAX_NODES} nodes (an alias bomb?)",
                    line,
                )
            if depth > MAX_DEPTH:
                raise _TooBigError(
                    f"YAML aliases nest collections more than {MAX_DEPTH} deep", line
                )
            sizes[key] = (size, depth)
            open_nodes.discard(key)
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            line = node.start_mark.line + 1 if node.start_mark is not None else None
            raise _TooBigError("a YAML alias refers to a collection that contains it", line)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _node_children(node))
