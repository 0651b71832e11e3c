"""Confluent Schema Registry error codes, and the error that carries one with its message.

The embedded registry raises these from its store and serves them as Confluent's
``{"error_code": ..., "message": ...}`` bodies; the client raises them for any registry's answer.
"""

from __future__ import annotations

from hub.errors import RegistryError

__all__ = [
    "COMPATIBILITY_NOT_CONFIGURED",
    "INCOMPATIBLE",
    "INVALID_COMPATIBILITY_LEVEL",
    "INVALID_SCHEMA",
    "INVALID_SUBJECT",
    "INVALID_VERSION",
    "SCHEMA_NOT_FOUND",
    "STORE_ERROR",
    "SUBJECT_NOT_FOUND",
    "SUBJECT_NOT_SOFT_DELETED",
    "SUBJECT_SOFT_DELETED",
    "VERSION_NOT_FOUND",
    "VERSION_NOT_SOFT_DELETED",
    "VERSION_SOFT_DELETED",
    "RegistryResponseError",
]

SUBJECT_NOT_FOUND = 40401
VERSION_NOT_FOUND = 40402
SCHEMA_NOT_FOUND = 40403
SUBJECT_SOFT_DELETED = 40404
SUBJECT_NOT_SOFT_DELETED = 40405
VERSION_SOFT_DELETED = 40406
VERSION_NOT_SOFT_DELETED = 40407
COMPATIBILITY_NOT_CONFIGURED = 40408
INCOMPATIBLE = 409
INVALID_SCHEMA = 42201
INVALID_VERSION = 42202
INVALID_COMPATIBILITY_LEVEL = 42203
INVALID_SUBJECT = 42208
STORE_ERROR = 50001


class RegistryResponseError(RegistryError):
    """A registry error answer: HTTP status, Confluent error code and the message as sent."""

    def __init__(
        self, status: int, error_code: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        self.message = message
        #: Headers the answer carries besides the body (WWW-Authenticate, Retry-After).
        self.headers = dict(headers or {})
        super().__init__(status, error_code, message)

    def to_json(self) -> dict[str, object]:
        """The Confluent response body for this error."""
        return {"error_code": self.error_code, "message": self.message}

    @classmethod
    def subject_not_found(cls, subject: str) -> RegistryResponseError:
        """40401: no live version of `subject`."""
        return cls(404, SUBJECT_NOT_FOUND, f"Subject '{subject}' not found.")

    @classmethod
    def version_not_found(cls, subject: str, version: object) -> RegistryResponseError:
        """40402: `subject` has no (live) version `version`."""
        return cls(404, VERSION_NOT_FOUND, f"Version {version} not found for subject '{subject}'.")

    @classmethod
    def schema_not_found(cls, detail: str = "Schema not found") -> RegistryResponseError:
        """40403: no schema with that id, or the schema is not under that subject."""
        return cls(404, SCHEMA_NOT_FOUND, detail)

    @classmethod
    def invalid_schema(cls, detail: str) -> RegistryResponseError:
        """42201: the schema does not parse or uses something this registry cannot serve."""
        return cls(422, INVALID_SCHEMA, f"Invalid schema: {detail}")

    @classmethod
    def invalid_version(cls, version: object) -> RegistryResponseError:
        """42202: not a positive version number, "latest" or -1."""
        return cls(
            422,
            INVALID_VERSION,
            f"The specified version '{version}' is not a valid version id. Allowed values are "
            'between [1, 2^31-1] and the string "latest"',
        )

    @classmethod
    def invalid_level(cls, level: object) -> RegistryResponseError:
        """42203: not one of the compatibility level names."""
        return cls(
            422,
            INVALID_COMPATIBILITY_LEVEL,
            f"Invalid compatibility level {level!r}. Valid values are NONE, BACKWARD, "
            "BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE",
        )

    @classmethod
    def subject_soft_deleted(cls, subject: str) -> RegistryResponseError:
        """40404: a soft delete of a subject whose versions are all soft-deleted already."""
        return cls(
            404,
            SUBJECT_SOFT_DELETED,
            f"Subject '{subject}' was soft deleted. Set permanent=true to delete permanently",
        )

    @classmethod
    def subject_not_soft_deleted(cls, subject: str) -> RegistryResponseError:
        """40405: a permanent delete of a subject that still has live versions."""
        return cls(
            404,
            SUBJECT_NOT_SOFT_DELETED,
            f"Subject '{subject}' was not deleted first before being permanently deleted",
        )

    @classmethod
    def version_soft_deleted(cls, subject: str, version: int) -> RegistryResponseError:
        """40406: a soft delete of a version that is soft-deleted already."""
        return cls(
            404,
            VERSION_SOFT_DELETED,
            f"Subject '{subject}' Version {version} was soft deleted. "
            "Set permanent=true to delete permanently",
        )

    @classmethod
    def version_not_soft_deleted(cls, subject: str, version: int) -> RegistryResponseError:
        """40407: a permanent delete of a version that is still live."""
        return cls(
            404,
            VERSION_NOT_SOFT_DELETED,
            f"Subject '{subject}' Version {version} was not deleted first before being "
            "permanently deleted",
        )

    @classmethod
    def level_not_configured(cls, subject: str) -> RegistryResponseError:
        """40408: `subject` has no compatibility level of its own."""
        return cls(
            404,
            COMPATIBILITY_NOT_CONFIGURED,
            f"Subject '{subject}' does not have subject-level compatibility configured",
        )

    @classmethod
    def store_error(cls, detail: str) -> RegistryResponseError:
        """50001: the backing database failed."""
        return cls(500, STORE_ERROR, f"Error in the backend data store: {detail}")
