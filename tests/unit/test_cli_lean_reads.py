"""The standard-library readings `rune status` takes (the home from the environment, the
client configuration file, the GET of the API) give what the pydantic and httpx ones give,
and leave to them whatever they might read otherwise."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from runecraft import errors, settings
from runecraft.cli import _client_file, _config
from runecraft.client import _wire

CONFIG = _config.ClientConfig(
    controller="ctl",
    endpoint="https://127.0.0.1:17070",
    token="-3xY_tok",  # a token YAML would write bare
    model="staging",
    ca_cert="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
)


def test_the_file_fields_are_the_config_fields() -> None:
    fields = _config.ClientConfig.model_fields
    assert set(_client_file.REQUIRED) == {n for n, f in fields.items() if f.is_required()}
    assert {n: f.default for n, f in fields.items() if not f.is_required()} == _client_file.DEFAULTS
    assert set(_client_file.ClientFields.__annotations__) == set(fields)


def test_a_saved_file_reads_the_same_by_json_and_by_yaml(tmp_path: Path) -> None:
    path = tmp_path / "client.yaml"
    _config.save(path, CONFIG)
    assert path.stat().st_mode & 0o777 == 0o600
    assert _client_file.read(path) == CONFIG.model_dump()
    assert _config.load(path) == CONFIG
    assert yaml.safe_load(path.read_text()) == json.loads(path.read_text())


@pytest.mark.parametrize(
    "text",
    [
        yaml.safe_dump(CONFIG.model_dump(), sort_keys=False),  # as the CLI wrote it before
        json.dumps({**CONFIG.model_dump(), "colour": "blue"}),
        json.dumps({**CONFIG.model_dump(), "token": 12}),
        json.dumps({**CONFIG.model_dump(), "model": None}),
        json.dumps({"controller": "ctl", "endpoint": "https://h:1"}),
        json.dumps(CONFIG.model_dump(), indent="\t"),
        "[]",
        "",
    ],
    ids=["yaml", "unknown field", "int token", "null model", "no token", "tabs", "list", "empty"],
)
def test_a_file_json_does_not_read_exactly_is_left_to_load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "client.yaml"
    path.write_text(text)
    assert _client_file.read(path) is None
    try:
        loaded = _config.load(path)
    except errors.InvalidSpecError:
        return
    assert text.startswith("controller:") and loaded == CONFIG


def test_defaults_fill_in_as_pydantic_does(tmp_path: Path) -> None:
    path = tmp_path / "client.yaml"
    path.write_text(json.dumps({"controller": "c", "endpoint": "http://h:1", "token": "t"}))
    assert _client_file.read(path) == _config.load(path).model_dump()


def test_a_missing_file_is_left_to_load(tmp_path: Path) -> None:
    assert _client_file.read(tmp_path / "client.yaml") is None
    with pytest.raises(errors.NotFoundError, match="run `rune bootstrap` first"):
        _config.load(tmp_path / "client.yaml")


@pytest.mark.parametrize(
    "environment",
    [{}, {"RUNECRAFT_HOME": "/srv/rc"}, {"runecraft_home": "rel/home"}, {"RUNECRAFT_HOME": ""}],
    ids=["unset", "set", "lower case", "empty"],
)
def test_home_dir_is_the_home_settings_read(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]
) -> None:
    monkeypatch.delenv("RUNECRAFT_HOME", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert settings.home_dir() == settings.home_settings().home


@pytest.mark.parametrize(
    ("endpoint", "ca_cert", "path"),
    [
        ("https://127.0.0.1:{port}", None, "/v1/health"),  # trusted through the system's CAs
        ("http://127.0.0.1:{port}/prefix", None, "/v1/health"),
        ("http://user@127.0.0.1:{port}", None, "/v1/health"),
        ("http://127.0.0.1:{port}", None, "/v1/models/a b/status"),  # httpx quotes it
        ("ftp://127.0.0.1:{port}", None, "/v1/health"),
    ],
)
def test_get_leaves_to_client_a_request_it_would_make_otherwise(
    endpoint: str, ca_cert: str | None, path: str
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        url = endpoint.format(port=server.getsockname()[1])
        with pytest.raises(_wire.Unanswered):
            _wire.get(url, "token", ca_cert, path)
        with pytest.raises(BlockingIOError):
            server.accept()  # it never connected


def test_get_leaves_to_client_a_request_through_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        with pytest.raises(_wire.Unanswered):
            _wire.get(f"http://127.0.0.1:{server.getsockname()[1]}", "t", None, "/v1/health")
        with pytest.raises(BlockingIOError):
            server.accept()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"error": {"code": "not-found", "message": "model \\"x\\" not found"}}', "not-found"),
        (b'{"error": {"code": "no-such-code", "message": "odd"}}', "error"),
        (b'{"error": "flat"}', None),
        (b"<html>bad gateway</html>", None),
    ],
)
def test_error_from_decodes_only_the_controllers_errors(body: bytes, expected: str | None) -> None:
    error = _wire.error_from(body)
    assert (error.code if error else None) == expected


class _Answers(http.server.BaseHTTPRequestHandler):
    """Answers `GET /STATUS/NAME` with the status and the body named."""

    BODIES: ClassVar[dict[str, bytes]] = {
        "document": b'{"model": {"name": "m"}}',
        "error": b'{"error": {"code": "not-found", "message": "model \\"m\\" not found"}}',
        "page": b"<html>bad gateway</html>",
        "broken": b'{"model": ',
        "empty": b"",
    }

    def do_GET(self) -> None:
        _, status, name = self.path.split("/")
        if name == "echo":  # the credentials it was sent
            body = json.dumps(self.headers["Authorization"]).encode()
        else:
            body = self.BODIES[name]
        self.send_response(int(status))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answers) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
        httpd.shutdown()


def test_get_decodes_answers_as_client_does(server: str) -> None:
    assert _wire.get(server, "tok", None, "/200/document") == {"model": {"name": "m"}}
    assert _wire.get(server, "tok", None, "/200/empty") is None
    assert _wire.get(server, "tok", None, "/200/echo") == "Bearer tok"
    with pytest.raises(errors.NotFoundError, match='model "m" not found'):
        _wire.get(server, "tok", None, "/404/error")


@pytest.mark.parametrize("path", ["/502/page", "/200/broken", "/301/empty"])
def test_get_leaves_to_client_an_answer_that_is_not_the_controllers(server: str, path: str) -> None:
    with pytest.raises(_wire.Unanswered):
        _wire.get(server, "tok", None, path)
