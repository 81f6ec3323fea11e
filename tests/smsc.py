"""A real SMSC, in a process of its own, for end-to-end tests of our SMPP client.

Our client speaks SMPP through `smpplib`; this SMSC is built on `smpp34`, a different
implementation, so a test that passes here has proved the two interoperate on a real
socket rather than that one library agrees with itself. Run it from the repository:

    python -m tests.smsc --port P --control-port C --state-dir DIR [--system-id ID]

It accepts binds on 127.0.0.1:P, answers every submit_sm (accepted with a fresh
message id, unique across restarts, unless told to refuse), logs each submit as one
JSON line to DIR/submits.jsonl, sends a delivery receipt per accepted part, and on
request sends mobile-originated messages (split into concatenated parts when long);
every deliver_sm it sends, and the client's answer, goes to DIR/delivers.jsonl.
A small HTTP API on 127.0.0.1:C steers it and reads what it saw; see `CONTROL_API`.
Tests use `RunningSmsc` (or `running_smsc`) at the bottom of this module to start it.

What smpp34 does not offer, and how this works around it:

* Its server accepts every bind, whatever the system_id and password. So the SMPP
  port is a small gate of our own: it reads the first PDU, answers a bind with the
  wrong system_id (ESME_RINVSYSID) or password (ESME_RINVPASWD) itself and closes,
  and otherwise relays the connection, PDU by PDU and unchanged, to the smpp34 server
  on a private port. Without --system-id/--password every bind is accepted.
* `Esme.deliver_sm` on a transmitter-only session panics inside the library (raised
  as `RustPanic`), so receipts and MOs only go to sessions with `can_receive`; a
  receipt with nowhere to go waits until a receiving session of its system_id binds.
* `SubmitSmEvent.reject` only sends the statuses SMPP 3.4 defines (anything else
  goes out as ESME_RSYSERR), so /throttle refuses any other status.
* A submit_sm the SMSC drops undecided is NAKed with ESME_RSYSERR by the library,
  so the submits that arrive after /exit-after has fired are held, unanswered,
  until the process exits (they are logged with a null command_status).
* On an ESME's unbind it closes the socket right after queueing the unbind_resp,
  which is then lost more often than not; the gate answers unbinds itself.
* Its server-initiated unbind waits for an unbind_resp that smpplib never sends,
  another reason refusals happen at the gate rather than by unbinding after a bind.
* It sends each deliver_sm from a tokio task of its own, so two sent together can
  reach the client in either order; we keep one in flight per session (a window of
  1), so receipts and MO parts arrive in the order they were due.
"""

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import smpp34

log = logging.getLogger("tests.smsc")

SMSC_SYSTEM_ID = "TESTSMSC"
DEFAULT_RECEIPT_DELAY = 0.2
EXIT_FLUSH_DELAY = 0.2  # lets the last submit_sm_resp reach the client before we go
MO_WAIT = 10.0  # how long POST /mo with "wait" waits for the deliver_sm_resps

ESME_RTHROTTLED = 0x58
ESME_RINVPASWD = 0x0E
ESME_RINVSYSID = 0x0F
# Every command_status SMPP 3.4 defines: smpp34 turns any other into ESME_RSYSERR.
SMPP34_STATUSES = frozenset(
    bytes.fromhex(
        "01 02 03 04 05 06 07 08 0A 0B 0C 0D 0E 0F 11 13 14 15 33 34 40 42 43 44 45"
        " 48 49 50 51 53 54 55 58 61 62 63 64 65 66 67 C0 C1 C2 C3 C4 FE FF"
    )
)

# message_state TLV values, by the stat word of the receipt text.
MESSAGE_STATES = {
    "ENROUTE": 1,
    "DELIVRD": 2,
    "EXPIRED": 3,
    "DELETED": 4,
    "UNDELIV": 5,
    "ACCEPTD": 6,
    "UNKNOWN": 7,
    "REJECTD": 8,
}
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427
TLV_SAR_MSG_REF_NUM, TLV_SAR_TOTAL_SEGMENTS, TLV_SAR_SEGMENT_SEQNUM = 0x020C, 0x020E, 0x020F
TLV_MESSAGE_PAYLOAD = 0x0424
ESM_UDHI = 0x40
ESM_RECEIPT = 0x04
BIND_COMMANDS = {0x00000001, 0x00000002, 0x00000009}  # receiver, transmitter, transceiver
UNBIND = 0x00000006
RESP = 0x80000000
MAX_PDU = 1 << 20
RELAY_ENDS = (asyncio.IncompleteReadError, ValueError, OSError)  # EOF, garbage, reset

