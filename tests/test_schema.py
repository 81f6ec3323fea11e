"""The OpenAPI schema and its browsable docs: public, and describing the real API."""

from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_an_openapi_document_of_the_api(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Number Pools API"


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/numbers/my", {"get", "post"}),
        ("/numbers/my/{number_id}", {"get", "patch", "delete"}),
        ("/pools/my", {"get", "post"}),
        ("/pools/my/{pool_id}", {"get", "patch", "delete"}),
        ("/pools/my/{pool_id}/numbers", {"get", "post"}),
        ("/pools/my/{pool_id}/numbers/remove", {"post"}),
    ],
)
def test_the_schema_lists_every_endpoint_and_method(schema, path, methods):
    assert methods <= set(schema["paths"][path])


def test_the_schema_documents_the_number_filters(schema):
    parameters = {p["name"] for p in schema["paths"]["/numbers/my"]["get"]["parameters"]}

    assert {"country", "type", "poolId", "assigned", "healthy", "page", "pageSize"} <= parameters


def test_the_schema_says_requests_authenticate_with_a_bearer_key(schema):
    schemes = schema["components"]["securitySchemes"]

    assert {"type": "http", "scheme": "bearer"}.items() <= next(iter(schemes.values())).items()
    operation = schema["paths"]["/pools/my"]["post"]
    assert operation["security"] == [{name: []} for name in schemes]


def test_the_schema_describes_the_pool_callback_as_an_object(schema):
    settings = schema["components"]["schemas"]["PoolSettings"]["properties"]

    callback = settings["callback"]
    target = callback.get("allOf", [callback])[0]
    if "$ref" in target:
        target = schema["components"]["schemas"][target["$ref"].rsplit("/", 1)[1]]
    assert {"url", "strategy"} <= set(target["properties"])


def test_the_schema_is_public():
    assert APIClient().get("/api/schema/").status_code == 200


def test_the_docs_are_public_even_with_a_stale_api_key():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer np_revoked-long-ago")

    for path in ("/api/schema/", "/api/docs/", "/api/redoc/"):
        assert client.get(path).status_code == 200, path


def test_the_browsable_docs_load_the_schema():
    response = APIClient().get("/api/docs/")

    assert response.status_code == 200
    assert b"/api/schema/" in response.content


def test_the_schema_generates_without_warnings():
    # --fail-on-warn turns any warning (an undocumented view, an enum clash) into an error.
    call_command("spectacular", "--fail-on-warn", "--file", "/dev/null", stderr=StringIO())


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_every_operation_documents_its_success_body(schema):
    for path, method, operation in operations(schema):
        success = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
        assert success, f"{method} {path}"
        for code, response in success.items():
            if code != "204":
                assert response.get("content"), f"{method} {path} {code} has no body"


def test_every_error_has_the_error_shape_and_names_its_codes(schema):
    for path, method, operation in operations(schema):
        for code, response in operation["responses"].items():
            if not code.startswith(("4", "5")):
                continue
            body = response["content"]["application/json"]
            assert body["schema"] == {"$ref": "#/components/schemas/Error"}, (method, path, code)
            assert body["examples"], (method, path, code)
            for example in body["examples"].values():
                assert example["value"]["code"] in response["description"], (method, path)


def test_every_authenticated_operation_documents_401_and_429(schema):
    for path, method, operation in operations(schema):
        if operation.get("security") == [{}] or path.startswith("/webhooks/"):
            continue
        assert {"401", "429"} <= set(operation["responses"]), f"{method} {path}"


def test_every_operation_on_one_resource_documents_its_404(schema):
    for path, method, operation in operations(schema):
        if "{" in path:
            assert "404" in operation["responses"], f"{method} {path}"


def error_codes(schema, path, method, status) -> set[str]:
    examples = schema["paths"][path][method]["responses"][status]["content"]["application/json"]
    return {example["value"]["code"] for example in examples["examples"].values()}


def test_the_send_documents_its_refusals(schema):
    path = "/pools/my/{pool_id}/sms"

    assert {"VALIDATION_ERROR", "INVALID_RECIPIENT"} <= error_codes(schema, path, "post", "400")
    assert error_codes(schema, path, "post", "404") == {"POOL_NOT_FOUND"}
    assert {
        "NO_SENDER_AVAILABLE",
        "COUNTRY_NOT_ALLOWED",
        "NO_ALPHANUMERIC_SENDER",
        "ALPHANUMERIC_NOT_SUPPORTED",
        "BODY_TOO_LONG",
        "IDEMPOTENCY_KEY_REUSED",
    } <= error_codes(schema, path, "post", "422")


def component(schema, name) -> dict:
    return schema["components"]["schemas"][name]


def test_the_schema_says_what_can_be_null(schema):
    assert component(schema, "Number")["properties"]["lastUsedAt"]["nullable"] is True
    assert component(schema, "MappingResource")["properties"]["expiresAt"]["nullable"] is True
    message = component(schema, "MessageResource")["properties"]
    assert message["from"]["nullable"] is True
    assert message["providerMessageId"]["nullable"] is True
    assert "nullable" not in message["trackingId"]


def test_phone_numbers_are_described_by_their_e164_pattern(schema):
    send = component(schema, "Send")["properties"]["to"]
    mapping = component(schema, "MappingResource")["properties"]["recipient"]

    for field in (send, mapping):
        assert field["pattern"] == r"^\+[1-9][0-9]{1,14}$"
        assert field["example"] == "+12125550100"


def test_the_lists_are_paginated_resources(schema):
    response = schema["paths"]["/sms/my"]["get"]["responses"]["200"]

    ref = response["content"]["application/json"]["schema"]["$ref"]
    page = component(schema, ref.rsplit("/", 1)[1])
    assert {"count", "next", "previous", "results"} <= set(page["properties"])
    assert page["properties"]["results"]["items"] == {
        "$ref": "#/components/schemas/MessageResource"
    }


def test_the_carrier_webhooks_document_their_signature(schema):
    for path in ("/webhooks/status", "/webhooks/inbound"):
        operation = schema["paths"][path]["post"]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= headers
        assert error_codes(schema, path, "post", "401") == {"INVALID_SIGNATURE"}


def test_the_provider_webhooks_answer_in_the_providers_formats(schema):
    responses = schema["paths"]["/webhooks/connections/{connection_id}/inbound"]["post"][
        "responses"
    ]

    assert {"text/xml", "application/json", "text/plain"} == set(responses["200"]["content"])
    assert {"401", "404"} <= set(responses)


def test_the_main_requests_have_examples(schema):
    for path in ("/pools/my", "/numbers/my", "/connections/my", "/pools/my/{pool_id}/sms"):
        body = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert body["examples"], path


def test_a_rate_limited_answer_says_when_to_retry(schema):
    response = schema["paths"]["/pools/my"]["post"]["responses"]["429"]

    assert response["headers"]["Retry-After"]["schema"]["type"] == "integer"
    assert error_codes(schema, "/pools/my", "post", "429") == {"RATE_LIMITED"}
