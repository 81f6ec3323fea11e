"""Assertions on the API's error contract (SPEC §6), shared by the API tests."""


def assert_error(response, status: int, code: str) -> dict:
    """The response is an error of the contract's shape; returns its body.

    `{"code", "developerMessage", "errors"?}`, where `errors` (field → messages)
    comes with validation errors only (a body that is not JSON has no fields to name).
    """
    body = response.json()
    assert (response.status_code, body.get("code")) == (status, code), body
    assert isinstance(body["developerMessage"], str)
    assert body["developerMessage"]
    if "errors" in body:
        assert code == "VALIDATION_ERROR"
        assert body["errors"]
        assert all(
            isinstance(messages, list) and all(isinstance(m, str) for m in messages)
            for messages in body["errors"].values()
        )
    return body
