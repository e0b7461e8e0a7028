"""Third-party libraries stay at their edge: an allow-list per library, checked on the real
import graph (the graph import-linter reads), as kopf confines its clients.

Libraries that only compute (pydantic, structlog, PyYAML) may be used anywhere; each library
that does I/O or owns a process-wide concern is allowed only in the modules named for it. A
third-party import not listed at all fails too, so a new dependency is placed on purpose.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import grimp
import pytest

ANYWHERE = {"pydantic", "pydantic_settings", "structlog", "yaml"}

EDGES: dict[str, tuple[str, ...]] = {
    "sqlalchemy": ("runecraft.controller.state",),
    "alembic": ("runecraft.controller.state",),
    "fastapi": ("runecraft.controller.api",),
    "starlette": ("runecraft.controller.api._app", "runecraft.controller.api._audit"),
    "uvicorn": ("runecraft.controller._process",),
    "amqtt": ("runecraft.controller.bus._embedded", "runecraft.controller.bus._fanout"),
    "aiomqtt": ("runecraft.bus",),
    "tenacity": ("runecraft._retry",),
    "httpx": (
        "runecraft.client._client",
        "runecraft.client._charmhub",
        "runecraft.controller._lifecycle",
        "runecraft.agents._workloads",
    ),
    "pylxd": ("runecraft.controller.providers.lxd._api",),
    "requests": ("runecraft.controller.providers.lxd._api",),
    "asyncssh": ("runecraft.controller.providers.ssh",),
    "cryptography": ("runecraft.controller._tls", "runecraft.controller.state._keyring"),
    "lightkube": ("runecraft.controller.providers.kubernetes._api",),
    "httpx2": ("runecraft.controller.providers.kubernetes._api",),
    "jsonschema": ("runecraft.controller.services._params",),
    "prometheus_client": ("runecraft.controller.services._metrics",),
    "click": ("runecraft.cli",),
    "rich": ("runecraft.cli",),
    "ops": ("runecraft.agents._zygote",),
    "h11": ("runecraft.agents.pebble._server",),
    "wsproto": ("runecraft.agents.pebble._server",),
    "uv": ("runecraft.charms._pack",),
    "opentelemetry": ("runecraft._tracing",),
    "pytest": ("runecraft.testing",),
    "jubilant": ("runecraft.testing.ephemeral",),
}
"""Library → the only modules (or packages) that may import it directly."""

NOT_THIRD_PARTY = {"__future__", "_socket", "posix"}


def third_party_imports() -> Iterator[tuple[str, str]]:
    graph = grimp.build_graph(
        "runecraft", include_external_packages=True, exclude_type_checking_imports=True
    )
    for module in sorted(graph.modules):
        if not module.startswith("runecraft"):
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            top = imported.split(".")[0]
            if top == "runecraft" or top in sys.stdlib_module_names or top in NOT_THIRD_PARTY:
                continue
            yield module, top


def allowed(module: str, library: str) -> bool:
    if library in ANYWHERE:
        return True
    return any(module == edge or module.startswith(edge + ".") for edge in EDGES.get(library, ()))


@pytest.fixture(scope="module")
def imports() -> list[tuple[str, str]]:
    return list(third_party_imports())


def test_every_third_party_import_is_at_its_edge(imports: list[tuple[str, str]]) -> None:
    stray = sorted(
        f"{module} imports {library}" for module, library in imports if not allowed(module, library)
    )
    assert stray == []


def test_every_edge_is_used(imports: list[tuple[str, str]]) -> None:
    """An entry nobody needs any more is removed, so the list stays the truth."""
    used = {
        (library, edge)
        for module, library in imports
        for edge in EDGES.get(library, ())
        if module == edge or module.startswith(edge + ".")
    }
    unused = sorted(
        f"{library} at {edge}"
        for library, edges in EDGES.items()
        for edge in edges
        if (library, edge) not in used
    )
    assert unused == []
