"""The pure rules of scaling, and of a k8s model (type "caas"): unit numbers are pod
ordinals, units leave highest number first, nothing is placed; and which bundles fit
which model type."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runecraft import bundles, errors
from runecraft.controller.services._scaling import (
    check_caas_leaving,
    check_caas_placement,
    check_caas_removals,
    check_machine_command,
    pod_ordinals,
    scale_plan,
)
from runecraft.controller.state import ModelRecord
from runecraft.schemas import bundle as schema
from tests.unit import _records as records


def _model(model_type: str) -> ModelRecord:
    return records.model(cloud="k8s", type=model_type)


@pytest.mark.parametrize(
    ("used", "count", "numbers"),
    [
        ([], 3, [0, 1, 2]),
        ([0], 2, [1, 2]),
        ([0, 2], 2, [1, 3]),
        ([1, 2], 1, [0]),
        ([0, 1, 2], 0, []),
        ([5], 3, [0, 1, 2]),
    ],
)
def test_k8s_units_take_the_lowest_free_pod_ordinals(
    used: list[int], count: int, numbers: list[int]
) -> None:
    assert pod_ordinals(used, count) == numbers


@given(st.sets(st.integers(0, 50)), st.integers(0, 20))
def test_k8s_pod_ordinals_are_new_lowest_and_as_many_as_asked(used: set[int], count: int) -> None:
    numbers = pod_ordinals(used, count)
    assert len(numbers) == len(set(numbers)) == count
    assert not set(numbers) & used
    if numbers:  # every free number below the highest one given was given too
        assert [n for n in range(max(numbers)) if n not in used] == sorted(numbers)[:-1]


@pytest.mark.parametrize(
    ("alive", "scale", "add", "remove"),
    [
        ([], 0, 0, []),
        ([], 3, 3, []),
        ([0, 1], 2, 0, []),
        ([0, 2, 10], 1, 0, [10, 2]),
        ([3], 4, 3, []),
        ([0, 1], 0, 0, [1, 0]),
    ],
)
def test_caas_and_iaas_scale_plan_removes_highest_first(
    alive: list[int], scale: int, add: int, remove: list[int]
) -> None:
    assert scale_plan(alive, scale) == (add, remove)


@pytest.mark.parametrize(
    ("alive", "removing", "refused"),
    [
        ([0, 1, 2], {2}, None),
        ([0, 1, 2], {1, 2}, None),
        ([0, 1, 2], {0, 1, 2}, None),
        ([0, 1, 2], set(), None),
        ([0, 1, 2], {1}, "web/1"),
        ([0, 1, 2], {0, 2}, "web/0"),
        ([0, 1, 3], {1}, "web/1"),
    ],
)
def test_k8s_units_leave_highest_number_first(
    alive: list[int], removing: set[int], refused: str | None
) -> None:
    if refused is None:
        check_caas_removals("web", alive, removing)
        return
    with pytest.raises(errors.ConflictError) as caught:
        check_caas_removals("web", alive, removing)
    assert refused in caught.value.message
    assert f"web/{max(alive)}" in caught.value.message  # names the one to remove instead
    assert "--num-units" in caught.value.message


@pytest.mark.parametrize(
    ("to", "leaving", "error", "words"),
    [
        (["0"], [], errors.InvalidSpecError, ["--num-units", "--to 0", '"m"']),
        (["lxd", "new"], [], errors.InvalidSpecError, ["--to lxd,new"]),
        ([], ["web/2"], errors.ConflictError, ["web/2 is still", "once they are gone"]),
        ([], ["web/1", "web/2"], errors.ConflictError, ["web/1, web/2 are still"]),
    ],
)
def test_k8s_additions_refused_name_what_is_wrong(
    to: list[str], leaving: list[str], error: type[errors.RunecraftError], words: list[str]
) -> None:
    with pytest.raises(error) as caught:
        check_caas_placement(_model("caas"), to)
        check_caas_leaving("web", leaving)
    for word in words:
        assert word in caught.value.message


def test_k8s_models_refuse_machine_commands_in_jujus_words() -> None:
    check_machine_command(_model("iaas"), "add-machine")
    with pytest.raises(errors.InvalidSpecError) as caught:
        check_machine_command(_model("caas"), "add-machine")
    assert 'Juju command "add-machine" not supported on container models' in caught.value.message


K8S_BUNDLE = "bundle: kubernetes\napplications:\n  web: {charm: ./web, scale: 2}\n"
MACHINE_BUNDLE = "applications:\n  web: {charm: ./web, num_units: 2}\n"


@pytest.mark.parametrize(
    ("text", "model_type", "problems"),
    [
        (K8S_BUNDLE, "caas", []),
        (MACHINE_BUNDLE, "iaas", []),
        (K8S_BUNDLE, "iaas", ['bundle: "kubernetes" bundles deploy to k8s models']),
        (MACHINE_BUNDLE, "caas", ['bundle: model "m" is a k8s model']),
        (
            "applications:\n  web: {charm: ./web, num_units: 1, to: ['0']}\nmachines: {'0': {}}\n",
            "caas",
            ["bundle: model", "machines: a k8s model has no machines", "applications.web.to:"],
        ),
        (
            K8S_BUNDLE.replace("scale: 2", "scale: 2, to: ['disk=ssd']"),
            "caas",
            ["applications.web.to: units of a k8s model cannot be placed"],
        ),
    ],
)
def test_k8s_bundles_fit_k8s_models_only(text: str, model_type: str, problems: list[str]) -> None:
    bundle = schema.loads(text, name="b")
    found = bundles.substrate_problems(bundle, bundles.ModelView(name="m", type=model_type))
    assert len(found) == len(problems)
    for problem, expected in zip(found, problems, strict=True):
        assert problem.startswith(expected)


def test_k8s_model_exports_a_kubernetes_bundle_without_machines() -> None:
    view = bundles.ModelView(
        name="m",
        type="caas",
        applications={
            "web": bundles.ApplicationView(
                charm="web",
                units=(bundles.UnitView(name="web/0", machine="4"),),
            )
        },
    )
    exported = bundles.export(view)
    assert exported.kind == "kubernetes"
    assert exported.machines == {}
    assert exported.applications["web"].num_units == 1
    assert exported.applications["web"].to == ()
    assert bundles.substrate_problems(schema.loads(schema.dump(exported), name="b"), view) == []
