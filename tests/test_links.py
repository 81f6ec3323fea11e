"""Short links (SPEC §4): URLs in a body become /s/<code>, and every click is recorded."""

import re
from datetime import timedelta

import pytest

from messaging.models import Click, Message, ShortLink
from tests.assertions import assert_error
from tests.scenarios import NEW_YORK, pool_with

pytestmark = pytest.mark.django_db

BASE = "https://sms.example.com"
SHORT_URL = re.compile(re.escape(BASE) + r"/s/([A-Za-z0-9]{8})")
SENT_AT = "2025-06-01T12:00:00Z"

DESKTOP_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
MAC_CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
IPAD_SAFARI = (
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)


@pytest.fixture(autouse=True)
def public_host(settings):
    settings.PUBLIC_BASE_URL = BASE
    settings.GEOIP_DATABASE = ""


def send(api, pool, body, **fields):
    response = api.post(
        f"/pools/my/{pool.pk}/sms",
        {"to": "+12125550100", "body": body, **fields},
        format="json",
    )
    assert response.status_code == 200, response.json()
    return response.json()


def shortened(api, account, long_url="https://example.com/offer?id=7", validity=3600) -> dict:
    pool = pool_with(account, [NEW_YORK])
    return send(api, pool, f"Deal: {long_url}", urlShortener={"urlValidity": validity})


def code_of(sent: dict) -> str:
    return SHORT_URL.search(sent["body"]).group(1)


# Shortening


def test_every_http_url_in_the_body_becomes_a_short_link(api, account):
    pool = pool_with(account, [NEW_YORK])

    body = send(
        api,
        pool,
        "Shop https://shop.example.com/a?x=1&y=2 or http://example.org/b. Ends soon!",
        urlShortener={"urlValidity": 3600},
    )

    codes = SHORT_URL.findall(body["body"])
    assert body["body"] == (f"Shop {BASE}/s/{codes[0]} or {BASE}/s/{codes[1]}. Ends soon!")
    assert body["urlShortener"] == {
        "urlValidity": 3600,
        "urls": [
            {"longUrl": "https://shop.example.com/a?x=1&y=2", "shortUrl": f"{BASE}/s/{codes[0]}"},
            {"longUrl": "http://example.org/b", "shortUrl": f"{BASE}/s/{codes[1]}"},
        ],
    }
    assert sorted(ShortLink.objects.values_list("code", "long_url")) == sorted(
        zip(codes, ["https://shop.example.com/a?x=1&y=2", "http://example.org/b"], strict=True)
    )
    assert Message.objects.get().body == body["body"]


def test_parts_are_counted_on_the_shortened_body(api, account):
    long_url = "https://example.com/" + "x" * 200

    body = shortened(api, account, long_url=long_url)

    assert body["bodyAnalysis"]["characters"] == len(body["body"]) < 160
    assert body["bodyAnalysis"]["parts"] == 1


def test_a_body_too_long_only_before_shortening_is_sent(api, account):
    pool = pool_with(account, [NEW_YORK])
    long_url = "https://example.com/" + "x" * 1600

    body = send(api, pool, long_url, urlShortener={})

    assert body["bodyAnalysis"]["parts"] == 1


def test_a_url_too_long_to_keep_is_not_shortened(api, account):
    pool = pool_with(account, [NEW_YORK])
    body = "https://example.com/" + "x" * 2000

    response = api.post(
        f"/pools/my/{pool.pk}/sms",
        {"to": "+12125550100", "body": body, "urlShortener": {}},
        format="json",
    )

    assert_error(response, 422, "BODY_TOO_LONG")
    assert not ShortLink.objects.exists()


def test_the_links_live_for_the_requested_validity(api, account, time_machine):
    time_machine.move_to(SENT_AT, tick=False)

    body = shortened(api, account, validity=600)

    link = ShortLink.objects.get()
    assert link.expires_at == Message.objects.get().created_at + timedelta(seconds=600)
    assert body["urlShortener"]["urlValidity"] == 600


def test_without_a_validity_the_links_live_for_the_default(api, account, settings, time_machine):
    settings.SHORT_LINK_DEFAULT_VALIDITY = 900
    time_machine.move_to(SENT_AT, tick=False)
    pool = pool_with(account, [NEW_YORK])

    body = send(api, pool, "See https://example.com", urlShortener={})

    assert body["urlShortener"]["urlValidity"] == 900
    link = ShortLink.objects.get()
    assert link.expires_at == link.message.created_at + timedelta(seconds=900)


def test_without_the_shortener_urls_are_left_alone(api, account):
    pool = pool_with(account, [NEW_YORK])

    body = send(api, pool, "See https://example.com/offer")

    assert body["body"] == "See https://example.com/offer"
    assert "urlShortener" not in body
    assert not ShortLink.objects.exists()


def test_the_shortener_on_a_body_without_urls_answers_an_empty_list(api, account):
    pool = pool_with(account, [NEW_YORK])

    body = send(api, pool, "No links here", urlShortener={"urlValidity": 60})

    assert body["urlShortener"] == {"urlValidity": 60, "urls": []}


# Redirects and clicks


