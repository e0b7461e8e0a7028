"""Charm metadata, config and actions, as Juju 3.6 and `ops` read them.

Four documents describe a charm (reference/charm-contract.md §9): `metadata.yaml`
(`CharmMeta`), `config.yaml` (`CharmConfig`), `actions.yaml` (`CharmActions`) and the unified
`charmcraft.yaml` (`Charmcraft`) that source trees carry instead of the first three.
`split_charmcraft` turns the unified form into the three documents with charmcraft's
either-or rules, so the rest of Runecraft only ever sees the three.

These models are pure: they take already-parsed YAML (dicts) and raise pydantic's
`ValidationError` or `ValueError`, with the field path in the location or the message.
Reading files and turning these errors into `InvalidSpecError` is `runecraft.charms`' job.
Unknown keys are accepted and ignored, as Juju does, so charms written for newer tools load.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationInfo,
    field_validator,
    model_validator,
)

from runecraft.schemas.names import check_printable

__all__ = [
    "CHARM_METADATA_KEYS",
    "IMPLICIT_ENDPOINT",
    "ActionSpec",
    "CharmActions",
    "CharmConfig",
    "CharmMeta",
    "Charmcraft",
    "CharmcraftParts",
    "ConfigOption",
    "ConfigType",
    "ContainerMount",
    "ContainerSpec",
    "Endpoint",
    "EndpointRole",
    "ResourceSpec",
    "StorageSpec",
    "coerce_option_value",
    "split_charmcraft",
]

CHARM_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[0-9]*[a-z][a-z0-9]*)*\Z")  # see names.APPLICATION
"""Juju's charm name rule: hyphen-separated words, each word holding a letter."""
ENDPOINT_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*\Z")
"""Juju's relation (endpoint) name rule (`names.RelationSnippet`)."""
ACTION_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z")
BASE_RE = re.compile(r"^[a-z][a-z0-9-]*@[0-9a-z.]+\Z")
_SAFE_PATH_RE = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_./-]*\Z")
_INT_RE = re.compile(r"^[+-]?[0-9]+\Z")
_FLOAT_RE = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_TRUE_WORDS = frozenset({"true", "yes", "1"})
_FALSE_WORDS = frozenset({"false", "no", "0"})

CHARM_METADATA_KEYS = frozenset(
    {
        "assumes",
        "charm-user",
        "containers",
        "description",
        "devices",
        "documentation",
        "extra-bindings",
        "links",
        "name",
        "peers",
        "provides",
        "requires",
        "resources",
        "storage",
        "subordinate",
        "summary",
        "terms",
        "title",
    }
)
"""Keys charmcraft copies from `charmcraft.yaml` into `metadata.yaml`."""

EndpointRole = Literal["provider", "requirer", "peer"]
ConfigType = Literal["string", "int", "float", "boolean", "secret"]

_ROLE_BY_SECTION: dict[str, EndpointRole] = {
    "provides": "provider",
    "requires": "requirer",
    "peers": "peer",
}


class _Model(BaseModel):
    """Frozen, alias-aware, and lenient about keys we do not know (as Juju is)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


def _show(value: object) -> str:
    """Render a rejected value the way a user typed it: JSON, falling back to repr."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _nulls_to_empty(data: Any, keys: tuple[str, ...]) -> Any:
    """YAML writes an empty section as `provides:` (null); Juju reads that as empty."""
    if isinstance(data, Mapping):
        data = dict(data)
        for key in keys:
            if key in data and data[key] is None:
                data[key] = {}
    return data


# --- metadata.yaml ----------------------------------------------------------------------


class Endpoint(_Model):
    """One relation endpoint, normalised from the long or the short (`ep: iface`) form."""

    name: str
    role: EndpointRole
    interface: str = Field(min_length=1)
    limit: int | None = Field(default=None, ge=0)
    optional: bool = False
    scope: Literal["global", "container"] = "global"
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"interface": data}
        if not isinstance(data, Mapping):
            raise ValueError(f"expected an interface name or a mapping, got {_show(data)}")
        return data


