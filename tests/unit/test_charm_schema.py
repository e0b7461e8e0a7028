"""Tables of good and bad charm documents: what loads, and the field each error names."""

from __future__ import annotations

import math
from typing import Any

import pydantic
import pytest

from runecraft import schemas
from runecraft.schemas import agent, bus, problems
from runecraft.schemas import charm as schema


def first_error(exc: pydantic.ValidationError) -> tuple[str, str]:
    """(dotted location, message) of the first error, as the loader reports it."""
    error = exc.errors()[0]
    return problems.location(error), problems.reason(error)


def test_schemas_package_exports_its_modules_and_each_module_its_public_names() -> None:
    assert set(schemas.__all__) == {
        "agent",
        "api",
        "bundle",
        "bus",
        "charm",
        "controller",
        "duration",
    }
    for module in (schema, bus, agent):
        public = {
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and name.isidentifier()
            and getattr(value, "__module__", None) == module.__name__
        }
        assert public <= set(module.__all__), public - set(module.__all__)


# --- metadata.yaml ----------------------------------------------------------------------

GOOD_METADATA: list[tuple[str, dict[str, Any]]] = [
    ("minimal", {"name": "foo"}),
    ("unknown keys ignored", {"name": "foo", "maintainers": ["x"], "series": ["jammy"]}),
    ("null sections", {"name": "foo", "provides": None, "requires": None, "storage": None}),
    ("short form", {"name": "foo", "requires": {"db": "mysql"}}),
    (
        "long form",
        {
            "name": "foo",
            "provides": {
                "website": {"interface": "http", "limit": 2, "optional": True, "description": "x"}
            },
        },
    ),
    (
        "subordinate requiring juju-info",
        {
            "name": "sub",
            "subordinate": True,
            "requires": {"juju-info": {"interface": "juju-info", "scope": "container"}},
        },
    ),
    ("juju- charm may use juju- names", {"name": "juju-tools", "provides": {"juju-x": "y"}}),
    ("underscored endpoint", {"name": "foo", "requires": {"db_admin": "pgsql"}}),
    ("extra-bindings", {"name": "foo", "extra-bindings": {"public": None, "admin": None}}),
    (
        "storage and resources",
        {
            "name": "foo",
            "storage": {
                "data": {"type": "filesystem", "location": "/srv", "multiple": {"range": "0-"}}
            },
            "resources": {
                "blob": {"type": "file", "filename": "b.tgz"},
                "img": {"type": "oci-image"},
            },
        },
    ),
    (
        "containers",
        {"name": "foo", "containers": {"app": {"resource": "img", "mounts": [{"storage": "d"}]}}},
    ),
    ("assumes", {"name": "foo", "assumes": ["juju >= 3.6", {"any-of": ["k8s-api"]}]}),
]


@pytest.mark.parametrize(("doc"), [d for _, d in GOOD_METADATA], ids=[i for i, _ in GOOD_METADATA])
def test_good_metadata_loads(doc: dict[str, Any]) -> None:
    meta = schema.CharmMeta.model_validate(doc)
    assert meta.name == doc["name"]


