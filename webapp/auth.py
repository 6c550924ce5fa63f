"""Authentication (server-side sessions, API bearer tokens, login throttling) and deny-by-default authorization."""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, or_, update

from engine.db import utcnow
from webapp import db, ratelimit
from workflows import throttle
from workflows.models import User, WebSession
from workflows.users import authenticate

F = TypeVar("F", bound=Callable[..., Any])
TOKEN_MAX_AGE = 12 * 3600
OFFICERS = ("intake", "leader", "unit", "agency", "auditor", "admin", "inspector")
TASK_ROLES = ("intake", "leader", "unit", "agency", "enterprise")
TOUCH_EVERY = dt.timedelta(seconds=60)  # last_seen_at is written at most once a minute per session
log = logging.getLogger(__name__)


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


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _live(record: WebSession | None, uid: Any, now: dt.datetime) -> bool:
    if record is None or record.user_id != uid or record.revoked_at is not None:
        return False
    idle = dt.timedelta(seconds=current_app.config["PETITIONS_SESSION_IDLE_SECONDS"])
    lifetime = dt.timedelta(seconds=current_app.config["PETITIONS_SESSION_MAX_SECONDS"])
    return now - record.last_seen_at <= idle and now - record.created_at <= lifetime


def _end_cookie_session() -> None:
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def _user_from_session() -> User | None:
    uid, sid = session.get("uid"), session.get("sid")
    if uid is None:
        return None
    dbs, now = db.session(), utcnow()
    record = dbs.get(WebSession, _digest(sid)) if isinstance(sid, str) else None
    user = dbs.get(User, uid) if _live(record, uid, now) else None
    if user is None or not user.active or user.session_epoch != session.get("epoch"):
        _end_cookie_session()  # expired, revoked or unknown: the cookie is worth nothing from now on
        return None
    if now - record.last_seen_at >= TOUCH_EVERY:
        record.last_seen_at = now
        dbs.commit()
    return user


def login(user: User) -> None:
    """Start a fresh session for the user: a new random session id (the old session is revoked and dropped)."""
    lang = session.get("lang")
    _revoke_current()
    session.clear()
    token = secrets.token_urlsafe(32)
    dbs = db.session()
    lifetime = dt.timedelta(seconds=current_app.config["PETITIONS_SESSION_MAX_SECONDS"])
    dbs.execute(delete(WebSession).where(  # the user's ended sessions are of no use any more
        WebSession.user_id == user.id, or_(WebSession.revoked_at.is_not(None), WebSession.created_at < utcnow() - lifetime),
        WebSession.last_seen_at < utcnow() - dt.timedelta(days=1)))
    dbs.add(WebSession(id=_digest(token), user_id=user.id, ip=(request.remote_addr or "")[:45] or None,
                       user_agent=request.headers.get("User-Agent", "")[:200] or None))
    dbs.commit()
    session["sid"], session["uid"], session["epoch"] = token, user.id, user.session_epoch
    session["lang"] = lang or user.language
    session.permanent = True
    g.user = user


def _revoke_current() -> None:
    sid = session.get("sid")
    if isinstance(sid, str):
        dbs = db.session()
        dbs.execute(update(WebSession).where(WebSession.id == _digest(sid), WebSession.revoked_at.is_(None))
                    .values(revoked_at=utcnow()))
        dbs.commit()


def logout() -> None:
    """End the session; its id is revoked on the server, so a copy of the cookie no longer works."""
    _revoke_current()
    _end_cookie_session()


def revoke_all_sessions(user: User) -> None:
    """Revoke every session and API token of the user (the caller commits), e.g. after a password change."""
    db.session().execute(update(WebSession).where(WebSession.user_id == user.id, WebSession.revoked_at.is_(None))
                         .values(revoked_at=utcnow()))
    user.session_epoch += 1


def check_credentials(username: str, password: str) -> User | None:
    """Authenticate with throttling per account and per address (database counters, shared by all workers).

    Raises 429 (with Retry-After) when the account had too many attempts without success, or the address too
    many failures; the password is then not even checked. Unknown user and wrong password look the same.
    """
    dbs, limits, address = db.session(), current_app.config["PETITIONS_RATE_LIMITS"], ratelimit.client_address()
    account = username.strip().lower()
    wait_account, _ = throttle.hit(dbs, "login-account", account, limits["login-account"])
    wait_ip, ip_hit = throttle.hit(dbs, "login-ip", address, limits["login-ip"]) if wait_account is None \
        else (None, None)
    dbs.commit()
    if wait_account is not None or wait_ip is not None:
        log.warning("login throttled for user %r from %s", account, address)
        ratelimit.refuse(max(wait_account or 0, wait_ip or 0))
    user = authenticate(dbs, username, password)
    if user is None:
        log.warning("login failed for user %r from %s", account, address)
        dbs.commit()
        return None
    throttle.clear(dbs, "login-account", account)
    if ip_hit is not None:
        throttle.forget(dbs, ip_hit)
    dbs.commit()
    log.info("login of user %r from %s", user.username, address)
    return user


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _enforce() -> Any:
    if request.endpoint in (None, "static"):
        return None
    view = current_app.view_functions.get(request.endpoint)
    policy: Policy | None = getattr(view, "_policy", None)
    g.user = _user_from_token(request.headers.get("Authorization", "")) if _is_api() else _user_from_session()
    if "db" in g and g.db.get_bind().dialect.name == "sqlite":
        # End the lookup's transaction: on SQLite it holds the write lock (BEGIN IMMEDIATE) for the whole
        # request otherwise. PostgreSQL's lookup only read, so the request goes on in the same transaction
        # (no second connection checkout and ping, no extra commit: docs/performance.md, figure 2).
        g.db.commit()
    if policy is None:
        abort(403)  # deny by default: an endpoint without a declared policy is closed
    if policy.public:
        return None
    if g.user is None:
        if _is_api():
            abort(401)
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
    if policy.roles and not (set(g.user.roles) & policy.roles):
        log.warning("refused %s %s to user %r", request.method, request.path, g.user.username)
        abort(403)
    return None


def has_role(user: User | None, names: Iterable[str]) -> bool:
    """Tell whether the user holds one of the roles."""
    return user is not None and bool(set(user.roles) & set(names))


def init_app(app: Flask) -> None:
    """Check every request against its endpoint's declared policy, then against its rate limit."""
    if not app.config.get("SESSION_COOKIE_SECURE") and app.config["SESSION_COOKIE_NAME"].startswith("__Host-"):
        app.config["SESSION_COOKIE_NAME"] = "session"  # browsers drop a __Host- cookie that is not Secure
    app.before_request(_enforce)
    ratelimit.init_app(app)
    app.jinja_env.globals["has_role"] = has_role
    app.context_processor(lambda: {"current_user": g.get("user")})