IMPLICIT_ENDPOINT = Endpoint(name="juju-info", role="provider", interface="juju-info")
"""Every charm provides `juju-info` without declaring it."""


class StorageSpec(_Model):
    """A storage declaration; `count_min`/`count_max` come from `multiple.range`."""

    type: Literal["filesystem", "block"]
    description: str = ""
    location: str | None = None
    shared: bool = False
    read_only: bool = Field(default=False, alias="read-only")
    minimum_size: str | int | None = Field(default=None, alias="minimum-size")
    properties: tuple[str, ...] = ()
    multiple: dict[str, Any] | None = None

    @property
    def count_range(self) -> tuple[int, int | None]:
        """(minimum, maximum or None for unbounded); a singleton is (1, 1)."""
        if self.multiple is None:
            return (1, 1)
        return _parse_range(str(self.multiple.get("range", "")))

    @field_validator("multiple")
    @classmethod
    def _check_range(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            _parse_range(str(value.get("range", "")))
        return value


def _parse_range(text: str) -> tuple[int, int | None]:
    """Parse Juju's `N`, `N-M`, `N-` and `N+` storage count ranges."""
    match = re.fullmatch(r"([0-9]+)(?:(-|\+)([0-9]+)?)?", text.strip())
    if match is None or (match.group(2) == "+" and match.group(3)):
        raise ValueError(f'range: expected "N", "N-M", "N-" or "N+", got {_show(text)}')
    low = int(match.group(1))
    if match.group(2) is None:
        return (low, low)
    if match.group(3) is None:
        return (low, None)
    high = int(match.group(3))
    if high < low:
        raise ValueError(f"range: maximum {high} is below minimum {low}")
    return (low, high)


class ResourceSpec(_Model):
    """A resource the charm can fetch with `resource-get`."""

    type: Literal["file", "oci-image"] = "file"
    filename: str | None = None
    description: str = ""
    upstream_source: str | None = Field(default=None, alias="upstream-source")
    """An oci-image's default image, used when none is attached."""

    @model_validator(mode="after")
    def _file_needs_filename(self) -> ResourceSpec:
        if self.type == "file" and not self.filename:
            raise ValueError("filename: required for a file resource")
        return self


class ContainerMount(_Model):
    """A storage mount inside a Kubernetes sidecar container."""

    storage: str
    location: str | None = None


class ContainerSpec(_Model):
    """A Kubernetes sidecar container (kept so K8s charms load; machines ignore it)."""

    resource: str | None = None
    mounts: tuple[ContainerMount, ...] = ()
    uid: int | None = None
    gid: int | None = None


class CharmMeta(_Model):
    """`metadata.yaml`: identity, relation endpoints, storage, resources."""

    name: str
    summary: str = ""
    description: str = ""
    title: str = ""
    subordinate: bool = False
    provides: dict[str, Endpoint] = Field(default_factory=dict)
    requires: dict[str, Endpoint] = Field(default_factory=dict)
    peers: dict[str, Endpoint] = Field(default_factory=dict)
    extra_bindings: tuple[str, ...] = Field(default=(), alias="extra-bindings")
    storage: dict[str, StorageSpec] = Field(default_factory=dict)
    resources: dict[str, ResourceSpec] = Field(default_factory=dict)
    containers: dict[str, ContainerSpec] = Field(default_factory=dict)
    assumes: tuple[Any, ...] = ()
    charm_user: Literal["root", "sudoer", "non-root"] = Field(default="root", alias="charm-user")

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        """Fill in each endpoint's name and role from where it is declared."""
        data = _nulls_to_empty(
            data,
            ("provides", "requires", "peers", "storage", "resources", "containers"),
        )
        if not isinstance(data, dict):
            return data
        containers = data.get("containers")
        if isinstance(containers, Mapping):  # `name:` alone (null) is a container with defaults
            data["containers"] = {k: {} if v is None else v for k, v in containers.items()}
        for section, role in _ROLE_BY_SECTION.items():
            endpoints = data.get(section)
            if not isinstance(endpoints, Mapping):
                continue
            normalised: dict[Any, Any] = {}
            for name, raw in endpoints.items():
                spec = {"interface": raw} if isinstance(raw, str) else raw
                if isinstance(spec, Mapping):
                    spec = {**spec, "name": name, "role": role}
                normalised[name] = spec
            data[section] = normalised
        bindings = data.get("extra-bindings", data.get("extra_bindings"))
        if isinstance(bindings, Mapping):
            data.pop("extra_bindings", None)
            data["extra-bindings"] = tuple(sorted(str(k) for k in bindings))
        elif bindings is None:
            data.pop("extra-bindings", None)
            data.pop("extra_bindings", None)
        if data.get("assumes") is None:
            data.pop("assumes", None)
        return data

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not CHARM_NAME_RE.match(value):
            raise ValueError(
                f"invalid charm name {_show(value)}: use lower-case letters, digits and "
                "hyphens, starting with a letter"
            )
        return value

    @model_validator(mode="after")
    def _check_endpoints(self) -> CharmMeta:
        seen: dict[str, str] = {}
        for section in _ROLE_BY_SECTION:
            for name, endpoint in getattr(self, section).items():
                where = f"{section}.{name}"
                if not ENDPOINT_NAME_RE.match(name):
                    raise ValueError(
                        f"{where}: invalid endpoint name: use lower-case letters, digits, "
                        "'-' and '_', starting with a letter"
                    )
                if name in seen:
                    raise ValueError(f"{where}: endpoint name already used in {seen[name]}")
                seen[name] = section
                self._check_reserved(section, name, endpoint, where)
        for name in self.extra_bindings:
            if name in seen:
                raise ValueError(
                    f"extra-bindings.{name}: clashes with the endpoint in {seen[name]}"
                )
        if self.subordinate and not any(ep.scope == "container" for ep in self.requires.values()):
            raise ValueError(
                "subordinate: a subordinate charm needs a requires endpoint with scope: container"
            )
        return self

    def _check_reserved(self, section: str, name: str, endpoint: Endpoint, where: str) -> None:
        """Juju reserves `juju` and `juju-*` endpoint names (and provided interfaces)."""
        if self.name.startswith("juju-"):
            return
        if section == "requires" and endpoint.scope == "container":
            return  # a subordinate may require `juju-info` by that name
        if name == "juju" or name.startswith("juju-"):
            raise ValueError(f'{where}: endpoint names "juju" and "juju-*" are reserved')
        iface = endpoint.interface
        if section == "provides" and (iface == "juju" or iface.startswith("juju-")):
            raise ValueError(f'{where}.interface: interfaces "juju" and "juju-*" are reserved')

    @property
    def endpoints(self) -> dict[str, Endpoint]:
        """Every declared endpoint by name, plus the implicit `juju-info`."""
        found: dict[str, Endpoint] = {IMPLICIT_ENDPOINT.name: IMPLICIT_ENDPOINT}
        for section in _ROLE_BY_SECTION:
            found.update(getattr(self, section))
        return found


# --- config.yaml ------------------------------------------------------------------------


def coerce_option_value(option_type: ConfigType, value: object) -> object:
    """Turn a CLI string or a typed JSON value into `option_type`, or raise `ValueError`.

    Strings are parsed as `juju config` parses them (booleans accept true/false/yes/no/1/0
    in any case); typed values must already fit. `None` passes through (it means "unset").
    An empty string resets non-string options, as `juju config app key=` does.
    """
    if value is None:
        return None
    expected = f"expected {option_type}, got {_show(value)}"
    if option_type in ("string", "secret"):
        if not isinstance(value, str):
            raise ValueError(expected)
        if option_type == "secret" and value and not value.startswith("secret:"):
            raise ValueError(f'expected a secret URI ("secret:..."), got {_show(value)}')
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        value = _parse_option_text(option_type, text, expected)
    if option_type == "boolean":
        if not isinstance(value, bool):
            raise ValueError(expected)
        return value
    return _checked_number(option_type, value, expected)


def _parse_option_text(option_type: ConfigType, text: str, expected: str) -> int | float | bool:
    """A non-string option given as text (from the CLI), parsed as `juju config` does."""
    if option_type == "int":
        if not _INT_RE.match(text):
            raise ValueError(expected)
        return int(text)
    if option_type == "float":
        if not _FLOAT_RE.match(text):
            raise ValueError(expected)
        return float(text)
    word = text.lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError(expected)


def _checked_number(option_type: ConfigType, value: object, expected: str) -> int | float:
    """An int option's value as a 64-bit integer, a float option's as a finite float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(expected)
    if option_type == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(expected)
            value = int(value)
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"{expected}: out of the 64-bit range")
        return value
    if not math.isfinite(value):
        raise ValueError(expected)
    return float(value)


class ConfigOption(_Model):
    """One option of `config.yaml`; the default is validated and stored typed."""

    type: ConfigType
    """Required: Juju would assume `string`, but ops refuses an option without a type."""
    default: Any = None
    description: str = ""

    @field_validator("default")
    @classmethod
    def _check_default(cls, value: Any, info: ValidationInfo) -> Any:
        option_type = info.data.get("type")
        if option_type is None:  # the type itself failed; that error is reported
            return value
        return coerce_option_value(option_type, value)


def _option_name(name: str) -> str:
    return check_printable(name, "option name")


class CharmConfig(_Model):
    """`config.yaml`: the options an operator may set, with their types and defaults."""

    options: dict[Annotated[str, AfterValidator(_option_name)], ConfigOption]
    """Required even if empty: an empty config.yaml is an error in Juju, `options: {}` is not."""

    def defaults(self) -> dict[str, object]:
        """Each option's default, leaving out options without one."""
        return {name: opt.default for name, opt in self.options.items() if opt.default is not None}

    def coerce(self, values: Mapping[str, object]) -> dict[str, object]:
        """Type user-supplied settings; `ValueError` names the option and the reason.

        `None` (or "" for non-string options) is kept as `None`, which means "back to the
        default" when stored.
        """
        typed: dict[str, object] = {}
        for name, value in values.items():
            option = self.options.get(name)
            if option is None:
                raise ValueError(f"unknown option {_show(name)}")
            try:
                typed[name] = coerce_option_value(option.type, value)
            except ValueError as exc:
                raise ValueError(f"option {_show(name)}: {exc}") from None
        return typed

    def effective(self, settings: Mapping[str, object]) -> dict[str, object]:
        """What `config-get` prints: defaults overlaid by settings, nulls and strays dropped.

        A `None` setting means "reset", so the default shows through, as in Juju; options
        with neither are left out. Settings of options the charm no longer declares (after
        an upgrade) are ignored.
        """
        merged: dict[str, object] = {}
        for name, option in self.options.items():
            value = settings.get(name)
            if value is None:
                value = option.default
            if value is not None:
                merged[name] = value
        return merged


# --- actions.yaml -----------------------------------------------------------------------


def _reject_refs(schema: Any, where: str, seen: set[int] | None = None) -> None:
    """Juju refuses `$ref` and `$schema` anywhere in an action's parameter schema.

    Each container is visited once: YAML aliases can share one object many times over.
    """
    seen = set() if seen is None else seen
    if id(schema) in seen:
        return
    if isinstance(schema, Mapping):
        seen.add(id(schema))
        for key, value in schema.items():
            if key in ("$ref", "$schema"):
                raise ValueError(f"{where}.{key}: not supported by Juju")
            _reject_refs(value, f"{where}.{key}", seen)
    elif isinstance(schema, list):
        seen.add(id(schema))
        for index, value in enumerate(schema):
            _reject_refs(value, f"{where}.{index}", seen)


class ActionSpec(_Model):
    """One action: its description and the JSON schema of its parameters."""

    description: str = ""
    title: str = ""
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    required: tuple[str, ...] = ()
    additional_properties: bool | None = Field(default=None, alias="additionalProperties")
    """None means "Juju's default": true before Juju 4, false from 4 on."""
    parallel: bool = False
    execution_group: str = Field(default="", alias="execution-group")

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data: Any) -> Any:
        if data is None:
            return {}
        data = _nulls_to_empty(data, ("params",))
        if isinstance(data, Mapping) and data.get("required") is None:
            data = {k: v for k, v in data.items() if k != "required"}
        return data

    def json_schema(self, *, additional_properties: bool = True) -> dict[str, Any]:
        """The draft-4 object schema Juju validates `juju run` parameters against.

        Args:
            additional_properties: the default when the action does not say (Juju 3.6: true).
        """
        allowed = self.additional_properties
        return {
            "type": "object",
            "title": self.title or "",
            "description": self.description,
            "properties": {name: dict(spec) for name, spec in self.params.items()},
            "required": list(self.required),
            "additionalProperties": additional_properties if allowed is None else allowed,
        }