BAD_METADATA: list[tuple[str, dict[str, Any], str, str]] = [
    ("no name", {}, "name", "is required"),
    ("name not a string", {"name": 3}, "name", "must be a string"),
    ("upper-case name", {"name": "Foo"}, "name", 'invalid charm name "Foo"'),
    ("name with digit word", {"name": "foo-2"}, "name", "invalid charm name"),
    (
        "endpoint without interface",
        {"name": "x", "provides": {"db": {"limit": 1}}},
        "provides.db.interface",
        "is required",
    ),
    (
        "endpoint of the wrong type",
        {"name": "x", "requires": {"db": 3}},
        "requires.db",
        "expected an interface name or a mapping, got 3",
    ),
    (
        "bad scope",
        {"name": "x", "requires": {"db": {"interface": "a", "scope": "galaxy"}}},
        "requires.db.scope",
        "'global' or 'container'",
    ),
    (
        "negative limit",
        {"name": "x", "provides": {"db": {"interface": "a", "limit": -1}}},
        "provides.db.limit",
        "must be at least 0",
    ),
    (
        "reserved juju name",
        {"name": "x", "provides": {"juju": "a"}},
        "",
        'provides.juju: endpoint names "juju" and "juju-*" are reserved',
    ),
    (
        "reserved juju- peer",
        {"name": "x", "peers": {"juju-peers": "a"}},
        "",
        'peers.juju-peers: endpoint names "juju" and "juju-*" are reserved',
    ),
    (
        "reserved juju-info requires at global scope",
        {"name": "x", "requires": {"juju-info": "juju-info"}},
        "",
        "requires.juju-info: endpoint names",
    ),
    (
        "reserved provided interface",
        {"name": "x", "provides": {"info": "juju-info"}},
        "",
        'provides.info.interface: interfaces "juju" and "juju-*" are reserved',
    ),
    (
        "endpoint name in two sections",
        {"name": "x", "provides": {"db": "a"}, "requires": {"db": "a"}},
        "",
        "requires.db: endpoint name already used in provides",
    ),
    (
        "bad endpoint name",
        {"name": "x", "provides": {"Web": "http"}},
        "",
        "provides.Web: invalid endpoint name",
    ),
    (
        "extra binding clashes with endpoint",
        {"name": "x", "provides": {"web": "http"}, "extra-bindings": {"web": None}},
        "",
        "extra-bindings.web: clashes with the endpoint in provides",
    ),
    (
        "subordinate without container requires",
        {"name": "x", "subordinate": True, "requires": {"db": "a"}},
        "",
        "subordinate: a subordinate charm needs a requires endpoint with scope: container",
    ),
    (
        "bad storage type",
        {"name": "x", "storage": {"data": {"type": "tape"}}},
        "storage.data.type",
        "'filesystem' or 'block'",
    ),
    (
        "storage without type",
        {"name": "x", "storage": {"data": {"location": "/srv"}}},
        "storage.data.type",
        "is required",
    ),
    (
        "bad storage range",
        {"name": "x", "storage": {"data": {"type": "block", "multiple": {"range": "a-b"}}}},
        "storage.data.multiple",
        'range: expected "N", "N-M", "N-" or "N+", got "a-b"',
    ),
    (
        "inverted storage range",
        {"name": "x", "storage": {"data": {"type": "block", "multiple": {"range": "3-1"}}}},
        "storage.data.multiple",
        "range: maximum 1 is below minimum 3",
    ),
    (
        "file resource without filename",
        {"name": "x", "resources": {"blob": {"type": "file"}}},
        "resources.blob",
        "filename: required for a file resource",
    ),
    (
        "bad resource type",
        {"name": "x", "resources": {"blob": {"type": "tarball", "filename": "f"}}},
        "resources.blob.type",
        "'file' or 'oci-image'",
    ),
    (
        "bad charm-user",
        {"name": "x", "charm-user": "admin"},
        "charm-user",
        "'root', 'sudoer' or 'non-root'",
    ),
]