# ── GSM 03.38 ───────────────────────────────────────────────────────────────────
# Our own small table rather than the project's codec: the point is to check the
# client against an independent reading of the alphabet.
ESC = 0x1B
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
GSM_ENCODE = {char: bytes([code]) for code, char in enumerate(GSM_BASIC) if code != ESC} | {
    char: bytes([ESC, code]) for code, char in GSM_EXTENSION.items()
}
GSM_SINGLE, GSM_PART = 160, 153  # septets, i.e. octets when unpacked
UCS2_SINGLE, UCS2_PART = 140, 134  # octets: 70 and 67 UTF-16 code units


def gsm7_decode(data: bytes) -> str:
    """Unpacked GSM-7 (one septet per octet, as SMPP carries data_coding 0)."""
    chars, escaped = [], False
    for byte in data:
        if byte > 0x7F:
            chars.append("?")  # not a septet at all
        elif escaped:
            # 03.38: an escape before a code with no extension shows the basic character;
            # ESC ESC is reserved for another table, which a phone shows as a space.
            chars.append(" " if byte == ESC else GSM_EXTENSION.get(byte, GSM_BASIC[byte]))
        elif byte != ESC:
            chars.append(GSM_BASIC[byte])
        escaped = byte == ESC and not escaped
    return "".join(chars)


def gsm7_encode(text: str) -> bytes:
    """Unpacked GSM-7; raises ValueError for a character neither table has."""
    try:
        return b"".join(GSM_ENCODE[char] for char in text)
    except KeyError as error:
        raise ValueError(f"{error.args[0]!r} is not in the GSM 03.38 alphabet") from None


def is_gsm7(text: str) -> bool:
    return all(char in GSM_ENCODE for char in text)


def decode_text(data_coding: int, payload: bytes) -> str | None:
    if data_coding == 0:
        return gsm7_decode(payload)
    if data_coding == 8:
        # surrogatepass keeps half of a pair a client split across parts visible.
        return payload.decode("utf-16-be", "surrogatepass" if len(payload) % 2 == 0 else "replace")
    if data_coding in (1, 3):  # IA5 (ASCII) and Latin-1
        return payload.decode("latin-1")
    return None  # binary or a coding we do not read


def split_message(text: str, data_coding: int | None = None) -> tuple[int, list[bytes]]:
    """The data_coding and the encoded parts (without UDH) a phone would send `text` in.

    A character is never split across parts: not a GSM escape pair, not a UTF-16
    surrogate pair (Python characters are code points, so both fall out of working
    per character)."""
    if data_coding is None:
        data_coding = 0 if is_gsm7(text) else 8
    if data_coding == 0:
        units, single, per_part = [gsm7_encode(c) for c in text], GSM_SINGLE, GSM_PART
    elif data_coding == 8:
        units, single, per_part = [c.encode("utf-16-be") for c in text], UCS2_SINGLE, UCS2_PART
    else:
        raise ValueError("data_coding must be 0 (GSM-7), 8 (UCS-2) or null")
    if sum(map(len, units)) <= single:
        return data_coding, [b"".join(units)]
    parts, current = [], b""
    for unit in units:
        if len(current) + len(unit) > per_part:
            parts.append(current)
            current = b""
        current += unit
    return data_coding, [*parts, current]


# ── Concatenation ───────────────────────────────────────────────────────────────
def concat_udh(ref: int, total: int, seq: int) -> bytes:
    """A UDH with the 8-bit-reference concatenation element (IEI 0x00)."""
    return bytes([5, 0x00, 3, ref, total, seq])


def parse_udh(short_message: bytes) -> tuple[dict | None, bytes]:
    """The concatenation element of a UDH (8- or 16-bit reference) and the text after it."""
    if not short_message:
        return None, b""
    header, body = short_message[1 : 1 + short_message[0]], short_message[1 + short_message[0] :]
    concat, index = None, 0
    while index + 2 <= len(header):
        iei, length = header[index], header[index + 1]
        data = header[index + 2 : index + 2 + length]
        if iei == 0x00 and length == 3 and len(data) == 3:
            concat = {"ref": data[0], "total": data[1], "seq": data[2]}
        elif iei == 0x08 and length == 4 and len(data) == 4:
            concat = {"ref": int.from_bytes(data[:2], "big"), "total": data[2], "seq": data[3]}
        index += 2 + length
    return concat, body


def sar_concat(tlvs: list) -> dict | None:
    """Concatenation told by the SAR TLVs instead of a UDH (SMPP 3.4 5.3.2.22-24)."""
    values = {tlv.tag: int.from_bytes(tlv.value, "big") for tlv in tlvs}
    if TLV_SAR_MSG_REF_NUM not in values:
        return None
    return {
        "ref": values[TLV_SAR_MSG_REF_NUM],
        "total": values.get(TLV_SAR_TOTAL_SEGMENTS),
        "seq": values.get(TLV_SAR_SEGMENT_SEQNUM),
    }


