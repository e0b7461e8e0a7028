"""Fuzzing the hook tools: random argv for every tool, and random request bodies for the
tool server's decoder. No Python exception escapes, bad input is a non-zero exit with an
`ERROR` message, and a refused call buffers nothing for the hook's commit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from runecraft.agents import _toolserver, hooktools

from .test_hook_tools import Harness, make_harness

TOOL_NAMES = sorted(hooktools.TOOLS)
FUZZ = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _words() -> st.SearchStrategy[str]:
    """Arguments a tool might get: its flags' spellings, key=value pairs, ids, numbers,
    and arbitrary text (control characters and lone surrogates included)."""
    flags = sorted(
        {
            ("-" if len(name) == 1 else "--") + name
            for spec in hooktools.TOOLS.values()
            for flag in spec.all_flags()
            for name in flag.names
            if name not in ("o", "output")  # writes a file wherever it is told
        }
    )
    return st.one_of(
        st.sampled_from(flags),
        st.sampled_from(["0", "-1", str(2**62), "1e309", "nan", "", "=", "a=b", "x=", "=y"]),
        st.sampled_from(["secret:c0ffee00000000000001", "db:1", "app/0", "mysql/0", "80/tcp"]),
        st.text(max_size=20),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=8).map(lambda s: f"k={s}"),
    )


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async for made in make_harness(tmp_path, leader=True):
        yield made


@FUZZ
@given(name=st.sampled_from(TOOL_NAMES), argv=st.lists(_words(), max_size=6))
@example(name="secret-add", argv=["--label", "a\n", "key=v"])  # once a ValidationError
@example(name="secret-set", argv=["secret:c0ffee00000000000001", "--label", "a\x00"])
async def test_fuzz_hook_tool_argv_never_raises_and_a_refusal_buffers_nothing(
    harness: Harness, name: str, argv: list[str]
) -> None:
    if any(arg in ("-o", "--output") or arg.startswith("--output=") for arg in argv):
        return
    before = harness.ctx.commit_parts()
    result = await hooktools.invoke(harness.ctx, name, argv, stdin=b"", cwd=harness.charm_dir)
    if result.code != 0:
        assert result.stderr.startswith(b"ERROR "), (name, argv, result)
        assert harness.ctx.commit_parts() == before, (name, argv)


@FUZZ
@given(st.one_of(st.binary(max_size=200), st.lists(st.binary(max_size=12)).map(b"\0".join)))
def test_fuzz_tool_server_decoder_refuses_with_value_error_only(body: bytes) -> None:
    try:
        request = _toolserver._decode(body)
    except ValueError:
        return
    assert isinstance(request.args, list)
    assert request.stdin in body or request.stdin == b""
