"""Cost of the secrets part of the machine snapshots: every unit's `SecretRemote`s.

The reconciler builds each unit's secrets (`_secret_plan.unit_secrets`) on every pass that
publishes snapshots. Here one owner application shares S secrets (each with R revisions)
with a consumer application of U units, every consumer tracks one revision of every secret,
and we time indexing the rows plus building every unit's view, as the reconciler does.

    python benchmarks/secret_views.py [--units 100] [--secrets 100] [--revisions 3]
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace
from typing import Any

from runecraft.controller.reconcilers._secret_plan import SecretIndex, unit_secrets
from runecraft.controller.state import (
    SecretConsumerRecord,
    SecretGrantRecord,
    SecretRecord,
    SecretRevisionRecord,
    SecretRows,
)

MODEL = "00000000-0000-4000-8000-000000000000"


def rows(units: int, secrets: int, revisions: int) -> SecretRows:
    ids = [f"{n:020d}" for n in range(secrets)]
    return SecretRows(
        secrets=[
            SecretRecord(
                model_uuid=MODEL,
                id=secret_id,
                owner_kind="application",
                owner="owner",
                name=None,
                label=f"label-{secret_id}",
                description="",
                expire=None,
                rotate="",
                rotates=None,
                revision=revisions,
                created=0.0,
                updated=0.0,
            )
            for secret_id in ids
        ],
        revisions=[
            SecretRevisionRecord(MODEL, secret_id, r, {"password": f"pw-{r}"}, 0.0)
            for secret_id in ids
            for r in range(1, revisions + 1)
        ],
        consumers=[
            SecretConsumerRecord(MODEL, secret_id, f"consumer/{u}", 1 + u % revisions, "")
            for secret_id in ids
            for u in range(units)
        ],
        grants=[
            SecretGrantRecord(MODEL, secret_id, "application", "consumer", 1) for secret_id in ids
        ],
    )


def build(data: SecretRows, units: int) -> int:
    index = SecretIndex(data, [1], [f"consumer/{u}" for u in range(units)], MODEL)
    app: Any = SimpleNamespace(name="consumer", leader="consumer/0")
    total = 0
    for u in range(units):
        unit: Any = SimpleNamespace(name=f"consumer/{u}")
        total += len(unit_secrets(index, unit, app))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--secrets", type=int, default=100)
    parser.add_argument("--revisions", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    data = rows(args.units, args.secrets, args.revisions)
    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        views = build(data, args.units)
        best = min(best, time.perf_counter() - start)
    print(
        f"units={args.units} secrets={args.secrets} revisions={args.revisions} "
        f"views={views} best={best * 1000:.1f} ms ({best / max(views, 1) * 1e6:.1f} µs/view)"
    )


if __name__ == "__main__":
    main()
