"""Reading one bundle or overlay document into checked, normalised parts."""

from __future__ import annotations

import base64
import dataclasses
import difflib
import ipaddress
import math
import os
import re
from collections.abc import Callable, Iterator
from typing import Any, Literal, TypeVar, cast

from runecraft.schemas._bundle_model import (
    _APP_KEYS,
    _APP_RE,
    _BASE_RE,
    _ENDPOINT_RE,
    _INCLUDE_BASE64,
    _INCLUDE_FILE,
    _INVALID,
    _MACHINE_KEYS,
    _NAME_RULE,
    _NUMBER_RE,
    _OFFER_ACCESS,
    _OFFER_URL_RE,
    _RELATION_END_RE,
    _RISKS,
    _SERIES_BASES,
    _SPACE_RE,
    _TOP_KEYS,
    MAX_INCLUDE_BYTES,
    Endpoint,
    ExposedEndpointSpec,
    OfferSpec,
    OptionValue,
    Placement,
    RelationSpec,
    StorageDirective,
    _Invalid,
    _is_valid_unicode,
    _join,
    _kind,
    _parse_charm,
    _parse_constraints,
    _parse_placement,
    _parse_storage,
    _Problems,
    _show,
)
from runecraft.schemas._bundle_yaml import (
    _read_bytes,
)

# --- reading: one document ------------------------------------------------------------

_T = TypeVar("_T")


def _named(what: str, pattern: re.Pattern[str], rule: str = "") -> Callable[[str], str | None]:
    """The problem with an entry's name, if it does not match `pattern`."""
    suffix = f": {rule}" if rule else ""
    return lambda name: None if pattern.match(name) else f'invalid {what} "{name}"{suffix}'


def _endpoint_name_problem(name: str) -> str | None:
    """An endpoint name; the empty name stands for the application's default."""
    return f'invalid endpoint name "{name}"' if name and not _ENDPOINT_RE.match(name) else None


def _resource_name_problem(name: str) -> str | None:
    return None if name else "a resource needs a name"


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