@pytest.mark.parametrize(
    ("doc", "location", "message"),
    [b[1:] for b in BAD_METADATA],
    ids=[b[0] for b in BAD_METADATA],
)
def test_bad_metadata_names_the_field(doc: dict[str, Any], location: str, message: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        schema.CharmMeta.model_validate(doc)
    got_location, got_message = first_error(caught.value)
    assert got_location == location
    assert message in got_message


def test_a_container_declared_with_null_takes_the_defaults() -> None:
    """`containers: {app: }` (null) is valid for charmcraft: a container with no settings."""
    meta = schema.CharmMeta.model_validate(
        {"name": "foo", "containers": {"app": None, "db": {"resource": "img"}}}
    )
    assert meta.containers == {
        "app": schema.ContainerSpec(),
        "db": schema.ContainerSpec(resource="img"),
    }


def test_endpoints_are_normalised_with_name_and_role() -> None:
    meta = schema.CharmMeta.model_validate(
        {
            "name": "foo",
            "provides": {"website": "http"},
            "requires": {"db": {"interface": "mysql", "limit": 1, "scope": "container"}},
            "peers": {"cluster": {"interface": "foo-peers"}},
        }
    )
    assert meta.provides["website"] == schema.Endpoint(
        name="website", role="provider", interface="http"
    )
    assert meta.requires["db"].role == "requirer"
    assert meta.requires["db"].limit == 1
    assert meta.requires["db"].scope == "container"
    assert meta.peers["cluster"].role == "peer"
    assert meta.peers["cluster"].scope == "global"
    assert set(meta.endpoints) == {"juju-info", "website", "db", "cluster"}
    assert meta.endpoints["juju-info"] == schema.IMPLICIT_ENDPOINT


def test_extra_bindings_are_names() -> None:
    meta = schema.CharmMeta.model_validate(
        {"name": "foo", "extra-bindings": {"public": None, "admin": None}}
    )
    assert meta.extra_bindings == ("admin", "public")


@pytest.mark.parametrize(
    ("multiple", "expected"),
    [
        (None, (1, 1)),
        ({"range": "2"}, (2, 2)),
        ({"range": "0-"}, (0, None)),
        ({"range": "1+"}, (1, None)),
        ({"range": "1-3"}, (1, 3)),
    ],
)
def test_storage_count_range(
    multiple: dict[str, str] | None, expected: tuple[int, int | None]
) -> None:
    spec = schema.StorageSpec.model_validate({"type": "filesystem", "multiple": multiple})
    assert spec.count_range == expected


# --- config.yaml ------------------------------------------------------------------------

GOOD_CONFIG: list[tuple[str, dict[str, Any], dict[str, object]]] = [
    ("empty options", {"options": {}}, {}),
    (
        "every type with a default",
        {
            "options": {
                "s": {"type": "string", "default": "x"},
                "e": {"type": "string", "default": ""},
                "i": {"type": "int", "default": 3},
                "f": {"type": "float", "default": 2},
                "b": {"type": "boolean", "default": False},
                "k": {"type": "secret", "default": ""},
            }
        },
        {"s": "x", "e": "", "i": 3, "f": 2.0, "b": False, "k": ""},
    ),
    ("no default", {"options": {"s": {"type": "string", "description": "d"}}}, {}),
    ("null default", {"options": {"i": {"type": "int", "default": None}}}, {}),
    ("typed from text", {"options": {"i": {"type": "int", "default": "8080"}}}, {"i": 8080}),
    ("unknown keys", {"options": {"s": {"type": "string", "x": 1}}, "other": 2}, {}),
]


@pytest.mark.parametrize(
    ("doc", "defaults"),
    [g[1:] for g in GOOD_CONFIG],
    ids=[g[0] for g in GOOD_CONFIG],
)
def test_good_config_defaults(doc: dict[str, Any], defaults: dict[str, object]) -> None:
    config = schema.CharmConfig.model_validate(doc)
    assert config.defaults() == defaults
    for name, value in defaults.items():
        assert type(config.defaults()[name]) is type(value)


BAD_CONFIG: list[tuple[str, dict[str, Any], str, str]] = [
    ("no options", {}, "options", "is required"),
    ("null options", {"options": None}, "options", "must be a mapping"),
    (
        "option without type",
        {"options": {"port": {"default": 1}}},
        "options.port.type",
        "is required",
    ),
    (
        "unknown type",
        {"options": {"port": {"type": "integer"}}},
        "options.port.type",
        "'string', 'int', 'float', 'boolean' or 'secret'",
    ),
    (
        "int default not a number",
        {"options": {"port": {"type": "int", "default": "abc"}}},
        "options.port.default",
        'expected int, got "abc"',
    ),
    (
        "int default fractional",
        {"options": {"port": {"type": "int", "default": 1.5}}},
        "options.port.default",
        "expected int, got 1.5",
    ),
    (
        "string default a number",
        {"options": {"name": {"type": "string", "default": 8080}}},
        "options.name.default",
        "expected string, got 8080",
    ),
    (
        "boolean default a word",
        {"options": {"debug": {"type": "boolean", "default": "maybe"}}},
        "options.debug.default",
        'expected boolean, got "maybe"',
    ),
    (
        "secret default not a URI",
        {"options": {"key": {"type": "secret", "default": "hunter2"}}},
        "options.key.default",
        "expected a secret URI",
    ),
    (
        "option not a mapping",
        {"options": {"port": "int"}},
        "options.port",
        "must be a mapping",
    ),
]


@pytest.mark.parametrize(
    ("doc", "location", "message"),
    [b[1:] for b in BAD_CONFIG],
    ids=[b[0] for b in BAD_CONFIG],
)
def test_bad_config_names_the_field(doc: dict[str, Any], location: str, message: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        schema.CharmConfig.model_validate(doc)
    got_location, got_message = first_error(caught.value)
    assert got_location == location
    assert message in got_message


COERCIONS: list[tuple[schema.ConfigType, object, object]] = [
    ("string", "abc", "abc"),
    ("string", "", ""),
    ("string", "123", "123"),
    ("string", None, None),
    ("secret", "secret:abc123", "secret:abc123"),
    ("secret", "secret://uuid/abc", "secret://uuid/abc"),
    ("secret", "", ""),
    ("int", "3", 3),
    ("int", "-42", -42),
    ("int", "+7", 7),
    ("int", " 9 ", 9),
    ("int", 5, 5),
    ("int", 5.0, 5),
    ("int", "", None),
    ("int", str(2**63 - 1), 2**63 - 1),
    ("float", "1.5", 1.5),
    ("float", "2", 2.0),
    ("float", "-1e3", -1000.0),
    ("float", ".5", 0.5),
    ("float", 3, 3.0),
    ("float", 2.25, 2.25),
    ("float", "", None),
    ("boolean", "true", True),
    ("boolean", "True", True),
    ("boolean", "YES", True),
    ("boolean", "1", True),
    ("boolean", "false", False),
    ("boolean", "No", False),
    ("boolean", "0", False),
    ("boolean", True, True),
    ("boolean", False, False),
    ("boolean", "", None),
]


@pytest.mark.parametrize(("option_type", "given", "expected"), COERCIONS)
def test_coerce_good_values(
    option_type: schema.ConfigType, given: object, expected: object
) -> None:
    got = schema.coerce_option_value(option_type, given)
    assert got == expected
    assert type(got) is type(expected)


BAD_COERCIONS: list[tuple[schema.ConfigType, object, str]] = [
    ("string", 3, "expected string, got 3"),
    ("string", True, "expected string, got true"),
    ("string", ["a"], 'expected string, got ["a"]'),
    ("secret", "abc", 'expected a secret URI ("secret:..."), got "abc"'),
    ("secret", 3, "expected secret, got 3"),
    ("int", "abc", 'expected int, got "abc"'),
    ("int", "1.5", 'expected int, got "1.5"'),
    ("int", "1_000", 'expected int, got "1_000"'),
    ("int", 1.5, "expected int, got 1.5"),
    ("int", True, "expected int, got true"),
    ("int", str(2**63), "out of the 64-bit range"),
    ("int", {"a": 1}, 'expected int, got {"a": 1}'),
    ("float", "abc", 'expected float, got "abc"'),
    ("float", "nan", 'expected float, got "nan"'),
    ("float", "inf", 'expected float, got "inf"'),
    ("float", "1e999", 'expected float, got "1e999"'),
    ("float", math.inf, "expected float, got Infinity"),
    ("float", False, "expected float, got false"),
    ("boolean", "maybe", 'expected boolean, got "maybe"'),
    ("boolean", "on", 'expected boolean, got "on"'),
    ("boolean", 1, "expected boolean, got 1"),
]


@pytest.mark.parametrize(("option_type", "given", "message"), BAD_COERCIONS)
def test_coerce_bad_values(option_type: schema.ConfigType, given: object, message: str) -> None:
    with pytest.raises(ValueError, match=r".*") as caught:
        schema.coerce_option_value(option_type, given)
    assert message in str(caught.value)


CONFIG = schema.CharmConfig.model_validate(
    {
        "options": {
            "port": {"type": "int", "default": 80},
            "name": {"type": "string"},
            "ratio": {"type": "float", "default": 0.5},
            "debug": {"type": "boolean", "default": False},
        }
    }
)


def test_config_coerce_types_every_value() -> None:
    assert CONFIG.coerce({"port": "8080", "name": "x", "ratio": "1", "debug": "yes"}) == {
        "port": 8080,
        "name": "x",
        "ratio": 1.0,
        "debug": True,
    }
    assert CONFIG.coerce({"port": 8080, "debug": False}) == {"port": 8080, "debug": False}
    assert CONFIG.coerce({"port": None}) == {"port": None}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"port": "abc"}, 'option "port": expected int, got "abc"'),
        ({"debug": "maybe"}, 'option "debug": expected boolean, got "maybe"'),
        ({"name": 3}, 'option "name": expected string, got 3'),
        ({"foo": "1"}, 'unknown option "foo"'),
    ],
)
def test_config_coerce_names_the_option(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=r".*") as caught:
        CONFIG.coerce(values)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, {"port": 80, "ratio": 0.5, "debug": False}),
        ({"port": 8080}, {"port": 8080, "ratio": 0.5, "debug": False}),
        ({"name": "x"}, {"port": 80, "name": "x", "ratio": 0.5, "debug": False}),
        ({"port": None, "name": None}, {"port": 80, "ratio": 0.5, "debug": False}),
        ({"ratio": 0.0, "debug": True}, {"port": 80, "ratio": 0.0, "debug": True}),
        ({"gone": "after an upgrade"}, {"port": 80, "ratio": 0.5, "debug": False}),
    ],
)
def test_config_effective(settings: dict[str, object], expected: dict[str, object]) -> None:
    assert CONFIG.effective(settings) == expected


