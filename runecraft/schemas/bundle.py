"""Juju bundles and overlays: read, merge, check and write them back.

A bundle declares applications, machines, relations, offers and consumed offers (SAAS) in
Juju's format (reference/juju-features.md §C). `load` reads a bundle file and its overlays
(the later YAML documents of the same file first, then each `--overlay` file in order),
merges them with Juju's rules, checks the result without any charm at hand and returns a
frozen, normalised `Bundle`. `dump` writes a `Bundle` back so that `loads(dump(b)) == b`.

Every problem found is collected and raised together as one `BundleError` whose
`BundleProblem`s name the field (`applications.web.num_units`), the reason, and the file or
document it came from: a CI run that reports one mistake at a time costs a run per mistake.
Nothing else escapes for bad input: YAML syntax errors (with line numbers), alias bombs,
deep nesting, duplicate keys and unreadable include files all become problems.

I/O: schemas are pure, with one deliberate exception kept at the edge of this module. `load`
reads the files it is given, and `include-file://` / `include-base64://` read the files
they name. `loads` and `load_sources` take text and touch the disk only for includes.

Merge rules (Juju's `internal/charm/overlay.go`; "ours" marks what Juju does not say):

- The first document is the base; every later document is an overlay applied in order.
- An application or SAAS set to null is removed with every relation naming it. Relations
  the same overlay adds are appended after the removal, so they must not name it.
- A new application is added; an existing one is merged field by field, on key presence:
  scalars and lists (`charm`, `num_units`, `to`, `constraints`, `trust`, ...) replace; a
  map (`options`, `annotations`, `bindings`, `storage`, `devices`, `resources`, `offers`,
  `exposed-endpoints`) given empty or null is cleared, otherwise merged key by key, a null
  value deleting its key (ours for string-valued maps: Juju stores "" there).
  A scalar set to null resets it to its default (Juju's zero value).
- `relations` are appended; a relation stated twice (either order) is kept once (ours:
  Juju's verifier rejects duplicates; overlays that restate a base relation are harmless).
- `machines`, when given and not null, replace the base's machines wholesale.
- A top-level `series` / `default-base` in an overlay overrides the base's (ours for
  `default-base`). Other top-level keys of an overlay (`name`, `description`, `bundle`,
  ...) are ignored, as Juju does.
- `services` (the pre-2.0 name of `applications`) is refused in overlays, as Juju does.
- `offers` and `exposed-endpoints` may appear only in overlays (Juju's rule).
- Includes and relative charm paths resolve against the directory of the file they are
  written in. Include paths must be relative (ours: Juju also reads absolute paths); `..`
  is allowed as in Juju.

Normalisation: `scale` becomes `num_units`; `series` becomes a base (`focal` ->
`ubuntu@20.04`) and a trailing `/stable` is dropped from bases; `lxc:` placements become
`lxd:`; a Kubernetes bundle's single `to:` entry becomes `placement`; `constraints` are
parsed to a dict (`cpu-cores` becomes `cores`); relations are sorted pairs, deduplicated.
"""

from __future__ import annotations

import base64
import dataclasses
import difflib
import ipaddress
import json
import math
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

__all__ = [
    "MAX_DEPTH",
    "MAX_DOCUMENT_CHARS",
    "MAX_INCLUDE_BYTES",
    "MAX_NODES",
    "ApplicationSpec",
    "Bundle",
    "BundleError",
    "BundleProblem",
    "CharmRef",
    "Endpoint",
    "ExposedEndpointSpec",
    "MachineSpec",
    "OfferSpec",
    "OptionValue",
    "Placement",
    "RelationSpec",
    "SaasSpec",
    "Source",
    "StorageDirective",
    "dump",
    "load",
    "load_sources",
    "loads",
]

MAX_DOCUMENT_CHARS = 4 * 1024 * 1024
"""Largest bundle or overlay file read; real bundles are tens of kilobytes."""
MAX_NODES = 100_000
"""Most YAML nodes one document may expand to through aliases (guards "billion laughs")."""
MAX_DEPTH = 64
"""Deepest nesting of YAML collections accepted (guards the parser's and our recursion)."""
MAX_INCLUDE_BYTES = 1024 * 1024
"""Largest file an `include-file://` or `include-base64://` directive may read."""

# Juju's name rules (juju/names snippets).
_APP = r"[a-z][a-z0-9]*(?:-[a-z0-9]*[a-z][a-z0-9]*)*"
_ENDPOINT = r"[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*"
_NUMBER = r"(?:0|[1-9][0-9]*)"
_APP_RE = re.compile(f"^{_APP}$")
_ENDPOINT_RE = re.compile(f"^{_ENDPOINT}$")
_NUMBER_RE = re.compile(f"^{_NUMBER}$")
_RELATION_END_RE = re.compile(f"^(?P<app>{_APP})(?::(?P<endpoint>{_ENDPOINT}))?$")
_PLACEMENT_RE = re.compile(
    f"^(?:(?P<container>[a-z]+):)?(?:(?P<app>{_APP})(?:/(?P<unit>{_NUMBER}))?|(?P<machine>{_NUMBER}))$"
)
_ZONE_RE = re.compile(r"^zone=(?P<zone>[A-Za-z0-9][A-Za-z0-9._-]*)$")
_CHARM_NAME_RE = re.compile(f"^(?P<name>{_APP})(?:-(?P<revision>[0-9]+))?$")
_SERIES_WORD_RE = re.compile(r"^[a-z][a-z0-9]*$")
_BASE_RE = re.compile(
    r"^(?P<os>[a-z][a-z0-9-]*)@(?P<version>[0-9]+(?:\.[0-9]+)*)"
    r"(?:/(?P<risk>stable|candidate|beta|edge))?$"
)
_RISKS = frozenset({"stable", "candidate", "beta", "edge"})
_SIZE_RE = re.compile(r"^[0-9]+(?:\.[0-9]+)?[MGTPEZY]?(?:i?B)?$")
_POOL_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]*$")
_SPACE_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_MODEL_RE = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_OFFER_URL_RE = re.compile(
    rf"^(?:(?P<controller>[a-zA-Z0-9][a-zA-Z0-9-]*):)?(?:(?P<user>[^/:\s]+)/)?"
    rf"(?P<model>{_MODEL_RE})\.(?P<offer>{_APP})$"
)
_SIMPLE_KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")

_SERIES_BASES: dict[str, str | None] = {
    "precise": "ubuntu@12.04",
    "trusty": "ubuntu@14.04",
    "xenial": "ubuntu@16.04",
    "artful": "ubuntu@17.10",
    "bionic": "ubuntu@18.04",
    "cosmic": "ubuntu@18.10",
    "disco": "ubuntu@19.04",
    "eoan": "ubuntu@19.10",
    "focal": "ubuntu@20.04",
    "groovy": "ubuntu@20.10",
    "hirsute": "ubuntu@21.04",
    "impish": "ubuntu@21.10",
    "jammy": "ubuntu@22.04",
    "kinetic": "ubuntu@22.10",
    "lunar": "ubuntu@23.04",
    "mantic": "ubuntu@23.10",
    "noble": "ubuntu@24.04",
    "oracular": "ubuntu@24.10",
    "plucky": "ubuntu@25.04",
    "questing": "ubuntu@25.10",
    "centos7": "centos@7",
    "centos9": "centos@9",
    # Juju 2.x gave Kubernetes charms the pseudo-series "kubernetes"; it names no OS.
    "kubernetes": None,
}
"""Ubuntu (and CentOS) series names and the bases Juju 3 maps them to."""

_CONSTRAINT_KEYS = frozenset(
    {
        "allocate-public-ip",
        "arch",
        "container",
        "cores",
        "cpu-power",
        "image-id",
        "instance-role",
        "instance-type",
        "mem",
        "root-disk",
        "root-disk-source",
        "spaces",
        "tags",
        "virt-type",
        "zones",
    }
)
_CONSTRAINT_ALIASES = {"cpu-cores": "cores"}
_ARCHES = frozenset({"amd64", "arm64", "armhf", "i386", "ppc64el", "riscv64", "s390x"})
_CONTAINER_TYPES = {"lxd": "lxd", "kvm": "kvm", "lxc": "lxd"}
_OFFER_ACCESS: dict[str, Literal["read", "consume", "admin"]] = {
    "read": "read",
    "consume": "consume",
    "admin": "admin",
}

