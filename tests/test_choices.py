"""Enumerations defined once: the models, the selection core, the validators and the
commands share the same number types, strategies and channels."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from messaging.models import Message
from pools.choices import Channel, Strategy
from virtual_numbers.choices import NumberType
from virtual_numbers.models import Number


def test_the_models_take_their_enumerations_from_the_shared_modules():
    assert Number.Type is NumberType
    assert (Message.Strategy, Message.Channel) == (Strategy, Channel)


@pytest.mark.parametrize(
    ("media", "channel"),
    [
        ([], "sms"),
        (None, "sms"),
        (False, "sms"),
        (["https://example.com/a.png"], "mms"),
        (True, "mms"),
    ],
)
def test_a_send_with_media_is_an_mms(media, channel):
    assert Channel.of(media) == channel


def test_the_enumerations_import_without_settings_or_any_models_module():
    """What lets the pure core (pools.decision) import them."""
    code = (
        "import sys, pools.choices, virtual_numbers.choices\n"
        "print(sorted(m for m in sys.modules if m.split('.')[-1] == 'models'"
        " and not m.startswith('django.')))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    project = Path(__file__).resolve().parents[1]
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True
    )
    assert (run.returncode, run.stdout.strip()) == (0, "[]"), run.stderr
