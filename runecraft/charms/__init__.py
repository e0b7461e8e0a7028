"""Charms on disk: load and validate them, pack them, unpack them where units run.

A charm comes in three forms (`CharmForm`): a packed `.charm` zip, a packed directory, or a
source tree with `charmcraft.yaml`. `classify` says which, `load_charm_dir` and
`load_charm_archive` validate one into a `LoadedCharm`, `pack` turns any form into the
deterministic archive the controller stores by `content_hash`, and `unpack` puts an archive
into a unit's persistent charm directory. Every failure is an `InvalidSpecError` naming the
file and the field.
"""

from __future__ import annotations

from ._archive import content_hash, unpack
from ._load import CharmForm, LoadedCharm, classify, load_charm_archive, load_charm_dir
from ._pack import DISPATCH_TEMPLATE, PLUGINS, CharmFile, PackedCharm, pack, pack_platforms
from ._platforms import host_architecture

__all__ = [
    "DISPATCH_TEMPLATE",
    "PLUGINS",
    "CharmFile",
    "CharmForm",
    "LoadedCharm",
    "PackedCharm",
    "classify",
    "content_hash",
    "host_architecture",
    "load_charm_archive",
    "load_charm_dir",
    "pack",
    "pack_platforms",
    "unpack",
]
