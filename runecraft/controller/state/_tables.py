"""Table definitions (SQLAlchemy Core): the same schema on SQLite and PostgreSQL.

Relations are keyed by `(model_uuid, id)` where `id` is the Juju relation id (unique per
model, from `models.next_relation`); their endpoints, scope memberships and databags hang off
that key. Units and applications are named (not referenced by row id) in relation rows, so a
departed unit's databag can outlive the unit while the relation lives.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

controller_info = sa.Table(
    "controller_info",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

models = sa.Table(
    "models",
    metadata,
    sa.Column("uuid", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("cloud", sa.String(64), nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False, default=0),
    sa.Column("next_machine", sa.Integer, nullable=False, default=0),
    sa.Column("next_relation", sa.Integer, nullable=False, default=0),
    sa.Column("next_action", sa.Integer, nullable=False, default=0),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("life", sa.String(16), nullable=False, default="alive"),
    sa.Column("created", sa.Float, nullable=False),
    # Juju's model constraints, normalised (see schemas/constraints.py).
    sa.Column("constraints", sa.JSON, nullable=False, default=dict),
    # Juju's model type: "iaas" (machines) or "caas" (a Kubernetes cloud: units are pods).
    sa.Column("type", sa.String(8), nullable=False, default="iaas", server_default="iaas"),
)

# Clouds added by an operator (`rune add-k8s`); the built-in ones (one per installed
# provider that needs no settings) are not stored.
clouds = sa.Table(
    "clouds",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("endpoint", sa.Text, nullable=False, default=""),
    # What the provider needs to reach the cloud (for Kubernetes: a kubeconfig with its
    # credential embedded, narrowed to one context).
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)

charms = sa.Table(
    "charms",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("meta", sa.JSON, nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("actions", sa.JSON, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)

charm_blobs = sa.Table(
    "charm_blobs",
    metadata,
    sa.Column("sha256", sa.String(64), sa.ForeignKey("charms.sha256"), primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

applications = sa.Table(
    "applications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_uuid", sa.String(36), sa.ForeignKey("models.uuid"), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("charm_sha256", sa.String(64), sa.ForeignKey("charms.sha256"), nullable=False),
    sa.Column("charm_revision", sa.Integer, nullable=False, default=0),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("life", sa.String(16), nullable=False, default="alive"),
    sa.Column("next_unit", sa.Integer, nullable=False, default=0),
    sa.Column("leader", sa.String(160), nullable=True),
    sa.Column("lease_expiry", sa.Float, nullable=True),
    sa.Column("status", sa.String(32), nullable=True),
    sa.Column("status_message", sa.Text, nullable=False, default=""),
    sa.Column("status_since", sa.Float, nullable=True),
    sa.Column("status_seq", sa.BigInteger, nullable=False, default=0),
    sa.Column("leader_settings", sa.JSON, nullable=False, default=dict),
    sa.Column("leader_settings_version", sa.BigInteger, nullable=False, default=0),
    sa.Column("created", sa.Float, nullable=False),
    # Juju's deploy-time settings: constraints (normalised, see schemas/constraints.py),
    # `juju trust`, and the base asked for (`ubuntu@24.04`; "" for the charm's default).
    sa.Column("constraints", sa.JSON, nullable=False, default=dict),
    sa.Column("trust", sa.Boolean, nullable=False, default=False),
    sa.Column("base", sa.String(64), nullable=False, default=""),
    # `juju expose`: shown as `exposed` in status (the local substrates open no firewall).
    sa.Column("exposed", sa.Boolean, nullable=False, default=False),
    # Juju's charm origin: "charmhub" (with the charm's Charmhub name, the channel it
    # follows as `track/risk[/branch]` and its Charmhub revision) or "local".
    sa.Column(
        "origin_source", sa.String(16), nullable=False, default="local", server_default="local"
    ),
    sa.Column("origin_name", sa.String(128), nullable=False, default="", server_default=""),
    sa.Column("origin_channel", sa.String(128), nullable=False, default="", server_default=""),
    sa.Column("origin_revision", sa.Integer, nullable=True),
    sa.UniqueConstraint("model_uuid", "name"),
)

machines = sa.Table(
    "machines",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_uuid", sa.String(36), sa.ForeignKey("models.uuid"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("life", sa.String(16), nullable=False, default="alive"),
    sa.Column("agent", sa.String(160), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=True),
    sa.Column("instance_id", sa.String(256), nullable=True),
    sa.Column("status", sa.String(32), nullable=False, default="pending"),
    sa.Column("status_message", sa.Text, nullable=False, default=""),
    sa.Column("status_since", sa.Float, nullable=False),
    sa.Column("hostname", sa.String(256), nullable=False, default=""),
    sa.Column("address", sa.String(64), nullable=False, default=""),
    sa.Column("retry_count", sa.Integer, nullable=False, default=0),
    sa.Column("retry_at", sa.Float, nullable=True),
    sa.Column("created", sa.Float, nullable=False),
    # An enlisted (not provisioned) machine: how the manual provider reaches it; null
    # for machines a provider made.
    sa.Column("enlistment", sa.JSON, nullable=True),
    # A machine made by another provider than the model's cloud (`lxd` for `--to lxd` on
    # a local model); null for the model's own.
    sa.Column("substrate", sa.String(32), nullable=True),
    # Added on its own (`add-machine` with no target): made, and kept while empty.
    sa.Column("kept", sa.Boolean, nullable=False, default=False),
    sa.UniqueConstraint("model_uuid", "number"),
)

units = sa.Table(
    "units",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_uuid", sa.String(36), sa.ForeignKey("models.uuid"), nullable=False),
    sa.Column("application_id", sa.Integer, sa.ForeignKey("applications.id"), nullable=False),
    sa.Column("name", sa.String(160), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("machine_number", sa.Integer, nullable=True),
    sa.Column("life", sa.String(16), nullable=False, default="alive"),
    sa.Column("workload_status", sa.String(32), nullable=False, default="waiting"),
    sa.Column("workload_message", sa.Text, nullable=False, default="waiting for machine"),
    sa.Column("workload_since", sa.Float, nullable=False),
    sa.Column("agent_status", sa.String(32), nullable=False, default="allocating"),
    sa.Column("agent_message", sa.Text, nullable=False, default=""),
    sa.Column("agent_since", sa.Float, nullable=False),
    sa.Column("workload_version", sa.String(256), nullable=False, default=""),
    sa.Column("report_seq", sa.BigInteger, nullable=False, default=0),
    sa.Column("converged_hash", sa.String(64), nullable=False, default=""),
    sa.Column("snapshot_revision", sa.BigInteger, nullable=False, default=0),
    sa.Column("commit_seq", sa.BigInteger, nullable=False, default=0),
    sa.Column("leader_set_seq", sa.BigInteger, nullable=False, default=0),
    sa.Column("charm_state", sa.JSON, nullable=False, default=dict),
    sa.Column("opened_ports", sa.JSON, nullable=False, default=list),
    sa.Column("resolved", sa.String(16), nullable=False, default="none"),
    sa.Column("resolved_seq", sa.Integer, nullable=False, default=0),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("force_removal", sa.Boolean, nullable=False, default=False),
    sa.Column("remove_after", sa.Float, nullable=True),
    # The principal unit a subordinate unit runs beside (null: a principal unit).
    sa.Column("principal", sa.String(160), nullable=True),
    sa.UniqueConstraint("model_uuid", "name"),
)

relations = sa.Table(
    "relations",
    metadata,
    sa.Column("model_uuid", sa.String(36), sa.ForeignKey("models.uuid"), primary_key=True),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("key", sa.String(512), nullable=False),
    sa.Column("life", sa.String(16), nullable=False, default="alive"),
    sa.Column("created", sa.Float, nullable=False),
    sa.UniqueConstraint("model_uuid", "key"),
)

relation_endpoints = sa.Table(
    "relation_endpoints",
    metadata,
    sa.Column("model_uuid", sa.String(36), primary_key=True),
    sa.Column("relation_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("application", sa.String(128), primary_key=True),
    sa.Column("endpoint", sa.String(128), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("interface", sa.String(128), nullable=False),
    sa.Column("scope", sa.String(16), nullable=False, default="global"),
    sa.Column("relation_limit", sa.Integer, nullable=True),
    sa.ForeignKeyConstraint(
        ["model_uuid", "relation_id"], ["relations.model_uuid", "relations.id"]
    ),
)

relation_scopes = sa.Table(
    "relation_scopes",
    metadata,
    sa.Column("model_uuid", sa.String(36), primary_key=True),
    sa.Column("relation_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("unit", sa.String(160), primary_key=True),
    sa.ForeignKeyConstraint(
        ["model_uuid", "relation_id"], ["relations.model_uuid", "relations.id"]
    ),
)

databags = sa.Table(
    "databags",
    metadata,
    sa.Column("model_uuid", sa.String(36), primary_key=True),
    sa.Column("relation_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("owner_kind", sa.String(8), primary_key=True),  # "unit" or "app"
    sa.Column("owner", sa.String(160), primary_key=True),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.ForeignKeyConstraint(
        ["model_uuid", "relation_id"], ["relations.model_uuid", "relations.id"]
    ),
)

actions = sa.Table(
    "actions",
    metadata,
    sa.Column("model_uuid", sa.String(36), sa.ForeignKey("models.uuid"), primary_key=True),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("unit", sa.String(160), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("results", sa.JSON, nullable=False),
    sa.Column("log", sa.JSON, nullable=False),
    sa.Column("enqueued", sa.Float, nullable=False),
    sa.Column("started", sa.Float, nullable=True),
    sa.Column("completed", sa.Float, nullable=True),
)

changes = sa.Table(
    "changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_uuid", sa.String(36), nullable=False, index=True),
    sa.Column("revision", sa.BigInteger, nullable=False),
    sa.Column("entity", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)

# Secrets (charm and user secrets): keyed by the xid; owner is an application, a unit, or
# the model itself (user secrets, `owner_kind` "model"). See controller/state/_secrets.py.
secrets = sa.Table(
    "secrets",
    metadata,
    sa.Column("model_uuid", sa.String(36), sa.ForeignKey("models.uuid"), primary_key=True),
    sa.Column("id", sa.String(20), primary_key=True),
    sa.Column("owner_kind", sa.String(16), nullable=False),
    sa.Column("owner", sa.String(160), nullable=False),
    sa.Column("name", sa.String(128), nullable=True),
    sa.Column("label", sa.String(256), nullable=False, default=""),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("expire", sa.String(32), nullable=True),
    sa.Column("rotate", sa.String(16), nullable=False, default=""),
    sa.Column("rotates", sa.Float, nullable=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
)

secret_revisions = sa.Table(
    "secret_revisions",
    metadata,
    sa.Column("model_uuid", sa.String(36), primary_key=True),
    sa.Column("secret_id", sa.String(20), primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("created", sa.Float, nullable=False),
    # The content, sealed (AES-GCM) under the keyring key `key_id`: see state/_keyring.py.
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.ForeignKeyConstraint(["model_uuid", "secret_id"], ["secrets.model_uuid", "secrets.id"]),
)

secret_consumers = sa.Table(
    "secret_consumers",
    metadata,
    sa.Column("model_uuid", sa.String(36), primary_key=True),
    sa.Column("secret_id", sa.String(20), primary_key=True),
    sa.Column("unit", sa.String(160), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False, default=0),
    sa.Column("label", sa.String(256), nullable=False, default=""),
    sa.ForeignKeyConstraint(["model_uuid", "secret_id"], ["secrets.model_uuid", "secrets.id"]),
)

secret_grants = sa.Table(
    "secret_grants",
    metadata,
    sa.Column("model_uuid", sa.String(36), primary_key=True),
    sa.Column("secret_id", sa.String(20), primary_key=True),
    sa.Column("subject_kind", sa.String(16), primary_key=True),  # "application" or "unit"
    sa.Column("subject", sa.String(160), primary_key=True),
    sa.Column("relation_id", sa.Integer, primary_key=True, autoincrement=False),
    # relation_id -1: a user-secret grant (no relation)
    sa.ForeignKeyConstraint(["model_uuid", "secret_id"], ["secrets.model_uuid", "secrets.id"]),
)

log_entries = sa.Table(
    "log_entries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_uuid", sa.String(36), nullable=False),
    sa.Column("entity", sa.String(168), nullable=False, default=""),
    sa.Column("unit", sa.String(160), nullable=False),
    sa.Column("application", sa.String(128), nullable=False),
    sa.Column("machine", sa.Integer, nullable=False),
    sa.Column("at", sa.String(32), nullable=False),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("severity", sa.SmallInteger, nullable=False),
    sa.Column("module", sa.String(256), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Index("ix_log_entries_model_id", "model_uuid", "id"),
)
"""Logs for `rune debug-log`: units' and machine agents' (shipped by the agents) and the
controller's own, under the entity that wrote them; the newest lines per model are kept."""

