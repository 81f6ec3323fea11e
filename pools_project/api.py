"""What every API view shares: the error shape, pagination and the input it refuses."""

from datetime import UTC, datetime, timedelta

import django_filters
from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from pools_project.errors import ServiceError

# DRF exception → the contract's code. Anything else DRF knows keeps its HTTP
# status and gets its DRF code in upper snake case.
CODES = {
    exceptions.ValidationError: "VALIDATION_ERROR",
    exceptions.ParseError: "VALIDATION_ERROR",
    exceptions.NotAuthenticated: "UNAUTHORIZED",
    exceptions.AuthenticationFailed: "UNAUTHORIZED",
    exceptions.NotFound: "NOT_FOUND",
    exceptions.PermissionDenied: "FORBIDDEN",
    exceptions.MethodNotAllowed: "METHOD_NOT_ALLOWED",
    exceptions.UnsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE",
    exceptions.NotAcceptable: "NOT_ACCEPTABLE",
    exceptions.Throttled: "RATE_LIMITED",
}


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "pageSize"
    max_page_size = 500


def error_body(code: str, message: str, errors: dict | None = None, **details) -> dict:
    body = {"code": code, "developerMessage": message, **details}
    if errors:
        body["errors"] = errors
    return body


def flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as `{"field.sub": ["message", …]}`."""
    if isinstance(detail, dict):
        flat = {}
        for key, value in detail.items():
            name = "" if key in ("non_field_errors", "__all__") else str(key)
            flat.update(
                flatten_errors(value, f"{prefix}.{name}" if prefix and name else prefix or name)
            )
        return flat
    if isinstance(detail, list) and any(isinstance(item, (dict, list)) for item in detail):
        flat = {}
        for index, item in enumerate(detail):
            flat.update(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    messages = detail if isinstance(detail, list) else [detail]
    return {prefix or "nonFieldErrors": [str(message) for message in messages if message]}


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        body = error_body(exc.code, exc.message, exc.errors, **exc.details)
        return Response(body, status=exc.status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = next(
        (code for kind, code in CODES.items() if isinstance(exc, kind)),
        str(getattr(exc, "default_code", "error")).upper(),
    )
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        message = "The request is not valid: " + "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in errors.items()
        )
        response.data = error_body(code, message, errors)
    elif isinstance(exc, exceptions.ParseError):
        response.data = error_body(code, f"The request body is not valid JSON: {exc.detail}")
        response.status_code = status.HTTP_400_BAD_REQUEST
    else:
        response.data = error_body(code, str(exc.detail))
    return response


class ErrorSerializer(serializers.Serializer):
    """The shape of every error (SPEC §6), for the schema."""

    code = serializers.CharField(help_text="UPPER_SNAKE, e.g. VALIDATION_ERROR.")
    developerMessage = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation errors only: the messages of each field, e.g. `settings.host`.",
    )


class RateField(serializers.FloatField):
    """A rate per second: a JSON number (not a numeric string, not a boolean) above 0."""

    default_error_messages = {
        "invalid": "Must be a JSON number.",
        "not_positive": "Must be greater than 0.",
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        if data <= 0:
            self.fail("not_positive")
        return data


class JsonIntegerField(serializers.IntegerField):
    """An integer as JSON writes it: 5, not "5", 5.0 or true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return data


def django_validator(validate):
    """A model-level validator, usable in a serializer field."""

    def run(value):
        try:
            validate(value)
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.messages) from exc

    return run


class StrictInputMixin:
    """For input serializers: a key the endpoint does not take is an error, not ignored."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise exceptions.ValidationError(
                    {key: ["This field is not accepted here."] for key in unknown}
                )
        return super().to_internal_value(data)


def get_or_404(queryset, code: str, message: str, **lookup):
    """The object, or ServiceError `code` 404 — also for ids that are not even well-formed."""
    try:
        return queryset.get(**lookup)
    except (queryset.model.DoesNotExist, DjangoValidationError, ValueError):
        raise ServiceError(code, message, status=404) from None


class PhoneNumberFilter(django_filters.CharFilter):
    """Matches a number written with or without its `+` — also an unencoded `+` in a
    query string, which arrives as a space."""

    def filter(self, qs, value):
        value = (value or "").strip()
        digits = value.removeprefix("+")
        if digits.isdigit():
            return qs.filter(**{f"{self.field_name}__in": [digits, f"+{digits}"]})
        return super().filter(qs, value)


class StrictBooleanField(serializers.BooleanField):
    """`true` or `false` as JSON writes them: "yes", "true", 1 are refused, not read as true."""

    default_error_messages = {"invalid": "Must be a JSON boolean: true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


# Real time zones are between UTC-12:00 and UTC+14:00; PostgreSQL refuses beyond ±15:59.
MAX_UTC_OFFSET = timedelta(hours=14)


class BoundedIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date-time with a real UTC offset, as UTC: a date that exists in UTC."""

    default_error_messages = {
        "offset": "The UTC offset must be between -14:00 and +14:00.",
        "range": "The date is out of range: it must fall between the years 1 and 9999 in UTC.",
    }

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        if abs(value.utcoffset()) > MAX_UTC_OFFSET:
            raise forms.ValidationError(self.error_messages["offset"], code="offset")
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError(self.error_messages["range"], code="range") from None


@extend_schema_field(OpenApiTypes.DATETIME)
class Rfc3339DateTimeField(serializers.Field):
    """An RFC 3339 date-time string with its UTC offset (`Z` or `±hh:mm`), as UTC: a
    moment, never a wall-clock time read in some zone the client did not name."""

    default_error_messages = {
        "invalid": "Must be an RFC 3339 date-time with a UTC offset, e.g. 2026-12-01T09:30:00Z.",
        "offset": BoundedIsoDateTimeField.default_error_messages["offset"],
        "range": BoundedIsoDateTimeField.default_error_messages["range"],
    }

    def to_internal_value(self, data):
        if not isinstance(data, str) or "T" not in data.upper():
            self.fail("invalid")
        try:
            value = datetime.fromisoformat(data)
        except ValueError:
            self.fail("invalid")
        if value.utcoffset() is None:
            self.fail("invalid")
        if abs(value.utcoffset()) > MAX_UTC_OFFSET:
            self.fail("offset")
        try:
            return value.astimezone(UTC)
        except OverflowError:
            self.fail("range")

    def to_representation(self, value):
        return serializers.DateTimeField().to_representation(value)


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField
