"""Authentication (session login, API bearer tokens) and deny-by-default authorization of every endpoint."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from webapp import db
from workflows.models import User

F = TypeVar("F", bound=Callable[..., Any])
TOKEN_MAX_AGE = 12 * 3600
OFFICERS = ("intake", "leader", "unit", "agency", "auditor", "admin", "inspector")
TASK_ROLES = ("intake", "leader", "unit", "agency", "enterprise")


@dataclass(frozen=True)
class Policy:
    """Who may call an endpoint: anyone, or logged-in users holding one of `roles` (empty: any role)."""

    public: bool = False
    roles: frozenset[str] = frozenset()


def public(view: F) -> F:
    """Declare an endpoint open to anonymous visitors."""
    view._policy = Policy(public=True)  # type: ignore[attr-defined]
    return view


def roles(*names: str) -> Callable[[F], F]:
    """Declare an endpoint for logged-in users with one of these roles (none given: any logged-in user)."""

    def decorate(view: F) -> F:
        view._policy = Policy(roles=frozenset(names))  # type: ignore[attr-defined]
        return view

    return decorate


def current_user() -> User | None:
    """Return the user of this request (session or bearer token), or None."""
    return g.get("user")


def _token_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="api-token")


def issue_token(user: User) -> str:
    """Return a signed bearer token for the API, revoked when the user's session epoch changes."""
    return _token_serializer().dumps({"uid": user.id, "epoch": user.session_epoch})


def _user_from_token(header: str) -> User | None:
    if not header.startswith("Bearer "):
        return None
    try:
        payload = _token_serializer().loads(header[7:].strip(), max_age=TOKEN_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return None
    user = db.session().get(User, payload.get("uid"))
    return user if user and user.active and user.session_epoch == payload.get("epoch") else None


def _user_from_session() -> User | None:
    uid = session.get("uid")
    if uid is None:
        return None
    user = db.session().get(User, uid)
    if user is None or not user.active or user.session_epoch != session.get("epoch"):
        session.clear()
        return None
    return user


def login(user: User) -> None:
    """Start a fresh session for the user (the old session's content is dropped)."""
    lang = session.get("lang")
    session.clear()
    session["uid"], session["epoch"] = user.id, user.session_epoch
    session["lang"] = lang or user.language
    session.permanent = True


def logout() -> None:
    """End the session."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _enforce() -> Any:
    if request.endpoint in (None, "static"):
        return None
    view = current_app.view_functions.get(request.endpoint)
    policy: Policy | None = getattr(view, "_policy", None)
    g.user = _user_from_token(request.headers.get("Authorization", "")) if _is_api() else _user_from_session()
    if policy is None:
        abort(403)  # deny by default: an endpoint without a declared policy is closed
    if policy.public:
        return None
    if g.user is None:
        if _is_api():
            abort(401)
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
    if policy.roles and not (set(g.user.roles) & policy.roles):
        abort(403)
    return None


def has_role(user: User | None, names: Iterable[str]) -> bool:
    """Tell whether the user holds one of the roles."""
    return user is not None and bool(set(user.roles) & set(names))


def init_app(app: Flask) -> None:
    """Check every request against its endpoint's declared policy."""
    app.before_request(_enforce)
    app.jinja_env.globals["has_role"] = has_role
    app.context_processor(lambda: {"current_user": g.get("user")})