# ── Receipts ────────────────────────────────────────────────────────────────────
def default_outcome(destination: str) -> tuple[str, str]:
    """The receipt a destination gets unless /receipt says otherwise."""
    return ("UNDELIV", "001") if destination.endswith("999") else ("DELIVRD", "000")


def receipt_text(message_id: str, stat: str, err: str, submitted: datetime, text: str) -> bytes:
    """The SMPP 3.4 Appendix B receipt text; ASCII, as receipts from real SMSCs are."""
    stamp = "%y%m%d%H%M"
    snippet = "".join(c if " " <= c <= "~" else "?" for c in (text or "")[:20])
    return (
        f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'}"
        f" submit date:{submitted.strftime(stamp)} done date:{utc_now().strftime(stamp)}"
        f" stat:{stat} err:{err} text:{snippet}"
    ).encode("ascii")


@dataclass(frozen=True)
class Receipt:
    message_id: str
    session_id: str
    system_id: str | None
    source_addr: str  # the submit's destination: the handset that "answers"
    destination_addr: str
    stat: str
    err: str
    submitted: datetime
    text: str

    def deliver_kwargs(self) -> dict:
        return {
            "destination_addr": self.destination_addr,
            "source_addr": self.source_addr,
            "short_message": receipt_text(
                self.message_id, self.stat, self.err, self.submitted, self.text
            ),
            "esm_class": ESM_RECEIPT,
            "tlvs": [
                smpp34.Tlv(TLV_RECEIPTED_MESSAGE_ID, self.message_id.encode() + b"\0"),
                smpp34.Tlv(TLV_MESSAGE_STATE, bytes([MESSAGE_STATES[self.stat]])),
            ],
        }


def utc_now() -> datetime:
    return datetime.now(UTC)


def address_kwargs(source: str, destination: str) -> dict:
    """TON/NPI as a carrier sets them: international E.164 for digits, else alphanumeric."""

    def ton_npi(address: str) -> tuple[int, int]:
        if not address:
            return 0, 0
        return (1, 1) if address.lstrip("+").isdigit() else (5, 0)

    (source_ton, source_npi), (dest_ton, dest_npi) = ton_npi(source), ton_npi(destination)
    return {
        "source_addr_ton": source_ton,
        "source_addr_npi": source_npi,
        "dest_addr_ton": dest_ton,
        "dest_addr_npi": dest_npi,
    }


class JsonLines:
    """An append-only JSON-lines file: each record is written and flushed at once, so
    it is on disk before the SMSC answers and survives the process dying."""

    def __init__(self, path: Path):
        self.path = path
        self._file = path.open("a", encoding="utf-8")

    def append(self, record: dict) -> None:
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        # A process killed mid-write leaves at most one torn line, the last one.
        return [json.loads(line) for line in lines if line.strip().endswith("}")]


class HttpError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


