"""What goes to a carrier and what comes back, as plain data.

An adapter takes an `Outbound` and returns what happened — `Accepted` with the
provider's ids, `Refused` with its code, `Throttled`, or `Unavailable` — and turns
what the provider sends back into `Receipt` and `Inbound` events. The message
lifecycle applies them; an adapter never touches a message itself.
"""

import time
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class Outbound:
    """A message as it leaves: sender, recipient and the parts bodyAnalysis counted."""

    tracking_id: str
    sender: str
    to: str
    body: str
    segments: tuple[str, ...]
    unicode: bool
    media_urls: tuple[str, ...] = ()
    status_url: str = ""  # where the provider posts delivery reports


@dataclass(frozen=True)
class Receipt:
    """A delivery report for the part the provider knows as `provider_id`.

    `status` is ours (`Sent`, `Delivered`, `Undelivered`, `Failed`), or None when the
    provider's word changes nothing (Vonage `unknown`, SMPP `UNKNOWN`).
    """

    provider_id: str
    status: str | None
    detailed_status: str = ""
    error_code: str = ""
    recipient_stopped: bool = False  # the carrier says the person opted out


@dataclass(frozen=True)
class Inbound:
    """A message a person wrote to one of the connection's numbers."""

    message_id: str
    sender: str
    to: str
    body: str
    received_at: datetime | None = None


@dataclass(frozen=True)
class Accepted:
    provider_ids: tuple[str, ...]
    # What the provider already said about it (the simulator reports at once).
    receipts: tuple[Receipt, ...] = ()


@dataclass(frozen=True)
class Refused:
    """The provider will not carry the message: it ends Failed with this code."""

    code: str
    reason: str
    recipient_stopped: bool = False  # the carrier says the person opted out


@dataclass(frozen=True)
class Throttled:
    """Too fast: slow the sender down and try again; the message is not failed."""

    reason: str
    retry_after: float | None = None


@dataclass(frozen=True)
class Unavailable:
    """No answer (timeout, connection refused): not a refusal, the message waits."""

    reason: str


Outcome = Accepted | Refused | Throttled | Unavailable


@dataclass(frozen=True)
class CheckResult:
    status: str  # "up" or "down"
    detail: str


@dataclass
class Gateway:
    """One connection's adapter. `settings` and `secrets` are the connection's."""

    settings: dict = field(default_factory=dict)
    secrets: dict = field(default_factory=dict)

    # False for SMPP: its messages leave through the bind a `run_smpp` process keeps,
    # not through a call from a dispatch worker.
    sends_inline = True

    def send(self, outbound: Outbound) -> Outcome:
        raise NotImplementedError

    def check(self) -> CheckResult:
        raise NotImplementedError


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110 allows both)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