_TOP_KEYS = frozenset(
    {
        "applications",
        "bundle",
        "default-base",
        "default-series",
        "description",
        "docs",
        "issues",
        "machines",
        "name",
        "relations",
        "saas",
        "series",
        "services",
        "source",
        "tags",
        "variables",
        "website",
    }
)
_APP_KEYS = frozenset(
    {
        "annotations",
        "base",
        "bindings",
        "channel",
        "charm",
        "constraints",
        "devices",
        "expose",
        "exposed-endpoints",
        "num_units",
        "offers",
        "options",
        "placement",
        "plan",
        "resources",
        "revision",
        "scale",
        "series",
        "storage",
        "to",
        "trust",
    }
)
_MACHINE_KEYS = frozenset({"annotations", "base", "constraints", "series"})
_MAP_FIELDS = frozenset(
    {
        "annotations",
        "bindings",
        "devices",
        "exposed_endpoints",
        "offers",
        "options",
        "resources",
        "storage",
    }
)
"""Application fields an overlay merges key by key; every other field is replaced."""
_INCLUDE_FILE = "include-file://"
_INCLUDE_BASE64 = "include-base64://"


# --- problems -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class BundleProblem:
    """One thing wrong with a bundle: where (a dotted path) and why.

    `source` names the file or document the offending value came from ("bundle.yaml",
    "bundle.yaml (document 2)", "overlay.yaml"), so an overlay's mistake is not blamed on
    the base bundle.
    """

    path: str
    message: str
    source: str = ""

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.source, self.path) if part)
        return f"{where}: {self.message}" if where else self.message


