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

The stages live in private modules: `_bundle_yaml` (files and guarded YAML),
`_bundle_reader` (one document into checked parts), `_bundle_merge` (overlay rules, checks
across the merged bundle, building the model) and `_bundle_model` (the model and the small
parsers they share); this module holds the entry points and `dump`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import yaml

from runecraft.schemas._bundle_merge import (
    _build,
    _Merged,
    _verify,
)
from runecraft.schemas._bundle_model import (
    MAX_DEPTH,
    MAX_DOCUMENT_CHARS,
    MAX_INCLUDE_BYTES,
    MAX_NODES,
    ApplicationSpec,
    Bundle,
    BundleError,
    BundleProblem,
    CharmRef,
    Endpoint,
    ExposedEndpointSpec,
    MachineSpec,
    OfferSpec,
    OptionValue,
    Placement,
    RelationSpec,
    SaasSpec,
    StorageDirective,
    _format_constraints,
    _Problems,
)
from runecraft.schemas._bundle_reader import (
    _DocumentReader,
)
from runecraft.schemas._bundle_yaml import (
    _parse_yaml,
    _read_text_file,
)

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
