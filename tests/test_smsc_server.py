"""The test SMSC (tests/smsc.py) does what the end-to-end tests of our client rely on.

Each test starts it as a real process and talks to it over SMPP with smpp34's client,
or with smpplib where smpp34's client cannot show the behaviour (a refused bind comes
back from it only as "bind timed out"). No database needed.
"""

import asyncio
import contextlib
import json
import re

import pytest
import requests
import smpp34
import smpplib.client
import smpplib.exceptions

from tests.smsc import (
    concat_udh,
    gsm7_decode,
    gsm7_encode,
    parse_udh,
    running_smsc,
    split_message,
)

SYSTEM_ID = "pools"
SENDER, HANDSET = "+12125550100", "+16465550100"
RECEIPT = re.compile(
    r"id:(?P<id>\S+) sub:001 dlvrd:(?P<dlvrd>\d{3}) submit date:\d{10} done date:\d{10}"
    r" stat:(?P<stat>[A-Z]{7}) err:(?P<err>\d{3}) text:(?P<text>.*)",
    re.DOTALL,
)
TLV_RECEIPTED_MESSAGE_ID, TLV_MESSAGE_STATE = 0x001E, 0x0427


@pytest.fixture
def smsc(tmp_path):
    with running_smsc(tmp_path, system_id=SYSTEM_ID, password="secret") as smsc:
        yield smsc


def run(coroutine):
    """Drive one scenario; the overall timeout keeps a hung session from hanging pytest."""
    return asyncio.run(asyncio.wait_for(coroutine, 30))


@contextlib.asynccontextmanager
async def bound(smsc, bind_type="TRX"):
    client = smpp34.Client("127.0.0.1", smsc.port, SYSTEM_ID, "secret", bind_type=bind_type)
    session = await client.connect()
    try:
        yield session
    finally:
        with contextlib.suppress(Exception):  # the SMSC may be gone already
            await session.unbind()


async def next_deliver(session, timeout=5.0) -> smpp34.DeliverSmEvent:
    event = await asyncio.wait_for(session.next(), timeout)
    assert isinstance(event, smpp34.DeliverSmEvent), event
    return event


async def submit(session, text="hello", destination=HANDSET, **fields):
    """A one-part GSM-7 submit asking for a receipt, unless told otherwise."""
    fields = {"source_addr": SENDER, "registered_delivery": 1, **fields}
    short_message = fields.pop("short_message", None) or gsm7_encode(text)
    return await session.submit_sm(destination, short_message, **fields)


def tlvs(event) -> dict[int, bytes]:
    return {tlv.tag: tlv.value for tlv in event.tlvs}


def ascii_snippet(text: str) -> str:
    return "".join(c if " " <= c <= "~" else "?" for c in text[:20])


# ── The codec, on its own ───────────────────────────────────────────────────────
def test_gsm7_covers_the_basic_and_the_extension_table():
    text = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./09:;<=>?¡AZÄÖÑÜ§¿azäöñüà"
    extension = "\f^{}\\[~]|€"
    assert gsm7_decode(gsm7_encode(text + extension)) == text + extension
    assert gsm7_encode("€{") == b"\x1b\x65\x1b\x28"
    assert gsm7_encode("@A") == b"\x00\x41"
    assert gsm7_decode(b"\x1b\x41") == "A"  # no extension there: the basic character
    with pytest.raises(ValueError, match=r"GSM 03\.38"):
        gsm7_encode("ж")


def test_long_texts_split_without_cutting_a_character():
    coding, parts = split_message("a" * 152 + "€" + "b" * 10)
    assert (coding, [len(p) for p in parts]) == (0, [152, 12])  # the escape pair moved on
    coding, parts = split_message("ж" * 66 + "😀" + "ж" * 5)
    assert (coding, [len(p) for p in parts]) == (8, [132, 14])  # the surrogate pair too
    assert [len(p) for p in split_message("a" * 160)[1]] == [160]
    assert [len(p) for p in split_message("ж" * 70)[1]] == [140]


