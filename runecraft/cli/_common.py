"""What every command shares: the client configuration, the current model, running a
client call, and reading `KEY=VALUE` pairs, YAML files and charms."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from runecraft import errors, settings
from runecraft.cli import _argv, _client_file, _output
from runecraft.client import _wire
from runecraft.settings import home_settings

if TYPE_CHECKING:
    import httpx

    from runecraft import charms
    from runecraft.cli import _config
    from runecraft.client import Client

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

TRANSPORT: ContextVar[httpx.AsyncBaseTransport | None] = ContextVar("TRANSPORT", default=None)
"""How commands reach the controller: the network (None), or an `httpx.ASGITransport` over
a controller app, which tests set to run commands in process with no sockets."""


def _juju_flags(
    *names: str, help: str | None = "Accepted for Juju compatibility."
) -> Callable[[F], F]:
    """Flags Juju's command takes that change nothing here: parsed and listed, then dropped."""

    def decorate(command: F) -> F:
        for name in reversed(names):
            command = click.option(name, is_flag=True, expose_value=False, help=help)(command)
        return command

    return decorate


def _home() -> Path:
    return home_settings().home


def _client_config() -> _config.ClientConfig:
    from runecraft.cli import _config  # noqa: PLC0415 (pydantic and yaml, see _client_fields)

    return _config.load(home_settings().client_config)


def _client_fields() -> _client_file.ClientFields:
    """The client configuration as `_client_config` reads it, but with neither yaml nor
    pydantic to load when `_client_file.read` can read the file (the usual case)."""
    fields = _client_file.read(settings.home_dir() / settings.CLIENT_CONFIG)
    if fields is None:
        return cast("_client_file.ClientFields", _client_config().model_dump())
    return fields


def _model() -> str:
    given = _argv.MODEL_FROM_ARGV[0]
    return _argv.model_name(given) if given else _client_fields()["model"]


def _run(work: Callable[[Client], Awaitable[T]]) -> T:
    import asyncio  # noqa: PLC0415 (asyncio and httpx: see _read)

    from runecraft.client import Client  # noqa: PLC0415

    config = _client_config()
    if not config.token:
        raise errors.PermissionDeniedError("not logged in: run `rune login -u USER`")

    async def go() -> T:
        async with Client(
            config.endpoint, config.token, transport=TRANSPORT.get(), ca_cert=config.ca_cert
        ) as client:
            return await work(client)

    return asyncio.run(go())


def _read(path: str, work: Callable[[Client], Awaitable[T]]) -> T:
    """The answer to `GET path` of the API, which `work` asks of `Client`: through
    `_wire.get` (the standard library: a command a few times faster) when
    `_client_file.read` reads the configuration and `_wire.get` takes the request (see
    there), else through `Client`, as when tests replace the network. Both give the same
    answer or error."""
    fields = None
    if TRANSPORT.get() is None:
        fields = _client_file.read(settings.home_dir() / settings.CLIENT_CONFIG)
    if fields is not None:
        try:
            answer: T = _wire.get(fields["endpoint"], fields["token"], fields["ca_cert"], path)
        except _wire.Unanswered:
            pass
        else:
            return answer
    return _run(work)


def _key_values(pairs: Sequence[str], what: str) -> dict[str, str]:
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise errors.UsageError(f'invalid {what} "{pair}": expected KEY=VALUE')
        result[key] = value
    return result


def _settings_change(
    args: Sequence[str], reset: Sequence[str]
) -> tuple[str | None, dict[str, Any], list[str]]:
    """`model-config`'s and `model-defaults`' arguments: the one KEY to read, or the
    KEY=VALUE pairs to set and the keys to reset (comma-separated, `--reset` repeatable)."""
    reset_keys = [k for item in reset for k in item.split(",") if k]
    keys = [s for s in args if "=" not in s]
    values: dict[str, Any] = dict(_key_values([s for s in args if "=" in s], "setting"))
    if keys and (values or reset_keys or len(keys) > 1):
        raise errors.UsageError("give either one KEY to read, or KEY=VALUE pairs to set")
    return (keys[0] if keys else None), values, reset_keys


def _pack(path: Path) -> charms.PackedCharm:
    from runecraft import charms  # noqa: PLC0415 (only commands that pack a charm load it)

    settings = home_settings()
    with _output.err_console.status(f"packing {path}") as spinner:
        return charms.pack(
            path, settings.charm_cache, progress=lambda text: spinner.update(f"packing: {text}")
        )


def _read_yaml(path: Path, what: str) -> Any:
    """The document of a YAML file the user named; errors call it `what` ("config file")."""
    import yaml  # noqa: PLC0415 (not for the commands that read no file)

    try:
        return yaml.safe_load(path.read_text())
    except OSError as exc:
        raise errors.InvalidSpecError(f'cannot read {what} "{path}": {exc.strerror}') from exc
    except yaml.YAMLError as exc:
        raise errors.InvalidSpecError(f'{what} "{path}" is not valid YAML: {exc}') from exc


def _config_values(items: Sequence[str], application: str | None) -> dict[str, Any]:
    """`--config` values: KEY=VALUE pairs and YAML files, later ones winning."""
    values: dict[str, Any] = {}
    for item in items:
        if "=" in item:
            values.update(_key_values([item], "config"))
        else:
            values.update(_config_file(Path(item), application))
    return values


def _config_file(path: Path, application: str | None) -> dict[str, Any]:
    document = _read_yaml(path, "config file")
    if not isinstance(document, dict):
        raise errors.InvalidSpecError(f'config file "{path}" must be a mapping')
    if application and isinstance(document.get(application), dict):
        document = document[application]
    return {str(k): v for k, v in document.items()}
