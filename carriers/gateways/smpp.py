"""SMPP 3.4 (SPEC §11), on smpplib: the PDUs and the transport are the library's; this
module decides what goes into them and what comes out.

A message leaves as many `submit_sm` as bodyAnalysis counted parts — the parts are the
ones `messaging.encoding` cut, so an escape pair, a surrogate pair or a user-perceived
character is never split — with `data_coding` 0x00 (GSM-7, one septet per octet) or
0x08 (UCS-2), a concatenation UDH when there is more than one, and a delivery receipt
asked for. `SmppSession.poll` turns what the SMSC sends into plain events: answers to
submits, receipts (correlated by the `message_id` of `submit_sm_resp`) and inbound
messages, concatenated ones reassembled.
"""

import re
import select
import ssl
import time
import uuid
import zlib
from dataclasses import dataclass, field

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
from smpplib import consts, exceptions
from smpplib.client import Client
from smpplib.smpp import make_pdu

from carriers.gateways.base import CheckResult, Gateway, Inbound, Outbound, Receipt

DATA_CODING_GSM7, DATA_CODING_LATIN1, DATA_CODING_UCS2 = 0x00, 0x03, 0x08
ESM_RECEIPT = 0x04  # esm_class: this deliver_sm is a delivery receipt
THROTTLING = {consts.SMPP_ESME_RTHROTTLED, consts.SMPP_ESME_RMSGQFUL}

# Receipt words (SMPP 3.4 appendix B) and message_state values → our statuses.
RECEIPT_STATUS = {
    "ACCEPTD": "Sent",
    "ENROUTE": "Sent",
    "DELIVRD": "Delivered",
    "UNDELIV": "Undelivered",
    "EXPIRED": "Undelivered",
    "DELETED": "Undelivered",
    "REJECTD": "Undelivered",
    "UNKNOWN": None,
}
MESSAGE_STATE = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
RECEIPT_TEXT = re.compile(r"id:(?P<id>\S+).*?stat:(?P<stat>\w+)(?:\s+err:(?P<err>\w+))?", re.S)


class Disconnected(Exception):
    """The bind is gone: the SMSC closed it, unbound, or stopped answering."""


@dataclass(frozen=True)
class SubmitAnswer:
    """The SMSC's `submit_sm_resp` to the part sent with `sequence`."""

    sequence: int
    status: int
    message_id: str

    @property
    def accepted(self) -> bool:
        return self.status == consts.SMPP_ESME_ROK

    @property
    def throttled(self) -> bool:
        return self.status in THROTTLING

    @property
    def code(self) -> str:
        return f"0x{self.status:08X}"

    @property
    def reason(self) -> str:
        return consts.DESCRIPTIONS.get(self.status, "Unknown SMPP error")


def address(value: str) -> dict:
    """An address and its type of number: international, short code or alphanumeric."""
    if value.startswith("+"):
        return {"addr": value[1:], "ton": consts.SMPP_TON_INTL, "npi": consts.SMPP_NPI_ISDN}
    if value.isdigit():
        return {"addr": value, "ton": consts.SMPP_TON_NWSPEC, "npi": consts.SMPP_NPI_ISDN}
    return {"addr": value, "ton": consts.SMPP_TON_ALNUM, "npi": consts.SMPP_NPI_UNK}


def e164(addr: str, ton: int) -> str:
    if ton == consts.SMPP_TON_INTL and addr.isdigit():
        return "+" + addr
    return addr


def encode_part(text: str, unicode: bool) -> bytes:
    return text.encode("utf-16-be") if unicode else text.encode("gsm03.38")


def concatenation_ref(tracking_id: str) -> int:
    """The same reference for every part of a message, resubmitted parts included."""
    return zlib.crc32(tracking_id.encode()) & 0xFF


def submit_fields(outbound: Outbound, index: int) -> dict:
    """The `submit_sm` fields of part `index` (from 0) of the message."""
    source, destination = address(outbound.sender), address(outbound.to)
    payload = encode_part(outbound.segments[index], outbound.unicode)
    total = len(outbound.segments)
    esm_class = consts.SMPP_MSGTYPE_DEFAULT
    if total > 1:
        ref = concatenation_ref(outbound.tracking_id)
        payload = bytes([0x05, 0x00, 0x03, ref, total, index + 1]) + payload
        esm_class |= consts.SMPP_GSMFEAT_UDHI
    return {
        "source_addr": source["addr"],
        "source_addr_ton": source["ton"],
        "source_addr_npi": source["npi"],
        "destination_addr": destination["addr"],
        "dest_addr_ton": destination["ton"],
        "dest_addr_npi": destination["npi"],
        "esm_class": esm_class,
        "data_coding": DATA_CODING_UCS2 if outbound.unicode else DATA_CODING_GSM7,
        "registered_delivery": consts.SMPP_SMSC_DELIVERY_RECEIPT_BOTH,
        "short_message": payload,
    }


