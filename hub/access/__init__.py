"""Access control for the gateway: API keys (stored hashed), grants per topic, per-key rate
limits, a hash-chained audit log, problem+json refusals and CORS."""

from hub.access.audit import AuditEntry, AuditLog, Verification
from hub.access.http import AccessControl, Action, presented_key, setup_cors
from hub.access.keys import Grant, IssuedKey, KeyInfo, KeyStore, Permission, UnknownKeyError
from hub.access.policy import ANONYMOUS, Decision, authorize
from hub.access.problems import PROBLEM_JSON
from hub.access.ratelimit import RateLimiter

__all__ = [
    "ANONYMOUS",
    "PROBLEM_JSON",
    "AccessControl",
    "Action",
    "AuditEntry",
    "AuditLog",
    "Decision",
    "Grant",
    "IssuedKey",
    "KeyInfo",
    "KeyStore",
    "Permission",
    "RateLimiter",
    "UnknownKeyError",
    "Verification",
    "authorize",
    "presented_key",
    "setup_cors",
]