def test_a_short_link_redirects_to_the_long_url_and_records_the_click(api, account, client):
    code = code_of(shortened(api, account))

    response = client.get(
        f"/s/{code}",
        headers={"user-agent": DESKTOP_CHROME, "referer": "https://mail.example.com/"},
        REMOTE_ADDR="203.0.113.7",
    )

    assert response.status_code == 302
    assert response["Location"] == "https://example.com/offer?id=7"
    click = Click.objects.get()
    assert (click.link.code, click.ip, click.referrer) == (
        code,
        "203.0.113.7",
        "https://mail.example.com/",
    )
    assert (click.device, click.browser, click.user_agent) == ("DESKTOP", "CHROME", DESKTOP_CHROME)
    assert (click.country, click.city) == ("", "")


@pytest.mark.parametrize(
    "user_agent, device, browser",
    [
        (DESKTOP_CHROME, "DESKTOP", "CHROME"),
        (MAC_CHROME, "DESKTOP", "CHROME"),
        (IPHONE_SAFARI, "MOBILE", "MOBILE SAFARI"),
        (IPAD_SAFARI, "TABLET", "MOBILE SAFARI"),
        (ANDROID_TABLET, "TABLET", "CHROME"),
        ("", "UNKNOWN", "UNKNOWN"),
    ],
    ids=["windows-chrome", "mac-chrome", "iphone", "ipad", "android-tablet", "none"],
)
def test_the_device_and_browser_come_from_the_user_agent(
    api, account, client, user_agent, device, browser
):
    code = code_of(shortened(api, account))

    client.get(f"/s/{code}", headers={"user-agent": user_agent})

    assert Click.objects.values_list("device", "browser").get() == (device, browser)


def test_the_lag_is_the_time_since_the_message_was_sent(api, account, client, time_machine):
    time_machine.move_to(SENT_AT, tick=False)
    code = code_of(shortened(api, account))

    time_machine.shift(timedelta(minutes=2, seconds=5))
    client.get(f"/s/{code}")

    assert Click.objects.get().lag == 125


def test_the_lag_counts_from_dispatch_once_the_message_is_sent(api, account, client, time_machine):
    time_machine.move_to(SENT_AT, tick=False)
    code = code_of(shortened(api, account))
    Message.objects.update(sent_at=Message.objects.get().created_at + timedelta(seconds=30))

    time_machine.shift(100)
    client.get(f"/s/{code}")

    assert Click.objects.get().lag == 70


def test_every_click_is_recorded(api, account, client):
    code = code_of(shortened(api, account))

    for _ in range(3):
        assert client.get(f"/s/{code}").status_code == 302

    assert Click.objects.count() == 3


def test_an_expired_link_is_gone_and_records_no_click(api, account, client, time_machine):
    time_machine.move_to(SENT_AT, tick=False)
    code = code_of(shortened(api, account, validity=600))

    time_machine.shift(599)
    assert client.get(f"/s/{code}").status_code == 302
    time_machine.shift(1)
    response = client.get(f"/s/{code}")

    assert_error(response, 410, "LINK_EXPIRED")
    assert Click.objects.count() == 1


def test_an_unknown_link_is_not_found(client, db):
    assert_error(client.get("/s/nope1234"), 404, "LINK_NOT_FOUND")
    assert not Click.objects.exists()


def test_a_short_link_only_answers_get_and_head(api, account, client):
    code = code_of(shortened(api, account))

    assert client.post(f"/s/{code}").status_code == 405
    assert client.head(f"/s/{code}").status_code == 302
    assert not Click.objects.exists()


# GET /sms/my/{trackingId}/clicks


def test_a_messages_clicks_are_listed_in_routees_click_shape(api, account, client, time_machine):
    time_machine.move_to(SENT_AT, tick=False)
    sent = shortened(api, account)
    time_machine.shift(9)
    client.get(
        f"/s/{code_of(sent)}", headers={"user-agent": DESKTOP_CHROME}, REMOTE_ADDR="18.17.28.101"
    )

    response = api.get(f"/sms/my/{sent['trackingId']}/clicks")

    assert response.status_code == 200
    page = response.json()
    assert (page["count"], page["next"], page["previous"]) == (1, None, None)
    assert page["results"] == [
        {
            "shortUrl": sent["urlShortener"]["urls"][0]["shortUrl"],
            "longUrl": "https://example.com/offer?id=7",
            "tags": {"to": "+12125550100", "trackingId": sent["trackingId"]},
            "timestamp": "2025-06-01T12:00:09Z",
            "dateTime": "2025-06-01T12:00:09+00:00",
            "ip": "18.17.28.101",
            "country": None,
            "city": None,
            "referrer": "UNKNOWN",
            "device": "DESKTOP",
            "browser": "CHROME",
            "lag": 9,
        }
    ]


def test_a_message_without_clicks_lists_none(api, account):
    sent = shortened(api, account)

    assert api.get(f"/sms/my/{sent['trackingId']}/clicks").json()["results"] == []


def test_another_accounts_message_clicks_are_not_found(api, other_api, account, client):
    sent = shortened(api, account)
    client.get(f"/s/{code_of(sent)}")

    response = other_api.get(f"/sms/my/{sent['trackingId']}/clicks")

    assert_error(response, 404, "MESSAGE_NOT_FOUND")