def test_concatenation_udh_with_an_8_or_16_bit_reference():
    assert parse_udh(concat_udh(7, 3, 2) + b"hi") == ({"ref": 7, "total": 3, "seq": 2}, b"hi")
    udh16 = bytes([6, 0x08, 4, 0x12, 0x34, 2, 1])
    assert parse_udh(udh16 + b"x") == ({"ref": 0x1234, "total": 2, "seq": 1}, b"x")


# ── Over SMPP ───────────────────────────────────────────────────────────────────
def test_each_part_is_logged_and_gets_its_own_receipt(smsc):
    gsm_text = "Meet at {Gate} 5 - tickets are €12 each. " * 5  # 220 septets, escapes included
    _, gsm_parts = split_message(gsm_text)
    ucs2_text = "明天下午五点在车站见面. 票价每张十二欧元. " * 4  # 92 UTF-16 units
    _, ucs2_parts = split_message(ucs2_text)
    assert (len(gsm_parts), len(ucs2_parts)) == (2, 2)

    async def scenario():
        async with bound(smsc) as session:
            resps = [await submit(session, "Hi {Ann}, 5€ ~ok", data_coding=0)]
            for seq, part in enumerate(gsm_parts, start=1):
                udh = concat_udh(0x42, 2, seq)
                resps.append(await submit(session, short_message=udh + part, esm_class=0x40))
            for seq, part in enumerate(ucs2_parts, start=1):
                udh = bytes([6, 0x08, 4, 0x01, 0x02, 2, seq])  # a 16-bit reference
                resps.append(
                    await submit(session, short_message=udh + part, esm_class=0x40, data_coding=8)
                )
            return resps, [await next_deliver(session) for _ in resps]

    resps, receipts = run(scenario())

    assert [r.command_status for r in resps] == [0] * 5
    ids = [r.message_id for r in resps]
    assert len(set(ids)) == 5 and all(len(i) <= 64 for i in ids)
    records = smsc.submits()
    assert [r["message_id"] for r in records] == ids
    assert records[0]["text"] == "Hi {Ann}, 5€ ~ok" and records[0]["udh"] is None
    assert [r["udh"] for r in records[1:3]] == [{"ref": 0x42, "total": 2, "seq": s} for s in (1, 2)]
    assert records[1]["text"] + records[2]["text"] == gsm_text
    assert [r["udh"] for r in records[3:]] == [
        {"ref": 0x0102, "total": 2, "seq": s} for s in (1, 2)
    ]
    assert records[3]["text"] + records[4]["text"] == ucs2_text
    assert {r["data_coding"] for r in records[3:]} == {8}
    assert records[0] | {"time": None, "session": None, "short_message_hex": None} == {
        "time": None,
        "session": None,
        "system_id": SYSTEM_ID,
        "source_addr": SENDER,
        "destination_addr": HANDSET,
        "esm_class": 0,
        "data_coding": 0,
        "registered_delivery": 1,
        "short_message_hex": None,
        "udh": None,
        "text": "Hi {Ann}, 5€ ~ok",
        "message_id": ids[0],
        "command_status": 0,
    }

    by_id = {}
    for receipt in receipts:
        match = RECEIPT.fullmatch(receipt.short_message.decode("ascii"))
        assert match, receipt.short_message
        by_id[match["id"]] = (receipt, match)
    assert sorted(by_id) == sorted(ids)  # one receipt per part
    for record in records:
        receipt, match = by_id[record["message_id"]]
        assert (receipt.esm_class, receipt.source_addr, receipt.destination_addr) == (
            0x04,
            HANDSET,
            SENDER,
        )
        assert (match["stat"], match["err"], match["dlvrd"]) == ("DELIVRD", "000", "001")
        assert match["text"] == ascii_snippet(record["text"])
        assert tlvs(receipt) == {
            TLV_RECEIPTED_MESSAGE_ID: record["message_id"].encode() + b"\0",
            TLV_MESSAGE_STATE: b"\x02",
        }


