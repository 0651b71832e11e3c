"""Secrets in configuration: only environment-variable names may appear in topics.yaml.

The checks here find secrets written inline (keys such as `password`, credentials inside a
URL); `resolve_secret` reads a referenced variable at run time, never at validation time,
because the variable may exist only in production.
"""

from __future__ import annotations

import os
import re
from typing import Annotated
from urllib.parse import parse_qsl, urlsplit

from pydantic import AfterValidator

from hub.errors import MissingSecretError

__all__ = [
    "SECRETS_MESSAGE",
    "EnvVarName",
    "check_url_has_no_secret",
    "is_secret_key",
    "resolve_secret",
]

#: Every inline-secret message starts with this sentence.
SECRETS_MESSAGE = "secrets must be referenced by environment variable name"

# Normalised key endings that name a secret ("sasl.password" -> "sasl_password").
_SECRET_ENDINGS = (
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "private_key",
    "secret_key",
    "access_key",
    "consumerkey",
    "consumer_key",
    "credentials",
    "jaas_config",
)
# Query parameters that carry an API key in the URL itself (ODPT uses acl:consumerKey).
_SECRET_QUERY_NAMES = ("key", "sig", "signature")
_SECRET_QUERY_ENDINGS = (*_SECRET_ENDINGS, "_key", "_sig", "signature")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _normalise(key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_")


def is_secret_key(key: str, parent: str | None = None) -> bool:
    """True when a mapping key names an inline secret (`value` counts only under `auth`)."""
    name = _normalise(key)
    if name.endswith("_env"):
        return False
    if name == "value" and parent == "auth":
        return True
    return name.endswith(_SECRET_ENDINGS)


def _check_env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an environment variable name (letters, digits and _, "
            "not starting with a digit); give the variable's name, not its value"
        )
    return value


#: The name of an environment variable holding a secret (validated, never resolved at load).
EnvVarName = Annotated[str, AfterValidator(_check_env_name)]


def check_url_has_no_secret(url: str, instead: str) -> None:
    """Raise ValueError when `url` carries a password or an API key in its query string.

    `instead` says what to use, e.g. "url_env" or "auth: {query_param: ..., value_env: ...}".
    """
    parts = urlsplit(url)
    if parts.password:
        raise ValueError(f"{SECRETS_MESSAGE}: the URL contains a password; use {instead}")
    for name, _ in parse_qsl(parts.query, keep_blank_values=True):
        normalised = _normalise(name)
        if normalised in _SECRET_QUERY_NAMES or normalised.endswith(_SECRET_QUERY_ENDINGS):
            raise ValueError(
                f"{SECRETS_MESSAGE}: the URL carries {name!r} in its query string; use {instead}"
            )


def resolve_secret(name: str, purpose: str | None = None) -> str:
    """The value of environment variable `name`; MissingSecretError when unset or empty.

    `purpose` (e.g. "feeds.kaga-bus.auth.value_env") makes the error say who needed it.
    """
    value = os.environ.get(name)
    if not value:
        raise MissingSecretError(name, purpose)
    return value
