"""The systemd branch of the enlisted-machine scripts, where systemd really is PID 1: inside
an LXD container from the machine image (the scripts are plain sh; SSH only carries them)."""

from __future__ import annotations

import uuid

from runecraft.controller.providers import lxd
from runecraft.controller.providers.ssh._scripts import (
    remove_script,
    running_script,
    start_script,
)
from tests.integration.test_lxd_image import BRIDGE, IMAGE_CACHE, NAMESERVER

PREFIX = "/var/lib/runecraft/machine-0-test"
SERVICE = "runecraft-machine-0-test"


async def test_agent_runs_as_a_systemd_unit_and_is_removed_without_trace() -> None:
    api = lxd.LxdApi()
    await api.ping()
    tarball = lxd.build_image_tarball(IMAGE_CACHE, nameserver=NAMESERVER)
    alias = f"runecraft-test/{tarball.stem}"
    if not await api.has_image(alias):
        await api.import_image(tarball, alias)
    name = f"rc-sysd-{uuid.uuid4().hex[:8]}"
    try:
        await api.launch(name, alias, {"limits.memory": "256MiB"}, BRIDGE)
        await api.execute(name, ["systemctl", "is-system-running", "--wait"])
        before = (await api.execute(name, ["ls", "/etc/systemd/system"])).stdout
        await api.execute(name, ["mkdir", "-p", PREFIX])

        script = start_script(PREFIX, SERVICE, ["/bin/sleep", "infinity"], "test agent")
        started = await api.execute(name, ["sh", "-c", script])
        assert (started.exit_code, started.stdout.strip()) == (0, "systemd"), started
        running = await api.execute(name, ["sh", "-c", running_script(PREFIX, SERVICE)])
        assert running.exit_code == 0, running
        unit = await api.execute(name, ["systemctl", "show", SERVICE, "-p", "Restart,ExecStart"])
        assert "Restart=always" in unit.stdout
        assert "/bin/sleep" in unit.stdout
        enabled = await api.execute(name, ["systemctl", "is-enabled", SERVICE])
        assert enabled.stdout.strip() == "enabled"

        removed = await api.execute(
            name, ["sh", "-c", remove_script(PREFIX, SERVICE, "/var/lib/runecraft")]
        )
        assert removed.exit_code == 0, removed
        gone = await api.execute(name, ["sh", "-c", running_script(PREFIX, SERVICE)])
        assert gone.exit_code != 0
        after = (await api.execute(name, ["ls", "/etc/systemd/system"])).stdout
        assert after == before
        leftover = await api.execute(name, ["ls", "/var/lib/runecraft"])
        assert leftover.exit_code != 0  # the install directory went with the agent
    finally:
        await api.delete(name)
        api.close()