# --- actions.yaml -----------------------------------------------------------------------

GOOD_ACTIONS: list[tuple[str, dict[str, Any], set[str]]] = [
    ("empty", {}, set()),
    ("null spec", {"snapshot": None}, {"snapshot"}),
    (
        "params",
        {
            "greet": {
                "description": "Say hi.",
                "params": {"name": {"type": "string", "default": "you"}},
                "required": ["name"],
                "additionalProperties": False,
            }
        },
        {"greet"},
    ),
    ("digits and hyphens", {"back-up-2": {"params": None}}, {"back-up-2"}),
    ("unknown keys", {"run": {"description": "x", "whatever": 1}}, {"run"}),
]


@pytest.mark.parametrize(
    ("doc", "names"), [g[1:] for g in GOOD_ACTIONS], ids=[g[0] for g in GOOD_ACTIONS]
)
def test_good_actions(doc: dict[str, Any], names: set[str]) -> None:
    actions = schema.CharmActions.model_validate(doc)
    assert set(actions.actions) == names


BAD_ACTIONS: list[tuple[str, dict[str, Any], str, str]] = [
    ("upper-case name", {"Greet": {}}, "", "Greet: invalid action name"),
    ("leading hyphen", {"-greet": {}}, "", "-greet: invalid action name"),
    ("trailing hyphen", {"greet-": {}}, "", "greet-: invalid action name"),
    ("reserved prefix", {"juju-run": {}}, "", 'juju-run: the "juju-" prefix is reserved'),
    ("spec not a mapping", {"greet": "hi"}, "greet", "must be a mapping"),
    (
        "param not a schema",
        {"greet": {"params": {"n": "string"}}},
        "greet.params.n",
        "must be a mapping",
    ),
    (
        "$ref in params",
        {"greet": {"params": {"n": {"$ref": "#/x"}}}},
        "",
        "greet.params.n.$ref: not supported by Juju",
    ),
    (
        "$schema nested",
        {"greet": {"params": {"n": {"type": "object", "items": [{"$schema": "x"}]}}}},
        "",
        "greet.params.n.items.0.$schema: not supported by Juju",
    ),
    (
        "additionalProperties not a bool",
        {"greet": {"additionalProperties": "maybe"}},
        "greet.additionalProperties",
        "must be true or false",
    ),
]