class CharmActions(RootModel[dict[str, ActionSpec]]):
    """`actions.yaml`: action name → `ActionSpec`."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_empty(cls, data: Any) -> Any:
        return {} if data is None else data

    @model_validator(mode="after")
    def _check_names(self) -> CharmActions:
        for name in self.root:
            if not ACTION_NAME_RE.match(name):
                raise ValueError(
                    f"{name}: invalid action name: use lower-case letters, digits and "
                    "hyphens, starting and ending with a letter or digit"
                )
            if name.startswith("juju-"):
                raise ValueError(f'{name}: the "juju-" prefix is reserved')
        for name, spec in self.root.items():
            _reject_refs(spec.params, f"{name}.params")
        return self

    @property
    def actions(self) -> dict[str, ActionSpec]:
        """The actions by name."""
        return self.root


# --- charmcraft.yaml --------------------------------------------------------------------


class Charmcraft(_Model):
    """The unified `charmcraft.yaml` of a source tree (only the parts Runecraft uses)."""

    type: Literal["charm"]
    name: str | None = None
    title: str = ""
    summary: str = ""
    description: str = ""
    base: str | None = None
    build_base: str | None = Field(default=None, alias="build-base")
    bases: tuple[dict[str, Any], ...] | None = None
    platforms: dict[str, Any] | None = None
    parts: dict[str, dict[str, Any]] = Field(default_factory=dict)
    config: dict[str, Any] | None = None
    actions: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data: Any) -> Any:
        data = _nulls_to_empty(data, ("parts",))
        if isinstance(data, Mapping):
            parts = data.get("parts")
            if isinstance(parts, Mapping):
                data = {**data, "parts": {k: v or {} for k, v in parts.items()}}
        return data

    @field_validator("base", "build_base")
    @classmethod
    def _check_base(cls, value: str | None) -> str | None:
        if value is not None and not BASE_RE.match(value):
            raise ValueError(f'expected "<os>@<channel>" such as "ubuntu@24.04", got {value!r}')
        return value

    @model_validator(mode="after")
    def _check_bases(self) -> Charmcraft:
        if self.base is not None and self.bases is not None:
            raise ValueError("base: cannot be used together with bases")
        if self.base is not None and self.platforms is None:
            raise ValueError("platforms: required when base is set")
        return self

    @model_validator(mode="after")
    def _check_charm_part(self) -> Charmcraft:
        """Paths from the charm part end up in a shell script and in file names: keep them tame."""
        for name, part in self.parts.items():
            if not (part.get("plugin") == "charm" or (name == "charm" and "plugin" not in part)):
                continue
            entrypoint = part.get("charm-entrypoint")
            if entrypoint is not None:
                _check_relative_path(entrypoint, f"parts.{name}.charm-entrypoint")
            files = part.get("charm-requirements")
            if files is not None:
                if not isinstance(files, list):
                    raise ValueError(f"parts.{name}.charm-requirements: expected a list of files")
                for index, file in enumerate(files):
                    _check_relative_path(file, f"parts.{name}.charm-requirements.{index}")
            for key in ("charm-binary-python-packages", "charm-python-packages"):
                packages = part.get(key)
                if packages is not None and not (
                    isinstance(packages, list) and all(isinstance(p, str) for p in packages)
                ):
                    raise ValueError(f"parts.{name}.{key}: expected a list of package names")
        return self

    def _charm_part(self) -> dict[str, Any]:
        """The part built with the `charm` plugin (or named `charm`), if any."""
        for name, part in self.parts.items():
            if part.get("plugin") == "charm" or (name == "charm" and "plugin" not in part):
                return part
        return {}

    @property
    def entrypoint(self) -> str:
        """Path of the charm's main script, relative to the charm root."""
        return str(self._charm_part().get("charm-entrypoint") or "src/charm.py")

    @property
    def requirement_files(self) -> tuple[str, ...] | None:
        """`charm-requirements` of the charm part, or None for "requirements.txt if any"."""
        files = self._charm_part().get("charm-requirements")
        return None if files is None else tuple(str(f) for f in files)

    @property
    def python_packages(self) -> tuple[str, ...]:
        """Extra packages to install (`charm-binary-python-packages`, `charm-python-packages`)."""
        part = self._charm_part()
        packages = [
            *(part.get("charm-binary-python-packages") or ()),
            *(part.get("charm-python-packages") or ()),
        ]
        return tuple(str(p) for p in packages)


