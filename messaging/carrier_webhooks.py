"""Requests from carriers, signed per Standard Webhooks with CARRIER_WEBHOOK_SECRET."""

import binascii

from django.conf import settings
from rest_framework import exceptions
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from pools_project.errors import ServiceError
from pools_project.parsers import json_parsed


def carrier_payload(request) -> dict:
    """The verified JSON body of a carrier's request; 401 if the signature does not hold."""
    try:
        Webhook(settings.CARRIER_WEBHOOK_SECRET).verify(
            request.body, dict(request.headers), json_parse=False
        )
    except (WebhookVerificationError, ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ServiceError(
            "INVALID_SIGNATURE",
            f"The request is not signed with the carrier secret: {exc or 'bad signature'}.",
            status=401,
        ) from None
    try:
        payload = json_parsed(request.body)
    except exceptions.ParseError:
        payload = None
    if not isinstance(payload, dict):
        raise ServiceError("VALIDATION_ERROR", "The request body must be a JSON object.")
    return payload
