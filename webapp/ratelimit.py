"""Rate limits of public intake and lookup, counted in the database so they hold across worker processes.

A view declares its bucket with `@limited("track")`; the hook below counts the hit after the authorization
check and before the view runs. Limits come from config `PETITIONS_RATE_LIMITS` (env PETITIONS_RATE_LIMITS,
see webapp/config.py). A refused request gets 429 with Retry-After and a message in the user's language.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_babel import gettext
from werkzeug.exceptions import TooManyRequests

from webapp import db
from workflows import throttle

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class RateLimit:
    """The bucket an endpoint counts in, for which methods, and who is exempt (e.g. officers)."""

    bucket: str
    methods: frozenset[str]
    exempt_roles: frozenset[str]


def limited(bucket: str, methods: tuple[str, ...] = ("POST",), exempt_roles: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Declare that an endpoint's requests (of these methods) count in `bucket`, keyed by user or address."""

    def decorate(view: F) -> F:
        view._rate_limit = RateLimit(bucket, frozenset(methods), frozenset(exempt_roles))  # type: ignore[attr-defined]
        return view

    return decorate


def client_address() -> str:
    """Return the client's address as the WSGI server (or ProxyFix with its trusted hop count) saw it.

    X-Forwarded-For is never read here: a client cannot pick the address it is counted under.
    """
    return request.remote_addr or "unknown"


class RateLimited(TooManyRequests):
    """429 with the seconds to wait."""

    def __init__(self, seconds: int) -> None:
        super().__init__(retry_after=seconds)
        self.seconds = seconds


def refuse(seconds: int) -> NoReturn:
    """Stop the request with 429 and Retry-After."""
    raise RateLimited(seconds)


def _check() -> None:
    if request.endpoint in (None, "static"):
        return
    spec: RateLimit | None = getattr(current_app.view_functions.get(request.endpoint), "_rate_limit", None)
    if spec is None or request.method not in spec.methods:
        return
    user = g.get("user")
    if user is not None and set(user.roles) & spec.exempt_roles:
        return
    key = f"user:{user.id}" if user is not None else f"ip:{client_address()}"
    dbs = db.session()
    wait, _ = throttle.hit(dbs, spec.bucket, key, current_app.config["PETITIONS_RATE_LIMITS"][spec.bucket])
    dbs.commit()
    if wait is not None:
        refuse(wait)


def _too_many(exc: TooManyRequests) -> Any:
    seconds = getattr(exc, "seconds", 60)
    message = gettext("Too many requests. Please wait %(seconds)s seconds and try again.", seconds=seconds)
    if request.path.startswith(("/api/", "/open311/")):
        response = jsonify({"error": message, "retry_after": seconds})
    else:
        response = current_app.make_response(render_template("error.html", status=429, message=message))
    response.status_code = 429
    response.headers["Retry-After"] = str(seconds)
    return response


def init_app(app: Flask) -> None:
    """Count rate-limited requests (after the authorization hook) and answer 429 in the user's language."""
    app.before_request(_check)
    app.register_error_handler(TooManyRequests, _too_many)