@dataclasses.dataclass
class _DocumentReader:
    """Checks one YAML document against the bundle format and normalises what it can.

    Context-free checks (types, names, syntax of constraints, placements, storage) happen
    here, per document, so each problem names the document it is in. Checks that need the
    merged bundle (references, counts) happen in `_verify`.
    """

    problems: _Problems
    source: str
    directory: str | None
    _: dataclasses.KW_ONLY
    is_base: bool
    kind: str

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

    def given_string(self, value: object, path: str) -> str | _Invalid | None:
        """A non-empty string, or None where the key is null (not given)."""
        return None if value is None else self.string(value, path)

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
        text = self.given_string(value, path)
        if not isinstance(text, str):
            return text
        match = _BASE_RE.match(text)
        if match is None:
            self.add(path, f'invalid base "{text}": expected OS@VERSION, such as ubuntu@22.04')
            return _INVALID
        return text.removesuffix("/stable")

    def series(self, value: object, path: str) -> str | _Invalid | None:
        text = self.given_string(value, path)
        if not isinstance(text, str):
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
        return self.entries(value, path, self.annotation)

    def annotation(self, value: object, path: str) -> str | _Invalid:
        """Numbers and booleans read as their YAML text; a string may name a file to include."""
        checked = self.text(value, path)
        if isinstance(value, str) and not isinstance(checked, _Invalid):
            return self.include(checked, path)
        return checked

    def entries(
        self,
        value: object,
        path: str,
        check: Callable[[object, str], _T | _Invalid],
        name_problem: Callable[[str], str | None] = lambda name: None,
    ) -> dict[str, _T | None] | _Invalid:
        """A mapping of named entries, each value checked by `check`.

        A null value stays null: in an overlay it removes the entry. Every problem is
        reported before the whole mapping is refused.
        """
        mapping = self.mapping(value, path)
        if isinstance(mapping, _Invalid):
            return mapping
        result: dict[str, _T | None] = {}
        ok = True
        for key, item, key_path in self.keys(mapping, path):
            problem = name_problem(key)
            if problem is not None:
                self.add(key_path, problem)
                ok = False
                continue
            checked = None if item is None else check(item, key_path)
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
            elif key in _META_KEYS:
                self.read_meta(part, key, value, path)
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

    def read_meta(self, part: _Part, key: str, value: object, path: str) -> None:
        """Descriptive keys: checked in every document, kept from the bundle only."""
        checked: str | tuple[str, ...] | _Invalid | None
        if key == "tags":
            tags = self.string_list(value, path)
            checked = tags if isinstance(tags, _Invalid) else tuple(tags)
        else:
            checked = None if value is None else self.string(value, path, empty=True)
        if not isinstance(checked, _Invalid) and self.is_base:
            part.meta[key] = checked

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
        return self.read_named(value, path, part, "applications", self.read_application)

    def read_named(
        self,
        value: object,
        path: str,
        part: _Part,
        section: Literal["applications", "saas"],
        read_body: Callable[[object, str], dict[str, Any] | None],
    ) -> dict[str, dict[str, Any] | None] | None:
        """A section of named applications; a bad name is reported, its body still read."""
        mapping = self.mapping(value, path)
        if isinstance(mapping, _Invalid):
            part.broken.add(section)
            return None
        what = "application" if section == "applications" else "SAAS"
        result: dict[str, dict[str, Any] | None] = {}
        for name, body, name_path in self.keys(mapping, path):
            if not _APP_RE.match(name):
                self.add(name_path, f'invalid {what} name "{name}": {_NAME_RULE}')
            result[name] = read_body(body, name_path)
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
        if key in _OVERLAY_ONLY_APP_KEYS:
            self.overlay_only(path)
        if key in _APP_FIELDS:
            field, check = _APP_FIELDS[key]
            return field, check(self, value, path)
        if key == "to":
            if self.kind == "kubernetes":
                return "placement", self.kubernetes_to(value, path)
            return "to", self.placements(value, path)
        if key == "placement":
            if self.kind != "kubernetes":
                self.add(path, 'is only for Kubernetes bundles; use "to" to place units')
                return "to", _INVALID
            return "placement", None if value is None else self.node_selector(value, path)
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
        text = self.given_string(value, path)
        if not isinstance(text, str):
            return text
        parsed = self.parsed(text, path, _parse_charm)
        if isinstance(parsed, _Invalid):
            return parsed
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
        text = self.given_string(value, path)
        if not isinstance(text, str):
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

    def revision(self, value: object, path: str) -> int | _Invalid | None:
        return None if value is None else self.count(value, path)

    def word(self, value: object, path: str) -> str | _Invalid:
        """A string; a whole number reads as its digits (YAML reads `to: 0` as a number)."""
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return self.string(value, path)

    def parsed(
        self, text: str | _Invalid, path: str, parse: Callable[[str], _T | str]
    ) -> _T | _Invalid:
        """What `parse` makes of `text`, or the problem (a string) it names, reported."""
        if isinstance(text, _Invalid):
            return text
        result = parse(text)
        if isinstance(result, str):
            self.add(path, result)
            return _INVALID
        return result

    def placements(self, value: object, path: str) -> tuple[Placement, ...] | _Invalid:
        if value is None:
            return ()
        items = value if isinstance(value, list) else [value]
        result: list[Placement] = []
        ok = True
        for index, item in enumerate(items):
            item_path = f"{path}[{index}]" if isinstance(value, list) else path
            placement = self.parsed(self.word(item, item_path), item_path, _parse_placement)
            if isinstance(placement, _Invalid):
                ok = False
            else:
                result.append(placement)
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
        entries = self.entries(value, path, self.option)
        return cast(
            "dict[str, OptionValue | None] | _Invalid", entries
        )  # mypy infers no union for _T

    def option(self, value: object, path: str) -> OptionValue | _Invalid:
        if isinstance(value, bool | int):
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                self.add(path, "must be a finite number")
                return _INVALID
            return value
        if isinstance(value, str):
            text = self.string(value, path, empty=True)
            return text if isinstance(text, _Invalid) else self.include(text, path)
        self.add(path, f"must be a string, number or boolean, not {_kind(value)}")
        return _INVALID

    def storage(self, value: object, path: str) -> dict[str, StorageDirective | None] | _Invalid:
        return self.entries(
            value,
            path,
            lambda item, item_path: self.parsed(
                self.word(item, item_path), item_path, _parse_storage
            ),
            _named("storage name", _APP_RE, _NAME_RULE),
        )

    def devices(self, value: object, path: str) -> dict[str, str | None] | _Invalid:
        return self.entries(value, path, self.string, _named("device name", _APP_RE))

    def resources(self, value: object, path: str) -> dict[str, int | str | None] | _Invalid:
        entries = self.entries(value, path, self.resource, _resource_name_problem)
        return cast(
            "dict[str, int | str | None] | _Invalid", entries
        )  # mypy infers no union for _T

    def resource(self, value: object, path: str) -> int | str | _Invalid:
        if isinstance(value, int) and not isinstance(value, bool):
            return self.count(value, path)
        if isinstance(value, str):
            return self.string(value, path)
        self.add(path, f"must be a revision number or a path, not {_kind(value)}")
        return _INVALID

    def bindings(self, value: object, path: str) -> dict[str, str | None] | _Invalid:
        return self.entries(value, path, self.space, _endpoint_name_problem)

    def space(self, value: object, path: str) -> str | _Invalid:
        space = self.string(value, path, empty=True)
        if isinstance(space, str) and space and not _SPACE_RE.match(space):
            self.add(path, f'invalid space name "{space}"')
            return _INVALID
        return space

    def exposed_endpoints(
        self, value: object, path: str
    ) -> dict[str, ExposedEndpointSpec | None] | _Invalid:
        return self.entries(value, path, self.exposed_endpoint, _endpoint_name_problem)

    def exposed_endpoint(self, value: object, path: str) -> ExposedEndpointSpec | _Invalid | None:
        body = self.mapping(value, path)
        if isinstance(body, _Invalid):
            return body
        if not body:
            return None  # Juju: an empty spec deletes the entry
        ok = True
        spaces: list[str] | _Invalid = []
        cidrs: list[str] | _Invalid = []
        for field, field_value, field_path in self.keys(body, path):
            if field == "expose-to-spaces":
                spaces = self.string_list(field_value, field_path)
            elif field == "expose-to-cidrs":
                cidrs = self.cidrs(field_value, field_path)
            else:
                self.unknown(field_path, field, frozenset({"expose-to-spaces", "expose-to-cidrs"}))
                ok = False
        if isinstance(spaces, _Invalid) or isinstance(cidrs, _Invalid):
            return _INVALID
        spec = ExposedEndpointSpec(expose_to_spaces=tuple(spaces), expose_to_cidrs=tuple(cidrs))
        return spec if ok else _INVALID

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
        return self.entries(value, path, self.offer, _named("offer name", _APP_RE, _NAME_RULE))

    def offer(self, body: object, path: str) -> OfferSpec | _Invalid:
        mapping = self.mapping(body, path)
        if isinstance(mapping, _Invalid):
            return mapping
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
        return OfferSpec(endpoints=tuple(endpoints), acl=acl) if ok else _INVALID

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
        return self.read_named(value, path, part, "saas", self.read_saas_body)

    def read_saas_body(self, body: object, path: str) -> dict[str, Any] | None:
        if body is None and not self.is_base:
            return None  # removes the SAAS entry
        entry = self.read_saas_entry(body, path)
        return entry if entry is not None else {"_invalid": True}

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


