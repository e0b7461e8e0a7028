"""The `rune` command line: Juju's verbs and flags where they overlap.

Commands live in modules by topic and load when they run (`COMMANDS` names each one's
module), so that `rune --version` or `rune status --format json` pays only for what it uses.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Sequence

import click

from runecraft import __version__, _tracing, errors
from runecraft.cli import _argv, _output

__all__ = ["COMMANDS", "cli", "juju_main", "main"]

COMMANDS: dict[str, str] = {
    "bootstrap": "_controller:bootstrap",
    "kill-controller": "_controller:kill_controller",
    "destroy-controller": "_controller:destroy_controller",
    "start-controller": "_controller:start_controller",
    "version": "_juju:version",
    "add-model": "_models:add_model",
    "models": "_models:models",
    "switch": "_models:switch",
    "destroy-model": "_models:destroy_model",
    "show-model": "_show:show_model",
    "model-config": "_runtime:model_config",
    "model-constraints": "_show:model_constraints",
    "set-model-constraints": "_show:set_model_constraints",
    "deploy": "_apps:deploy",
    "pack": "_packing:pack_command",
    "add-unit": "_apps:add_unit",
    "remove-unit": "_apps:remove_unit",
    "remove-application": "_apps:remove_application",
    "config": "_apps:config",
    "refresh": "_runtime:refresh",
    "download": "_charmhub:download",
    "info": "_charmhub:info",
    "find": "_charmhub:find",
    "scale-application": "_show:scale_application",
    "scale": "_show:scale_application",
    "trust": "_show:trust",
    "constraints": "_show:constraints",
    "set-constraints": "_show:set_constraints",
    "show-unit": "_show:show_unit",
    "attach-resource": "_resources:attach_resource",
    "resources": "_resources:list_resources",
    "integrate": "_runtime:integrate",
    "relate": "_runtime:integrate",
    "remove-relation": "_runtime:remove_relation",
    "offer": "_offers:offer",
    "offers": "_offers:offers",
    "list-offers": "_offers:offers",
    "remove-offer": "_offers:remove_offer",
    "find-offers": "_offers:find_offers",
    "show-offer": "_offers:show_offer",
    "consume": "_offers:consume",
    "remove-saas": "_offers:remove_saas",
    "status": "_status:status",
    "wait": "_status:wait",
    "debug-log": "_logs:debug_log",
    "show-status-log": "_logs:show_status_log",
    "hooks": "_hooks:hooks",
    "show-hook": "_hooks:show_hook",
    "replay": "_hooks:replay",
    "resolve": "_runtime:resolve",
    "resolved": "_runtime:resolve",
    "run": "_runtime:run",
    "show-task": "_runtime:show_task",
    "exec": "_exec:exec_command",
    "ssh": "_ssh:ssh",
    "scp": "_ssh:scp",
    "add-machine": "_machines:add_machine",
    "remove-machine": "_machines:remove_machine",
    "machines": "_machines:list_machines",
    "clouds": "_clouds:clouds",
    "add-k8s": "_clouds:add_k8s",
    "show-cloud": "_clouds:show_cloud",
    "remove-cloud": "_clouds:remove_cloud",
    "credentials": "_clouds:credentials",
    "add-cloud": "_clouds:add_cloud",
    "update-cloud": "_clouds:update_cloud",
    "add-credential": "_clouds:add_credential",
    "list-credentials": "_clouds:credentials",
    "lxd": "_lxd:lxd",
    "validate-bundle": "_bundle:validate_bundle",
    "plan": "_bundle:plan_command",
    "apply": "_bundle:apply_command",
    "diff-bundle": "_bundle:diff_bundle",
    "export-bundle": "_bundle:export_bundle",
    "add-secret": "_secrets:add_secret",
    "update-secret": "_secrets:update_secret",
    "grant-secret": "_secrets:grant_secret",
    "revoke-secret": "_secrets:revoke_secret",
    "remove-secret": "_secrets:remove_secret",
    "secrets": "_secrets:list_secrets",
    "show-secret": "_secrets:show_secret",
    "add-user": "_users:add_user",
    "remove-user": "_users:remove_user",
    "change-user-password": "_users:change_user_password",
    "login": "_users:login",
    "logout": "_users:logout",
    "whoami": "_users:whoami",
    "users": "_users:users",
    "list-users": "_users:users",
    "grant": "_users:grant",
    "revoke": "_users:revoke",
    "rotate-secrets-key": "_secrets:rotate_secrets_key",
    "audit-log": "_audit:audit_log",
    "show-application": "_inspect:show_application",
    "show-machine": "_inspect:show_machine",
    "actions": "_inspect:actions",
    "list-actions": "_inspect:actions",
    "show-action": "_inspect:show_action",
    "storage": "_inspect:storage",
    "list-storage": "_inspect:storage",
    "expose": "_inspect:expose",
    "unexpose": "_inspect:unexpose",
    "controllers": "_inspect:controllers",
    "list-controllers": "_inspect:controllers",
    "show-controller": "_inspect:show_controller",
    "help": "_inspect:help_command",
    "add-ssh-key": "_keys:add_ssh_key",
    "remove-ssh-key": "_keys:remove_ssh_key",
    "ssh-keys": "_keys:ssh_keys",
    "list-ssh-keys": "_keys:ssh_keys",
    "model-defaults": "_keys:model_defaults",
    "model-default": "_keys:model_defaults",
}
"""Every command by the name it answers to, as `MODULE:ATTRIBUTE` of `runecraft.cli`."""

DETAILED_EXIT_COMMANDS = frozenset({"plan"})
"""Commands that exit as Terraform's `-detailed-exitcode`: 2 means "changes pending" there,
so any error, a usage error included, exits 1."""


class _LazyGroup(click.Group):
    """A group whose commands are imported only when one runs (or `--help` lists them)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = COMMANDS[cmd_name].partition(":")
        command = getattr(importlib.import_module(f"runecraft.cli.{module}"), attribute)
        assert isinstance(command, click.Command), COMMANDS[cmd_name]
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rune")
def cli() -> None:
    """Runecraft: deploy, integrate and scale Juju charms on any substrate.

    Every command takes `-m/--model MODEL` anywhere on its line.
    """