def test_receipt_outcomes_by_destination_and_when_receipts_are_sent(smsc):
    smsc.receipts(destination="+16465550111", stat="EXPIRED", err="3")

    async def scenario():
        async with bound(smsc) as session:
            # Receipts come in submit order, so one that should not exist would show up
            # ahead of the next one that should: no need to wait for an absence.
            await submit(session, destination="+16465550100", registered_delivery=0)
            await submit(session, destination="+16465550100", registered_delivery=2)
            smsc.receipts(enabled=False)
            await submit(session, destination="+16465550100")
            smsc.receipts(enabled=True, delay=0.05)
            await submit(session, destination="+16465550999")
            await submit(session, destination="+16465550111")
            await submit(session, destination="+16465550999", registered_delivery=2)
            return [await next_deliver(session) for _ in range(3)]

    receipts = run(scenario())

    outcomes = [RECEIPT.fullmatch(r.short_message.decode()).group("stat", "err") for r in receipts]
    assert outcomes == [("UNDELIV", "001"), ("EXPIRED", "003"), ("UNDELIV", "001")]
    assert [tlvs(r)[TLV_MESSAGE_STATE] for r in receipts] == [b"\x05", b"\x03", b"\x05"]
    assert [r.source_addr for r in receipts] == ["+16465550999", "+16465550111", "+16465550999"]


def test_a_receipt_waits_for_a_session_that_can_receive_it(smsc):
    smsc.receipts(delay=0)  # so it is due well before the receiver binds

    async def scenario():
        async with bound(smsc, "TX") as transmitter:
            resp = await submit(transmitter)
            async with bound(smsc, "RX") as receiver:
                return resp, await next_deliver(receiver)

    resp, receipt = run(scenario())

    assert RECEIPT.fullmatch(receipt.short_message.decode())["id"] == resp.message_id


def test_throttling_refuses_the_next_submits_with_the_status_asked_for(smsc):
    async def scenario():
        async with bound(smsc) as session:
            smsc.throttle(2)
            statuses = [(await submit(session)).command_status for _ in range(3)]
            smsc.throttle(1, status=0x14)  # ESME_RMSGQFUL
            statuses.append((await submit(session)).command_status)
            smsc.throttle(1, status=0x0B)  # ESME_RINVDSTADR, a refusal for good
            statuses += [(await submit(session)).command_status for _ in range(2)]
            return statuses

    assert run(scenario()) == [0x58, 0x58, 0, 0x14, 0x0B, 0]
    records = smsc.submits()
    assert [(r["command_status"], r["message_id"] is None) for r in records] == [
        (0x58, True),
        (0x58, True),
        (0, False),
        (0x14, True),
        (0x0B, True),
        (0, False),
    ]
    assert smsc.health()["accepted"] == 2
    with pytest.raises(requests.HTTPError) as refused:
        smsc.throttle(1, status=0x450)  # smpp34 would send it as ESME_RSYSERR
    assert refused.value.response.status_code == 400


def test_an_mo_stop_arrives(smsc):
    async def scenario():
        async with bound(smsc) as session:
            smsc.wait_bound(1)
            answer = smsc.mo(HANDSET, SENDER, "STOP", wait=True)
            return answer, await next_deliver(session)

    answer, mo = run(scenario())

    assert answer == {"parts": 1, "statuses": [0]}
    assert (mo.source_addr, mo.destination_addr, mo.esm_class, mo.data_coding) == (
        HANDSET,
        SENDER,
        0,
        0,
    )
    assert mo.short_message == b"STOP"
    assert [d["kind"] for d in smsc.delivers()] == ["mo"]


