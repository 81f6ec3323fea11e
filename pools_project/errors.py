"""The one exception services raise for a refusal the client must hear about.

Each carries the contract's error code and HTTP status; the API's exception
handler turns it into `{"code", "developerMessage", "errors"?}`, and commands
and the admin show its message.
"""


class ServiceError(Exception):
    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 400,
        errors: dict[str, list[str]] | None = None,
        details: dict | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.errors = errors
        self.details = details or {}