def _command_name(args: Sequence[str]) -> str | None:
    """The command a line runs: its first word that is neither an option nor a model."""
    words = iter(args)
    for arg in words:
        if arg in ("-m", "--model"):
            next(words, None)
        elif arg == "--":
            return None
        elif not arg.startswith("-"):
            return arg
    return None


def _usage_status(args: Sequence[str]) -> int:
    return 1 if _command_name(args) in DETAILED_EXIT_COMMANDS else 2


def main(argv: Sequence[str] | None = None, *, prog_name: str = "rune") -> None:
    """Entry point: Juju-style errors (`ERROR …`, exit 1; usage errors exit 2, or 1 for
    the `DETAILED_EXIT_COMMANDS`)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        _argv.MODEL_FROM_ARGV[0], args = _argv.hoist_model(args)
        with _command_span(prog_name, args):
            cli.main(args=args, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Abort:
        _output.err_console.print("ERROR aborted")
        sys.exit(1)
    except click.exceptions.UsageError as exc:
        exc.show()
        sys.exit(_usage_status(args))
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except errors.UsageError as exc:
        _output.err_console.print(f"ERROR {exc.message}", markup=False)
        sys.exit(_usage_status(args))
    except errors.RunecraftError as exc:
        _output.err_console.print(f"ERROR {exc.message}", markup=False)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


def _command_span(prog_name: str, args: Sequence[str]) -> contextlib.AbstractContextManager[None]:
    """The command's span, the root of its trace (or a child of the caller's
    `TRACEPARENT`); no span while tracing is off."""
    if not _tracing.setup("rune"):
        return _tracing.NO_SPAN
    command = args[0] if args and not args[0].startswith("-") else ""
    attributes = {"runecraft.command": command}
    if _argv.MODEL_FROM_ARGV[0]:
        attributes["runecraft.model"] = _argv.MODEL_FROM_ARGV[0]
    return _tracing.span(
        f"{prog_name} {command}".strip(),
        parent=os.environ.get("TRACEPARENT"),
        attributes=attributes,
    )


def juju_main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `rune-juju`: `rune` answering as `juju` (link it as `juju` on PATH)."""
    main(argv, prog_name="juju")
