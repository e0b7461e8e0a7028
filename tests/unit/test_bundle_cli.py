"""`rune validate-bundle`: every fixture (with its overlays) is valid; a broken bundle is
refused with every problem named by its path, and nothing needs a controller."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runecraft import bundles
from runecraft.cli import _bundle
from runecraft.cli._app import main
from runecraft.schemas import bundle as schema
from tests.unit.test_bundle import FIXTURE_SETS, fixture

REPO = Path(__file__).parents[2]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("base", "overlays", "applications"),
    [(row[1], row[2], row[3]) for row in FIXTURE_SETS],
    ids=[row[0] for row in FIXTURE_SETS],
)
def test_every_fixture_validates(
    capsys: pytest.CaptureFixture[str], base: str, overlays: tuple[str, ...], applications: int
) -> None:
    args = ["validate-bundle", str(fixture(base))]
    for overlay in overlays:
        args += ["--overlay", str(fixture(overlay))]
    code, out, err = run(capsys, *args)
    assert code == 0, err
    assert f"valid ({applications} applications" in out


def test_the_demo_bundle_validates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate-bundle", str(REPO / "examples" / "bundles" / "demo.yaml"))
    assert code == 0
    assert "3 applications, 4 units, 0 machines, 1 relations" in out


def test_every_problem_is_named_by_its_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "applications:\n"
        "  web: {charm: web, num_units: -1}\n"
        "  db: {charm: db, to: ['9']}\n"
        "relations: [[web, nowhere]]\n"
    )
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("applications: {web: {options: [1]}}\n")
    code, out, err = run(capsys, "validate-bundle", str(bad), "--overlay", str(overlay))
    assert code == 1
    assert out == ""
    assert "applications.web.num_units" in err
    assert "applications.db.to" in err
    assert "relations[0]" in err
    assert "overlay.yaml: applications.web.options" in err


def test_an_unreadable_bundle_is_one_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "validate-bundle", str(tmp_path / "missing.yaml"))
    assert code == 1
    assert "missing.yaml" in err


def test_charms_are_found_by_path_or_in_a_charm_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = tmp_path / "repo"
    shutil.copytree(REPO / "examples" / "charms" / "hello-bash", repository / "greeter")
    text = (
        "applications:\n"
        "  a: {charm: greeter}\n"
        f"  b: {{charm: {REPO / 'examples' / 'charms' / 'hello'}}}\n"
        "  c: {charm: ch:mysql}\n"
    )
    loaded = schema.loads(text)
    monkeypatch.delenv("RUNECRAFT_CHARM_DIR", raising=False)
    found = _bundle.resolve_charms(loaded, [])
    assert sorted(found) == ["b"]
    assert found["b"].name == "hello"
    monkeypatch.setenv("RUNECRAFT_CHARM_DIR", str(repository))
    found = _bundle.resolve_charms(loaded, [])
    # The charm's own name counts, not the directory's: hello-bash is deployed as such.
    assert found["a"] == bundles.ResolvedCharm(name="hello-bash", path=str(repository / "greeter"))
    assert "c" not in found


def test_diff_bundle_document_shows_what_differs() -> None:
    b = schema.loads(
        "applications:\n"
        "  web: {charm: web, num_units: 3, options: {port: 80}}\n"
        "  new: {charm: new}\n"
        "relations: [[web, new]]\n"
    )
    view = bundles.ModelView(
        applications={
            "web": bundles.ApplicationView(
                charm="web",
                config={"port": 8080, "debug": True},
                units=(bundles.UnitView(name="web/0", machine="0"),),
            ),
            "old": bundles.ApplicationView(charm="old"),
        }
    )
    plan = bundles.plan(b, view, prune=True)
    assert _bundle._diff_document(plan, view) == {
        "applications": {
            "new": {"missing": "model"},
            "old": {"missing": "bundle"},
            "web": {
                "num_units": {"bundle": 3, "model": 1},
                "options": {
                    "port": {"bundle": 80, "model": 8080},
                    "debug": {"bundle": None, "model": True},
                },
            },
        },
        "relations": {"bundle-additions": [["new", "web"]]},
    }
