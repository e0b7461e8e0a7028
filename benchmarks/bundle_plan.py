"""Planning and applying a generated bundle of 50 applications and 500 units.

Pure figures (no controller): read the bundle, plan it against an empty model, apply the
plan to the view (`apply_view`), plan again (nothing to do) and export. Then, end to end
against a fresh controller in a temporary home: `rune apply` of the same bundle with no
units (charm uploads, 50 deploys with config, the relations), and `rune plan` of the full
bundle against that model (500 units pending). Units are left out of the real apply:
500 units are 500 machine agents, which a 2-core machine cannot run.

    python benchmarks/bundle_plan.py [--applications 50] [--units 500] [--repeat 5] [--pure]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from runecraft import bundles
from runecraft.schemas import bundle as schema

REPO = Path(__file__).resolve().parents[1]
RUNE = [sys.executable, "-m", "runecraft.cli"]


def _word(index: int) -> str:
    """a, b, ..., z, ba, bb, ...: Juju application names allow no digit after a hyphen."""
    letters = ""
    while True:
        index, digit = divmod(index, 26)
        letters = chr(ord("a") + digit) + letters
        if not index:
            return letters


def generate(applications: int, units: int) -> dict[str, Any]:
    """hello-X (ops) and bash-X (shell hooks) applications, units spread evenly, every
    other hello unit co-located on a bundle machine, each bash related to a hello."""
    per_app, extra = divmod(units, applications)
    apps: dict[str, Any] = {}
    machines: dict[str, Any] = {}
    relations = []
    for index in range(applications):
        count = per_app + (1 if index < extra else 0)
        if index % 2 == 0:
            name = f"hello-{_word(index)}"
            app: dict[str, Any] = {
                "charm": str(REPO / "examples" / "charms" / "hello"),
                "num_units": count,
                "options": {"greeting": f"hi {index}", "repeat": index % 5 + 1},
            }
            if count:
                machine = str(len(machines))
                machines[machine] = {}
                app["to"] = [machine, "new"]
        else:
            name = f"bash-{_word(index)}"
            app = {
                "charm": str(REPO / "examples" / "charms" / "hello-bash"),
                "num_units": count,
                "options": {"message": f"bash {index}"},
            }
            relations.append([f"hello-{_word(index - 1)}:greeting", f"{name}:greeting"])
        apps[name] = app
    document: dict[str, Any] = {"applications": apps, "relations": relations}
    if machines:
        document["machines"] = machines
    return document


def timed(repeat: int, work: Callable[[], object]) -> tuple[float, object]:
    times = []
    result: object = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def pure(text: str, repeat: int) -> None:
    load_s, loaded = timed(repeat, lambda: schema.loads(text))
    assert isinstance(loaded, schema.Bundle)
    empty = bundles.ModelView()
    plan_s, plan = timed(repeat, lambda: bundles.plan(loaded, empty))
    assert isinstance(plan, bundles.Plan)
    apply_s, view = timed(repeat, lambda: bundles.apply_view(empty, plan))
    assert isinstance(view, bundles.ModelView)
    replan_s, again = timed(repeat, lambda: bundles.plan(loaded, view))
    assert isinstance(again, bundles.Plan) and again.empty
    export_s, _ = timed(repeat, lambda: schema.dump(bundles.export(view)))
    print(f"changes planned: {len(plan.changes)}")
    for label, seconds in [
        ("read + check bundle", load_s),
        ("plan against an empty model", plan_s),
        ("apply_view", apply_s),
        ("plan again (no changes)", replan_s),
        ("export + dump", export_s),
    ]:
        print(f"  {label:<32} {seconds * 1000:8.1f} ms")


def real(document: dict[str, Any], workdir: Path) -> None:
    env = {
        **os.environ,
        "RUNECRAFT_HOME": str(workdir / "home"),
        "RUNECRAFT_CACHE_DIR": os.environ.get("RUNECRAFT_CACHE_DIR", str(workdir / "cache")),
    }

    def rune(*args: str, ok: tuple[int, ...] = (0,)) -> float:
        start = time.perf_counter()
        done = subprocess.run([*RUNE, *args], env=env, capture_output=True, text=True, check=False)
        if done.returncode not in ok:
            raise SystemExit(f"rune {' '.join(args)} failed:\n{done.stderr}")
        return time.perf_counter() - start

    full = workdir / "full.yaml"
    full.write_text(yaml.safe_dump(document))
    empty_units = {
        **document,
        "applications": {
            name: {k: v for k, v in app.items() if k not in ("num_units", "to")}
            for name, app in document["applications"].items()
        },
    }
    empty_units.pop("machines", None)
    no_units = workdir / "no-units.yaml"
    no_units.write_text(yaml.safe_dump(empty_units))
    rune("bootstrap")
    try:
        rune("plan", str(no_units), ok=(2,))  # packs nothing; warms imports and caches
        apply_s = rune("apply", str(no_units))
        replan_s = rune("plan", str(no_units))
        plan_s = rune("plan", str(full), ok=(2,))
        print("end to end (each figure includes the CLI's own start-up):")
        print(f"  rune apply (50 apps, config, relations; no units)  {apply_s:6.2f} s")
        print(f"  rune plan of that bundle again (no changes)        {replan_s:6.2f} s")
        print(f"  rune plan of the full bundle (units pending)       {plan_s:6.2f} s")
    finally:
        rune("kill-controller", "runecraft", "--no-prompt", ok=(0, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--applications", type=int, default=50)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pure", action="store_true", help="Skip the controller figures.")
    args = parser.parse_args()
    document = generate(args.applications, args.units)
    print(f"bundle: {args.applications} applications, {args.units} units")
    pure(yaml.safe_dump(document), args.repeat)
    if not args.pure:
        with tempfile.TemporaryDirectory(prefix="runecraft-bench-") as workdir:
            real(document, Path(workdir))


if __name__ == "__main__":
    main()