def test_a_long_mo_arrives_in_parts_with_a_concatenation_udh(smsc):
    gsm_text = "x" * 152 + "€" + "Reply STOP to opt out. " * 3
    # 66 units, then a surrogate pair that would straddle the 67-unit limit.
    ucs2_text = "谢谢你的帮助! " * 8 + "谢谢" + "👍" + " 再见"

    async def scenario():
        async with bound(smsc) as session:
            smsc.wait_bound(1)
            answers = [smsc.mo(HANDSET, SENDER, gsm_text), smsc.mo(HANDSET, SENDER, ucs2_text)]
            return answers, [await next_deliver(session) for _ in range(4)]

    answers, parts = run(scenario())

    assert answers == [{"parts": 2}, {"parts": 2}]
    udhs = [parse_udh(p.short_message) for p in parts]
    assert [p.esm_class for p in parts] == [0x40] * 4
    assert [p.data_coding for p in parts] == [0, 0, 8, 8]
    assert [(u["total"], u["seq"]) for u, _ in udhs] == [(2, 1), (2, 2)] * 2
    assert udhs[0][0]["ref"] == udhs[1][0]["ref"] != udhs[2][0]["ref"] == udhs[3][0]["ref"]
    assert all(p.short_message[:3] == b"\x05\x00\x03" for p in parts)  # 8-bit reference
    assert len(udhs[0][1]) == 152 and udhs[1][1].startswith(b"\x1b\x65")  # € kept whole
    assert gsm7_decode(udhs[0][1] + udhs[1][1]) == gsm_text
    assert len(udhs[2][1]) == 132 and udhs[3][1].startswith("👍".encode("utf-16-be"))
    assert (udhs[2][1] + udhs[3][1]).decode("utf-16-be") == ucs2_text


def test_an_mo_needs_a_session_that_can_receive(smsc):
    with pytest.raises(requests.HTTPError) as nobody:
        smsc.mo(HANDSET, SENDER, "STOP")
    assert nobody.value.response.status_code == 409

    async def scenario():
        async with bound(smsc, "TX"):
            smsc.wait_bound(1)
            with pytest.raises(requests.HTTPError) as transmitter_only:
                smsc.mo(HANDSET, SENDER, "STOP")
            return transmitter_only.value.response.status_code

    assert run(scenario()) == 409


def test_a_bind_with_the_wrong_system_id_or_password_is_refused(smsc):
    def bind(system_id, password):
        client = smpplib.client.Client(
            "127.0.0.1", smsc.port, timeout=5, allow_unknown_opt_params=True
        )
        client.connect()
        try:
            client.bind_transceiver(system_id=system_id, password=password)
        finally:
            client.disconnect()

    with pytest.raises(smpplib.exceptions.PDUError) as wrong_id:
        bind("someone-else", "secret")
    with pytest.raises(smpplib.exceptions.PDUError) as wrong_password:
        bind(SYSTEM_ID, "guess")
    assert (wrong_id.value.args[1], wrong_password.value.args[1]) == (0x0F, 0x0E)
    assert smsc.health()["bound"] == 0


def test_an_unbind_is_answered_every_time(smsc):
    for _ in range(5):  # smpp34 alone loses the unbind_resp more often than not
        client = smpplib.client.Client(
            "127.0.0.1", smsc.port, timeout=5, allow_unknown_opt_params=True
        )
        client.connect()
        client.bind_transmitter(system_id=SYSTEM_ID, password="secret")
        assert client.unbind().command == "unbind_resp"
        client.disconnect()
    smsc.wait_until(lambda: smsc.health()["bound"] == 0, what="the sessions to end")


def test_exit_after_ends_the_process_right_after_the_nth_accept(smsc):
    smsc.exit_after(2)

    async def scenario():
        async with bound(smsc) as session:
            resps = [await submit(session, registered_delivery=0) for _ in range(2)]
            with pytest.raises((smpp34.SmppError, TimeoutError)):
                await asyncio.wait_for(submit(session, registered_delivery=0), 5)
            return resps

    assert [r.command_status for r in run(scenario())] == [0, 0]
    assert smsc.wait_exit(timeout=5) == 0
    lines = (smsc.state_dir / "submits.jsonl").read_text().splitlines()
    # The third arrived, and was never answered.
    assert [json.loads(line)["command_status"] for line in lines] == [0, 0, None]


def test_a_restart_keeps_the_log_and_hands_out_fresh_ids(smsc):
    async def two_submits():
        async with bound(smsc) as session:
            return [(await submit(session, registered_delivery=0)).message_id for _ in range(2)]

    before = run(two_submits())
    assert smsc.stop(timeout=5) == 0  # SIGTERM ends it promptly
    smsc.start()
    after = run(two_submits())

    assert len(set(before + after)) == 4
    assert [r["message_id"] for r in smsc.submits()] == before + after
    assert smsc.health()["accepted"] == 2  # counted since this start
