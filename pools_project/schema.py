"""What the OpenAPI schema says beyond the serializers: the errors each operation can
answer (the one error shape of SPEC §6, with its codes) and the shape of phone numbers.

Views list their errors with `errors(...)`; a code is one `ErrorCode`, defined once,
so a code's status and meaning read the same in every operation that answers it.
"""

from collections import defaultdict
from dataclasses import dataclass

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema_field
from rest_framework import serializers

from pools_project.api import ErrorSerializer

E164_PATTERN = r"^\+[1-9][0-9]{1,14}$"
# A registered sender: E.164, or a short code (digits only, national to its country).
SENDER_NUMBER_PATTERN = r"^(\+[1-9][0-9]{1,14}|[0-9]{3,8})$"


@extend_schema_field(
    {"type": "string", "pattern": E164_PATTERN, "example": "+12125550100"},
)
class E164Field(serializers.CharField):
    """A phone number in E.164: `+`, the country code, the subscriber number."""


@extend_schema_field(
    {"type": "string", "pattern": SENDER_NUMBER_PATTERN, "example": "+12125550100"},
)
class SenderNumberField(serializers.CharField):
    """One of the account's numbers: E.164, or a short code's digits."""


@dataclass(frozen=True)
class ErrorCode:
    status: int
    code: str
    meaning: str

    def example(self) -> OpenApiExample:
        body = {"code": self.code, "developerMessage": self.meaning}
        if self.code == "VALIDATION_ERROR":
            body["errors"] = {"to": ["This field is required."]}
        return OpenApiExample(self.code, value=body, status_codes=[str(self.status)])


VALIDATION_ERROR = ErrorCode(
    400, "VALIDATION_ERROR", "The request is not valid: `errors` names each field."
)
UNAUTHORIZED = ErrorCode(401, "UNAUTHORIZED", "The API key is missing, wrong or revoked.")
NOT_FOUND = ErrorCode(404, "NOT_FOUND", "No such page of the list.")
UNSUPPORTED_MEDIA_TYPE = ErrorCode(
    415, "UNSUPPORTED_MEDIA_TYPE", "The body is not `application/json`."
)
RATE_LIMITED = ErrorCode(
    429, "RATE_LIMITED", "Over the API key's rate limit: retry after `Retry-After` seconds."
)

# The codes of the resources, by the app that answers them.
INVALID_NUMBER = ErrorCode(400, "INVALID_NUMBER", "Not a valid number of its type and country.")
NUMBER_NOT_FOUND = ErrorCode(404, "NUMBER_NOT_FOUND", "Not numbers of this account.")
NUMBER_EXISTS = ErrorCode(409, "NUMBER_EXISTS", "The number is already registered.")
POOL_NOT_FOUND = ErrorCode(404, "POOL_NOT_FOUND", "No such pool in this account.")
TOO_MANY_NUMBERS = ErrorCode(400, "TOO_MANY_NUMBERS", "Send between 1 and 50 numbers per call.")
NUMBER_IN_ANOTHER_POOL = ErrorCode(
    409,
    "NUMBER_IN_ANOTHER_POOL",
    "Numbers already in another pool (`numbers` lists them): remove them from it first.",
)
INVALID_RECIPIENT = ErrorCode(400, "INVALID_RECIPIENT", "`to` is not a valid E.164 number.")
# Selection's refusals (SPEC §2); `explanation` says how it got there.
REFUSALS = (
    ErrorCode(422, "NO_SENDER_AVAILABLE", "No sender of the pool can carry this message."),
    ErrorCode(422, "COUNTRY_NOT_ALLOWED", "The pool does not send to the recipient's country."),
    ErrorCode(422, "NO_ALPHANUMERIC_SENDER", "No alphanumeric sender for the country."),
    ErrorCode(
        422, "ALPHANUMERIC_NOT_SUPPORTED", "The country does not accept alphanumeric senders."
    ),
)
BODY_TOO_LONG = ErrorCode(422, "BODY_TOO_LONG", "The body takes more parts than a message may.")
IDEMPOTENCY_KEY_REUSED = ErrorCode(
    422, "IDEMPOTENCY_KEY_REUSED", "The Idempotency-Key was used for a different request."
)
MESSAGE_NOT_FOUND = ErrorCode(404, "MESSAGE_NOT_FOUND", "No such message in this account.")
NOT_CANCELABLE = ErrorCode(
    409, "NOT_CANCELABLE", "Neither Scheduled nor Queued and still waiting for its carrier."
)
CONNECTION_NOT_FOUND = ErrorCode(404, "CONNECTION_NOT_FOUND", "No such connection in this account.")
CONNECTION_IN_USE = ErrorCode(
    409, "CONNECTION_IN_USE", "Numbers send through it (`numberCount` says how many)."
)
INVALID_SIGNATURE = ErrorCode(
    401, "INVALID_SIGNATURE", "The request is not signed as its sender signs it."
)

# Every request with an API key can be refused for the key or its rate.
AUTHENTICATED = (UNAUTHORIZED, RATE_LIMITED)
# Every request with a JSON body can be refused before a view reads it.
WITH_BODY = (VALIDATION_ERROR, UNSUPPORTED_MEDIA_TYPE)
# A paginated, filterable list: a bad filter value, or a page past the end.
LIST = (VALIDATION_ERROR, NOT_FOUND)


def request_example(summary: str, value: dict) -> OpenApiExample:
    """A request body as a client would send it (also the fuzz test's first requests)."""
    return OpenApiExample(summary, value=value, request_only=True)


def errors(*codes: ErrorCode, authenticated: bool = True) -> dict[int, OpenApiResponse]:
    """The error responses of an operation, one per status, each naming its codes."""
    by_status = defaultdict(list)
    for code in (*codes, *(AUTHENTICATED if authenticated else ())):
        if code not in by_status[code.status]:
            by_status[code.status].append(code)
    return {status: _error_response(by_status[status]) for status in sorted(by_status)}


def _error_response(codes: list[ErrorCode]) -> OpenApiResponse:
    description = "\n".join(f"- `{code.code}`: {code.meaning}" for code in codes)
    return OpenApiResponse(
        ErrorSerializer, description=description, examples=[code.example() for code in codes]
    )


def retry_after_documented(result, generator, request, public):
    """A postprocessing hook: every 429 says when to retry (drf-spectacular has no way to
    give an `OpenApiResponse` its headers)."""
    header = {
        "schema": {"type": "integer", "minimum": 0},
        "description": "Seconds to wait before the next request.",
        "required": True,
    }
    for item in result["paths"].values():
        for operation in item.values():
            if "429" in operation.get("responses", {}):
                operation["responses"]["429"]["headers"] = {"Retry-After": header}
    return result
