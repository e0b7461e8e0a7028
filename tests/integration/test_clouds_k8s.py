"""A Kubernetes cloud added on the client, bootstrapped into: the controller runs here, the
cloud is added to it, and its default model is a caas model. No cluster is reached (none
exists): adding a cloud and making an empty model never talk to it. The controller,
stopped and started again, still knows the cloud."""

from __future__ import annotations

import json
import os
import select
import signal
from pathlib import Path

import yaml

from tests._kubeconfigs import kubeconfig
from tests.integration.conftest import Rune


def test_k8s_bootstrap_on_an_added_cloud_makes_a_caas_default_model(
    rune: Rune, tmp_path: Path
) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig()))
    added = rune("add-k8s", "k8s-test", "--kubeconfig", str(path))
    assert "rune bootstrap k8s-test" in added.stderr
    rune("bootstrap", "k8s-test", "ctl-k8s")
    shown = json.loads(rune("show-model", "default", "--format", "json").stdout)["default"]
    assert (shown["model-type"], shown["cloud"]) == ("caas", "k8s-test")
    assert rune.status()["model"]["type"] == "caas"
    clouds = json.loads(rune("clouds", "--controller", "ctl-k8s", "--format", "json").stdout)
    assert clouds["k8s-test"]["endpoint"] == "https://10.0.0.1:6443"
    listed = json.loads(rune("controllers", "--format", "json").stdout)["controllers"]
    assert listed["ctl-k8s"]["cloud"] == "k8s-test"  # the cloud it was bootstrapped on

    pid = int((rune.home / "controller" / "controller.pid").read_text())
    exited = os.pidfd_open(pid)  # readable once the process has ended
    os.kill(pid, signal.SIGTERM)  # the controller this test bootstrapped
    assert select.select([exited], [], [], 60)[0], "the controller did not stop"
    os.close(exited)
    rune("start-controller")
    rune("add-model", "more-pods", "--cloud", "k8s-test", "--no-switch")
    more = json.loads(rune("show-model", "more-pods", "--format", "json").stdout)["more-pods"]
    assert more["model-type"] == "caas"


def test_k8s_bootstrap_on_an_unknown_cloud_lists_the_clouds_this_client_knows(
    rune: Rune, tmp_path: Path
) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig()))
    rune("add-k8s", "k8s-test", "--kubeconfig", str(path))
    bad = rune("bootstrap", "nope", check=False)
    assert bad.returncode == 1
    assert 'unknown cloud "nope": known clouds are: ' in bad.stderr
    assert "k8s-test" in bad.stderr and "local" in bad.stderr
    assert not (rune.home / "controller").exists()
