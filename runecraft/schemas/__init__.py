"""Pure data models shared by every part of Runecraft; nothing of ours is imported here.

One module per boundary, imported as modules (`from runecraft.schemas import bus`):
`charm` (metadata.yaml, config.yaml, actions.yaml, charmcraft.yaml), `bundle` (bundles and
overlays), `bus` (messages between the controller and agents), `agent` (a machine agent's
config file), `controller` (a controller's config file), `api` (HTTP requests and
responses) and `duration` (Go-style durations).
"""

from __future__ import annotations

from runecraft.schemas import agent, api, bundle, bus, charm, controller, duration

__all__ = ["agent", "api", "bundle", "bus", "charm", "controller", "duration"]