class BundleError(ValueError):
    """A bundle that cannot be used, with every problem found (not just the first)."""

    def __init__(self, problems: Sequence[BundleProblem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = [f"{count} problem{'s' if count != 1 else ''} in bundle:"]
        lines.extend(f"  {problem}" for problem in self.problems)
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[type[BundleError], tuple[tuple[BundleProblem, ...]]]:
        return (BundleError, (self.problems,))


# --- the normalised model -------------------------------------------------------------


class _Frozen(BaseModel):
    """Immutable, strict, closed: a normalised bundle never holds a coerced or stray value."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


OptionValue = str | int | float | bool


class Endpoint(_Frozen):
    """One end of a relation: an application (or SAAS) and, if given, its endpoint name."""

    application: str
    endpoint: str | None = None

    def __str__(self) -> str:
        return self.application if self.endpoint is None else f"{self.application}:{self.endpoint}"


def _endpoint_key(end: Endpoint) -> tuple[str, str]:
    return (end.application, end.endpoint or "")


class RelationSpec(_Frozen):
    """A relation between two endpoints, stored sorted so either spelling is one relation."""

    endpoints: tuple[Endpoint, Endpoint]

    @model_validator(mode="before")
    @classmethod
    def _canonical_order(cls, data: Any) -> Any:
        if isinstance(data, dict):
            ends = data.get("endpoints")
            if (
                isinstance(ends, tuple | list)
                and len(ends) == 2
                and all(isinstance(end, Endpoint) for end in ends)
            ):
                data = {**data, "endpoints": tuple(sorted(ends, key=_endpoint_key))}
        return data

    @classmethod
    def between(cls, first: Endpoint, second: Endpoint) -> RelationSpec:
        """The relation joining two endpoints, in canonical order."""
        return cls(endpoints=(first, second))

    def __str__(self) -> str:
        return f"{self.endpoints[0]} {self.endpoints[1]}"


class Placement(_Frozen):
    """Where one unit goes (`to:` in a machine bundle).

    Exactly one target: `machine` (a bundle machine id, or "new"), `application` (with
    `unit`, or without it for "that application's next unit"), or `zone` (a Runecraft
    extension: a new machine in that availability zone; Juju bundles do not accept it).
    `container` ("lxd" or "kvm") asks for a new container on the target instead of
    co-locating the unit with whatever runs there.
    """

    container: Literal["lxd", "kvm"] | None = None
    machine: str | None = None
    application: str | None = None
    unit: int | None = None
    zone: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Placement:
        targets = [t for t in (self.machine, self.application, self.zone) if t is not None]
        if len(targets) != 1:
            raise ValueError("a placement has exactly one of machine, application or zone")
        if self.unit is not None and self.application is None:
            raise ValueError("a unit number needs an application")
        if self.zone is not None and self.container is not None:
            raise ValueError("a zone placement cannot name a container type")
        return self

    def __str__(self) -> str:
        if self.zone is not None:
            return f"zone={self.zone}"
        if self.application is not None:
            target = self.application if self.unit is None else f"{self.application}/{self.unit}"
        else:
            target = str(self.machine)
        return target if self.container is None else f"{self.container}:{target}"


class StorageDirective(_Frozen):
    """A storage request, `pool,size,count` with any part left out."""

    pool: str | None = None
    size: str | None = None
    count: int | None = None

    def __str__(self) -> str:
        parts = [self.pool, self.size, None if self.count is None else str(self.count)]
        return ",".join(part for part in parts if part is not None)


class OfferSpec(_Frozen):
    """An offer of some of an application's endpoints to other models, with its ACL."""

    endpoints: tuple[str, ...]
    acl: dict[str, Literal["read", "consume", "admin"]] = {}


class ExposedEndpointSpec(_Frozen):
    """Who may reach an endpoint's opened ports once the application is exposed."""

    expose_to_spaces: tuple[str, ...] = ()
    expose_to_cidrs: tuple[str, ...] = ()


class SaasSpec(_Frozen):
    """An offer from another model consumed by this one (`[controller:][user/]model.offer`)."""

    url: str


class MachineSpec(_Frozen):
    """A notional machine that placements refer to; mapped to a real one at deploy time."""

    base: str | None = None
    constraints: dict[str, str] = {}
    annotations: dict[str, str] = {}


class CharmRef(_Frozen):
    """What an application's `charm` names, parsed.

    `source` is "charmhub" (`mysql`, `ch:mysql`), "charmstore" (legacy `cs:` URLs, which may
    carry a series and a revision), "local" (the legacy `local:` scheme) or "path" (a
    directory or `.charm` file, `./x` or absolute).
    """

    source: Literal["charmhub", "charmstore", "local", "path"]
    name: str
    series: str | None = None
    revision: int | None = None
    path: str | None = None


class ApplicationSpec(_Frozen):
    """One application of a bundle, normalised (see the module docstring)."""

    charm: str
    channel: str | None = None
    revision: int | None = None
    base: str | None = None
    num_units: int = 0
    to: tuple[Placement, ...] = ()
    placement: str | None = None
    options: dict[str, OptionValue] = {}
    constraints: dict[str, str] = {}
    storage: dict[str, StorageDirective] = {}
    devices: dict[str, str] = {}
    resources: dict[str, int | str] = {}
    bindings: dict[str, str] = {}
    expose: bool = False
    exposed_endpoints: dict[str, ExposedEndpointSpec] = {}
    offers: dict[str, OfferSpec] = {}
    trust: bool = False
    annotations: dict[str, str] = {}

    @property
    def charm_ref(self) -> CharmRef:
        """The parsed `charm` (it was checked when the bundle was read)."""
        parsed = _parse_charm(self.charm)
        if isinstance(parsed, str):
            raise ValueError(parsed)
        return parsed

    def unit_placements(self) -> tuple[Placement, ...]:
        """One placement per unit, the way Juju reads `to:`.

        The last directive is repeated to cover every unit ("new" when `to` is empty), and
        a bare application target gets the next unit number of that application.
        """
        if self.num_units == 0:
            return ()
        directives = list(self.to) or [Placement(machine="new")]
        directives += [directives[-1]] * (self.num_units - len(directives))
        next_unit: dict[str, int] = {}
        result: list[Placement] = []
        for directive in directives[: self.num_units]:
            placed = directive
            if directive.application is not None:
                unit = directive.unit
                if unit is None:
                    unit = next_unit.get(directive.application, 0)
                next_unit[directive.application] = unit + 1
                placed = directive.model_copy(update={"unit": unit})
            result.append(placed)
        return tuple(result)


class Bundle(_Frozen):
    """A bundle with its overlays applied: what the operator wants the model to hold.

    Frozen means fields cannot be reassigned; treat the dicts inside as read-only too.
    Only `load`/`loads` check a bundle: one built by hand is not cross-checked, so
    `loads(dump(b)) == b` is promised for bundles that came from `load`.
    """

    kind: Literal["machine", "kubernetes"] = "machine"
    name: str | None = None
    description: str | None = None
    docs: str | None = None
    issues: str | None = None
    source: str | None = None
    website: str | None = None
    tags: tuple[str, ...] = ()
    default_base: str | None = None
    applications: dict[str, ApplicationSpec]
    machines: dict[str, MachineSpec] = {}
    relations: tuple[RelationSpec, ...] = ()
    saas: dict[str, SaasSpec] = {}

    @property
    def offers(self) -> dict[str, tuple[str, OfferSpec]]:
        """Every offer in the bundle by offer name: (offering application, offer)."""
        return {
            offer_name: (app_name, offer)
            for app_name, app in self.applications.items()
            for offer_name, offer in app.offers.items()
        }


# --- reading: entry points ------------------------------------------------------------


class Source(NamedTuple):
    """The text of one bundle or overlay file, its name for messages, and its directory.

    `directory` is where relative charm paths and include directives resolve; None means
    "not read from a file": relative charm paths stay as written and includes are refused.
    """

    text: str
    name: str = "<bundle>"
    directory: str | None = None


def load(path: str | os.PathLike[str], overlays: Sequence[str | os.PathLike[str]] = ()) -> Bundle:
    """Read a bundle file, apply its extra documents and then `overlays` in order, check it.

    Raises:
        BundleError: listing every problem, including files that cannot be read.
    """
    problems: list[BundleProblem] = []
    sources: list[Source] = []
    for file in (path, *overlays):
        name = os.fspath(file)
        text = _read_text_file(name, problems)
        if text is not None:
            sources.append(Source(text, name, os.path.dirname(os.path.abspath(name))))
    if problems:
        raise BundleError(problems)
    return load_sources(sources)


def loads(
    text: str,
    *,
    overlays: Sequence[str] = (),
    directory: str | os.PathLike[str] | None = None,
    name: str = "<bundle>",
) -> Bundle:
    """Read a bundle from text; `overlays` are texts applied in order after it."""
    where = None if directory is None else os.fspath(directory)
    sources = [Source(text, name, where)]
    sources += [Source(o, f"<overlay {i}>", where) for i, o in enumerate(overlays, 1)]
    return load_sources(sources)


def load_sources(sources: Sequence[Source]) -> Bundle:
    """Merge and check a base source and its overlays: the core of `load` and `loads`."""
    problems = _Problems()
    documents: list[tuple[object, str, str | None]] = []
    for source in sources:
        parsed = _parse_yaml(source.text, source.name, problems)
        for index, data in enumerate(parsed):
            label = source.name if index == 0 else f"{source.name} (document {index + 1})"
            documents.append((data, label, source.directory))
    if problems.items:
        raise BundleError(problems.items)
    if not documents or documents[0][0] is None:
        where = sources[0].name if sources else ""
        raise BundleError([BundleProblem("", "the bundle is empty", where)])

    base_data = documents[0][0]
    kind = "machine"
    if isinstance(base_data, dict) and base_data.get("bundle") == "kubernetes":
        kind = "kubernetes"
    merged = _Merged(kind=kind)
    for position, (data, label, directory) in enumerate(documents):
        if data is None and position > 0:
            continue  # an empty overlay document changes nothing
        reader = _DocumentReader(problems, label, directory, is_base=position == 0, kind=kind)
        part = reader.read(data)
        if part is not None:
            merged.apply(part)
    _verify(merged, problems)
    if problems.items:
        raise BundleError(problems.items)
    return _build(merged, problems)


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
    """Refuse collections nested deeper than MAX_DEPTH, reading events (no recursion)."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
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


# --- reading: one document ------------------------------------------------------------


class _Problems:
    """The problems found so far, in the order found."""

    def __init__(self) -> None:
        self.items: list[BundleProblem] = []

    def add(self, source: str, path: str, message: str) -> None:
        self.items.append(BundleProblem(path, message, source))


class _Invalid:
    """Marks a value that failed its check (the problem is already recorded)."""


_INVALID = _Invalid()


@dataclasses.dataclass
class _Relation:
    spec: RelationSpec
    source: str
    path: str


@dataclasses.dataclass
class _Part:
    """One document, checked and normalised; `None` for a section means "not given"."""

    source: str
    is_base: bool
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    default_base: str | None = None
    applications: dict[str, dict[str, Any] | None] | None = None
    saas: dict[str, dict[str, Any] | None] | None = None
    machines: dict[str, dict[str, Any]] | None = None
    relations: list[_Relation] = dataclasses.field(default_factory=list)
    broken: set[str] = dataclasses.field(default_factory=set)


class _DocumentReader:
    """Checks one YAML document against the bundle format and normalises what it can.

    Context-free checks (types, names, syntax of constraints, placements, storage) happen
    here, per document, so each problem names the document it is in. Checks that need the
    merged bundle (references, counts) happen in `_verify`.
    """

    def __init__(
        self,
        problems: _Problems,
        source: str,
        directory: str | None,
        *,
        is_base: bool,
        kind: str,
    ) -> None:
        self.problems = problems
        self.source = source
        self.directory = directory
        self.is_base = is_base
        self.kind = kind

    def add(self, path: str, message: str) -> None:
        self.problems.add(self.source, path, message)

    # -- generic value checks

    def mapping(self, value: object, path: str) -> dict[Any, Any] | _Invalid:
        """A mapping (null reads as empty)."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(path, f"must be a mapping, not {_kind(value)}")
            return _INVALID
        return value

    def string(self, value: object, path: str, *, empty: bool = False) -> str | _Invalid:
        if not isinstance(value, str):
            self.add(path, f"must be a string, not {_kind(value)}")
            return _INVALID
        if not empty and not value:
            self.add(path, "must not be empty")
            return _INVALID
        if not _is_valid_unicode(value):
            self.add(path, "contains a character that is not valid Unicode")
            return _INVALID
        return value

    def text(self, value: object, path: str) -> str | _Invalid:
        """A string-valued map entry; numbers and booleans read as their YAML text."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float) and not (
            isinstance(value, float) and not math.isfinite(value)
        ):
            return str(value)
        return self.string(value, path, empty=True)

    def keys(self, mapping: dict[Any, Any], path: str) -> Iterator[tuple[str, Any, str]]:
        """(key, value, path) for each string key; other keys are reported and skipped."""
        for key, value in mapping.items():
            key_path = _join(path, key)
            if not isinstance(key, str):
                self.add(key_path, f"keys must be strings, not {_kind(key)}")
                continue
            if not _is_valid_unicode(key):
                self.add(key_path, "contains a character that is not valid Unicode")
                continue
            yield key, value, key_path

    def unknown(self, path: str, key: str, known: frozenset[str]) -> None:
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f'; did you mean "{close[0]}"?' if close else ""
        self.add(path, f"unknown key{hint}")

    def count(self, value: object, path: str) -> int | _Invalid:
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.add(path, "must be a non-negative integer")
            return _INVALID
        return value

    def boolean(self, value: object, path: str) -> bool | _Invalid:
        if value is None:
            return False
        if not isinstance(value, bool):
            self.add(path, f"must be true or false, not {_kind(value)}")
            return _INVALID
        return value

    def string_list(self, value: object, path: str) -> list[str] | _Invalid:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, f"must be a list of strings, not {_kind(value)}")
            return _INVALID
        result: list[str] = []
        ok = True
        for index, item in enumerate(value):
            checked = self.string(item, f"{path}[{index}]")
            if isinstance(checked, _Invalid):
                ok = False
            else:
                result.append(checked)
        return result if ok else _INVALID

    def base(self, value: object, path: str) -> str | _Invalid | None:
        if value is None:
            return None
        text = self.string(value, path)
        if isinstance(text, _Invalid):
            return text
        match = _BASE_RE.match(text)
        if match is None:
            self.add(path, f'invalid base "{text}": expected OS@VERSION, such as ubuntu@22.04')
            return _INVALID
        return text.removesuffix("/stable")

    def series(self, value: object, path: str) -> str | _Invalid | None:
        if value is None:
            return None
        text = self.string(value, path)
        if isinstance(text, _Invalid):
            return text
        if text not in _SERIES_BASES:
            self.add(path, f'unknown series "{text}"; give a base instead, such as ubuntu@22.04')
            return _INVALID
        return _SERIES_BASES[text]

    def constraints(self, value: object, path: str) -> dict[str, str] | _Invalid:
        if value is None:
            return {}
        text = self.string(value, path, empty=True)
        if isinstance(text, _Invalid):
            return text
        parsed, errors = _parse_constraints(text)
        for error in errors:
            self.add(path, error)
        return _INVALID if errors else parsed

    def annotations(self, value: object, path: str) -> dict[str, str | None] | _Invalid:
        mapping = self.mapping(value, path)
        if isinstance(mapping, _Invalid):
            return mapping
        result: dict[str, str | None] = {}
        ok = True
        for key, item, key_path in self.keys(mapping, path):
            if item is None:
                result[key] = None
                continue
            was_string = isinstance(item, str)
            checked = self.text(item, key_path)
            if not isinstance(checked, _Invalid) and was_string:
                checked = self.include(checked, key_path)
            if isinstance(checked, _Invalid):
                ok = False
            else:
                result[key] = checked
        return result if ok else _INVALID

    def include(self, value: str, path: str) -> str | _Invalid:
        """Resolve an `include-file://` or `include-base64://` value; others pass through."""
        if value.startswith(_INCLUDE_FILE):
            prefix = _INCLUDE_FILE
        elif value.startswith(_INCLUDE_BASE64):
            prefix = _INCLUDE_BASE64
        else:
            return value
        target = value[len(prefix) :]
        if not target:
            self.add(path, f'"{prefix}" needs a file path after it')
            return _INVALID
        if self.directory is None:
            self.add(
                path,
                f'cannot resolve "{value}": the bundle was not read from a file, so there'
                " is no directory to find it in",
            )
            return _INVALID
        if os.path.isabs(target):
            self.add(
                path, f'include path "{target}" is absolute; give it relative to the bundle file'
            )
            return _INVALID
        data, error = _read_bytes(
            os.path.normpath(os.path.join(self.directory, target)), MAX_INCLUDE_BYTES
        )
        if data is None:
            self.add(path, f'include file "{target}" {error}')
            return _INVALID
        if prefix == _INCLUDE_BASE64:
            return base64.b64encode(data).decode("ascii")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self.add(
                path,
                f'include file "{target}" is not UTF-8 text; use include-base64:// for'
                " binary files",
            )
            return _INVALID

    # -- the document

    def read(self, data: object) -> _Part | None:
        part = _Part(source=self.source, is_base=self.is_base)
        if not isinstance(data, dict):
            what = "a bundle" if self.is_base else "an overlay"
            self.add("", f"{what} document must be a mapping, not {_kind(data)}")
            return None
        if "applications" in data and "services" in data:
            self.add("services", '"services" is the old name of "applications"; give one')
        for key, value, path in self.keys(data, ""):
            if key not in _TOP_KEYS:
                self.unknown(path, key, _TOP_KEYS)
            elif key == "bundle":
                self.read_kind(value, path)
            elif key in {"name", "description", "docs", "issues", "source", "website"}:
                checked = None if value is None else self.string(value, path, empty=True)
                if not isinstance(checked, _Invalid) and self.is_base:
                    part.meta[key] = checked
            elif key == "tags":
                tags = self.string_list(value, path)
                if not isinstance(tags, _Invalid) and self.is_base:
                    part.meta["tags"] = tuple(tags)
            elif key in {"series", "default-series", "default-base"}:
                self.read_default_base(part, data, key, value, path)
            elif key == "services" and not self.is_base:
                self.add(path, 'overlays must use "applications"; "services" is its pre-2.0 name')
            elif key in {"applications", "services"}:
                part.applications = self.read_applications(value, path, part)
            elif key == "machines":
                part.machines = self.read_machines(value, path, part)
            elif key == "relations":
                part.relations = self.read_relations(value, path)
            elif key == "saas":
                part.saas = self.read_saas(value, path, part)
            # "variables" only hosts YAML anchors; its content is not ours to check.
        return part

    def read_kind(self, value: object, path: str) -> None:
        if value in (None, "", "kubernetes"):
            return
        self.add(path, f'must be "kubernetes" or left out, not {_show(value)}')

    def read_default_base(
        self, part: _Part, data: dict[Any, Any], key: str, value: object, path: str
    ) -> None:
        checked = self.base(value, path) if key == "default-base" else self.series(value, path)
        if isinstance(checked, _Invalid) or checked is None:
            return
        if part.default_base is not None and part.default_base != checked:
            other = next(
                k for k in ("series", "default-series", "default-base") if k in data and k != key
            )
            self.add(path, f'names a different base than "{other}"')
            return
        part.default_base = checked

    def read_applications(
        self, value: object, path: str, part: _Part
    ) -> dict[str, dict[str, Any] | None] | None:
        mapping = self.mapping(value, path)
        if isinstance(mapping, _Invalid):
            part.broken.add("applications")
            return None
        result: dict[str, dict[str, Any] | None] = {}
        for name, body, app_path in self.keys(mapping, path):
            if not _APP_RE.match(name):
                self.add(app_path, f'invalid application name "{name}": {_NAME_RULE}')
            result[name] = self.read_application(body, app_path)
        return result

    def read_application(self, body: object, path: str) -> dict[str, Any] | None:
        if body is None:
            if not self.is_base:
                return None  # removes the application
            self.add(path, "must be a mapping, not null (only an overlay may null an application)")
            return {"_invalid": {"*"}}
        if not isinstance(body, dict):
            self.add(path, f"must be a mapping, not {_kind(body)}")
            return {"_invalid": {"*"}}
        app: dict[str, Any] = {"_invalid": set()}
        for key, value, key_path in self.keys(body, path):
            if key not in _APP_KEYS:
                self.unknown(key_path, key, _APP_KEYS)
                continue
            field, checked = self.read_app_field(key, value, key_path)
            if field is None:
                continue
            if isinstance(checked, _Invalid):
                app["_invalid"].add(field)
            else:
                app[field] = checked
        self.check_app_combinations(body, app, path)
        return app

    def read_app_field(self, key: str, value: object, path: str) -> tuple[str | None, object]:
        """(normalised field name, checked value or _INVALID); field None drops the key."""
        if key == "charm":
            return "charm", self.charm(value, path)
        if key == "channel":
            return "channel", self.channel(value, path)
        if key == "revision":
            revision = None if value is None else self.count(value, path)
            return "revision", revision
        if key == "base":
            return "base", self.base(value, path)
        if key == "series":
            return "base", self.series(value, path)
        if key in {"num_units", "scale"}:
            return "num_units", self.count(value, path)
        if key == "to":
            if self.kind == "kubernetes":
                return "placement", self.kubernetes_to(value, path)
            return "to", self.placements(value, path)
        if key == "placement":
            if self.kind != "kubernetes":
                self.add(path, 'is only for Kubernetes bundles; use "to" to place units')
                return "to", _INVALID
            return "placement", None if value is None else self.node_selector(value, path)
        if key == "options":
            return "options", self.options(value, path)
        if key == "constraints":
            return "constraints", self.constraints(value, path)
        if key == "storage":
            return "storage", self.storage(value, path)
        if key == "devices":
            return "devices", self.devices(value, path)
        if key == "resources":
            return "resources", self.resources(value, path)
        if key == "bindings":
            return "bindings", self.bindings(value, path)
        if key in {"expose", "trust"}:
            return key, self.boolean(value, path)
        if key == "exposed-endpoints":
            self.overlay_only(path)
            return "exposed_endpoints", self.exposed_endpoints(value, path)
        if key == "offers":
            self.overlay_only(path)
            return "offers", self.offers(value, path)
        if key == "annotations":
            return "annotations", self.annotations(value, path)
        # "plan": a retired commercial feature; accepted for old bundles and dropped.
        if value is not None:
            self.string(value, path, empty=True)
        return None, None

    def overlay_only(self, path: str) -> None:
        if self.is_base:
            self.add(path, "can only appear in an overlay (a later document or --overlay file)")

    def check_app_combinations(self, body: dict[Any, Any], app: dict[str, Any], path: str) -> None:
        if "num_units" in body and "scale" in body:
            self.add(f"{path}.scale", 'is another name for "num_units"; give one of them')
            app["_invalid"].add("num_units")
        if "series" in body and "base" in body:
            via_series = self.series_silently(body["series"])
            via_base = app.get("base")
            if via_series is not None and via_base is not None and via_series != via_base:
                self.add(f"{path}.series", f'names a different base than base "{via_base}"')
        if self.kind == "kubernetes" and "to" in body and "placement" in body:
            self.add(f"{path}.to", 'give either "to" or "placement", not both')
            app["_invalid"].add("placement")

    @staticmethod
    def series_silently(value: object) -> str | None:
        return _SERIES_BASES.get(value) if isinstance(value, str) else None

    def charm(self, value: object, path: str) -> str | _Invalid | None:
        if value is None:
            return None
        text = self.string(value, path)
        if isinstance(text, _Invalid):
            return text
        parsed = _parse_charm(text)
        if isinstance(parsed, str):
            self.add(path, parsed)
            return _INVALID
        if parsed.source == "charmhub" and parsed.revision is not None:
            self.add(
                path,
                f'a Charmhub charm cannot carry its revision in its name ("{text}");'
                f" use revision: {parsed.revision}",
            )
            return _INVALID
        if text.startswith(".") and self.directory is not None:
            return os.path.normpath(os.path.join(self.directory, text))
        return text

    def channel(self, value: object, path: str) -> str | _Invalid | None:
        if value is None:
            return None
        text = self.string(value, path)
        if isinstance(text, _Invalid):
            return text
        parts = text.split("/")
        ok = 1 <= len(parts) <= 3 and all(p and not any(c.isspace() for c in p) for p in parts)
        if ok and len(parts) == 3:
            ok = parts[1] in _RISKS
        if ok and len(parts) == 2:
            ok = parts[0] in _RISKS or parts[1] in _RISKS
        if not ok:
            self.add(
                path, f'invalid channel "{text}": expected [track/]risk[/branch], e.g. 8.0/stable'
            )
            return _INVALID
        return text

    def placements(self, value: object, path: str) -> tuple[Placement, ...] | _Invalid:
        if value is None:
            return ()
        items = value if isinstance(value, list) else [value]
        result: list[Placement] = []
        ok = True
        for index, item in enumerate(items):
            item_path = f"{path}[{index}]" if isinstance(value, list) else path
            text: str | _Invalid
            if isinstance(item, int) and not isinstance(item, bool):
                text = str(item)
            else:
                text = self.string(item, item_path)
            if isinstance(text, _Invalid):
                ok = False
                continue
            parsed = _parse_placement(text)
            if isinstance(parsed, str):
                self.add(item_path, parsed)
                ok = False
            else:
                result.append(parsed)
        return tuple(result) if ok else _INVALID

    def kubernetes_to(self, value: object, path: str) -> str | _Invalid | None:
        if value is None:
            return None
        items = value if isinstance(value, list) else [value]
        if len(items) > 1:
            self.add(path, f"a Kubernetes application takes one placement, not {len(items)}")
            return _INVALID
        if not items:
            return None
        item_path = f"{path}[0]" if isinstance(value, list) else path
        return self.node_selector(items[0], item_path)

    def node_selector(self, value: object, path: str) -> str | _Invalid:
        text = self.string(value, path)
        if isinstance(text, _Invalid):
            return text
        for item in text.split(","):
            key, sep, val = item.partition("=")
            if not sep or not key.strip() or not val.strip():
                self.add(path, f'invalid node selector "{text}": expected key=value[,key=value]')
                return _INVALID
        return text

    def options(self, value: object, path: str) -> dict[str, OptionValue | None] | _Invalid:
        mapping = self.mapping(value, path)
        if isinstance(mapping, _Invalid):
            return mapping
        result: dict[str, OptionValue | None] = {}
        ok = True
        for key, item, key_path in self.keys(mapping, path):
            checked: OptionValue | _Invalid | None
            if item is None or isinstance(item, bool | int):
                checked = item
            elif isinstance(item, float):
                checked = item
                if not math.isfinite(item):
                    self.add(key_path, "must be a finite number")
                    checked = _INVALID
            elif isinstance(item, str):
                checked = self.string(item, key_path, empty=True)
                if isinstance(checked, str):
                    checked = self.include(checked, key_path)
            else:
                self.add(key_path, f"must be a string, number or boolean, not {_kind(item)}")
                checked = _INVALID
            if isinstance(checked, _Invalid):
                ok = False
            else:
                result[key] = checked
        return result if ok else _INVALID

    def storage(self, value: object, path: str) -> dict[str, StorageDirective | None] | _Invalid:
        mapping = self.mapping(value, path)
        if isinstance(mapping, _Invalid):
            return mapping
        result: dict[str, StorageDirective | None] = {}
        ok = True
        for key, item, key_path in self.keys(mapping, path):
            if not _APP_RE.match(key):
                self.add(key_path, f'invalid storage name "{key}": {_NAME_RULE}')
                ok = False
                continue
            if item is None:
                result[key] = None
                continue
            text: str | _Invalid
            if isinstance(item, int) and not isinstance(item, bool):
                text = str(item)
            else:
                text = self.string(item, key_path)
            if isinstance(text, _Invalid):
                ok = False
                continue
            parsed = _parse_storage(text)
            if isinstance(parsed, str):
                self.add(key_path, parsed)
                ok = False
            else:
                result[key] = parsed
        return result if ok else _INVALID

    def devices(self, value: object, path: str) -> dict[str, str | None] | _Invalid:
        return self.string_map(value, path, _APP_RE, "device name")

    def bindings(self, value: object, path: str) -> dict[str, str | None] | _Invalid:
        mapping = self.mapping(value, path)
        if isinstance(mapping, _Invalid):
            return mapping
        result: dict[str, str | None] = {}
        ok = True
        for key, item, key_path in self.keys(mapping, path):
            if key and not _ENDPOINT_RE.match(key):
                self.add(key_path, f'invalid endpoint name "{key}"')
                ok = False
                continue
            if item is None:
                result[key] = None
                continue
            space = self.string(item, key_path, empty=True)
            if isinstance(space, _Invalid):
                ok = False
            elif space and not _SPACE_RE.match(space):
                self.add(key_path, f'invalid space name "{space}"')
                ok = False
            else:
                result[key] = space
        return result if ok else _INVALID

    def string_map(
        self, value: object, path: str, key_re: re.Pattern[str], what: str
    ) -> dict[str, str | None] | _Invalid:
        mapping = self.mapping(value, path)
        if isinstance(mapping, _Invalid):
            return mapping
        result: dict[str, str | None] = {}
        ok = True
        for key, item, key_path in self.keys(mapping, path):
            if not key_re.match(key):
                self.add(key_path, f'invalid {what} "{key}"')
                ok = False
                continue
            if item is None:
                result[key] = None
                continue
            checked = self.string(item, key_path)
            if isinstance(checked, _Invalid):
                ok = False
            else:
                result[key] = checked
        return result if ok else _INVALID

    def resources(self, value: object, path: str) -> dict[str, int | str | None] | _Invalid:
        mapping = self.mapping(value, path)
        if isinstance(mapping, _Invalid):
            return mapping
        result: dict[str, int | str | None] = {}
        ok = True
        for key, item, key_path in self.keys(mapping, path):
            if not key:
                self.add(key_path, "a resource needs a name")
                ok = False
                continue
            checked: int | str | _Invalid | None
            if item is None:
                checked = None
            elif isinstance(item, int) and not isinstance(item, bool):
                checked = self.count(item, key_path)
            elif isinstance(item, str):
                checked = self.string(item, key_path)
            else:
                self.add(key_path, f"must be a revision number or a path, not {_kind(item)}")
                checked = _INVALID
            if isinstance(checked, _Invalid):
                ok = False
            else:
                result[key] = checked
        return result if ok else _INVALID

    def exposed_endpoints(
        self, value: object, path: str
    ) -> dict[str, ExposedEndpointSpec | None] | _Invalid:
        mapping = self.mapping(value, path)
        if isinstance(mapping, _Invalid):
            return mapping
        result: dict[str, ExposedEndpointSpec | None] = {}
        ok = True
        for key, item, key_path in self.keys(mapping, path):
            if key and not _ENDPOINT_RE.match(key):
                self.add(key_path, f'invalid endpoint name "{key}"')
                ok = False
                continue
            body = self.mapping(item, key_path)
            if isinstance(body, _Invalid):
                ok = False
                continue
            if not body:
                result[key] = None  # Juju: an empty spec deletes the entry
                continue
            spaces: list[str] | _Invalid = []
            cidrs: list[str] | _Invalid = []
            for field, field_value, field_path in self.keys(body, key_path):
                if field == "expose-to-spaces":
                    spaces = self.string_list(field_value, field_path)
                elif field == "expose-to-cidrs":
                    cidrs = self.cidrs(field_value, field_path)
                else:
                    self.unknown(
                        field_path, field, frozenset({"expose-to-spaces", "expose-to-cidrs"})
                    )
                    ok = False
            if isinstance(spaces, _Invalid) or isinstance(cidrs, _Invalid):
                ok = False
                continue
            result[key] = ExposedEndpointSpec(
                expose_to_spaces=tuple(spaces), expose_to_cidrs=tuple(cidrs)
            )
        return result if ok else _INVALID

    def cidrs(self, value: object, path: str) -> list[str] | _Invalid:
        items = self.string_list(value, path)
        if isinstance(items, _Invalid):
            return items
        for index, cidr in enumerate(items):
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                self.add(f"{path}[{index}]", f'invalid CIDR "{cidr}"')
                return _INVALID
        return items

    def offers(self, value: object, path: str) -> dict[str, OfferSpec | None] | _Invalid:
        mapping = self.mapping(value, path)
        if isinstance(mapping, _Invalid):
            return mapping
        result: dict[str, OfferSpec | None] = {}
        ok = True
        for name, body, offer_path in self.keys(mapping, path):
            if not _APP_RE.match(name):
                self.add(offer_path, f'invalid offer name "{name}": {_NAME_RULE}')
                ok = False
                continue
            if body is None:
                result[name] = None
                continue
            offer = self.offer(body, offer_path)
            if offer is None:
                ok = False
            else:
                result[name] = offer
        return result if ok else _INVALID

    def offer(self, body: object, path: str) -> OfferSpec | None:
        mapping = self.mapping(body, path)
        if isinstance(mapping, _Invalid):
            return None
        ok = True
        endpoints: list[str] = []
        acl: dict[str, Literal["read", "consume", "admin"]] = {}
        if "endpoints" not in mapping:
            self.add(f"{path}.endpoints", "is required: the endpoints this offer exposes")
            ok = False
        for key, value, key_path in self.keys(mapping, path):
            if key == "endpoints":
                checked = self.string_list(value, key_path)
                if isinstance(checked, _Invalid):
                    ok = False
                    continue
                if not checked:
                    self.add(key_path, "must name at least one endpoint")
                    ok = False
                for index, endpoint in enumerate(checked):
                    if not _ENDPOINT_RE.match(endpoint):
                        self.add(f"{key_path}[{index}]", f'invalid endpoint name "{endpoint}"')
                        ok = False
                endpoints = checked
            elif key == "acl":
                users = self.mapping(value, key_path)
                if isinstance(users, _Invalid):
                    ok = False
                    continue
                for user, access, user_path in self.keys(users, key_path):
                    level = _OFFER_ACCESS.get(access) if isinstance(access, str) else None
                    if level is not None:
                        acl[user] = level
                    else:
                        self.add(user_path, f"must be read, consume or admin, not {_show(access)}")
                        ok = False
            else:
                self.unknown(key_path, key, frozenset({"endpoints", "acl"}))
                ok = False
        return OfferSpec(endpoints=tuple(endpoints), acl=acl) if ok else None

    def read_machines(
        self, value: object, path: str, part: _Part
    ) -> dict[str, dict[str, Any]] | None:
        if value is None:
            return None if not self.is_base else {}
        mapping = self.mapping(value, path)
        if isinstance(mapping, _Invalid):
            part.broken.add("machines")
            return None
        result: dict[str, dict[str, Any]] = {}
        for key, body in mapping.items():
            machine_id = str(key) if isinstance(key, int) and not isinstance(key, bool) else key
            machine_path = _join(path, machine_id)
            if not isinstance(machine_id, str) or not _NUMBER_RE.match(machine_id):
                self.add(machine_path, 'machine ids are whole numbers, such as "0"')
                part.broken.add("machines")
                continue
            if machine_id in result:
                self.add(machine_path, f'machine "{machine_id}" is defined twice')
                continue
            machine = self.read_machine(body, machine_path)
            if machine is None:
                part.broken.add("machines")
            else:
                result[machine_id] = machine
        return result

    def read_machine(self, body: object, path: str) -> dict[str, Any] | None:
        mapping = self.mapping(body, path)
        if isinstance(mapping, _Invalid):
            return None
        machine: dict[str, Any] = {}
        ok = True
        for key, value, key_path in self.keys(mapping, path):
            checked: object
            if key == "constraints":
                checked = self.constraints(value, key_path)
            elif key == "annotations":
                annotations = self.annotations(value, key_path)
                checked = annotations
                if not isinstance(annotations, _Invalid):
                    checked = {k: v for k, v in annotations.items() if v is not None}
            elif key == "base":
                checked = self.base(value, key_path)
            elif key == "series":
                checked = self.series(value, key_path)
            else:
                self.unknown(key_path, key, _MACHINE_KEYS)
                ok = False
                continue
            if isinstance(checked, _Invalid):
                ok = False
                continue
            field = "base" if key == "series" else key
            if field == "base":
                if checked is None:
                    continue
                if machine.get("base", checked) != checked:
                    self.add(key_path, "names a different base than the machine's other base key")
                    ok = False
                    continue
            machine[field] = checked
        return machine if ok else None

    def read_relations(self, value: object, path: str) -> list[_Relation]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, f"must be a list of endpoint pairs, not {_kind(value)}")
            return []
        result: list[_Relation] = []
        for index, item in enumerate(value):
            item_path = f"{path}[{index}]"
            if not isinstance(item, list):
                self.add(
                    item_path,
                    f'must be a pair ["app[:endpoint]", "app[:endpoint]"], not {_kind(item)}',
                )
                continue
            if len(item) != 2:
                self.add(item_path, f"must be a pair of endpoints, not {len(item)} item(s)")
                continue
            ends: list[Endpoint] = []
            for end_index, end in enumerate(item):
                end_path = f"{item_path}[{end_index}]"
                if isinstance(end, list):
                    self.add(
                        end_path,
                        "a nested list (the juju-deployer form) is not supported by Juju; write"
                        " one pair per relation",
                    )
                    continue
                text = self.string(end, end_path)
                if isinstance(text, _Invalid):
                    continue
                match = _RELATION_END_RE.match(text)
                if match is None:
                    self.add(
                        end_path, f'invalid endpoint "{text}": expected application[:endpoint]'
                    )
                    continue
                ends.append(Endpoint(application=match["app"], endpoint=match["endpoint"]))
            if len(ends) != 2:
                continue
            if ends[0].application == ends[1].application:
                self.add(item_path, f'relates application "{ends[0].application}" to itself')
                continue
            result.append(_Relation(RelationSpec.between(ends[0], ends[1]), self.source, item_path))
        return result

    def read_saas(
        self, value: object, path: str, part: _Part
    ) -> dict[str, dict[str, Any] | None] | None:
        mapping = self.mapping(value, path)
        if isinstance(mapping, _Invalid):
            part.broken.add("saas")
            return None
        result: dict[str, dict[str, Any] | None] = {}
        for name, body, saas_path in self.keys(mapping, path):
            if not _APP_RE.match(name):
                self.add(saas_path, f'invalid SAAS name "{name}": {_NAME_RULE}')
            if body is None and not self.is_base:
                result[name] = None
                continue
            entry = self.read_saas_entry(body, saas_path)
            result[name] = entry if entry is not None else {"_invalid": True}
        return result

    def read_saas_entry(self, body: object, path: str) -> dict[str, Any] | None:
        if body is None:
            self.add(path, "must be a mapping with the url of the offer to consume")
            return None
        mapping = self.mapping(body, path)
        if isinstance(mapping, _Invalid):
            return None
        entry: dict[str, Any] = {}
        ok = True
        for key, value, key_path in self.keys(mapping, path):
            if key != "url":
                self.unknown(key_path, key, frozenset({"url"}))
                ok = False
                continue
            url = self.string(value, key_path)
            if isinstance(url, _Invalid):
                ok = False
            elif not _OFFER_URL_RE.match(url):
                self.add(
                    key_path, f'invalid offer URL "{url}": expected [controller:][user/]model.offer'
                )
                ok = False
            else:
                entry["url"] = url
        if ok and "url" not in entry:
            self.add(f"{path}.url", "is required: the offer to consume")
            ok = False
        return entry if ok else None


_NAME_RULE = "lowercase letters, digits and hyphens, starting with a letter"


# --- merging --------------------------------------------------------------------------


@dataclasses.dataclass
class _Merged:
    """The bundle as the documents read so far make it (see the module docstring)."""

    kind: str
    base_source: str = ""
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    default_base: str | None = None
    applications: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    saas: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    machines: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    machines_source: str = ""
    relations: list[_Relation] = dataclasses.field(default_factory=list)
    broken: set[str] = dataclasses.field(default_factory=set)

    def apply(self, part: _Part) -> None:
        if part.is_base:
            self.base_source = part.source
            self.machines_source = part.source
            self.meta = part.meta
        self.broken |= part.broken
        for name, app in (part.applications or {}).items():
            if app is None:
                self.applications.pop(name, None)
                self.remove_relations(name)
                continue
            target = self.applications.setdefault(name, {"_invalid": set(), "_from": {}})
            _merge_application(target, app, part.source)
        for name, saas in (part.saas or {}).items():
            if saas is None:
                self.saas.pop(name, None)
                self.remove_relations(name)
                continue
            entry = self.saas.setdefault(name, {})
            entry.update(saas)
            entry["_from"] = part.source
        if part.default_base is not None:
            self.default_base = part.default_base
        self.relations.extend(part.relations)
        if part.machines is not None:
            self.machines = part.machines
            self.machines_source = part.source

    def remove_relations(self, name: str) -> None:
        self.relations = [
            r for r in self.relations if name not in {e.application for e in r.spec.endpoints}
        ]


def _merge_application(target: dict[str, Any], overlay: dict[str, Any], source: str) -> None:
    """Merge one document's application into the merged one, by key presence (Juju)."""
    target["_invalid"] |= overlay["_invalid"]
    for key, value in overlay.items():
        if key.startswith("_"):
            continue
        target["_from"][key] = source
        if key not in _MAP_FIELDS:
            target[key] = value
        elif not value:
            target[key] = {}
        else:
            merged = dict(target.get(key, {}))
            for item, item_value in value.items():
                if item_value is None:
                    merged.pop(item, None)
                else:
                    merged[item] = item_value
            target[key] = merged


# --- checking the merged bundle -------------------------------------------------------


def _verify(merged: _Merged, problems: _Problems) -> None:
    """The checks that need the whole bundle: references, counts, clashes."""
    apps = merged.applications
    if not apps and "applications" not in merged.broken:
        problems.add(merged.base_source, "applications", "at least one application is required")
    referenced: set[str] = set()
    placements_known = True
    offer_owner: dict[str, str] = {}
    for name, app in apps.items():
        invalid: set[str] = app["_invalid"]
        if "*" in invalid:
            placements_known = False
            continue
        origin: dict[str, str] = app["_from"]
        path = f"applications.{name}"

        def add(
            field: str, message: str, *, origin: dict[str, str] = origin, path: str = path
        ) -> None:
            problems.add(origin.get(field, merged.base_source), f"{path}.{field}", message)

        if app.get("charm") is None and "charm" not in invalid:
            problems.add(origin.get("charm", merged.base_source), f"{path}.charm", "is required")
        _verify_revision(app, invalid, add)
        if "to" in invalid:
            placements_known = False
        elif merged.kind == "machine":
            referenced |= _verify_placements(name, app, invalid, apps, merged, problems)
        if app.get("expose") and app.get("exposed_endpoints"):
            add(
                "exposed_endpoints",
                "cannot be combined with expose: true (an older controller would expose every"
                " endpoint to 0.0.0.0/0)",
            )
        for offer in app.get("offers", {}):
            if offer in offer_owner:
                add("offers", f'offer "{offer}" is also made by application "{offer_owner[offer]}"')
            offer_owner.setdefault(offer, name)
    for name, entry in merged.saas.items():
        if name in apps:
            problems.add(
                entry.get("_from", merged.base_source),
                f"saas.{name}",
                f'"{name}" is also an application; SAAS and application names must differ',
            )
    for relation in merged.relations:
        for end in relation.spec.endpoints:
            if end.application not in apps and end.application not in merged.saas:
                problems.add(
                    relation.source,
                    relation.path,
                    f'application "{end.application}" is not in the bundle',
                )
    _verify_machines(merged, referenced, placements_known, problems)


def _verify_revision(
    app: dict[str, Any], invalid: set[str], add: Callable[[str, str], None]
) -> None:
    charm = app.get("charm")
    revision = app.get("revision")
    if charm is None or revision is None or "charm" in invalid:
        return
    ref = _parse_charm(charm)
    if isinstance(ref, str):
        return
    if ref.revision is not None:
        add("revision", f'the charm URL "{charm}" already gives revision {ref.revision}')
    elif ref.source == "charmhub" and not app.get("channel"):
        add("revision", "needs a channel too (Juju requires one, for later upgrades)")


def _verify_placements(
    name: str,
    app: dict[str, Any],
    invalid: set[str],
    apps: dict[str, dict[str, Any]],
    merged: _Merged,
    problems: _Problems,
) -> set[str]:
    """Check one application's `to:` and return the machine ids it refers to."""
    source = app["_from"].get("to", merged.base_source)
    path = f"applications.{name}.to"
    placements: tuple[Placement, ...] = app.get("to", ())
    units = app.get("num_units", 0)
    if len(placements) > units and "num_units" not in invalid:
        problems.add(
            source, path, f"{_plural(len(placements), 'placement')} for {_plural(units, 'unit')}"
        )
    referenced: set[str] = set()
    for index, placement in enumerate(placements):
        where = f"{path}[{index}]"
        if placement.machine is not None and placement.machine != "new":
            if placement.machine in merged.machines:
                referenced.add(placement.machine)
            elif "machines" not in merged.broken:
                problems.add(
                    source, where, f'machine "{placement.machine}" is not defined in machines'
                )
        elif placement.application is not None:
            target = apps.get(placement.application)
            if target is None:
                problems.add(
                    source, where, f'application "{placement.application}" is not in the bundle'
                )
            elif (
                placement.unit is not None
                and "num_units" not in target["_invalid"]
                and placement.unit >= target.get("num_units", 0)
            ):
                problems.add(
                    source,
                    where,
                    f"unit {placement.application}/{placement.unit} does not exist: application"
                    f' "{placement.application}" has {_plural(target.get("num_units", 0), "unit")}',
                )
    return referenced


def _verify_machines(
    merged: _Merged, referenced: set[str], placements_known: bool, problems: _Problems
) -> None:
    if merged.kind == "kubernetes":
        if merged.machines:
            problems.add(
                merged.machines_source, "machines", "a Kubernetes bundle cannot have machines"
            )
        return
    if not placements_known:
        return
    for machine_id in merged.machines:
        if machine_id not in referenced:
            problems.add(
                merged.machines_source,
                f"machines.{machine_id}",
                "is not referred to by any placement (to:); Juju refuses unused machines",
            )


# --- building the model ---------------------------------------------------------------


def _build(merged: _Merged, problems: _Problems) -> Bundle:
    """The frozen `Bundle`; the data is already checked, so failures here are our bugs."""
    try:
        return Bundle(
            kind="kubernetes" if merged.kind == "kubernetes" else "machine",
            name=merged.meta.get("name"),
            description=merged.meta.get("description"),
            docs=merged.meta.get("docs"),
            issues=merged.meta.get("issues"),
            source=merged.meta.get("source"),
            website=merged.meta.get("website"),
            tags=merged.meta.get("tags", ()),
            default_base=merged.default_base,
            applications={
                name: ApplicationSpec(**_public(app)) for name, app in merged.applications.items()
            },
            machines={mid: MachineSpec(**machine) for mid, machine in merged.machines.items()},
            relations=tuple(
                sorted(
                    {r.spec for r in merged.relations},
                    key=lambda spec: tuple(_endpoint_key(e) for e in spec.endpoints),
                )
            ),
            saas={name: SaasSpec(url=entry["url"]) for name, entry in merged.saas.items()},
        )
    except ValidationError as exc:
        for error in exc.errors():
            path = ".".join(str(part) for part in error["loc"])
            problems.add(merged.base_source, path, str(error["msg"]))
        raise BundleError(problems.items) from None


def _public(app: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in app.items() if not key.startswith("_")}


# --- writing --------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings as literal blocks, so descriptions and certificates read well."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style: str | None = None
    if any(ch in value for ch in _UNICODE_BREAKS):
        style = '"'  # PyYAML mangles these in every other style; double quotes escape them
    elif "\n" in value:
        style = "|"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_UNICODE_BREAKS = "\x85\u2028\u2029\ufeff"


_Dumper.add_representer(str, _represent_str)


def dump(bundle: Bundle) -> str:
    """The bundle as YAML that `loads` reads back to an equal `Bundle`.

    Offers and exposed endpoints go in a second document, because Juju accepts them only
    in overlays. Placement of keys follows Juju's export; maps are sorted for stable diffs.
    """
    base: dict[str, Any] = {}
    if bundle.kind == "kubernetes":
        base["bundle"] = "kubernetes"
    for key in ("name", "description", "docs", "issues", "source", "website"):
        value = getattr(bundle, key)
        if value is not None:
            base[key] = value
    if bundle.tags:
        base["tags"] = list(bundle.tags)
    if bundle.default_base is not None:
        base["default-base"] = bundle.default_base
    if bundle.saas:
        base["saas"] = {name: {"url": s.url} for name, s in sorted(bundle.saas.items())}
    if bundle.machines:
        base["machines"] = {
            mid: _dump_machine(machine)
            for mid, machine in sorted(bundle.machines.items(), key=lambda i: (len(i[0]), i[0]))
        }
    base["applications"] = {
        name: _dump_application(app, bundle.kind)
        for name, app in sorted(bundle.applications.items())
    }
    if bundle.relations:
        base["relations"] = [[str(a), str(b)] for a, b in (r.endpoints for r in bundle.relations)]
    overlay: dict[str, Any] = {}
    for name, app in sorted(bundle.applications.items()):
        extra: dict[str, Any] = {}
        if app.offers:
            extra["offers"] = {
                offer_name: _dump_offer(offer) for offer_name, offer in sorted(app.offers.items())
            }
        if app.exposed_endpoints:
            extra["exposed-endpoints"] = {
                endpoint: {
                    "expose-to-spaces": list(spec.expose_to_spaces),
                    "expose-to-cidrs": list(spec.expose_to_cidrs),
                }
                for endpoint, spec in sorted(app.exposed_endpoints.items())
            }
        if extra:
            overlay[name] = extra
    documents: list[dict[str, Any]] = [base]
    if overlay:
        documents.append({"applications": overlay})
    return yaml.dump_all(
        documents,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=2**31 - 1,
    )


def _dump_machine(machine: MachineSpec) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if machine.base is not None:
        body["base"] = machine.base
    if machine.constraints:
        body["constraints"] = _format_constraints(machine.constraints)
    if machine.annotations:
        body["annotations"] = dict(sorted(machine.annotations.items()))
    return body


def _dump_application(app: ApplicationSpec, kind: str) -> dict[str, Any]:
    body: dict[str, Any] = {"charm": app.charm}
    if app.channel is not None:
        body["channel"] = app.channel
    if app.revision is not None:
        body["revision"] = app.revision
    if app.base is not None:
        body["base"] = app.base
    if app.num_units:
        body["scale" if kind == "kubernetes" else "num_units"] = app.num_units
    if app.to:
        body["to"] = [str(p) for p in app.to]
    if app.placement is not None:
        body["placement"] = app.placement
    if app.trust:
        body["trust"] = True
    if app.expose:
        body["expose"] = True
    if app.constraints:
        body["constraints"] = _format_constraints(app.constraints)
    for key, mapping in (
        ("options", app.options),
        ("storage", {k: str(v) for k, v in app.storage.items()}),
        ("devices", app.devices),
        ("resources", app.resources),
        ("bindings", app.bindings),
        ("annotations", app.annotations),
    ):
        if mapping:
            body[key] = dict(sorted(mapping.items()))
    return body


def _dump_offer(offer: OfferSpec) -> dict[str, Any]:
    body: dict[str, Any] = {"endpoints": list(offer.endpoints)}
    if offer.acl:
        body["acl"] = dict(sorted(offer.acl.items()))
    return body


# --- small parsers --------------------------------------------------------------------


def _parse_charm(text: str) -> CharmRef | str:
    """The charm reference `text` names, or a message saying why it names none."""
    if text.startswith(".") or text.startswith("/"):
        name = os.path.basename(os.path.normpath(text)).removesuffix(".charm")
        return CharmRef(source="path", name=name or text, path=text)
    scheme, sep, rest = text.partition(":")
    if not sep:
        scheme, rest = "ch", text
    sources: dict[str, Literal["charmhub", "charmstore", "local"]] = {
        "ch": "charmhub",
        "cs": "charmstore",
        "local": "local",
    }
    source = sources.get(scheme)
    if source is None:
        return f'unknown charm scheme "{scheme}:" (expected ch:, cs:, local: or a path)'
    parts = rest.split("/")
    if source == "charmstore" and parts and parts[0].startswith("~"):
        parts = parts[1:]
    if not 1 <= len(parts) <= (3 if source == "charmhub" else 2):
        return f'invalid charm "{text}": expected [{scheme}:][series/]name'
    match = _CHARM_NAME_RE.match(parts[-1])
    if match is None:
        return f'invalid charm name in "{text}": {_NAME_RULE}'
    series = parts[-2] if len(parts) >= 2 else None
    if series is not None and not _SERIES_WORD_RE.match(series):
        return f'invalid series "{series}" in charm "{text}"'
    revision = None if match["revision"] is None else int(match["revision"])
    return CharmRef(source=source, name=match["name"], series=series, revision=revision)


def _parse_placement(text: str) -> Placement | str:
    """A `to:` directive of a machine bundle, or a message saying why it is not one."""
    zone = _ZONE_RE.match(text)
    if zone is not None:
        return Placement(zone=zone["zone"])
    match = _PLACEMENT_RE.match(text)
    if match is None:
        return (
            f'invalid placement "{text}": expected [lxd:|kvm:](machine number | new |'
            " application[/unit]) or zone=NAME"
        )
    container = None
    if match["container"] is not None:
        container = _CONTAINER_TYPES.get(match["container"])
        if container is None:
            return (
                f'unknown container type "{match["container"]}" in "{text}" (expected lxd or kvm)'
            )
    kind: Literal["lxd", "kvm"] | None = (
        "lxd" if container == "lxd" else "kvm" if container else None
    )
    if match["machine"] is not None:
        return Placement(container=kind, machine=match["machine"])
    if match["app"] == "new":
        if match["unit"] is not None:
            return f'invalid placement "{text}": "new" takes no unit number'
        return Placement(container=kind, machine="new")
    unit = None if match["unit"] is None else int(match["unit"])
    return Placement(container=kind, application=match["app"], unit=unit)


def _parse_storage(text: str) -> StorageDirective | str:
    """`pool,size,count` in any order with any part left out (Juju's storage syntax)."""
    pool: str | None = None
    size: str | None = None
    count: int | None = None
    for field in text.split(","):
        if field.isdigit() and field.isascii():
            if count is not None:
                return f'invalid storage "{text}": two counts'
            count = int(field)
        elif _SIZE_RE.match(field):
            if size is not None:
                return f'invalid storage "{text}": two sizes'
            size = field
        elif _POOL_RE.match(field):
            if pool is not None:
                return f'invalid storage "{text}": two pools'
            pool = field
        else:
            return f'invalid storage "{text}": expected pool,size,count, such as ebs,10G,1'
    return StorageDirective(pool=pool, size=size, count=count)


def _parse_constraints(text: str) -> tuple[dict[str, str], list[str]]:
    """`key=value` pairs separated by spaces, as `juju deploy --constraints` takes them."""
    result: dict[str, str] = {}
    errors: list[str] = []
    for item in text.split():
        key, sep, value = item.partition("=")
        key = _CONSTRAINT_ALIASES.get(key, key)
        if not sep:
            errors.append(f'invalid constraint "{item}": expected key=value')
        elif key not in _CONSTRAINT_KEYS:
            errors.append(f'unknown constraint "{key}"')
        elif key in result:
            errors.append(f'constraint "{key}" is given twice')
        else:
            problem = _constraint_value_problem(key, value)
            if problem:
                errors.append(problem)
            else:
                result[key] = value
    return result, errors


def _constraint_value_problem(key: str, value: str) -> str | None:
    if not value:
        return None  # "mem=" means "no constraint", as in Juju
    if key in {"cores", "cpu-power"} and not (value.isdigit() and value.isascii()):
        return f'constraint {key} must be a whole number, not "{value}"'
    if key in {"mem", "root-disk"} and not _SIZE_RE.match(value):
        return f'constraint {key} must be a size such as 4G, not "{value}"'
    if key == "arch" and value not in _ARCHES:
        return f'unknown architecture "{value}" (expected one of {", ".join(sorted(_ARCHES))})'
    if key == "container" and value not in {"lxd", "kvm", "none"}:
        return f'constraint container must be lxd, kvm or none, not "{value}"'
    if key == "allocate-public-ip" and value not in {"true", "false"}:
        return f'constraint allocate-public-ip must be true or false, not "{value}"'
    return None


def _format_constraints(constraints: Mapping[str, str]) -> str:
    return " ".join(f"{key}={value}" for key, value in constraints.items())


# --- helpers --------------------------------------------------------------------------


def _kind(value: object) -> str:
    """How a YAML value reads in a message: "a list", "null", "an integer"..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _show(value: object) -> str:
    """A scalar quoted for a message; containers by kind only (they may be huge)."""
    if isinstance(value, str):
        return json.dumps(value if len(value) <= 60 else value[:57] + "...")
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    return _kind(value)


def _join(path: str, key: object) -> str:
    """`path.key`, or `path["odd key"]` when the key is not a plain word."""
    if isinstance(key, str) and _SIMPLE_KEY_RE.match(key):
        return f"{path}.{key}" if path else key
    text = key if isinstance(key, str) else str(key)
    return f"{path}[{json.dumps(text)}]"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _is_valid_unicode(text: str) -> bool:
    """False for strings holding lone surrogates, which no file can carry."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
