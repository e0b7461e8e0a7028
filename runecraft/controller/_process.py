"""The controller process: wires state, bus, API, reconcilers and providers, and supervises
them until SIGTERM or a shutdown request.

Layout of a controller's data (all under `<home>/controller/` unless noted):
`controller.yaml` (config, 0600), `state.db` (SQLite default), `controller.pid`,
`controller.log`, `mosquitto/` (when managed), and `<home>/machines/` for the local provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import structlog
import uvicorn

from runecraft import _logging, errors
from runecraft.controller import _passwords, _supervisor, _tls, api, bus, services
from runecraft.controller._config import api_url, load_config
from runecraft.controller.bus import _dynsec
from runecraft.controller.providers import CloudSpec, Provider, ProviderContext, load_provider
from runecraft.controller.providers.local import LocalProvider
from runecraft.controller.reconcilers import Reconciler, provider_for
from runecraft.controller.state import KEY_FILE, Keyring, MachineRecord, Store
from runecraft.schemas import bus as bus_schema
from runecraft.schemas.agent import BrokerAddress
from runecraft.schemas.controller import BrokerHealth, BrokerState, ControllerConfig

__all__ = ["Controller", "serve"]

logger = structlog.get_logger(__name__)


def _listen(host: str, port: int, what: str) -> socket.socket:
    """Bind the API socket here, so a port already taken is a clear error, not uvicorn's
    exit code 3."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise errors.PermanentError(
            f"cannot listen on {host}:{port} for the {what}: {(exc.strerror or str(exc)).lower()}"
        ) from exc
    return sock


