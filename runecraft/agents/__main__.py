"""`python -m runecraft.agents --config <machine dir>/agent.json`: the machine agent process.

In a Kubernetes pod, `--config-dir DIR --pod NAME --data-dir DIR` instead: the pod's
Secret holds every unit's config as `unit-<number>.json`, and the pod (a StatefulSet's
`<application>-<number>`) takes its own.

Logs go to stderr as key-value lines (the provider redirects them to a file). SIGTERM or
SIGINT stops the unit tasks cleanly and exits 0; a config that cannot be read exits 2.
"""

from __future__ import annotations

import sys

if "rich" not in sys.modules:
    # Nothing the agent runs needs rich (its lines are plain key-value), but a library that
    # finds it installed may import it for tracebacks: kept out, every agent starts faster
    # and holds less memory. A `None` entry makes `import rich` fail as if absent.
    sys.modules["rich"] = None  # type: ignore[assignment]

from runecraft.agents import _main

main = _main.main

if __name__ == "__main__":
    sys.exit(main())