def _check_relative_path(value: object, where: str) -> None:
    if (
        not isinstance(value, str)
        or not _SAFE_PATH_RE.match(value)
        or value.startswith("/")
        or ".." in value.split("/")
    ):
        raise ValueError(
            f"{where}: expected a path inside the charm made of letters, digits, '.', '_', "
            f"'-' and '/', got {_show(value)}"
        )


class CharmcraftParts(NamedTuple):
    """The documents a unified `charmcraft.yaml` contributes; None where it has none."""

    metadata: dict[str, Any] | None
    config: dict[str, Any] | None
    actions: dict[str, Any] | None


def split_charmcraft(
    doc: Mapping[str, Any],
    *,
    metadata_yaml: bool = False,
    config_yaml: bool = False,
    actions_yaml: bool = False,
) -> CharmcraftParts:
    """Split a `charmcraft.yaml` into metadata/config/actions documents, as charmcraft packs.

    Each document comes from exactly one place: a section in `charmcraft.yaml` is an error
    when the matching separate file exists (the flags say which do), like charmcraft.

    Raises:
        ValidationError: the document is not a valid charmcraft.yaml.
        ValueError: a section clashes with a separate file.
    """
    Charmcraft.model_validate(doc)
    meta_keys = sorted(key for key in doc if key in CHARM_METADATA_KEYS)
    metadata: dict[str, Any] | None = None
    if metadata_yaml:
        if meta_keys:
            raise ValueError(
                f"{meta_keys[0]}: metadata keys are not allowed when metadata.yaml exists"
            )
    else:
        metadata = {key: value for key, value in doc.items() if key in CHARM_METADATA_KEYS}
    sections: list[dict[str, Any] | None] = []
    for key, separate in (("config", config_yaml), ("actions", actions_yaml)):
        if key in doc and separate:
            raise ValueError(f"{key}: not allowed when {key}.yaml exists")
        section = doc.get(key)
        sections.append(None if section is None else dict(section))
    return CharmcraftParts(metadata, sections[0], sections[1])