# An application's keys read by one check each: key -> (the field it fills, the check).
_APP_FIELDS: dict[str, tuple[str, Callable[[_DocumentReader, object, str], object]]] = {
    "charm": ("charm", _DocumentReader.charm),
    "channel": ("channel", _DocumentReader.channel),
    "revision": ("revision", _DocumentReader.revision),
    "base": ("base", _DocumentReader.base),
    "series": ("base", _DocumentReader.series),
    "num_units": ("num_units", _DocumentReader.count),
    "scale": ("num_units", _DocumentReader.count),
    "options": ("options", _DocumentReader.options),
    "constraints": ("constraints", _DocumentReader.constraints),
    "storage": ("storage", _DocumentReader.storage),
    "devices": ("devices", _DocumentReader.devices),
    "resources": ("resources", _DocumentReader.resources),
    "bindings": ("bindings", _DocumentReader.bindings),
    "expose": ("expose", _DocumentReader.boolean),
    "trust": ("trust", _DocumentReader.boolean),
    "exposed-endpoints": ("exposed_endpoints", _DocumentReader.exposed_endpoints),
    "offers": ("offers", _DocumentReader.offers),
    "annotations": ("annotations", _DocumentReader.annotations),
}
_META_KEYS = frozenset({"name", "description", "docs", "issues", "source", "tags", "website"})
_OVERLAY_ONLY_APP_KEYS = frozenset({"exposed-endpoints", "offers"})
