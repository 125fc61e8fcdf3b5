"""What the server simulator decided about a request: the status it answered and why.

A component never judges: when the simulated source refuses a request it records a
`Decision` with the `Cause` of the refusal (and a detail naming the input), and the
`REFUSAL` rules turn it into the error the report shows, with what the consumer must change.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Cause(StrEnum):
    """Why the simulated source answered as it did (SERVED: it served the resource)."""

    SERVED = "served"
    # the DRIM-M token gate (401)
    TOKEN_MISSING = "token-missing"
    TOKEN_MALFORMED = "token-malformed"
    TOKEN_EXPIRED = "token-expired"
    TOKEN_NOT_YET_VALID = "token-not-yet-valid"
    TOKEN_UNKNOWN_KEY = "token-unknown-key"
    TOKEN_BAD_SIGNATURE = "token-bad-signature"
    TOKEN_WRONG_ISSUER = "token-wrong-issuer"
    TOKEN_WRONG_AUDIENCE = "token-wrong-audience"
    # the DRIM-M KOS gate (400, 404)
    KOS_HEADER_MISSING = "kos-header-missing"
    KOS_UNKNOWN = "kos-unknown"
    KOS_OTHER_STUDY = "kos-other-study"
    # the client certificate, after the handshake (403)
    CERTIFICATE_REVOKED = "certificate-revoked"
    CERTIFICATE_REVOCATION_UNKNOWN = "certificate-revocation-unknown"
    CERTIFICATE_NOT_LISTED = "certificate-not-listed"
    CERTIFICATE_REFUSED = "certificate-refused"
    # the request itself
    METHOD_NOT_ALLOWED = "method-not-allowed"
    TARGET_MALFORMED = "target-malformed"
    UID_MALFORMED = "uid-malformed"
    STUDY_UNKNOWN = "study-unknown"
    SERIES_UNKNOWN = "series-unknown"
    INSTANCE_UNKNOWN = "instance-unknown"
    FRAME_UNKNOWN = "frame-unknown"
    ACCEPT_UNUSABLE = "accept-unusable"
    NOT_ACCEPTABLE = "not-acceptable"
    RESOURCE_UNAVAILABLE = "resource-unavailable"
    FRAME_LIST_INVALID = "frame-list-invalid"
    # the HTTP message and the connection, before any WADO-RS handling
    REQUEST_UNPARSABLE = "request-unparsable"
    OUTSIDE_SERVICE = "outside-service"
    HEADER_TIMEOUT = "header-timeout"
    CONNECTION_LIMIT = "connection-limit"
    # the client certificate's organisation has reached its storage quota on the bench (503)
    QUOTA_EXCEEDED = "quota-exceeded"
    # the bench itself could not serve (not a fault of the consumer)
    STORE_UNAVAILABLE = "store-unavailable"
    SHUTTING_DOWN = "shutting-down"
    INTERRUPTED = "interrupted"  # the bench died before its answer was whole (journal recovery)
    INTERNAL_ERROR = "internal-error"


#: Causes of each token verification outcome code (`drimlab.tokens.TokenCheck.code`).
TOKEN_CAUSES: dict[str, Cause] = {
    "missing": Cause.TOKEN_MISSING,
    "malformed": Cause.TOKEN_MALFORMED,
    "expired": Cause.TOKEN_EXPIRED,
    "not-yet-valid": Cause.TOKEN_NOT_YET_VALID,
    "unknown-key": Cause.TOKEN_UNKNOWN_KEY,
    "bad-signature": Cause.TOKEN_BAD_SIGNATURE,
    "wrong-issuer": Cause.TOKEN_WRONG_ISSUER,
    "wrong-audience": Cause.TOKEN_WRONG_AUDIENCE,
}


@dataclass(frozen=True)
class Decision:
    """The status the simulated source answered, its cause, and a detail naming the input."""

    status: int
    cause: Cause
    detail: str = ""
    faults: tuple[str, ...] = ()  # fault modes the simulator injected into its answer

    @property
    def refused(self) -> bool:
        return self.cause is not Cause.SERVED

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "cause": self.cause.value,
            "detail": self.detail,
            "faults": list(self.faults),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        return cls(
            status=int(data["status"]),
            cause=Cause(data["cause"]),
            detail=str(data.get("detail", "")),
            faults=tuple(str(f) for f in data.get("faults", ())),
        )
