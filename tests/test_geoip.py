import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from messaging.services.links import locate
from tests.messaging_factories import StoredMessageFactory


@pytest.fixture
def city_database(tmp_path, settings):
    """A GeoIP2 City database that knows one network: 203.0.113.0/24 is Thessaloniki."""
    writer = MMDBWriter(ip_version=6, database_type="GeoIP2-City", ipv4_compatible=True)
    writer.insert_network(
        IPSet(["203.0.113.0/24"]),
        {"country": {"iso_code": "GR"}, "city": {"names": {"en": "Thessaloniki"}}},
    )
    path = tmp_path / "city.mmdb"
    writer.to_db_file(str(path))
    settings.GEOIP_DATABASE = str(path)
    return path


def test_an_address_the_database_knows_gets_its_country_and_city(city_database):
    assert locate("203.0.113.7") == ("GR", "Thessaloniki")


def test_an_address_the_database_does_not_know_gets_none(city_database):
    assert locate("198.51.100.1") == ("", "")


def test_without_a_database_nothing_is_looked_up(settings):
    settings.GEOIP_DATABASE = ""
    assert locate("203.0.113.7") == ("", "")


def test_a_click_from_a_known_address_reports_country_and_city(
    city_database, api, account, settings
):
    settings.PUBLIC_BASE_URL = "https://sms.example.com"
    message = StoredMessageFactory(pool__account=account)
    link = message.short_links.create(
        code="geo12345",
        long_url="https://example.com/",
        expires_at=message.created_at.replace(year=2999),
    )

    response = api.get(f"/s/{link.code}", REMOTE_ADDR="203.0.113.7")

    assert response.status_code == 302
    click = api.get(f"/sms/my/{message.pk}/clicks").json()["results"][0]
    assert (click["country"], click["city"], click["ip"]) == ("GR", "Thessaloniki", "203.0.113.7")
