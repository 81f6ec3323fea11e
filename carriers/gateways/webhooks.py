"""A provider's webhook request as the adapters read it: plain data, no Django."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


class Headers(dict):
    """Header names looked up without regard to case, as HTTP has them."""

    def __init__(self, headers: Mapping[str, str] = ()):
        super().__init__((name.lower(), value) for name, value in dict(headers).items())

    def get(self, name: str, default=None):
        return super().get(name.lower(), default)

    def __getitem__(self, name: str):
        return super().__getitem__(name.lower())

    def __contains__(self, name) -> bool:
        return super().__contains__(str(name).lower())


@dataclass(frozen=True)
class WebhookRequest:
    """`url` is the address the provider called, on PUBLIC_BASE_URL (signatures cover it);
    `form` holds the form-encoded body or query parameters, when there are any."""

    url: str
    method: str
    headers: Headers
    body: bytes
    now: datetime
    form: Mapping[str, str] = field(default_factory=dict)
