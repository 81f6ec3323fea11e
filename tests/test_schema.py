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
