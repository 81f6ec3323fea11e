"""Short links in message bodies, and the clicks on them."""

import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import geoip2.database
import geoip2.errors
import regex
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from ua_parser import parse as parse_user_agent

from messaging.models import Click, Message, Notification, ShortLink, short_url
from messaging.serializers import ClickSerializer
from messaging.services.notifications import notification_record

CODE_ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 8  # 62^8 ≈ 2·10^14 codes: a collision is not a practical concern
# An http(s) URL runs to the next space or quote; punctuation that ends a sentence
# is not part of it.
URL = regex.compile(r"""https?://[^\s<>"'`]+(?<![.,;:!?)\]}])""", regex.IGNORECASE)
LONG_URL_MAX_LENGTH = ShortLink._meta.get_field("long_url").max_length


@dataclass(frozen=True)
class PlannedLink:
    code: str
    long_url: str

    @property
    def short_url(self) -> str:
        return short_url(self.code)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def body_shorten(body: str) -> tuple[str, list[PlannedLink]]:
    """The body with every http(s) URL replaced by a new short link, and those links."""
    links: list[PlannedLink] = []

    def replace(match) -> str:
        if len(match.group(0)) > LONG_URL_MAX_LENGTH:
            return match.group(0)  # cannot be stored; left as is, the body counts it whole
        link = PlannedLink(code=new_code(), long_url=match.group(0))
        links.append(link)
        return link.short_url

    return URL.sub(replace, body), links


def links_create(*, message: Message, links: list[PlannedLink], validity_seconds: int) -> None:
    if not links:  # most sends: not even the ORM's bulk machinery
        return
    expires_at = message.created_at + timedelta(seconds=validity_seconds)
    ShortLink.objects.bulk_create(
        ShortLink(code=link.code, message=message, long_url=link.long_url, expires_at=expires_at)
        for link in links
    )


def describe_device(user_agent: str) -> tuple[str, str]:
    """(device, browser) in the click callback's words: DESKTOP/MOBILE/TABLET/BOT, CHROME…"""
    if not user_agent:
        return "UNKNOWN", "UNKNOWN"
    parsed = parse_user_agent(user_agent)
    device_family = parsed.device.family if parsed.device else ""
    # ua-parser brands an Android device without "Mobile" in its UA Generic_Android_Tablet.
    device_brand = (parsed.device.brand or "") if parsed.device else ""
    os_family = parsed.os.family if parsed.os else ""
    if device_family == "Spider":
        device = "BOT"
    elif "iPad" in device_family or "Tablet" in device_family or "Tablet" in device_brand:
        device = "TABLET"
    elif os_family in ("iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS") or (
        # ua-parser names Macs as a device too; a Mac is a desktop.
        device_family not in ("", "Other", "Mac")
    ):
        device = "MOBILE"
    else:
        device = "DESKTOP"
    browser = parsed.user_agent.family.upper() if parsed.user_agent else "UNKNOWN"
    return device, browser


@cache
def _geoip_reader(path: str):
    return geoip2.database.Reader(path)


def locate(ip: str | None) -> tuple[str, str]:
    """(country, city) of an IP address, when a GeoIP database is configured."""
    if not (ip and settings.GEOIP_DATABASE):
        return "", ""
    try:
        city = _geoip_reader(settings.GEOIP_DATABASE).city(ip)
    except (geoip2.errors.AddressNotFoundError, ValueError):
        return "", ""
    return city.country.iso_code or "", city.city.name or ""


@transaction.atomic
def click_record(
    *, link: ShortLink, ip: str | None, referrer: str, user_agent: str, now: datetime | None = None
) -> Click:
    """Record the click and, when the message has a callback URL, post it there."""
    now = now or timezone.now()
    message = link.message
    sent_at = message.sent_at or message.created_at
    device, browser = describe_device(user_agent)
    country, city = locate(ip)
    click = Click.objects.create(
        link=link,
        ip=ip,
        referrer=referrer[:2000],
        user_agent=user_agent[:1000],
        device=device,
        browser=browser,
        lag=max(0, int((now - sent_at).total_seconds())),
        country=country,
        city=city,
    )
    if message.callback_url:
        notification_record(
            account=message.account,
            kind=Notification.Kind.CLICK,
            url=message.callback_url,
            payload=ClickSerializer(click).data,
            message=message,
        )
    return click