log_cursors = sa.Table(
    "log_cursors",
    metadata,
    sa.Column("model_uuid", sa.String(36), primary_key=True),
    sa.Column("unit", sa.String(160), primary_key=True),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("generation", sa.BigInteger, nullable=False, default=0),
)
"""How far into each log shipped (a unit's `unit.log`, a machine agent's `machine.log`, by
source name) the controller holds the lines, and in which generation of the file (it moves
when the file was rotated or recreated)."""

# Storage: one row per instance `<name>/<number>` (number unique per model and name),
# attached to one unit; and each application's storage directives (`deploy --storage`),
# which units added later get too. See controller/state/_storage.py.
storage_instances = sa.Table(
    "storage_instances",
    metadata,
    sa.Column("model_uuid", sa.String(36), sa.ForeignKey("models.uuid"), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("unit", sa.String(160), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("size_mib", sa.Integer, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)

storage_directives = sa.Table(
    "storage_directives",
    metadata,
    sa.Column("model_uuid", sa.String(36), sa.ForeignKey("models.uuid"), primary_key=True),
    sa.Column("application", sa.String(63), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("size_mib", sa.Integer, nullable=False),
)

# Resources: uploaded files, content-addressed like charm archives, and each application's
# current revision of each of its charm's resources. See controller/state/_resources.py.
resource_blobs = sa.Table(
    "resource_blobs",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)

application_resources = sa.Table(
    "application_resources",
    metadata,
    sa.Column("model_uuid", sa.String(36), sa.ForeignKey("models.uuid"), primary_key=True),
    sa.Column("application", sa.String(63), primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("sha256", sa.String(64), sa.ForeignKey("resource_blobs.sha256"), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)

status_history = sa.Table(
    "status_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_uuid", sa.String(36), nullable=False),
    sa.Column("entity", sa.String(160), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # workload, juju-unit, application
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("since", sa.Float, nullable=False),
    sa.Index("ix_status_history_entity", "model_uuid", "entity", "id"),
)
"""Every status an entity went through (`rune show-status-log`)."""


# --- users (revision 0003) -----------------------------------------------------------------

users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("display_name", sa.String(256), nullable=False, default=""),
    sa.Column("password_hash", sa.Text, nullable=True),
    # Controller access: "login", "add-model" or "superuser".
    sa.Column("access", sa.String(16), nullable=False, default="login"),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("last_login", sa.Float, nullable=True),
)

model_access = sa.Table(
    "model_access",
    metadata,
    sa.Column("model_uuid", sa.String(36), sa.ForeignKey("models.uuid"), primary_key=True),
    sa.Column("user", sa.String(64), sa.ForeignKey("users.name"), primary_key=True),
    # "read", "write" or "admin".
    sa.Column("access", sa.String(8), nullable=False),
)

offer_access = sa.Table(
    "offer_access",
    metadata,
    sa.Column("model_uuid", sa.String(36), sa.ForeignKey("models.uuid"), primary_key=True),
    sa.Column("offer", sa.String(128), primary_key=True),
    sa.Column("user", sa.String(64), sa.ForeignKey("users.name"), primary_key=True),
    # "read", "consume" or "admin".
    sa.Column("access", sa.String(8), nullable=False),
)
"""Juju's offer ACLs (`grant USER consume OFFER-URL`): access to one offer of a model,
given beside (and never less than) what access to its model gives."""

user_tokens = sa.Table(
    "user_tokens",
    metadata,
    # sha256 of the token: the token itself is never stored.
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user", sa.String(64), sa.ForeignKey("users.name"), nullable=False, index=True),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("expires", sa.Float, nullable=False),
    sa.Column("revoked", sa.Float, nullable=True),
)


audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("principal", sa.String(200), nullable=False),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("route", sa.String(256), nullable=False),
    sa.Column("model", sa.String(128), nullable=True),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("error", sa.String(64), nullable=False, default=""),
    sa.Index("ix_audit_log_model_id", "model", "id"),
)
"""Every mutating API call: who (the authenticated principal), what (method, route template,
model), when, and its outcome (HTTP status, error code). Never the request body."""


# --- hook runs (revision 0006) -------------------------------------------------------------

hook_runs = sa.Table(
    "hook_runs",
    metadata,
    sa.Column("model_uuid", sa.String(36), primary_key=True),
    sa.Column("unit", sa.String(160), primary_key=True),
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hook", sa.String(256), nullable=False),
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("duration", sa.Float, nullable=False),
    sa.Column("exit_code", sa.Integer, nullable=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("cause", sa.JSON, nullable=False),
    sa.Column("env", sa.JSON, nullable=False),
    sa.Column("tool_calls", sa.JSON, nullable=False),
    sa.Column("tool_calls_dropped", sa.Integer, nullable=False, default=0),
)
"""Every hook a unit agent ran (`rune hooks`, `show-hook`, `replay`), by unit and the
agent's run id; the newest `schemas.hooks.KEEP_PER_UNIT` per unit are kept. Not model
state: storing one moves no revision."""

offers = sa.Table(
    "offers",
    metadata,
    sa.Column("model_uuid", sa.String(36), sa.ForeignKey("models.uuid"), primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("application", sa.String(128), nullable=False),
    sa.Column("endpoints", sa.JSON, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)
"""Juju's application offers (`rune offer`): endpoints of an application other models of
this controller may consume, as `admin/MODEL.OFFER`."""

saas = sa.Table(
    "saas",
    metadata,
    sa.Column("model_uuid", sa.String(36), sa.ForeignKey("models.uuid"), primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("offer_model_uuid", sa.String(36), nullable=False, index=True),
    sa.Column("offer_name", sa.String(128), nullable=False),
    sa.Column("url", sa.String(300), nullable=False),
    sa.Column("endpoints", sa.JSON, nullable=False),
    sa.Column("token", sa.String(32), nullable=False, unique=True),
    sa.Column("life", sa.String(16), nullable=False, default="alive"),
    sa.Column("created", sa.Float, nullable=False),
)
"""Consumed offers (`rune consume`): Juju's remote applications ("SAAS") of a model, named
by their alias. The offering model sees the consumer as `remote-<token>`."""

cross_model_relations = sa.Table(
    "cross_model_relations",
    metadata,
    sa.Column("model_uuid", sa.String(36), primary_key=True),
    sa.Column("relation_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("saas", sa.String(128), nullable=False),
    sa.Column("application", sa.String(128), nullable=False),
    sa.Column("offer_model_uuid", sa.String(36), nullable=False, index=True),
    sa.Column("offer_relation_id", sa.Integer, nullable=False),
    sa.Column("offer_name", sa.String(128), nullable=False),
    sa.Column("offer_application", sa.String(128), nullable=False),
    sa.Column("endpoint", sa.String(128), nullable=False),
    sa.Column("token", sa.String(32), nullable=False),
)
"""A relation across models: the consumer's relation (with the SAAS) and its twin in the
offering model (with `remote-<token>`), each stored as an ordinary relation of its model."""
