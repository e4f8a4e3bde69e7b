"""The operator's `bootstrap-admin`: the first admin of a new programme, or a fresh set-password link for
an existing admin (lost link, lost password or authenticator). Nothing is written unless it can finish:
the caller checks the database and Redis first (cli.py)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from services.gateway.accounts.invitations import Invitations
from services.gateway.accounts.tables import user_roles, users
from services.gateway.accounts.users import normalise_email

ACTOR = "bootstrap"


class Refused(Exception):
    """What the operator asked for cannot be done as asked; the message says what to type instead."""


@dataclass(frozen=True)
class Link:
    user_id: str
    token: str
    created: bool  # a new admin, or a fresh link for an existing one


async def bootstrap_admin(invitations: Invitations, email: str, name: str, *, force: bool, new_link: bool) -> Link:
    address = normalise_email(email)
    async with invitations.users.engine.connect() as conn:
        admins = (await conn.execute(sa.select(sa.func.count()).select_from(user_roles)
                                     .where(user_roles.c.role == "admin"))).scalar_one()
        existing = (await conn.execute(sa.select(users.c.id, users.c.status).where(users.c.email == address))
                    ).one_or_none()
        is_admin = existing is not None and (await conn.execute(
            sa.select(user_roles.c.role).where(user_roles.c.user_id == existing.id, user_roles.c.role == "admin"))
        ).first() is not None
    if new_link:
        if existing is None or not is_admin:
            raise Refused(f"{address} is not an admin here; --new-link only re-issues an admin's link")
        if existing.status == "erased":
            raise Refused(f"the account of {address} has been erased")
        token, _ = await invitations.reissue(ACTOR, existing.id)
        return Link(existing.id, token, created=False)
    if existing is not None:
        hint = "use --new-link for a fresh link" if is_admin else "grant it the admin role in the web app instead"
        raise Refused(f"an account with {address} exists already; {hint}")
    if admins and not force:
        raise Refused("an admin exists already; use --force to add another, or --new-link --email E for a "
                      "fresh link for an existing admin")
    user_id, token, _ = await invitations.create_user(ACTOR, address, name, ["admin"])
    return Link(user_id, token, created=True)
