"""A Charmhub for tests: the endpoints Runecraft's Charmhub client uses (`info`, `find`,
`refresh`, and archive downloads), on a random loopback port, serving charms the tests
publish with revisions and a channel map. It answers as api.charmhub.io does, so the real
client runs unchanged against it (`RUNECRAFT_CHARMHUB_URL`)."""

from tests.charmhub_emulator._server import CharmhubEmulator, Published, packed_variant

__all__ = ["CharmhubEmulator", "Published", "packed_variant"]
