"""Which failures mean "a dependency is down" (Redis, a database, another service): the caller gets a
problem+json 503 with Retry-After for those, never a 500. Anything else unexpected stays a 500.

Only the exception's type is ever logged: its text may quote a host, a query or a key.
"""

from __future__ import annotations

import socket

import redis.exceptions
import sqlalchemy.exc

# Long enough for a restarted Redis or database to take connections again, short enough that a client
# that honours it is back as soon as it may be (the default of shared.http.retry_after).
RETRY_AFTER_S = 5
DETAIL = "A service Tandem depends on is unavailable. Please try again in a moment."

_DOWN: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,  # refused, reset, closed mid-command; BusyLoadingError is one too
    redis.exceptions.TimeoutError,
    sqlalchemy.exc.OperationalError,  # the database refused or dropped the connection (or is locked)
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,  # no pooled connection came free
    ConnectionError,  # the builtin: refused, reset, aborted, broken pipe
    TimeoutError,
    socket.gaierror,  # a dependency's host name does not resolve (a restarting container)
)


def dependency_down(exc: BaseException) -> bool:
    if isinstance(exc, _DOWN):
        return True
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    # Drivers sometimes raise their own error with the socket's failure as its cause.
    return isinstance(exc.__cause__, ConnectionError | socket.gaierror)