def decode_text(payload: bytes, data_coding: int) -> str:
    if data_coding == DATA_CODING_UCS2:
        return payload.decode("utf-16-be", errors="replace")
    if data_coding == DATA_CODING_GSM7:
        return payload.decode("gsm03.38", errors="replace")
    return payload.decode("latin-1")


def split_udh(payload: bytes) -> tuple[tuple[int, int, int] | None, bytes]:
    """((reference, total, sequence) or None, the text after the header)."""
    if not payload:
        return None, payload
    length = payload[0]
    header, rest = payload[1 : 1 + length], payload[1 + length :]
    position = 0
    while position + 2 <= len(header):
        iei, size = header[position], header[position + 1]
        value = header[position + 2 : position + 2 + size]
        if iei == 0x00 and size == 3:
            return (value[0], value[1], value[2]), rest
        if iei == 0x08 and size == 4:
            return (int.from_bytes(value[:2], "big"), value[2], value[3]), rest
        position += 2 + size
    return None, rest


def receipt_of(pdu) -> Receipt:
    """A delivery receipt: its id and state from the TLVs, else from the standard text."""
    text = (pdu.short_message or b"").decode("latin-1")
    match = RECEIPT_TEXT.search(text)
    provider_id = _text(pdu.receipted_message_id) or (match["id"] if match else "")
    word = MESSAGE_STATE.get(pdu.message_state) or (match["stat"].upper() if match else "UNKNOWN")
    error = match["err"] if match and match["err"] else ""
    return Receipt(
        provider_id=provider_id,
        status=RECEIPT_STATUS.get(word),
        detailed_status=word,
        error_code="" if error.strip("0") == "" else error,
    )


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1").rstrip("\x00")
    return value or ""


@dataclass
class _PartialInbound:
    parts: dict[int, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)