@pytest.mark.parametrize(
    ("doc", "location", "message"),
    [b[1:] for b in BAD_ACTIONS],
    ids=[b[0] for b in BAD_ACTIONS],
)
def test_bad_actions_name_the_field(doc: dict[str, Any], location: str, message: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        schema.CharmActions.model_validate(doc)
    got_location, got_message = first_error(caught.value)
    assert got_location == location
    assert message in got_message


def test_action_json_schema() -> None:
    actions = schema.CharmActions.model_validate(
        {
            "greet": {"description": "Hi.", "params": {"n": {"type": "string"}}, "required": ["n"]},
            "strict": {"additionalProperties": False},
        }
    )
    assert actions.actions["greet"].json_schema() == {
        "type": "object",
        "title": "",
        "description": "Hi.",
        "properties": {"n": {"type": "string"}},
        "required": ["n"],
        "additionalProperties": True,
    }
    assert (
        actions.actions["greet"].json_schema(additional_properties=False)["additionalProperties"]
        is False
    )
    assert actions.actions["strict"].json_schema()["additionalProperties"] is False


# --- charmcraft.yaml --------------------------------------------------------------------

UNIFIED: dict[str, Any] = {
    "type": "charm",
    "name": "hello",
    "summary": "s",
    "description": "d",
    "base": "ubuntu@24.04",
    "platforms": {"amd64": None},
    "parts": {"charm": {"plugin": "charm", "source": "."}},
    "peers": {"hello-peers": {"interface": "hello_peers"}},
    "provides": {"greeting": {"interface": "greeting"}},
    "config": {"options": {"greeting": {"type": "string", "default": "hello"}}},
    "actions": {"greet": {"description": "g"}},
    "charm-libs": [{"lib": "x.y", "version": "1"}],
}


def test_split_unified_charmcraft() -> None:
    parts = schema.split_charmcraft(UNIFIED)
    assert parts.metadata == {
        "name": "hello",
        "summary": "s",
        "description": "d",
        "peers": {"hello-peers": {"interface": "hello_peers"}},
        "provides": {"greeting": {"interface": "greeting"}},
    }
    assert list(parts.metadata) == ["name", "summary", "description", "peers", "provides"]
    assert parts.config == UNIFIED["config"]
    assert parts.actions == UNIFIED["actions"]
    schema.CharmMeta.model_validate(parts.metadata)


def test_split_legacy_charmcraft_with_separate_files() -> None:
    doc = {"type": "charm", "bases": [{"name": "ubuntu", "channel": "22.04"}]}
    parts = schema.split_charmcraft(doc, metadata_yaml=True, config_yaml=True, actions_yaml=True)
    assert parts == schema.CharmcraftParts(None, None, None)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"metadata_yaml": True}, "description: metadata keys are not allowed when metadata.yaml"),
        ({"config_yaml": True}, "config: not allowed when config.yaml exists"),
        ({"actions_yaml": True}, "actions: not allowed when actions.yaml exists"),
    ],
)
def test_split_is_either_or(flags: dict[str, bool], message: str) -> None:
    with pytest.raises(ValueError, match=r".*") as caught:
        schema.split_charmcraft(UNIFIED, **flags)
    assert str(caught.value).startswith(message)