# ── The SMSC ────────────────────────────────────────────────────────────────────
class SmscServer:
    def __init__(self, state_dir: Path, system_id: str | None, password: str | None):
        state_dir.mkdir(parents=True, exist_ok=True)
        self.system_id, self.password = system_id, password
        self.submits = JsonLines(state_dir / "submits.jsonl")
        self.delivers = JsonLines(state_dir / "delivers.jsonl")
        self.sessions: dict[str, smpp34.Esme] = {}  # in bind order
        self.send_locks: dict[str, asyncio.Lock] = {}  # per session: see deliver()
        self.accepted = 0
        # Milliseconds since the epoch plus a random salt: unique across restarts.
        self.id_prefix = f"{time.time_ns() // 1_000_000:011x}{secrets.token_hex(2)}"
        self.throttle_count, self.throttle_status = 0, ESME_RTHROTTLED
        self.receipts_enabled, self.receipt_delay = True, DEFAULT_RECEIPT_DELAY
        self.outcomes: dict[str, tuple[str, str]] = {}
        self.pending: dict[str | None, list[Receipt]] = {}
        self.exit_after: int | None = None
        self.closing = False
        self.held: list[smpp34.SubmitSmEvent] = []
        self.mo_ref = secrets.randbelow(256)
        self.mo_lock = asyncio.Lock()  # one MO after the other, as they were asked for
        self.core: smpp34.Server | None = None
        self.core_port = 0
        self._tasks: set[asyncio.Task] = set()

    def spawn(self, coro) -> asyncio.Task:
        # The loop only keeps weak references to tasks: hold them until done.
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def start_core(self) -> None:
        """The smpp34 server, on a private port the gate relays to."""
        for _attempt in range(5):
            self.core_port = free_port()
            self.core = smpp34.Server("127.0.0.1", self.core_port, system_id=SMSC_SYSTEM_ID)
            try:
                await self.core.start()
                return
            except smpp34.SmppError:
                continue  # someone took the port between our probe and the bind
        raise RuntimeError("could not start the smpp34 server")

    async def serve_smpp(self) -> None:
        while True:
            event = await self.core.next()
            try:
                self.on_event(event)
            except Exception:
                log.exception("failed to handle %r", event)  # keep serving the others

    def on_event(self, event) -> None:
        if isinstance(event, smpp34.Esme):
            self.sessions[event.session_id] = event
            log.info("bound %r", event)
            if event.can_receive:
                self.flush_pending(event)
        elif isinstance(event, smpp34.SubmitSmEvent):
            self.on_submit(event)
        elif isinstance(event, smpp34.Unbound):
            self.sessions.pop(event.session_id, None)
            self.send_locks.pop(event.session_id, None)
            log.info("unbound %s", event.session_id)

    # submit_sm ──────────────────────────────────────────────────────────────────
    def on_submit(self, event: smpp34.SubmitSmEvent) -> None:
        record = self.describe_submit(event)
        if self.closing:
            self.held.append(event)  # never answered: the SMSC is "gone"
            self.submits.append({**record, "message_id": None, "command_status": None})
            return
        if self.throttle_count > 0:
            self.throttle_count -= 1
            self.submits.append(
                {**record, "message_id": None, "command_status": self.throttle_status}
            )
            event.reject(self.throttle_status)
            return
        self.accepted += 1
        message_id = f"{self.id_prefix}{self.accepted:06x}"
        self.submits.append({**record, "message_id": message_id, "command_status": 0})
        event.accept(message_id)
        self.schedule_receipt(event, record, message_id)
        self.count_towards_exit()

    def describe_submit(self, event: smpp34.SubmitSmEvent) -> dict:
        short_message = event.short_message
        if not short_message:  # a long body may come in message_payload instead
            payloads = [t.value for t in event.tlvs if t.tag == TLV_MESSAGE_PAYLOAD]
            short_message = payloads[0] if payloads else b""
        udh, payload = None, short_message
        if event.esm_class & ESM_UDHI:
            udh, payload = parse_udh(short_message)
        esme = self.sessions.get(event.session_id)
        return {
            "time": utc_now().isoformat(timespec="milliseconds"),
            "session": event.session_id,
            "system_id": esme.system_id if esme else None,
            "source_addr": event.source_addr,
            "destination_addr": event.destination_addr,
            "esm_class": event.esm_class,
            "data_coding": event.data_coding,
            "registered_delivery": event.registered_delivery,
            "short_message_hex": short_message.hex(),
            "udh": udh or sar_concat(event.tlvs),
            "text": decode_text(event.data_coding, payload),
        }

    def count_towards_exit(self) -> None:
        if self.exit_after is None:
            return
        self.exit_after -= 1
        if self.exit_after <= 0:
            self.begin_exit()

    def begin_exit(self) -> None:
        self.closing = True
        asyncio.get_running_loop().call_later(EXIT_FLUSH_DELAY, os._exit, 0)

    # Receipts ───────────────────────────────────────────────────────────────────
    def schedule_receipt(self, event: smpp34.SubmitSmEvent, record: dict, message_id: str):
        stat, err = self.outcomes.get(event.destination_addr) or default_outcome(
            event.destination_addr
        )
        wanted = event.registered_delivery & 0x03
        # 1: a receipt whatever the outcome; 2: only when delivery failed.
        if not self.receipts_enabled or not (wanted == 1 or (wanted == 2 and stat != "DELIVRD")):
            return
        receipt = Receipt(
            message_id=message_id,
            session_id=event.session_id,
            system_id=record["system_id"],
            source_addr=event.destination_addr,
            destination_addr=event.source_addr,
            stat=stat,
            err=err,
            submitted=utc_now(),
            text=record["text"] or "",
        )
        self.spawn(self.receipt_later(receipt))

    async def receipt_later(self, receipt: Receipt) -> None:
        await asyncio.sleep(self.receipt_delay)
        await self.send_receipt(receipt)

    async def send_receipt(self, receipt: Receipt) -> None:
        if self.closing:  # a dying SMSC sends nothing more: keeps exit-after exact
            return
        esme = self.receiver(receipt.system_id, prefer=receipt.session_id)
        status = None
        if esme is not None:
            status = await self.deliver(
                esme, "receipt", receipt.deliver_kwargs(), message_id=receipt.message_id
            )
        if status is None:  # nobody to take it, or the session went: keep it for later
            self.pending.setdefault(receipt.system_id, []).append(receipt)

    def flush_pending(self, esme: smpp34.Esme) -> None:
        for key in [esme.system_id, None]:  # None: submitted before its session was known
            for receipt in self.pending.pop(key, []):
                self.spawn(self.send_receipt(receipt))

    def receiver(self, system_id: str | None, prefer: str | None = None) -> smpp34.Esme | None:
        """The session to deliver to: `prefer` if it can receive, else the newest one
        (of `system_id`, if given) that can: an older one is more likely stale."""
        esme = self.sessions.get(prefer) if prefer else None
        if esme is not None and esme.can_receive:
            return esme
        for esme in reversed(self.sessions.values()):
            if esme.can_receive and system_id in (None, esme.system_id):
                return esme
        return None

    async def deliver(self, esme: smpp34.Esme, kind: str, fields: dict, **extra) -> int | None:
        """Send one deliver_sm and log it; the command_status of the resp, None if lost."""
        fields = {**address_kwargs(fields["source_addr"], fields["destination_addr"]), **fields}
        record = {
            "time": utc_now().isoformat(timespec="milliseconds"),
            "kind": kind,
            "session": esme.session_id,
            "source_addr": fields["source_addr"],
            "destination_addr": fields["destination_addr"],
            "esm_class": fields.get("esm_class", 0),
            "data_coding": fields.get("data_coding", 0),
            "short_message_hex": fields["short_message"].hex(),
            **extra,
        }
        # One deliver_sm in flight per session (a window of 1): smpp34 sends each from a
        # task of its own, and two sent at once can reach the client in either order.
        lock = self.send_locks.setdefault(esme.session_id, asyncio.Lock())
        try:
            async with lock:
                resp = await esme.deliver_sm(**fields)
        except Exception as error:  # SmppError when the session is gone, RustPanic on a bug
            self.delivers.append({**record, "command_status": None, "error": str(error)})
            return None
        self.delivers.append({**record, "command_status": resp.command_status})
        return resp.command_status

    # Mobile-originated ──────────────────────────────────────────────────────────
    def mo_parts(self, source: str, destination: str, text: str, data_coding) -> list[dict]:
        data_coding, parts = split_message(text, data_coding)
        if len(parts) > 255:
            raise ValueError("text too long for 255 parts")
        if len(parts) == 1:
            return [self.mo_fields(source, destination, parts[0], data_coding, 0)]
        self.mo_ref = (self.mo_ref + 1) % 256
        return [
            self.mo_fields(
                source,
                destination,
                concat_udh(self.mo_ref, len(parts), seq) + part,
                data_coding,
                ESM_UDHI,
            )
            for seq, part in enumerate(parts, start=1)
        ]

    @staticmethod
    def mo_fields(source, destination, short_message, data_coding, esm_class) -> dict:
        return {
            "source_addr": source,
            "destination_addr": destination,
            "short_message": short_message,
            "data_coding": data_coding,
            "esm_class": esm_class,
        }

    async def send_mo(self, esme: smpp34.Esme, parts: list[dict]) -> list[int | None]:
        # In order, each after the last one's resp, as an SMSC sends a concatenated MO.
        async with self.mo_lock:
            return [await self.deliver(esme, "mo", fields) for fields in parts]

    # Control API ────────────────────────────────────────────────────────────────
    async def handle_control(self, reader, writer) -> None:
        try:
            method, path, body = await asyncio.wait_for(read_request(reader), 10)
            status, payload = await self.route(method, path, body)
        except HttpError as error:
            status, payload = error.status, {"error": str(error)}
        except (ValueError, KeyError, TypeError) as error:  # a body we cannot use
            status, payload = 400, {"error": f"{type(error).__name__}: {error}"}
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        except Exception as error:  # a bug here must not leave the caller without an answer
            log.exception("control request failed")
            status, payload = 500, {"error": f"{type(error).__name__}: {error}"}
        await write_response(writer, status, payload)

    async def route(self, method: str, path: str, body: dict) -> tuple[int, object]:
        handler = {
            ("GET", "/health"): self.api_health,
            ("GET", "/submits"): self.api_submits,
            ("GET", "/delivers"): self.api_delivers,
            ("POST", "/throttle"): self.api_throttle,
            ("POST", "/receipt"): self.api_receipt,
            ("POST", "/mo"): self.api_mo,
            ("POST", "/exit-after"): self.api_exit_after,
        }.get((method, path))
        if handler is None:
            raise HttpError(404, f"no {method} {path}")
        return await handler(body)

    async def api_health(self, _body) -> tuple[int, dict]:
        return 200, {"bound": len(self.sessions), "accepted": self.accepted}

    async def api_submits(self, _body) -> tuple[int, list]:
        return 200, self.submits.read()

    async def api_delivers(self, _body) -> tuple[int, list]:
        return 200, self.delivers.read()

    async def api_throttle(self, body: dict) -> tuple[int, dict]:
        count, status = int(body["count"]), int(body.get("status", ESME_RTHROTTLED))
        if count < 0 or status not in SMPP34_STATUSES:
            raise ValueError(f"count must be >= 0, status one SMPP 3.4 defines (got {status:#x})")
        self.throttle_count, self.throttle_status = count, status
        return 200, {"count": count, "status": status}

    async def api_receipt(self, body: dict) -> tuple[int, dict]:
        if "destination" in body:
            self.set_outcome(str(body["destination"]), body.get("stat"), body.get("err"))
        if "delay" in body:
            self.receipt_delay = max(0.0, float(body["delay"]))
        if "enabled" in body:
            self.receipts_enabled = bool(body["enabled"])
        return 200, {
            "enabled": self.receipts_enabled,
            "delay": self.receipt_delay,
            "outcomes": {dest: {"stat": s, "err": e} for dest, (s, e) in self.outcomes.items()},
        }

    def set_outcome(self, destination: str, stat: str | None, err: str | None) -> None:
        if stat is None:  # back to the default for that destination
            self.outcomes.pop(destination, None)
            return
        if stat not in MESSAGE_STATES:
            raise ValueError(f"stat must be one of {', '.join(MESSAGE_STATES)}")
        err = f"{int(err):03d}" if err is not None else ("000" if stat == "DELIVRD" else "001")
        self.outcomes[destination] = (stat, err)

    async def api_mo(self, body: dict) -> tuple[int, dict]:
        source, destination, text = (str(body[key]) for key in ("source", "destination", "text"))
        parts = self.mo_parts(source, destination, text, body.get("data_coding"))
        esme = self.receiver(None)
        if esme is None:
            raise HttpError(409, "no bound session can receive")
        task = self.spawn(self.send_mo(esme, parts))
        if not body.get("wait"):
            # The default: a client whose reader runs on the caller's thread could not
            # answer while the caller waits.
            return 200, {"parts": len(parts)}
        # Not wait_for: a slow client must not have half an MO cancelled under it.
        done, _ = await asyncio.wait({task}, timeout=MO_WAIT)
        statuses = task.result() if done else None
        return (200 if done else 202), {"parts": len(parts), "statuses": statuses}

    async def api_exit_after(self, body: dict) -> tuple[int, dict]:
        accepts = int(body["accepts"])
        if accepts < 0:
            raise ValueError("accepts must be >= 0")
        self.exit_after = accepts
        if accepts == 0:
            self.begin_exit()
        return 200, {"accepts": accepts}

    # The bind gate ──────────────────────────────────────────────────────────────
    async def handle_esme(self, reader, writer) -> None:
        """Check a bind's credentials, then relay the connection to the smpp34 server."""
        try:
            first = await asyncio.wait_for(read_pdu(reader), 10)
            refusal = self.bind_refusal(first)
            if refusal:
                # With a body though 3.4 lets an error omit it: not every client copes.
                writer.write(response_to(first, refusal, SMSC_SYSTEM_ID.encode() + b"\0"))
                await writer.drain()
                writer.close()
                return
            core_reader, core_writer = await asyncio.open_connection("127.0.0.1", self.core_port)
        except (TimeoutError, asyncio.IncompleteReadError, ValueError, OSError):
            writer.close()
            return
        core_writer.write(first)
        await asyncio.gather(
            relay_from_esme(reader, core_writer, writer), relay_to_esme(core_reader, writer)
        )

    def bind_refusal(self, pdu: bytes) -> int:
        if command_id(pdu) not in BIND_COMMANDS:
            return 0  # not a bind: smpp34 answers it as it should
        system_id, password, *_ = [*pdu[16:].split(b"\0", 2), b"", b""]
        if self.system_id is not None and system_id.decode("latin-1") != self.system_id:
            return ESME_RINVSYSID
        if self.password is not None and password.decode("latin-1") != self.password:
            return ESME_RINVPASWD
        return 0


