"""English messages raised by the engine and the domain, marked here so that `pybabel extract` finds them.

Those layers stay free of Flask-Babel: they raise fixed English texts, and the web layer translates them
with gettext when it shows them (webapp/errors.py, the form pages). A test checks that this list covers
engine.forms._MESSAGES and that the Vietnamese catalog translates every entry.
"""
from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the conventional name of the no-op gettext marker
    """Mark a message id for extraction without translating it."""
    return message


FORM_MESSAGES = (
    N_("This field is required."),
    N_("Choose one of the allowed values."),
    N_("The value has the wrong type."),
    N_("The text is too long."),
    N_("The text is too short."),
    N_("The value is too small."),
    N_("The value is too large."),
    N_("The value has the wrong format."),
    N_("Each item may appear only once."),
    N_("Choose at least one item."),
    N_("Too many items."),
    N_("The value is not valid."),
    N_("The submission must be an object."),
)

ENGINE_MESSAGES = (
    N_("task not found"),
    N_("process instance not found"),
    N_("this task belongs to another lane or scope"),
    N_("this task has already been completed"),
    N_("this task is claimed by another officer"),
    N_("this task is no longer waiting for input"),
    N_("the petition was changed meanwhile; reload the page"),
    N_("invalid data"),
    N_("The page link is invalid or out of date; open the inbox from its first page."),
)

DOMAIN_MESSAGES = (
    N_("no petition has this tracking code"),
    N_("Unknown tax code; give the enterprise name to create it."),
    N_("A tax code has 10 or 13 digits."),
    N_("A unit officer needs a known unit code."),
    N_("An agency liaison needs a known agency code."),
    N_("An enterprise user needs an enterprise."),
    N_("Use letters, digits, '.', '_' or '-' (at most 150)."),
    N_("This username is taken."),
    N_("Password must have at least 12 characters."),
    N_("Password must have at most 128 characters."),
    N_("This password is too common."),
    N_("The current password is not correct."),
    N_("Choose a password different from the current one."),
    N_("The password must not contain the username."),
    N_("The two new passwords differ."),
    N_("Send a JSON object."),
    N_("Send the form fields as an object."),
    N_("Give a number of rows from 1 to 200."),
)

# Names of the HTTP errors that webapp/errors.py shows (werkzeug's `exc.name`).
HTTP_MESSAGES = (
    N_("Bad Request"),
    N_("Unauthorized"),
    N_("Forbidden"),
    N_("Not Found"),
    N_("Method Not Allowed"),
    N_("Conflict"),
    N_("Request Entity Too Large"),
    N_("Too Many Requests"),
    N_("Internal Server Error"),
    N_("Service Unavailable"),
)

ALL_MESSAGES = FORM_MESSAGES + ENGINE_MESSAGES + DOMAIN_MESSAGES + HTTP_MESSAGES