BAD_CHARMCRAFT: list[tuple[str, dict[str, Any], str, str]] = [
    ("no type", {"name": "x"}, "type", "is required"),
    ("bundle", {"type": "bundle"}, "type", "must be 'charm'"),
    (
        "base and bases",
        {"type": "charm", "base": "ubuntu@24.04", "platforms": {}, "bases": []},
        "",
        "base: cannot be used together with bases",
    ),
    (
        "base without platforms",
        {"type": "charm", "base": "ubuntu@24.04"},
        "",
        "platforms: required when base is set",
    ),
    (
        "malformed base",
        {"type": "charm", "base": "ubuntu-24.04", "platforms": {}},
        "base",
        'expected "<os>@<channel>"',
    ),
    (
        "entrypoint escaping the charm",
        {"type": "charm", "parts": {"charm": {"charm-entrypoint": "../evil.py"}}},
        "",
        "parts.charm.charm-entrypoint: expected a path inside the charm",
    ),
    (
        "entrypoint with shell characters",
        {"type": "charm", "parts": {"c": {"plugin": "charm", "charm-entrypoint": "a;rm -rf"}}},
        "",
        "parts.c.charm-entrypoint: expected a path inside the charm",
    ),
    (
        "requirements not a list",
        {"type": "charm", "parts": {"charm": {"charm-requirements": "requirements.txt"}}},
        "",
        "parts.charm.charm-requirements: expected a list of files",
    ),
    (
        "absolute requirements file",
        {"type": "charm", "parts": {"charm": {"charm-requirements": ["/etc/passwd"]}}},
        "",
        "parts.charm.charm-requirements.0: expected a path inside the charm",
    ),
    (
        "python packages not names",
        {"type": "charm", "parts": {"charm": {"charm-python-packages": "ops"}}},
        "",
        "parts.charm.charm-python-packages: expected a list of package names",
    ),
]


