"""Cross-model relations inside one controller: `offer`, `offers`, `remove-offer` and
`consume`, with Juju's arguments and output shapes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from runecraft import errors
from runecraft.cli import _argv, _output
from runecraft.cli._common import _juju_flags, _model
from runecraft.cli._common import _run as _call
from runecraft.schemas import api

if TYPE_CHECKING:
    from runecraft.client import Client

__all__ = ["consume", "offer", "offers", "remove_offer", "remove_saas"]


def _split_offer(url: str) -> tuple[str, str]:
    """`[CTRL:][OWNER/]MODEL.OFFER` (or a bare OFFER of the current model) → (model, offer)."""
    rest = _argv.model_name(url)
    model, dot, name = rest.rpartition(".")
    if not dot:
        return _model(), rest
    if not model or not name:
        raise errors.UsageError(f'invalid offer URL "{url}": expected [OWNER/]MODEL.OFFER')
    return model, name


@click.command()
@click.argument("endpoints", metavar="[MODEL.]APPLICATION:ENDPOINT[,ENDPOINT...]")
@click.argument("name", required=False)
@click.option("--controller", "-c", help="Accepted for Juju compatibility (this controller).")
def offer(endpoints: str, name: str | None, controller: str | None) -> None:
    """Offer application endpoints for use in other models."""
    del controller
    target, sep, names = endpoints.partition(":")
    wanted = [n for n in names.split(",") if n]
    if not sep or not wanted:
        raise errors.UsageError(
            f'invalid offer "{endpoints}": expected [MODEL.]APPLICATION:ENDPOINT[,ENDPOINT...]'
        )
    model_part, dot, application = target.rpartition(".")
    model = _argv.model_name(model_part) if dot else _model()
    made = _call(lambda c: c.offer(model, application, wanted, name))
    _output.err_console.print(
        f'Application "{made.application}" endpoints [{" ".join(sorted(made.endpoints))}] '
        f'available at "{made.url}"',
        markup=False,
    )


def offer_document(found: list[api.OfferInfo]) -> dict[str, dict[str, object]]:
    """Juju's `offers --format json|yaml`: offers by name."""
    return {
        o.name: {
            "application": o.application,
            "charm": o.charm,
            "offer-url": o.url,
            "endpoints": {k: v.model_dump() for k, v in o.endpoints.items()},
            **(
                {
                    "connections": [
                        {
                            "source-model-uuid": c.source_model_uuid,
                            "username": "admin",
                            "relation-id": c.relation_id,
                            "endpoint": c.endpoint,
                            "status": {"current": "joined"},
                        }
                        for c in o.connections
                    ]
                }
                if o.connections
                else {}
            ),
            "users": {"admin": {"display-name": "admin", "access": "admin"}},
        }
        for o in found
    }


@click.command()
@click.argument("offer_name", required=False)
@_output.format_option("tabular", "json", "yaml", "summary", short=True, help="Output format.")
@click.option("--active-only", is_flag=True, help="Only offers in use.")
@click.option("--application", help="Only offers of this application.")
@click.option("--interface", help="Only offers with an endpoint of this interface.")
def offers(
    offer_name: str | None,
    output_format: str,
    active_only: bool,
    application: str | None,
    interface: str | None,
) -> None:
    """List the offers of the model and who is connected to them (alias: list-offers)."""
    model = _model()
    found = [
        o
        for o in _call(lambda c: c.offers(model))
        if (offer_name is None or o.name == offer_name)
        and (not active_only or o.connections)
        and (application is None or o.application == application)
        and (interface is None or any(e.interface == interface for e in o.endpoints.values()))
    ]
    if _output.emit(offer_document(found), output_format):
        return
    table = _output._table("Offer", "Application", "Charm", "Connected", "Endpoints", "URL")
    for o in found:
        endpoints = ", ".join(
            f"{name}:{e.interface} ({e.role})" for name, e in sorted(o.endpoints.items())
        )
        table.add_row(o.name, o.application, o.charm, str(len(o.connections)), endpoints, o.url)
    _output.console.print(table)


@click.command("remove-offer")
@click.argument("urls", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Remove the offer's relations with it.")
@_juju_flags("--no-prompt", "-y")
def remove_offer(urls: tuple[str, ...], force: bool) -> None:
    """Remove offers: [OWNER/]MODEL.OFFER, or an offer name of the current model."""
    targets = [_split_offer(url) for url in urls]

    async def go(client: Client) -> None:
        for model, name in targets:
            await client.remove_offer(model, name, force=force)

    _call(go)


@click.command()
@click.argument("url", metavar="[CONTROLLER:][OWNER/]MODEL.OFFER")
@click.argument("alias", required=False)
def consume(url: str, alias: str | None) -> None:
    """Add a remote offer to the model as a SAAS application (then `integrate` with it)."""
    model = _model()
    saas = _call(lambda c: c.consume(model, url, alias))
    _output.err_console.print(f"Added {saas.url} as {saas.name}", markup=False)


@click.command("remove-saas")
@click.argument("names", nargs=-1, required=True)
@_juju_flags("--force", "--no-wait", "--no-prompt", "-y")
def remove_saas(names: tuple[str, ...]) -> None:
    """Remove consumed offers (SAAS) from the model; their relations end."""
    model = _model()

    async def go(client: Client) -> None:
        for name in names:
            await client.remove_saas(model, name)

    _call(go)
