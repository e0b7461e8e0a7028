"""Pure data models shared by every part of Runecraft; no I/O and nothing of ours imported.

`charm`: metadata.yaml, config.yaml, actions.yaml and charmcraft.yaml. `bus`: the messages
between the controller and the agents. `agent`: a machine agent's configuration file.
"""

from __future__ import annotations

from .agent import (
    AgentConfig,
    BrokerAddress,
)
from .bus import (
    AgentMessage,
    AppStatusReport,
    CharmRef,
    ControllerMessage,
    Envelope,
    Heartbeat,
    Hello,
    MachineSnapshot,
    StatusValue,
    UnitRemoteState,
    UnitReport,
    decode_agent_message,
    decode_controller_message,
    down_topic,
    encode,
    up_topic,
)
from .charm import (
    CHARM_METADATA_KEYS,
    IMPLICIT_ENDPOINT,
    ActionSpec,
    CharmActions,
    CharmConfig,
    Charmcraft,
    CharmcraftParts,
    CharmMeta,
    ConfigOption,
    ConfigType,
    ContainerMount,
    ContainerSpec,
    Endpoint,
    EndpointRole,
    ResourceSpec,
    StorageSpec,
    coerce_option_value,
    split_charmcraft,
)

__all__ = [
    "CHARM_METADATA_KEYS",
    "IMPLICIT_ENDPOINT",
    "ActionSpec",
    "AgentConfig",
    "AgentMessage",
    "AppStatusReport",
    "BrokerAddress",
    "CharmActions",
    "CharmConfig",
    "CharmMeta",
    "CharmRef",
    "Charmcraft",
    "CharmcraftParts",
    "ConfigOption",
    "ConfigType",
    "ContainerMount",
    "ContainerSpec",
    "ControllerMessage",
    "Endpoint",
    "EndpointRole",
    "Envelope",
    "Heartbeat",
    "Hello",
    "MachineSnapshot",
    "ResourceSpec",
    "StatusValue",
    "StorageSpec",
    "UnitRemoteState",
    "UnitReport",
    "coerce_option_value",
    "decode_agent_message",
    "decode_controller_message",
    "down_topic",
    "encode",
    "split_charmcraft",
    "up_topic",
]
