"""Cross-model relations inside one controller: `offer`, `offers`, `remove-offer` and
`consume`, with Juju's arguments and output shapes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from runecraft import errors
from runecraft.cli import _argv, _output
from runecraft.cli._common import _client_fields, _juju_flags, _model
from runecraft.cli._common import _run as _call
from runecraft.schemas import api

if TYPE_CHECKING:
    from runecraft.client import Client

__all__ = [
    "consume",
    "find_offers",
    "found_offers_document",
    "offer",
    "offers",
    "remove_offer",
    "remove_saas",
    "show_offer",
]

_OFFER_OWNER = "admin"
"""The owner of every model (and so every offer URL) of a Runecraft controller."""


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
            "users": _users_document(o.users or {_OFFER_OWNER: "admin"}),
        }
        for o in found
    }


def _users_document(users: dict[str, str]) -> dict[str, dict[str, str]]:
    """Juju's `users` of an offer: each user's access (and the admin's display name)."""
    return {
        user: ({"display-name": user} if user == _OFFER_OWNER else {}) | {"access": access}
        for user, access in sorted(users.items())
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


def found_offers_document(controller: str, found: list[api.OfferInfo]) -> dict[str, object]:
    """Juju's `find-offers`/`show-offer --format json|yaml`: by the offer's URL with its
    controller, the caller's access, the endpoints and the users."""
    return {
        f"{controller}:{o.url}": {
            "access": o.access,
            "endpoints": {k: v.model_dump() for k, v in sorted(o.endpoints.items())},
            "users": _users_document(o.users or {_OFFER_OWNER: "admin"}),
        }
        for o in found
    }


def _offer_filter(text: str, controller: str) -> tuple[str | None, str | None]:
    """`[CONTROLLER:][OWNER/][MODEL[.OFFER]]` of `find-offers` → (model, part of an offer
    name); this controller only, and its models are all `admin`'s."""
    source, colon, rest = text.rpartition(":")
    if colon and source != controller:
        raise errors.NotFoundError(
            f'controller "{source}" not found: this client knows only "{controller}"'
        )
    owner, slash, rest = rest.rpartition("/")
    if slash and owner != _OFFER_OWNER:
        raise errors.NotFoundError(f'no models of user "{owner}": every model is "admin/…"')
    model, dot, offer = rest.partition(".")
    if (dot and not offer) or (not model and (dot or slash)):
        raise errors.UsageError(
            f'invalid offer URL "{text}": expected [CONTROLLER:][OWNER/]MODEL[.OFFER]'
        )
    return model or None, offer or None


@click.command("find-offers")
@click.argument("url", required=False, metavar="[[CONTROLLER:][OWNER/]MODEL[.OFFER]]")
@click.option("--url", "url_option", help="Offers matching this URL, as the argument.")
@click.option("--offer", help="Offers whose name contains this.")
@click.option("--interface", help="Offers with an endpoint of this interface.")
@_output.FORMAT_OPTION
def find_offers(
    url: str | None,
    url_option: str | None,
    offer: str | None,
    interface: str | None,
    output_format: str,
) -> None:
    """Find the offers of this controller's models that you may use (all of them, or
    those the URL, offer name and interface select)."""
    if url is not None and url_option is not None:
        raise errors.UsageError("give the offer URL once: as the argument or as --url")
    controller = str(_client_fields()["controller"])
    model, named = _offer_filter(url or url_option or "", controller)
    if offer is not None and named is not None and offer != named:
        raise errors.UsageError(f'--offer "{offer}" and the URL\'s offer "{named}" differ')
    found = _call(lambda c: c.find_offers(model=model, offer=offer or named, interface=interface))
    if _output.emit(found_offers_document(controller, found), output_format):
        return
    if not found:
        _output.err_console.print("No matching application offers found.", markup=False)
        return
    table = _output._table("Store", "URL", "Access", "Interfaces")
    for o in found:
        interfaces = ", ".join(f"{e.interface}:{n}" for n, e in sorted(o.endpoints.items()))
        table.add_row(controller, o.url, o.access, interfaces)
    _output.console.print(table)


@click.command("show-offer")
@click.argument("url", metavar="[CONTROLLER:][OWNER/]MODEL.OFFER")
@_output.FORMAT_OPTION
def show_offer(url: str, output_format: str) -> None:
    """Show an offer: your access to it, its endpoints and its users."""
    controller = str(_client_fields()["controller"])
    model, name = _offer_filter(url, controller)
    if model is None or name is None:
        raise errors.UsageError(
            f'invalid offer URL "{url}": expected [CONTROLLER:][OWNER/]MODEL.OFFER'
        )
    found = [o for o in _call(lambda c: c.find_offers(model=model, offer=name)) if o.name == name]
    if not found:
        raise errors.NotFoundError(f'application offer "{_OFFER_OWNER}/{model}.{name}" not found')
    if _output.emit(found_offers_document(controller, found), output_format):
        return
    table = _output._table("Store", "URL", "Access", "Endpoint", "Interface", "Role")
    for n, e in sorted(found[0].endpoints.items()):
        table.add_row(controller, found[0].url, found[0].access, n, e.interface, e.role)
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
