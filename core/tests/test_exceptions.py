import json

import pytest

from tracklet.exceptions import ERROR_CODES, MlflowException, TrackletException, http_status_for


@pytest.mark.parametrize(
    "code,status",
    [
        ("INVALID_PARAMETER_VALUE", 400),
        ("RESOURCE_ALREADY_EXISTS", 400),
        ("RESOURCE_DOES_NOT_EXIST", 404),
        ("INVALID_STATE", 500),
        ("PERMISSION_DENIED", 403),
        ("REQUEST_LIMIT_EXCEEDED", 429),
        ("TEMPORARILY_UNAVAILABLE", 503),
        ("INTERNAL_ERROR", 500),
    ],
)
def test_http_status_matches_mlflow(code, status):
    assert TrackletException("x", code).get_http_status_code() == status
    assert http_status_for(ERROR_CODES[code]) == status


def test_error_code_by_number_and_serialization():
    e = MlflowException("bad thing", 1000)
    assert e.error_code == "INVALID_PARAMETER_VALUE"
    assert json.loads(e.serialize_as_json()) == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "bad thing",
    }
    assert str(e) == "bad thing"
    assert MlflowException is TrackletException


def test_unknown_code_becomes_internal_error():
    assert TrackletException("x", "NO_SUCH_CODE").error_code == "INTERNAL_ERROR"
