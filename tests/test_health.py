"""Number health from delivery reports (SPEC §1, §5; Telnyx): a number delivering under
25% of its recent final statuses turns unhealthy; an operator's override wins."""

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import Message
from messaging.services.health import number_health_recompute
from messaging.services.lifecycle import message_report_status, messages_expire
from tests.messaging_factories import StoredMessageFactory
from tests.scenarios import NEW_YORK, SAN_FRANCISCO, pool_with
from virtual_numbers.models import Number

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool(account):
    return pool_with(account, [NEW_YORK, SAN_FRANCISCO])


@pytest.fixture
def number(pool):
    return Number.objects.get(number=NEW_YORK)


@pytest.fixture
def report(pool, django_capture_on_commit_callbacks):
    """Delivery reports for messages the number sent, each as a carrier would post it."""

    def report(number, status, count=1):
        for _ in range(count):
            message = StoredMessageFactory(
                pool=pool, number=number, sender=number.number, status=Message.Status.SENT
            )
            with django_capture_on_commit_callbacks(execute=True):
                message_report_status(message=message, status=status)

    return report


def healthy_in_api(api, number) -> bool:
    return api.get(f"/numbers/my/{number.pk}").json()["healthy"]


def computed(number) -> bool:
    return Number.objects.get(pk=number.pk).computed_healthy


def test_a_number_turns_unhealthy_after_enough_undelivered_reports(api, number, report):
    report(number, Message.Status.UNDELIVERED, 4)
    assert computed(number) is True

    report(number, Message.Status.UNDELIVERED)

    assert computed(number) is False
    assert healthy_in_api(api, number) is False
    listed = api.get("/numbers/my", {"healthy": "false"}).json()["results"]
    assert [n["number"] for n in listed] == [NEW_YORK]


def test_fewer_reports_than_the_minimum_keep_a_number_healthy(api, number, report, settings):
    settings.NUMBER_HEALTH_MIN_REPORTS = 10
    report(number, Message.Status.UNDELIVERED, 9)

    assert computed(number) is True
    assert healthy_in_api(api, number) is True


def test_a_number_delivering_exactly_the_threshold_stays_healthy(number, report, settings):
    settings.NUMBER_HEALTH_MIN_REPORTS = 4
    report(number, Message.Status.DELIVERED)  # 1 of 4 delivered: 25%, not under it
    report(number, Message.Status.UNDELIVERED, 3)
    assert computed(number) is True

    report(number, Message.Status.UNDELIVERED)  # 1 of 5: 20%

    assert computed(number) is False


def test_delivered_reports_bring_a_number_back(api, number, report):
    report(number, Message.Status.UNDELIVERED, 6)
    report(number, Message.Status.DELIVERED)
    assert computed(number) is False  # 1 of 7 delivered

    report(number, Message.Status.DELIVERED)  # 2 of 8: the 25% threshold itself

    assert computed(number) is True
    assert healthy_in_api(api, number) is True


def test_failures_count_against_the_number_like_undelivered_reports(number, report):
    report(number, Message.Status.FAILED, 3)
    report(number, Message.Status.UNDELIVERED, 2)

    assert computed(number) is False


def test_only_the_recent_reports_count(number, report, settings, time_machine):
    settings.NUMBER_HEALTH_WINDOW = 5
    report(number, Message.Status.DELIVERED, 5)
    time_machine.move_to(timezone.now() + timedelta(minutes=1))

    report(number, Message.Status.UNDELIVERED, 5)

    assert computed(number) is False  # the five deliveries fell out of the window


def test_one_numbers_reports_do_not_touch_another(pool, number, report):
    report(number, Message.Status.UNDELIVERED, 5)

    assert computed(Number.objects.get(number=SAN_FRANCISCO)) is True


@pytest.mark.parametrize("override", [True, False])
def test_an_operators_override_holds_whatever_the_reports(api, number, report, override):
    response = api.patch(f"/numbers/my/{number.pk}", {"healthy": override}, format="json")
    assert response.status_code == 200
    assert response.json()["healthy"] is override

    report(number, Message.Status.UNDELIVERED, 6)
    assert healthy_in_api(api, number) is override
    report(number, Message.Status.DELIVERED, 20)
    assert healthy_in_api(api, number) is override

    # The computed health kept following the reports underneath.
    assert computed(number) is True


def test_dropping_the_override_follows_the_reports_again(api, number, report):
    api.patch(f"/numbers/my/{number.pk}", {"healthy": True}, format="json")
    report(number, Message.Status.UNDELIVERED, 5)
    assert healthy_in_api(api, number) is True

    api.patch(f"/numbers/my/{number.pk}", {"healthy": None}, format="json")

    assert healthy_in_api(api, number) is False


def test_messages_that_expired_in_our_queue_do_not_count(
    pool, number, django_capture_on_commit_callbacks, time_machine
):
    for i in range(6):
        StoredMessageFactory(
            pool=pool,
            number=number,
            to=f"+1415555{i:04d}",
            expires_at=timezone.now() + timedelta(seconds=30),
        )
    time_machine.move_to(timezone.now() + timedelta(minutes=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert messages_expire() == 6

    assert set(Message.objects.values_list("status", "detailed_status")) == {("Failed", "Expired")}
    assert computed(number) is True
    number_health_recompute(number_id=number.pk)
    assert computed(number) is True


def test_undelivered_messages_through_the_simulator_make_the_number_unhealthy(
    api, account, django_capture_on_commit_callbacks
):
    pool = pool_with(account, [NEW_YORK])
    number = Number.objects.get(number=NEW_YORK)

    with django_capture_on_commit_callbacks(execute=True):
        for i in range(5):  # the simulator reports recipients ending in 999 Undelivered
            response = api.post(
                f"/pools/my/{pool.pk}/sms", {"to": f"+1212555{i}999", "body": "Hi"}, format="json"
            )
            assert response.status_code == 200

    assert set(Message.objects.values_list("status", flat=True)) == {"Undelivered"}
    assert healthy_in_api(api, number) is False
