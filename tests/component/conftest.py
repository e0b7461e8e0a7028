"""Fixtures the component tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runecraft.controller.state import Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh controller database (SQLite) of the test's own."""
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state.db'}")
    yield store
    await store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_on_each(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh controller database on SQLite, then on PostgreSQL: for what must hold on both."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'state.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    store = await Store.open(url)
    try:
        yield store
    finally:
        await store.close()
