"""The users API: users, their access to the controller and to models, and login tokens.

Juju's access levels: on a model `read` < `write` < `admin`; on the controller `login` <
`add-model` < `superuser`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CONTROLLER_LEVELS",
    "MODEL_LEVELS",
    "OFFER_LEVELS",
    "AccessChange",
    "AddUserRequest",
    "AddUserResponse",
    "LoginRequest",
    "LoginResponse",
    "PasswordRequest",
    "UserInfo",
    "WhoAmI",
]

MODEL_LEVELS = ("read", "write", "admin")
"""A model's access levels, weakest first."""
CONTROLLER_LEVELS = ("login", "add-model", "superuser")
"""The controller's access levels, weakest first."""
OFFER_LEVELS = ("read", "consume", "admin")
"""An offer's access levels, weakest first."""

Level = Literal["read", "write", "admin", "login", "add-model", "superuser", "consume"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AddUserRequest(_Strict):
    name: str
    display_name: str = ""
    password: str | None = Field(default=None, min_length=1)
    """None: the controller makes one and answers it once."""


class AddUserResponse(_Strict):
    name: str
    password: str | None = None
    """The password the controller made (only when none was given)."""


class PasswordRequest(_Strict):
    password: str = Field(min_length=1)


class LoginRequest(_Strict):
    user: str
    password: str
    ttl: float = Field(default=24 * 3600.0, gt=0, le=30 * 24 * 3600.0)
    """How long the token lives, in seconds (default a day, at most 30 days)."""


class LoginResponse(_Strict):
    user: str
    token: str
    expires: float
    """Unix time."""


class AccessChange(_Strict):
    """`grant`/`revoke` USER LEVEL [MODEL...|OFFER-URL...]: models for a model level,
    offer URLs (`[OWNER/]MODEL.OFFER`) for an offer level, none for a controller level."""

    level: Level
    models: list[str] = []
    offers: list[str] = []


class UserInfo(_Strict):
    name: str
    display_name: str
    access: str
    """Controller access; "disabled" once login was revoked."""
    created: float
    last_login: float | None
    models: dict[str, str] = {}
    """`{model: access}` (models the caller can see)."""


class WhoAmI(_Strict):
    user: str
    access: str
    """Controller access."""
    expires: float | None
    """When the caller's token expires (None: the controller's admin token)."""