class SmppSession:
    """A bind to the SMSC: one transceiver, or a transmitter and a receiver.

    Not thread-safe: one process, one loop, as `run_smpp` runs it.
    """

    ENQUIRE_LINK_SECONDS = 30
    REASSEMBLY_SECONDS = 300  # a concatenated inbound message whose parts stop coming

    def __init__(self, settings: dict, secrets: dict, *, timeout: float = 10):
        self.settings, self.secrets, self.timeout = settings, secrets, timeout
        self.clients: list[Client] = []
        self.transmitter: Client | None = None
        self._partial: dict[tuple, _PartialInbound] = {}
        self._last_heard = time.monotonic()
        self._enquiring_since: float | None = None

    def open(self) -> None:
        """Connect and bind; Disconnected with the SMSC's reason if it cannot."""
        modes = (
            ["bind_transmitter", "bind_receiver"]
            if self.settings.get("bindMode") == "transmitter+receiver"
            else ["bind_transceiver"]
        )
        try:
            for mode in modes:
                client = self._client()
                self.clients.append(client)
                client.connect()
                getattr(client, mode)(
                    system_id=self.settings["systemId"],
                    password=self.secrets.get("password", ""),
                    system_type=self.settings.get("systemType") or "",
                )
        except (exceptions.ConnectionError, exceptions.PDUError, OSError) as exc:
            self.close()
            raise Disconnected(f"bind to {self._where()} failed: {exc or 'no answer'}") from exc
        self.transmitter = self.clients[0]
        self._last_heard = time.monotonic()

    def _client(self) -> Client:
        context = ssl.create_default_context() if self.settings.get("tls") else None
        return Client(
            self.settings["host"],
            self.settings["port"],
            timeout=self.timeout,
            ssl_context=context,
            allow_unknown_opt_params=True,
        )

    def _where(self) -> str:
        return f"{self.settings['host']}:{self.settings['port']}"

    def close(self) -> None:
        for client in self.clients:
            try:
                if client.state in (consts.SMPP_CLIENT_STATE_BOUND_TX, *_RECEIVING):
                    client.send_pdu(make_pdu("unbind", client=client))
            except (exceptions.ConnectionError, exceptions.PDUError, OSError):
                pass
            client.disconnect()
        self.clients, self.transmitter = [], None

    def submit(self, outbound: Outbound, index: int) -> int:
        """Send part `index` of the message; its sequence number, for `SubmitAnswer`."""
        client = self._bound_transmitter()
        pdu = make_pdu("submit_sm", client=client, **submit_fields(outbound, index))
        self._send(client, pdu)
        return pdu.sequence

    def _bound_transmitter(self) -> Client:
        if self.transmitter is None:
            raise Disconnected("not bound")
        return self.transmitter

    def _send(self, client: Client, pdu) -> None:
        try:
            client.send_pdu(pdu)
        except (exceptions.ConnectionError, exceptions.PDUError, OSError) as exc:
            raise Disconnected(f"lost {self._where()}: {exc or 'write failed'}") from exc

    def poll(self, timeout: float) -> list:
        """What the SMSC sent within `timeout` seconds: SubmitAnswer, Receipt and Inbound
        events. Keeps the bind alive with enquire_link; Disconnected when it is gone."""
        sockets = {client._socket: client for client in self.clients if client._socket}
        if not sockets:
            raise Disconnected("not bound")
        readable, _, _ = select.select(list(sockets), [], [], timeout)
        events = []
        for sock in readable:
            events.extend(self._read(sockets[sock]))
        self._keepalive()
        return events

    def _read(self, client: Client) -> list:
        try:
            pdu = client.read_pdu()
        except (TimeoutError, exceptions.ConnectionError, exceptions.PDUError, OSError) as exc:
            raise Disconnected(f"lost {self._where()}: {exc or 'closed'}") from exc
        self._last_heard, self._enquiring_since = time.monotonic(), None
        command = pdu.command
        if command in ("submit_sm_resp", "generic_nack"):
            return [SubmitAnswer(pdu.sequence, pdu.status, _text(getattr(pdu, "message_id", "")))]
        if command == "deliver_sm":
            self._answer(client, "deliver_sm_resp", pdu)
            return self._delivered(pdu)
        if command == "enquire_link":
            self._answer(client, "enquire_link_resp", pdu)
        elif command == "unbind":
            self._answer(client, "unbind_resp", pdu)
            raise Disconnected(f"{self._where()} unbound")
        return []

    def _answer(self, client: Client, command: str, request) -> None:
        response = make_pdu(command, client=client)
        response.sequence = request.sequence
        self._send(client, response)

    def _delivered(self, pdu) -> list:
        if (pdu.esm_class or 0) & ESM_RECEIPT:
            return [receipt_of(pdu)]
        inbound = self._reassemble(pdu)
        return [inbound] if inbound else []

    def _reassemble(self, pdu) -> Inbound | None:
        payload = pdu.short_message or b""
        concatenation = None
        if (pdu.esm_class or 0) & consts.SMPP_GSMFEAT_UDHI:
            concatenation, payload = split_udh(payload)
        elif pdu.sar_msg_ref_num is not None:
            concatenation = (pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum)
        text = decode_text(payload, pdu.data_coding or 0)
        sender = e164(_text(pdu.source_addr), pdu.source_addr_ton)
        to = e164(_text(pdu.destination_addr), pdu.dest_addr_ton)
        if concatenation is not None and concatenation[1] > 1:
            key = (sender, to, concatenation[0], concatenation[1])
            partial = self._partial.setdefault(key, _PartialInbound())
            partial.parts[concatenation[2]] = text
            if len(partial.parts) < concatenation[1]:
                return None
            del self._partial[key]
            text = "".join(partial.parts[i] for i in sorted(partial.parts))
        self._forget_stale_parts()
        # SMPP gives a mobile-originated message no id of its own.
        return Inbound(message_id=f"smpp-{uuid.uuid4()}", sender=sender, to=to, body=text)

    def _forget_stale_parts(self) -> None:
        cutoff = time.monotonic() - self.REASSEMBLY_SECONDS
        for key in [k for k, p in self._partial.items() if p.started < cutoff]:
            del self._partial[key]

    def _keepalive(self) -> None:
        now = time.monotonic()
        if self._enquiring_since is not None:
            if now - self._enquiring_since > self.timeout:
                raise Disconnected(f"{self._where()} stopped answering enquire_link")
            return
        if now - self._last_heard >= self.ENQUIRE_LINK_SECONDS:
            for client in self.clients:
                self._send(client, make_pdu("enquire_link", client=client))
            self._enquiring_since = now


_RECEIVING = (consts.SMPP_CLIENT_STATE_BOUND_RX, consts.SMPP_CLIENT_STATE_BOUND_TRX)


class SmppGateway(Gateway):
    sends_inline = False  # `run_smpp` keeps the bind and hands the messages over

    def session(self) -> SmppSession:
        return SmppSession(self.settings, self.secrets)

    def check(self) -> CheckResult:
        session = SmppSession(self.settings, self.secrets, timeout=5)
        try:
            session.open()
        except Disconnected as exc:
            return CheckResult("down", str(exc))
        session.close()
        return CheckResult("up", f"bound to {session._where()} as {self.settings['systemId']}")