@pytest.mark.parametrize(
    ("doc", "location", "message"),
    [b[1:] for b in BAD_CHARMCRAFT],
    ids=[b[0] for b in BAD_CHARMCRAFT],
)
def test_bad_charmcraft_names_the_field(doc: dict[str, Any], location: str, message: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        schema.split_charmcraft(doc)
    got_location, got_message = first_error(caught.value)
    assert got_location == location
    assert message in got_message


@pytest.mark.parametrize(
    ("parts", "entrypoint", "requirements", "packages"),
    [
        ({}, "src/charm.py", None, ()),
        ({"charm": None}, "src/charm.py", None, ()),
        (
            {
                "my-charm": {
                    "plugin": "charm",
                    "charm-entrypoint": "src/main.py",
                    "charm-requirements": ["reqs.txt"],
                    "charm-binary-python-packages": ["pyyaml"],
                    "charm-python-packages": ["ops"],
                }
            },
            "src/main.py",
            ("reqs.txt",),
            ("pyyaml", "ops"),
        ),
        ({"files": {"plugin": "dump", "source": "."}}, "src/charm.py", None, ()),
    ],
)
def test_charmcraft_charm_part(
    parts: dict[str, Any],
    entrypoint: str,
    requirements: tuple[str, ...] | None,
    packages: tuple[str, ...],
) -> None:
    charmcraft = schema.Charmcraft.model_validate({"type": "charm", "parts": parts})
    assert charmcraft.entrypoint == entrypoint
    assert charmcraft.requirement_files == requirements
    assert charmcraft.python_packages == packages


def test_models_round_trip_through_json() -> None:
    """The controller stores `model_dump(mode="json", by_alias=True)` and validates it back."""
    meta = schema.CharmMeta.model_validate(
        {
            "name": "foo",
            "subordinate": True,
            "provides": {"website": "http"},
            "requires": {"info": {"interface": "juju-info", "scope": "container", "limit": 1}},
            "peers": {"cluster": "foo-peers"},
            "extra-bindings": {"admin": None},
            "storage": {
                "data": {"type": "filesystem", "read-only": True, "multiple": {"range": "0-"}}
            },
            "resources": {"blob": {"filename": "b.tgz"}},
            "containers": {"app": {"resource": "img", "mounts": [{"storage": "data"}]}},
            "assumes": ["juju >= 3.6"],
            "charm-user": "non-root",
        }
    )
    config = schema.CharmConfig.model_validate(
        {"options": {"p": {"type": "int", "default": 1}, "s": {"type": "secret"}}}
    )
    actions = schema.CharmActions.model_validate(
        {"a": {"params": {"x": {"type": "string"}}, "execution-group": "g", "parallel": True}}
    )
    for model in (meta, config, actions):
        dumped = model.model_dump(mode="json", by_alias=True)
        assert type(model).model_validate(dumped) == model
