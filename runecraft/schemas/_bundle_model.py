"""The bundle model: the normalised, frozen description a bundle reads into, the problems
found on the way, and the small parsers and helpers every reading stage shares."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from runecraft.schemas.names import APPLICATION

MAX_DOCUMENT_CHARS = 4 * 1024 * 1024
"""Largest bundle or overlay file read; real bundles are tens of kilobytes."""
MAX_NODES = 100_000
"""Most YAML nodes one document may expand to through aliases (guards "billion laughs")."""
MAX_DEPTH = 64
"""Deepest nesting of YAML collections accepted (guards the parser's and our recursion)."""
MAX_INCLUDE_BYTES = 1024 * 1024
"""Largest file an `include-file://` or `include-base64://` directive may read."""

# Juju's name rules (juju/names snippets).
_APP = APPLICATION
_ENDPOINT = r"[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*"
_NUMBER = r"(?:0|[1-9][0-9]*)"
_APP_RE = re.compile(rf"^{_APP}\Z")
_ENDPOINT_RE = re.compile(rf"^{_ENDPOINT}\Z")
_NUMBER_RE = re.compile(rf"^{_NUMBER}\Z")
_RELATION_END_RE = re.compile(rf"^(?P<app>{_APP})(?::(?P<endpoint>{_ENDPOINT}))?\Z")
_PLACEMENT_RE = re.compile(
    rf"^(?:(?P<container>[a-z]+):)?(?:(?P<app>{_APP})(?:/(?P<unit>{_NUMBER}))?|(?P<machine>{_NUMBER}))\Z"
)
_ZONE_RE = re.compile(r"^zone=(?P<zone>[A-Za-z0-9][A-Za-z0-9._-]*)\Z")
_CHARM_NAME_RE = re.compile(rf"^(?P<name>{_APP})(?:-(?P<revision>[0-9]+))?\Z")
_SERIES_WORD_RE = re.compile(r"^[a-z][a-z0-9]*\Z")
_BASE_RE = re.compile(
    r"^(?P<os>[a-z][a-z0-9-]*)@(?P<version>[0-9]+(?:\.[0-9]+)*)"
    r"(?:/(?P<risk>stable|candidate|beta|edge))?\Z"
)
_RISKS = frozenset({"stable", "candidate", "beta", "edge"})
_SIZE_RE = re.compile(r"^[0-9]+(?:\.[0-9]+)?[MGTPEZY]?(?:i?B)?\Z")
_POOL_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]*\Z")
_SPACE_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\Z")
_MODEL_RE = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_OFFER_URL_RE = re.compile(
    rf"^(?:(?P<controller>[a-zA-Z0-9][a-zA-Z0-9-]*):)?(?:(?P<user>[^/:\s]+)/)?"
    rf"(?P<model>{_MODEL_RE})\.(?P<offer>{_APP})\Z"
)
_SIMPLE_KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*\Z")

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


class _Problems:
    """The problems found so far, in the order found."""

    def __init__(self) -> None:
        self.items: list[BundleProblem] = []

    def add(self, source: str, path: str, message: str) -> None:
        self.items.append(BundleProblem(path, message, source))


class _Invalid:
    """Marks a value that failed its check (the problem is already recorded)."""


_INVALID = _Invalid()


_NAME_RULE = "lowercase letters, digits and hyphens, starting with a letter"


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
    for kind, words in _KIND_WORDS:
        if isinstance(value, kind):
            return words
    return f"a {type(value).__name__}"


# bool before int: a YAML boolean is a Python int too.
_KIND_WORDS: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (list, "a list"),
    (dict, "a mapping"),
)


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