@dataclass(frozen=True)
class _Parts:
    """The long-lived workers of one controller."""

    bus: bus.ControllerBus
    agents: services.AgentService
    logs: services.LogService
    reconciler: Reconciler
    metrics: services.MetricsService


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the controller stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Controller:
    """One running controller."""

    def __init__(self, home: Path, config: ControllerConfig) -> None:
        self.home = home
        self.directory = home / "controller"
        self.config = config
        self.stopping = asyncio.Event()
        self.hub = services.ChangeHub()
        self.clouds = services.CloudRegistry()
        """Every cloud by name; the cloud service keeps it in step with the store."""
        self._providers: dict[str, tuple[CloudSpec, Provider]] = {}
        self._retired: list[Provider] = []
        self._mosquitto: bus.ManagedMosquitto | None = None
        self._broker_watch: bus.BrokerWatch | None = None
        """Has the broker this controller runs (embedded or mosquitto) started again when it
        stops; its task, so that a destroying shutdown can end it before the broker."""
        self._watch_task: asyncio.Task[None] | None = None
        self._external: _dynsec.ExternalAgents | None = None
        """An external broker's agent clients (dynamic security)."""
        self.store: Store | None = None
        self._reconciler: Reconciler | None = None
        self.tls = _tls.TlsFiles.of(self.directory) if config.tls else None
        """The certificate the API and a managed broker serve (None: plain, on loopback)."""
        self.ca_cert: str | None = None
        """The controller's CA certificate (PEM), handed to agents."""

    def substrate_changed(self, model_uuid: str) -> None:
        """A provider saw its substrate change behind our back (a pod came up or went):
        the model gets a pass now."""
        if self._reconciler is not None:
            self._reconciler.invalidate(model_uuid)

    def provider(self, cloud: str) -> Provider:
        """The provider instance of a cloud (built-in or added), made on first use: the
        cloud's spec, resolved by name, is loaded by its provider type. A cloud removed and
        added again under the same name gets a new instance (the old one closes at stop)."""
        spec = self.clouds.spec(cloud)
        cached = self._providers.get(cloud)
        if cached is not None and cached[0] is spec:
            return cached[1]
        if cached is not None:
            self._retired.append(cached[1])
        provider = load_provider(
            spec.type,
            ProviderContext(
                controller_uuid=self.config.uuid,
                data_dir=self.home / "machines",
                cloud=spec,
                changed=self.substrate_changed,
            ),
        )
        self._providers[cloud] = (spec, provider)
        return provider

    def local_isolated(self) -> bool:
        """Whether the local provider runs machines as users of their own (what status
        says of local machines), asked of the provider itself."""
        for spec in self.clouds.all():
            if spec.type == "local":
                with contextlib.suppress(errors.RunecraftError):
                    provider = self.provider(spec.name)
                    return isinstance(provider, LocalProvider) and provider.isolated
        return False

    async def verify(self, username: str, password: str) -> bool:
        """A bus or API credential: the controller's own, or a machine agent's."""
        if username == bus.CONTROLLER_USER:
            return hmac.compare_digest(password.encode(), self.config.broker.password.encode())
        assert self.store is not None
        machine = await self.store.machine_by_agent(username)
        return machine is not None and _passwords.verify_password(password, machine.password_hash)

    async def _broker_credentials(self) -> list[tuple[str, str]]:
        """Every credential a managed mosquitto takes: the controller's and each agent's."""
        assert self.store is not None
        return [(bus.CONTROLLER_USER, self._controller_hash), *await self.store.agent_credentials()]

    async def credentials_changed(self) -> None:
        if self._external is not None:
            self._external.changed()
        if self._mosquitto is not None:
            self._mosquitto.write_credentials(await self._broker_credentials())
            self._mosquitto.reload()

    def broker_health(self, controller_bus: bus.ControllerBus) -> BrokerHealth:
        """The broker's state: a broker this controller runs as its watch sees it; an
        external one as the controller's bus reaches it or not."""
        if self._broker_watch is not None:
            return self._broker_watch.health
        if controller_bus.connected.is_set():
            return BrokerHealth()
        broker = self.config.broker
        return BrokerHealth(
            state=BrokerState.DOWN,
            message=f"the controller cannot reach the broker at {broker.host}:{broker.port}",
        )

    async def substrate_ready(self, name: str) -> None:
        """Whether a substrate a placement names (`--to lxd`) can make machines now."""
        check = getattr(self.provider(name), "check_ready", None)  # providers may offer it
        if check is not None:
            config = self.config
            await check(config.broker.host, self.api_url)

    def broker_for_agents(self, agent: str, password: str) -> BrokerAddress:
        """Where and as whom agent `agent` connects: always as itself (on an external broker,
        the controller has the broker make that client)."""
        broker = self.config.broker
        if self._external is not None:
            self._external.issue(agent, password)
        return BrokerAddress(
            host=broker.host,
            port=broker.port,
            username=agent,
            password=password,
            tls=self.tls is not None and broker.kind != "external",
            ca_cert=self.ca_cert,
        )

    async def shutdown(self, destroy: bool) -> None:
        """Stop (and with `destroy`, first remove every machine this controller made, all
        at once: containers take seconds each to delete)."""
        if destroy and self.store is not None:
            snapshot = await self.store.snapshot()
            models = {model.uuid: model for model in snapshot.models}

            async def release(machine: MachineRecord) -> None:
                if machine.model_uuid not in models:
                    return
                provider = self.provider(provider_for(machine, models[machine.model_uuid]))
                try:  # one machine that cannot be removed does not keep the others
                    await provider.destroy_machine(machine.model_uuid, machine.number)
                except errors.RunecraftError as exc:
                    logger.warning(
                        "cannot release machine",
                        model=machine.model_uuid,
                        machine=machine.number,
                        error=exc.message,
                    )

            async with asyncio.TaskGroup() as group:
                for machine in snapshot.machines:
                    group.create_task(release(machine))
            if self._watch_task is not None:  # or it would start the broker again
                self._watch_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._watch_task
            if self._mosquitto is not None:
                await self._mosquitto.stop()
        self.stopping.set()

    async def run(self) -> None:
        config = self.config
        api_socket = _listen(config.api_host, config.api_port, "API")
        if self.tls is not None:
            if not self.tls.cert.exists():  # a controller bootstrapped before TLS
                names = _tls.server_names(config.api_host, config.broker.host)
                _tls.make(self.tls, config.name, names)
            self.ca_cert = self.tls.ca_cert.read_text()
        # The keyring sealing secret content lives beside the config, never in the database.
        keyring = Keyring.load_or_create(self.directory / KEY_FILE)
        self.store = store = await Store.open(config.database_url, keyring)
        await store.extend_all_leases(time.time() + config.lease_seconds)
        self._controller_hash = _passwords.hash_password(config.broker.password)
        cloud_service = services.CloudService(store, self.clouds)
        await cloud_service.load()
        embedded = await self._start_broker(store)
        parts = self._wire(store, embedded)
        # From here on, what this controller logs is in `debug-log` too (tasks made below
        # inherit the sink; it is this controller's only, even with several in one process).
        own_log = _logging.SINK.set(parts.logs.record)
        try:
            await self._serve(parts, self._api_server(store, parts, cloud_service), api_socket)
        finally:
            _logging.SINK.reset(own_log)
            if embedded is not None:
                await embedded.stop()
            for provider in [*self._retired, *(p for _, p in self._providers.values())]:
                await provider.close()
            await store.close()
            logger.info("controller stopped")

    @property
    def api_url(self) -> str:
        return api_url(self.config)

    async def _start_broker(self, store: Store) -> bus.EmbeddedBroker | None:
        """Start the broker the controller manages, if any, and make its watch; the embedded
        one is returned (the caller stops it), mosquitto is kept for credential updates
        (left running at a stop, for the next controller to adopt)."""
        broker_cfg = self.config.broker
        if broker_cfg.kind == "embedded":
            tls = None if self.tls is None else (self.tls.cert, self.tls.key)
            embedded = bus.EmbeddedBroker(broker_cfg.host, broker_cfg.port, self.verify, tls)
            try:
                await embedded.start()
            except Exception as exc:
                raise errors.PermanentError(
                    f"cannot start the embedded broker on {broker_cfg.host}:{broker_cfg.port}: "
                    f"{str(exc).lower()}"
                ) from exc
            self._broker_watch = bus.BrokerWatch(
                "the embedded broker", embedded.restart, embedded.stopped
            )
            return embedded
        if broker_cfg.kind == "external":
            self._external = self._external_agents(store)
        if broker_cfg.kind == "mosquitto":
            mosquitto = self._mosquitto = bus.ManagedMosquitto(
                self.directory / "mosquitto", broker_cfg.host, broker_cfg.port, self.tls
            )

            async def start_mosquitto() -> None:  # or adopt the one running
                await mosquitto.start(await self._broker_credentials())

            await start_mosquitto()
            self._broker_watch = bus.BrokerWatch("mosquitto", start_mosquitto, mosquitto.exited)
        return None

    def _external_agents(self, store: Store) -> _dynsec.ExternalAgents:
        broker_cfg = self.config.broker

        def connect() -> _dynsec.Dynsec:
            return _dynsec.Dynsec(
                broker_cfg.host,
                broker_cfg.port,
                broker_cfg.username,
                broker_cfg.password,
                role_prefix=_dynsec.role_prefix(self.config.uuid),
            )

        async def known() -> set[str]:
            return {agent for agent, _ in await store.agent_credentials()}

        return _dynsec.ExternalAgents(connect, known)

    def _wire(self, store: Store, embedded: bus.EmbeddedBroker | None = None) -> _Parts:
        """The bus client, the agent and log services and the reconciler, wired together."""
        config = self.config
        broker_cfg = config.broker
        agents = services.AgentService(store, self.hub, config.lease_seconds)
        reconciler: Reconciler

        def bus_connected() -> None:
            reconciler.resend_all()
            self.hub.changed()

        def received(agent: str, message: bus_schema.AgentMessage) -> None:
            if isinstance(message, bus_schema.LogBatch):
                logs.submit(agent, message)
            elif isinstance(message, bus_schema.AgentMetrics):
                metrics.take(agent, message)
            else:
                agents.submit(agent, message)

        controller_bus = bus.ControllerBus(
            broker_cfg.host,
            broker_cfg.port,
            broker_cfg.username if broker_cfg.kind == "external" else bus.CONTROLLER_USER,
            broker_cfg.password,
            on_message=received,
            on_connect=bus_connected,
            tls=(
                _tls.client_context(self.ca_cert)
                if self.ca_cert is not None and broker_cfg.kind != "external"
                else None
            ),
            local=embedded.deliver if embedded is not None else None,
        )
        if embedded is not None:
            embedded.receive_locally(bus.CONTROLLER_USER, controller_bus.received_locally)
        logs = services.LogService(store, controller_bus.publish)
        agents.on_forget(logs.forget)
        reconciler = Reconciler(
            store=store,
            hub=self.hub,
            agents=agents,
            providers=self.provider,
            publisher=controller_bus,
            broker_for_agents=self.broker_for_agents,
            credentials_changed=self.credentials_changed,
            api_url=self.api_url,
            interval=config.reconcile_interval,
            lease_seconds=config.lease_seconds,
            bus_since=controller_bus.since,
        )
        metrics = self._metrics(store, controller_bus, agents, logs, reconciler)
        reconciler.observe_pass = metrics.reconcile_pass.observe
        self._reconciler = reconciler
        return _Parts(controller_bus, agents, logs, reconciler, metrics)

    def _metrics(
        self,
        store: Store,
        controller_bus: bus.ControllerBus,
        agents: services.AgentService,
        logs: services.LogService,
        reconciler: Reconciler,
    ) -> services.MetricsService:
        """This controller's metrics, read from its parts (its own registry: several
        controllers may run in one process)."""
        metrics = services.MetricsService(
            services.MetricSources(
                unit_counts=store.unit_counts,
                queues={
                    "agent-messages": lambda: agents.waiting,
                    "logs": lambda: logs.waiting,
                    "bus-outbox": lambda: controller_bus.client.queued,
                    "machines-being-made": lambda: reconciler.provisioner.making,
                    "reconcile-pending": lambda: int(self.hub.reconcile.is_set()),
                },
                agents_connected=agents.connected,
                bus_traffic=lambda: controller_bus.traffic,
                bus_rejected=lambda: controller_bus.rejected,
            )
        )
        store.time_statements(metrics.db_statement.observe)
        agents.on_forget(metrics.forget)
        return metrics

    def _api_server(self, store: Store, parts: _Parts, clouds: services.CloudService) -> _Server:
        config = self.config
        broker_cfg = config.broker

        models = services.ModelService(
            store, self.hub, substrate_ready=self.substrate_ready, clouds=self.clouds
        )
        app = api.create_app(
            api.ApiContext(
                name=config.name,
                uuid=config.uuid,
                broker=f"{broker_cfg.kind} mqtt://{broker_cfg.host}:{broker_cfg.port}",
                models=models,
                relations=services.RelationService(store, self.hub),
                actions=services.ActionService(store, self.hub),
                catalog=services.CatalogService(store),
                clouds=clouds,
                bundles=services.BundleService(store, self.hub, models.check_substrates),
                status=services.StatusService(
                    store,
                    self.hub,
                    controller_name=config.name,
                    published_revision=parts.reconciler.published_revision,
                    reconciled=lambda: (
                        parts.reconciler.reconciled_generation >= self.hub.generation
                        and parts.bus.connected.is_set()
                    ),
                    local_isolated=self.local_isolated,
                    broker_health=lambda: self.broker_health(parts.bus),
                ),
                settings=services.SettingsService(store, self.hub),
                secrets=services.SecretService(store, self.hub),
                resources=services.ResourceService(store, self.hub),
                credentials=services.CredentialService(store),
                hooks=services.HookService(store),
                ssh_keys=services.AuthorizedKeyService(store, self.hub),
                users=services.UserService(store, config.admin_token),
                verify_agent=self.verify,
                shutdown=self.shutdown,
                logs=parts.logs,
                metrics=parts.metrics,
                bus_connected=parts.bus.connected.is_set,
                broker_health=lambda: self.broker_health(parts.bus),
                machines=services.MachineService(
                    store,
                    self.hub,
                    enlister=lambda: cast("services.Enlister", self.provider("manual")),
                    credentials_changed=self.credentials_changed,
                    broker_for_agents=self.broker_for_agents,
                    api_url=self.api_url,
                ),
            ),
            audit=services.AuditService(store),
        )
        return _Server(
            uvicorn.Config(
                app,
                host=config.api_host,
                port=config.api_port,
                log_level="warning",
                lifespan="off",
                access_log=False,
                ssl_certfile=None if self.tls is None else str(self.tls.cert),
                ssl_keyfile=None if self.tls is None else str(self.tls.key),
            )
        )

    async def _serve(self, parts: _Parts, server: _Server, api_socket: socket.socket) -> None:
        """Run the API and the workers under supervision until the controller stops."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(server.serve(sockets=[api_socket])),
                group.create_task(_supervisor.supervise("bus", parts.bus.run)),
                group.create_task(_supervisor.supervise("agents", parts.agents.run)),
                group.create_task(_supervisor.supervise("logs", parts.logs.run)),
                group.create_task(_supervisor.supervise("reconciler", parts.reconciler.run)),
            ]
            if self._external is not None:
                tasks.append(group.create_task(_supervisor.supervise("broker", self._external.run)))
            if self._broker_watch is not None:
                watch = _supervisor.supervise("broker", self._broker_watch.run, traceback=False)
                self._watch_task = group.create_task(watch)
                tasks.append(self._watch_task)
            logger.info("controller started", name=self.config.name, api=self.api_url)
            await self.stopping.wait()
            server.should_exit = True
            for task in tasks[1:]:
                task.cancel()


def serve(home: Path) -> None:
    """Run the controller of `home` in this process until it is stopped."""
    controller_dir = home / "controller"
    config = load_config(controller_dir)
    pid_file = controller_dir / "controller.pid"
    pid_file.write_text(str(os.getpid()))
    try:
        asyncio.run(Controller(home, config).run())
    except errors.RunecraftError as exc:
        logger.error("controller cannot start", error=exc.message)
        raise SystemExit(1) from None
    finally:
        with contextlib.suppress(OSError):
            if pid_file.read_text().strip() == str(os.getpid()):
                pid_file.unlink()
