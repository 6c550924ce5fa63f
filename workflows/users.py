"""Users and enterprises: creation with the password policy, authentication, principals."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.contracts import Principal
from engine.errors import ValidationFailed
from workflows.lanes import principal_for
from workflows.models import Enterprise, User
from workflows.models.user import ROLES
from workflows.passwords import hash_password, needs_rehash, policy_problem, verify_password
from workflows.reference import get_reference


def get_or_create_enterprise(
    session: Session, tax_code: str, name: str | None = None, zone: str | None = None, **contact: str | None
) -> Enterprise:
    """Return the enterprise with this tax code, creating it when a name is given."""
    enterprise = session.scalar(select(Enterprise).where(Enterprise.tax_code == tax_code))
    if enterprise is not None:
        return enterprise
    if not name:
        raise ValidationFailed({"tax_code": "Unknown tax code; give the enterprise name to create it."})
    if not tax_code.isdigit() or len(tax_code) not in (10, 13):
        raise ValidationFailed({"tax_code": "A tax code has 10 or 13 digits."})
    enterprise = Enterprise(tax_code=tax_code, name=name, zone=zone, **contact)
    session.add(enterprise)
    session.flush()
    return enterprise


def _check_scope(roles: list[str], unit: str | None, agency: str | None, enterprise: Enterprise | None) -> None:
    ref = get_reference()
    errors: dict[str, str] = {}
    if unknown := [r for r in roles if r not in ROLES]:
        errors["role"] = f"Unknown role(s): {', '.join(unknown)}; choose from {', '.join(ROLES)}."
    if "unit" in roles and unit not in ref.units:
        errors["unit"] = "A unit officer needs a known unit code."
    if "agency" in roles and agency not in ref.agencies:
        errors["agency"] = "An agency liaison needs a known agency code."
    if "enterprise" in roles and enterprise is None:
        errors["enterprise"] = "An enterprise user needs an enterprise."
    if errors:
        raise ValidationFailed(errors)


def create_user(
    session: Session,
    username: str,
    password: str,
    roles: list[str],
    *,
    full_name: str = "",
    email: str | None = None,
    unit: str | None = None,
    agency: str | None = None,
    enterprise: Enterprise | None = None,
) -> User:
    """Create a user after checking the password policy, the roles and their scope."""
    if not username or len(username) > 150 or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise ValidationFailed({"username": "Use letters, digits, '.', '_' or '-' (at most 150)."})
    if problem := policy_problem(password):
        raise ValidationFailed({"password": problem})
    _check_scope(roles, unit, agency, enterprise)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ValidationFailed({"username": "This username is taken."})
    user = User(
        username=username, password_hash=hash_password(password), roles=list(roles), full_name=full_name or username,
        email=email, unit_code=unit, agency_code=agency, enterprise_id=enterprise.id if enterprise else None,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """Return the active user with these credentials, or None (same work for unknown users).

    A hash made with older argon2 parameters is replaced by one with the current parameters (the caller commits).
    """
    user = session.scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def change_password(session: Session, user: User, current: str, new: str, confirm: str) -> None:
    """Set a new password after checking the current one and the policy (the caller revokes sessions, commits)."""
    errors: dict[str, str] = {}
    if not verify_password(user.password_hash, current):
        errors["current_password"] = "The current password is not correct."
    if problem := policy_problem(new):
        errors["new_password"] = problem
    elif new == current:
        errors["new_password"] = "Choose a password different from the current one."
    elif new.lower() in user.username.lower() or user.username.lower() in new.lower():
        errors["new_password"] = "The password must not contain the username."
    if new != confirm:
        errors["confirm_password"] = "The two new passwords differ."
    if errors:
        raise ValidationFailed(errors)
    user.password_hash = hash_password(new)


def principal(session: Session, user: User) -> Principal:
    """Return the engine principal for a user."""
    enterprise = session.get(Enterprise, user.enterprise_id) if user.enterprise_id else None
    return principal_for(user, enterprise)