async def read_pdu(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(4)
    length = int.from_bytes(head, "big")
    if not 16 <= length <= MAX_PDU:
        raise ValueError(f"implausible command_length {length}")
    return head + await reader.readexactly(length - 4)


def command_id(pdu: bytes) -> int:
    return int.from_bytes(pdu[4:8], "big")


def response_to(pdu: bytes, status: int, body: bytes = b"") -> bytes:
    """The header (and body) of the response to `pdu`, with its sequence number."""
    header = [16 + len(body), command_id(pdu) | RESP, status]
    return b"".join(n.to_bytes(4, "big") for n in header) + pdu[12:16] + body


async def relay_from_esme(reader, core_writer, esme_writer) -> None:
    """ESME to smpp34, whole PDUs at a time. An unbind is answered here: smpp34 closes
    the socket as soon as it has queued its unbind_resp and loses it more often than not,
    which a client sees as the SMSC dropping the line."""
    try:
        while command_id(pdu := await read_pdu(reader)) != UNBIND:
            core_writer.write(pdu)
            await core_writer.drain()
        esme_writer.write(response_to(pdu, 0))
        await esme_writer.drain()
    except RELAY_ENDS:
        pass
    finally:
        core_writer.close()  # smpp34 sees the session end, as after an unbind
        esme_writer.close()


async def relay_to_esme(core_reader, esme_writer) -> None:
    """smpp34 to the ESME, whole PDUs at a time, so an unbind_resp of ours never lands
    in the middle of one of its PDUs."""
    try:
        while pdu := await read_pdu(core_reader):
            esme_writer.write(pdu)
            await esme_writer.drain()
    except RELAY_ENDS:
        pass
    finally:
        esme_writer.close()


# ── Minimal HTTP/1.1 ────────────────────────────────────────────────────────────
async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    request_line, *header_lines = head.split("\r\n")
    method, target, _version = request_line.split(" ", 2)
    headers = dict(
        (name.strip().lower(), value.strip())
        for name, value in (line.split(":", 1) for line in header_lines if ":" in line)
    )
    length = int(headers.get("content-length") or 0)
    raw = await reader.readexactly(length) if length else b""
    body = json.loads(raw) if raw.strip() else {}
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return method.upper(), target.split("?", 1)[0], body


async def write_response(writer: asyncio.StreamWriter, status: int, payload) -> None:
    body = json.dumps(payload).encode()
    reason = {200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found", 409: "Conflict"}
    reason = reason.get(status, "Error")
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    writer.close()


# ── The process ─────────────────────────────────────────────────────────────────
async def run(args: argparse.Namespace) -> None:
    smsc = SmscServer(Path(args.state_dir), args.system_id, args.password)
    await smsc.start_core()
    gate = await asyncio.start_server(smsc.handle_esme, "127.0.0.1", args.port)
    control = await asyncio.start_server(smsc.handle_control, "127.0.0.1", args.control_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    serving = smsc.spawn(smsc.serve_smpp())
    print(f"SMSC ready on 127.0.0.1:{args.port} control {args.control_port}", flush=True)
    stopping = smsc.spawn(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if serving.done() and serving.exception():
        log.error("the SMPP server failed", exc_info=serving.exception())
    gate.close()
    control.close()
    await smsc.core.stop()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.smsc", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--port", type=int, required=True, help="SMPP port on 127.0.0.1")
    parser.add_argument("--control-port", type=int, required=True, help="HTTP control port")
    parser.add_argument("--state-dir", required=True, help="where submits.jsonl is kept")
    parser.add_argument("--system-id", help="refuse binds with any other system_id")
    parser.add_argument("--password", help="refuse binds with any other password")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s smsc %(levelname)s %(message)s")
    asyncio.run(run(args))
    sys.stdout.flush()
    sys.stderr.flush()
    # The Rust runtime's threads and any sessions still open need no orderly end, and
    # leaving them to interpreter shutdown can hold a SIGTERM up.
    os._exit(0)


# ── For fixtures ────────────────────────────────────────────────────────────────
def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 just now, all different (they are held together)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def repo_dir() -> Path:
    try:
        from django.conf import settings

        return Path(settings.BASE_DIR)
    except Exception:  # Django absent or not configured: this file is in tests/
        return Path(__file__).resolve().parent.parent


class RunningSmsc:
    """The SMSC as a subprocess, on free ports, for a test to drive.

    `start()` waits for the ready line; `stop()`/`kill()` end it and `start()` brings
    it back on the same ports and state dir, as an SMSC restarting would. Its output
    goes to `state_dir/smsc.log`."""

    def __init__(self, state_dir, *, system_id: str | None = None, password: str | None = None):
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.system_id, self.password = system_id, password
        self.port, self.control_port = free_ports(2)
        self.started = False  # once it has, start() keeps to its ports
        self.log_path = self.state_dir / "smsc.log"
        self.process: subprocess.Popen | None = None

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self.control_port}"

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "tests.smsc", "--port", str(self.port)]
        command += ["--control-port", str(self.control_port), "--state-dir", str(self.state_dir)]
        if self.system_id is not None:
            command += ["--system-id", self.system_id]
        if self.password is not None:
            command += ["--password", self.password]
        return command

    def start(self, timeout: float = 20) -> "RunningSmsc":
        """Start, or start again on the same ports and state dir; back once it is ready."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the SMSC is already running")
        for _attempt in range(3):
            output = self.launch(timeout)
            if output is None:
                self.started = True
                return self
            if self.started or b"already in use" not in output.lower():
                break
            # A port we found free was taken before the SMSC bound it: pick others.
            self.port, self.control_port = free_ports(2)
        raise RuntimeError(f"the SMSC did not start:\n{self.log_tail()}")

    def launch(self, timeout: float) -> bytes | None:
        """None once the ready line is out; what the process wrote if it never came."""
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as output:
            self.process = subprocess.Popen(
                self.command(),
                cwd=repo_dir(),
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        ready = f"SMSC ready on 127.0.0.1:{self.port} control {self.control_port}".encode()
        deadline = time.monotonic() + timeout
        while ready not in (written := self.log_path.read_bytes()[offset:]):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                return written
            time.sleep(0.05)
        return None

    def log_tail(self, chars: int = 5000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def stop(self, timeout: float = 10) -> int | None:
        """SIGTERM, and SIGKILL if it does not go in time; the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def kill(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.kill()
        return self.process.wait(timeout=10)

    def wait_exit(self, timeout: float = 10) -> int:
        """The exit code once the process ends on its own (subprocess.TimeoutExpired if not)."""
        return self.process.wait(timeout=timeout)

    def control(self, method: str, path: str, body: dict | None = None):
        """Call the control API; the decoded JSON (requests.HTTPError on a 4xx/5xx)."""
        import requests

        response = requests.request(method, self.control_url + path, json=body, timeout=15)
        response.raise_for_status()
        return response.json()

    def health(self) -> dict:
        return self.control("GET", "/health")

    def submits(self) -> list[dict]:
        return self.control("GET", "/submits")

    def delivers(self) -> list[dict]:
        return self.control("GET", "/delivers")

    def throttle(self, count: int, status: int = ESME_RTHROTTLED) -> dict:
        return self.control("POST", "/throttle", {"count": count, "status": status})

    def receipts(self, **settings) -> dict:
        """POST /receipt: destination=, stat=, err=; delay=; enabled=."""
        return self.control("POST", "/receipt", settings)

    def mo(self, source: str, destination: str, text: str, data_coding=None, wait=False):
        """Send an MO; {"parts": n}, and with `wait` the client's "statuses" per part."""
        body = {"source": source, "destination": destination, "text": text}
        return self.control("POST", "/mo", {**body, "data_coding": data_coding, "wait": wait})

    def exit_after(self, accepts: int) -> dict:
        return self.control("POST", "/exit-after", {"accepts": accepts})

    def wait_until(self, condition, timeout: float = 10, what: str = "a condition"):
        """Poll `condition()` until it returns something truthy, and return that."""
        deadline = time.monotonic() + timeout
        while not (result := condition()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}\n{self.log_tail()}")
            time.sleep(0.05)
        return result

    def wait_submits(self, count: int, timeout: float = 10) -> list[dict]:
        """The submit records, once there are at least `count`."""

        def enough():
            submits = self.submits()
            return submits if len(submits) >= count else None

        return self.wait_until(enough, timeout, f"{count} submits")

    def wait_bound(self, count: int = 1, timeout: float = 10) -> dict:
        """/health, once at least `count` sessions are bound."""

        def enough():
            health = self.health()
            return health if health["bound"] >= count else None

        return self.wait_until(enough, timeout, f"{count} bound sessions")

    def __enter__(self) -> "RunningSmsc":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


@contextlib.contextmanager
def running_smsc(tmp_path, **kwargs):
    """A started `RunningSmsc` with its state in tmp_path/smsc, stopped afterwards."""
    with RunningSmsc(Path(tmp_path) / "smsc", **kwargs) as smsc:
        yield smsc


CONTROL_API = """
GET  /health      {"bound": n, "accepted": n}
GET  /submits     every submit logged in submits.jsonl, across restarts
GET  /delivers    every deliver_sm sent (receipts and MOs) with the client's command_status
POST /throttle    {"count": N, "status": 88}  the next N submits are refused with status
POST /receipt     {"destination", "stat", "err"} (stat null: back to the default),
                  {"delay": seconds}, {"enabled": bool}; any of them in one body
POST /mo          {"source", "destination", "text", "data_coding": null|0|8, "wait": false}
                  -> {"parts": n}; with "wait": true also "statuses", the deliver_sm_resp
                  command_status per part (202 and null if they take over 10 s); 409 if
                  no bound session can receive
POST /exit-after  {"accepts": N}  exit 0.2 s after the N-th next accepted submit
"""

if __name__ == "__main__":
    main()
