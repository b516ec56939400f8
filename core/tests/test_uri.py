import pytest

from tracklet.exceptions import TrackletException
from tracklet.uri import append_to_uri_path, get_scheme, local_path_from_uri, parse_runs_uri, path_to_file_uri


@pytest.mark.parametrize(
    "uri,part,expected",
    [
        ("file:///tmp/x", "a/b", "file:///tmp/x/a/b"),
        ("s3://b/p/", "c", "s3://b/p/c"),
        ("s3://b", "c", "s3://b/c"),
        ("/tmp/x", "y", "/tmp/x/y"),
        ("mlruns", "y", "mlruns/y"),
        ("http://h:5000/api?x=1", "z", "http://h:5000/api/z?x=1"),
        ("s3://b/p", "", "s3://b/p"),
    ],
)
def test_append_to_uri_path_matches_mlflow(uri, part, expected):
    assert append_to_uri_path(uri, part) == expected


def test_schemes_and_paths(tmp_path):
    assert get_scheme("postgresql+psycopg://u@h/db") == "postgresql"
    assert get_scheme("C:\\\\data\\\\mlruns") == ""
    assert get_scheme("/abs/path") == ""
    assert local_path_from_uri(path_to_file_uri(str(tmp_path))) == str(tmp_path)
    assert parse_runs_uri("runs:/abc/some/path") == ("abc", "some/path")
    assert parse_runs_uri("runs:/abc") == ("abc", "")
    with pytest.raises(TrackletException):
        parse_runs_uri("runs:/")
