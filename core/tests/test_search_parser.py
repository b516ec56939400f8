"""The filter and order-by parser: what each string becomes, and how bad ones fail."""

from __future__ import annotations

import re

import pytest

from tracklet.exceptions import TrackletException
from tracklet.search import And, Comparison, Or, OrderKey, parse_filter, parse_order_by


def _bad_filter(filter_string: str, kind: str = "run") -> str:
    with pytest.raises(TrackletException) as info:
        parse_filter(filter_string, kind)  # type: ignore[arg-type]
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    return str(info.value)


def _bad_order(order_by: object, kind: str = "run") -> str:
    with pytest.raises(TrackletException) as info:
        parse_order_by(order_by, kind)  # type: ignore[arg-type]
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    return str(info.value)


# -- empty filters --------------------------------------------------------------------


@pytest.mark.parametrize("empty", [None, "", "   ", "\n\t"])
def test_no_filter_parses_to_none(empty: str | None) -> None:
    assert parse_filter(empty) is None
    assert parse_filter(empty, "experiment") is None


# -- comparisons ----------------------------------------------------------------------


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_metric_comparators(op: str) -> None:
    assert parse_filter(f"metrics.loss {op} 0.5") == Comparison("metric", "loss", op, 0.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", 1.0), ("-1", -1.0), ("2.5", 2.5), (".5", 0.5), ("1.", 1.0), ("1e-3", 0.001), ("-1.5E3", -1500.0)],
)
def test_number_literals(text: str, value: float) -> None:
    parsed = parse_filter(f"metrics.m >= {text}")
    assert isinstance(parsed, Comparison)
    assert parsed.value == value
    assert isinstance(parsed.value, float)


@pytest.mark.parametrize("op", ["=", "!=", "LIKE", "ILIKE"])
@pytest.mark.parametrize("entity", ["params", "tags"])
def test_string_comparators(op: str, entity: str) -> None:
    expected = Comparison(entity[:-1], "k", op, "v%")  # type: ignore[arg-type]
    assert parse_filter(f"{entity}.k {op} 'v%'") == expected
    assert parse_filter(f'{entity}.k {op.lower()} "v%"') == expected


@pytest.mark.parametrize("entity", ["params", "tags"])
def test_is_null_and_is_not_null(entity: str) -> None:
    assert parse_filter(f"{entity}.k IS NULL") == Comparison(entity[:-1], "k", "IS NULL", None)  # type: ignore[arg-type]
    assert parse_filter(f"{entity}.k is not null") == Comparison(
        entity[:-1],
        "k",
        "IS NOT NULL",
        None,  # type: ignore[arg-type]
    )


def test_in_and_not_in() -> None:
    assert parse_filter("run_id IN ('a', 'b')") == Comparison("attribute", "run_id", "IN", ("a", "b"))
    assert parse_filter("run_id not in ('a')") == Comparison("attribute", "run_id", "NOT IN", ("a",))
    assert parse_filter("attributes.run_id IN ('a', \"b\",)") == Comparison(
        "attribute", "run_id", "IN", ("a", "b")
    )
    # tracklet accepts IN on any string field, MLflow only on run_id and datasets
    assert parse_filter("params.p IN ('1','2')") == Comparison("param", "p", "IN", ("1", "2"))
    assert parse_filter("datasets.digest NOT IN ('x')") == Comparison("dataset", "digest", "NOT IN", ("x",))


@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        ("run_id IN ()", "unexpected token ')' at position 11"),
        ("run_id IN (1, 2)", "unexpected token '1' at position 11"),
        ("run_id IN ('a' 'b')", "unexpected token \"'b'\" at position 15"),
        (
            "run_id IN 'a'",
            "unexpected token \"'a'\" at position 10; expected '(' and a list of quoted "
            "strings for attribute 'run_id'",
        ),
        ("run_id IN ('a'", "unexpected end of input at position 14; expected ',' or ')'"),
        ("metrics.m IN (1)", "comparator 'IN' is not valid for metric 'm'"),
    ],
)
def test_bad_lists(filter_string: str, message: str) -> None:
    assert message in _bad_filter(filter_string)


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("attributes.status = 'FINISHED'", ("status", "FINISHED")),
        ("attribute.status = 'FINISHED'", ("status", "FINISHED")),
        ("attr.user_id = 'me'", ("user_id", "me")),
        ("run.run_name = 'x'", ("run_name", "x")),
        ("status != 'RUNNING'", ("status", "RUNNING")),
        ("artifact_uri LIKE 's3://%'", ("artifact_uri", "s3://%")),
        ("`run name` = 'x'", ("run_name", "x")),
        ("`Run Name` = 'x'", ("run_name", "x")),
        ("\"Run name\" = 'x'", ("run_name", "x")),
        ("created > 5", ("start_time", 5)),
        ("Created > 5", ("start_time", 5)),
        ("end_time <= 1.5", ("end_time", 1.5)),
    ],
)
def test_run_attributes_and_aliases(filter_string: str, expected: tuple[str, object]) -> None:
    parsed = parse_filter(filter_string)
    assert isinstance(parsed, Comparison)
    assert parsed.entity_type == "attribute"
    assert (parsed.key, parsed.value) == expected


def test_numeric_attribute_keeps_integers() -> None:
    parsed = parse_filter("start_time >= 1700000000000")
    assert isinstance(parsed, Comparison) and parsed.value == 1700000000000
    assert isinstance(parsed.value, int)


@pytest.mark.parametrize(
    ("prefix", "entity_type"),
    [
        ("metric", "metric"),
        ("metrics", "metric"),
        ("param", "param"),
        ("params", "param"),
        ("parameter", "param"),
        ("parameters", "param"),
        ("tag", "tag"),
        ("tags", "tag"),
        ("`metrics`", "metric"),
    ],
)
def test_entity_prefix_aliases(prefix: str, entity_type: str) -> None:
    value = "1" if entity_type == "metric" else "'1'"
    parsed = parse_filter(f"{prefix}.k = {value}")
    assert isinstance(parsed, Comparison) and parsed.entity_type == entity_type and parsed.key == "k"


@pytest.mark.parametrize(
    ("lhs", "key"),
    [
        ("metrics.`my metric`", "my metric"),
        ('metrics."my metric"', "my metric"),
        ("metrics.'my metric'", "my metric"),
        ("metrics.`a-b/c:d`", "a-b/c:d"),
        ("metrics.`a.b`", "a.b"),
        ("metrics.a.b", "a.b"),
        ("metrics.mlflow.sub.key", "mlflow.sub.key"),
        ("metrics.0_loss", "0_loss"),
        ("metrics.Loss", "Loss"),
        ("metrics.损失", "损失"),
        ('metrics.`p"q`', 'p"q'),
    ],
)
def test_quoted_and_dotted_keys(lhs: str, key: str) -> None:
    assert parse_filter(f"{lhs} > 0") == Comparison("metric", key, ">", 0.0)


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("'x'", "x"),
        ('"x"', "x"),
        ("''", ""),
        ("'it''s'", "it's"),
        ("'it\\'s'", "it's"),
        ('"say ""hi"""', 'say "hi"'),
        ('"it\'s"', "it's"),
        ("'a AND b = 1'", "a AND b = 1"),
        ("'ünï'", "ünï"),
        ("'C:\\data'", "C:\\data"),
    ],
)
def test_string_literals(literal: str, value: str) -> None:
    assert parse_filter(f"tags.t = {literal}") == Comparison("tag", "t", "=", value)


def test_datasets() -> None:
    assert parse_filter("datasets.name = 'd'") == Comparison("dataset", "name", "=", "d")
    assert parse_filter("dataset.digest IN ('a','b')") == Comparison("dataset", "digest", "IN", ("a", "b"))
    assert parse_filter("datasets.context LIKE 'train%'") == Comparison(
        "dataset", "context", "LIKE", "train%"
    )


# -- AND / OR / parentheses -------------------------------------------------------------


A = Comparison("metric", "a", ">", 1.0)
B = Comparison("param", "b", "=", "x")
C = Comparison("tag", "c", "!=", "y")


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.a > 1 AND params.b = 'x'", And((A, B))),
        ("metrics.a > 1 and params.b = 'x' AnD tags.c != 'y'", And((A, B, C))),
        ("metrics.a > 1 OR params.b = 'x'", Or((A, B))),
        ("metrics.a > 1 OR params.b = 'x' AND tags.c != 'y'", Or((A, And((B, C))))),
        ("metrics.a > 1 AND params.b = 'x' or tags.c != 'y'", Or((And((A, B)), C))),
        ("(metrics.a > 1 OR params.b = 'x') AND tags.c != 'y'", And((Or((A, B)), C))),
        ("metrics.a > 1 AND (params.b = 'x' AND tags.c != 'y')", And((A, B, C))),
        ("(metrics.a > 1 or params.b = 'x') or tags.c != 'y'", Or((A, B, C))),
        ("((metrics.a > 1))", A),
        ("metrics.a>1 AND(params.b='x')", And((A, B))),
        ("params.b='x'and metrics.a>1", And((B, A))),
    ],
)
def test_boolean_structure(filter_string: str, expected: object) -> None:
    assert parse_filter(filter_string) == expected


# -- errors: position and token -------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        ("metrics.a >> 1", "Invalid filter 'metrics.a >> 1': unexpected token '>' at position 11"),
        ("metrics.a == 1", "unexpected token '=' at position 11"),
        ("metrics.a <> 1", "unexpected token '>' at position 11"),
        ("metrics.a > +1", "unexpected character '+' at position 12"),
        ("metrics.a > 0x10", "unexpected token 'x10' at position 13"),
        ("metrics.a > 1 AND", "unexpected end of input at position 17"),
        ("AND metrics.a > 1", "unexpected token 'AND' at position 0"),
        ("metrics.a > 1 metrics.b > 2", "unexpected token 'metrics.b' at position 14"),
        ("metrics.a > 1;", "unexpected character ';' at position 13"),
        ("(metrics.a > 1", "unexpected end of input at position 14; expected ')'"),
        ("metrics.a > 1)", "unexpected token ')' at position 13"),
        ("()", "unexpected token ')' at position 1"),
        ("metrics.a", "unexpected end of input at position 9; expected a comparator"),
        ("metrics.a-b > 1", "unexpected character '-' at position 9"),
        ("tags.t = 'open", "unterminated quote ' starting at position 9"),
        ("tags.`open = 'x'", "unterminated quote ` starting at position 5"),
        ("'x' = params.p", "unexpected token \"'x'\" at position 0"),
        ("params.p IS 'x'", "unexpected token \"'x'\" at position 12; expected NULL"),
        ("params.p NOT LIKE 'x'", "unexpected token 'LIKE' at position 13; expected IN"),
    ],
)
def test_syntax_errors_name_token_and_position(filter_string: str, message: str) -> None:
    assert message in _bad_filter(filter_string)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    assert parse_filter("(" * 50 + "metrics.a > 1" + ")" * 50) == Comparison("metric", "a", ">", 1.0)
    assert "nested deeper than 50 at position 50" in _bad_filter("(" * 5000 + "metrics.a > 1" + ")" * 5000)


def test_special_characters_in_keys_get_a_hint() -> None:
    assert "metrics.`my-metric`" in _bad_filter("metrics.my-metric > 1")
    assert "backquotes" not in _bad_filter("metrics.a > 1;")


@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        ("metrics.a = 'x'", "unexpected token \"'x'\" at position 12; expected a number for metric 'a'"),
        ("metrics.a = nan", "expected a number for metric 'a'"),
        ("params.p = 1", "unexpected token '1' at position 11; expected a quoted string for param 'p'"),
        ("params.p = x", "unexpected token 'x' at position 11; expected a quoted string"),
        ("tags.t = 1.5", "expected a quoted string for tag 't'"),
        ("start_time > '5'", "expected a number for attribute 'start_time'"),
        ("status = 1", "expected a quoted string for attribute 'status'"),
        ("datasets.name = 1", "expected a quoted string for dataset 'name'"),
        (
            "metrics.a LIKE 'x%'",
            "comparator 'LIKE' is not valid for metric 'a' at position 10 (valid: =, !=, <, <=, >, >=)",
        ),
        ("params.p < 'x'", "comparator '<' is not valid for param 'p'"),
        ("tags.t >= 'x'", "comparator '>=' is not valid for tag 't'"),
        ("status > 'x'", "comparator '>' is not valid for attribute 'status'"),
        ("start_time LIKE 5", "comparator 'LIKE' is not valid for attribute 'start_time'"),
        ("metrics.a IS NULL", "comparator 'IS NULL' is not valid for metric 'a'"),
        ("status IS NOT NULL", "comparator 'IS NOT NULL' is not valid for attribute 'status'"),
        ("datasets.name IS NULL", "comparator 'IS NULL' is not valid for dataset 'name'"),
    ],
)
def test_type_errors(filter_string: str, message: str) -> None:
    assert message in _bad_filter(filter_string)


@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        ("foo.a = 'x'", "unknown entity type 'foo'"),
        ("METRICS.a > 1", "unknown entity type 'METRICS'"),
        ("foo = 'x'", "invalid attribute key 'foo' at position 0"),
        ("lifecycle_stage = 'active'", "invalid attribute key 'lifecycle_stage'"),
        ("attributes.name = 'x'", "invalid attribute key 'name'"),
        ("datasets.schema = 'x'", "invalid dataset key 'schema'"),
        (
            "metrics.a > 1 AND bogus.b = 'x'",
            "unknown entity type 'bogus' at position 18 (valid: attr, attribute,",
        ),
    ],
)
def test_unknown_fields(filter_string: str, message: str) -> None:
    assert message in _bad_filter(filter_string)


def test_error_message_lists_valid_attributes() -> None:
    message = _bad_filter("nope = 'x'")
    for name in ("artifact_uri", "end_time", "run_id", "run_name", "start_time", "status", "user_id"):
        assert name in message


def test_non_string_filter_is_rejected() -> None:
    assert "expected a string" in _bad_filter(42)  # type: ignore[arg-type]


def test_unknown_kind_is_rejected() -> None:
    assert "'model'" in _bad_filter("name = 'x'", kind="model")


# -- experiments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("name = 'x'", Comparison("attribute", "name", "=", "x")),
        ("attribute.name LIKE 'x%'", Comparison("attribute", "name", "LIKE", "x%")),
        ("attributes.name ILIKE 'X%'", Comparison("attribute", "name", "ILIKE", "X%")),
        ("experiment_id IN ('1', '2')", Comparison("attribute", "experiment_id", "IN", ("1", "2"))),
        ("creation_time > 5", Comparison("attribute", "creation_time", ">", 5)),
        ("last_update_time <= 2.5", Comparison("attribute", "last_update_time", "<=", 2.5)),
        ("tags.team = 'ml'", Comparison("tag", "team", "=", "ml")),
        ("tag.`a b` IS NOT NULL", Comparison("tag", "a b", "IS NOT NULL", None)),
    ],
)
def test_experiment_filters(filter_string: str, expected: Comparison) -> None:
    assert parse_filter(filter_string, "experiment") == expected


@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        (
            "metrics.a > 1",
            "unknown entity type 'metrics' at position 0 (valid: attr, attribute, attributes, tag, tags)",
        ),
        ("params.p = 'x'", "unknown entity type 'params'"),
        ("run_id = 'x'", "invalid attribute key 'run_id'"),
        ("artifact_location = 'x'", "invalid attribute key 'artifact_location'"),
        ("creation_time > '5'", "expected a number for attribute 'creation_time'"),
        ("name < 'x'", "comparator '<' is not valid for attribute 'name'"),
        ("name IS NULL", "comparator 'IS NULL' is not valid"),
    ],
)
def test_experiment_filter_errors(filter_string: str, message: str) -> None:
    assert message in _bad_filter(filter_string, kind="experiment")


# -- order by ------------------------------------------------------------------------------


def test_order_by_entries() -> None:
    assert parse_order_by(
        ["metrics.m2 DESC", "params.p1", "attributes.start_time ASC", "tags.`a b`", "metric.m desc"]
    ) == [
        OrderKey("metric", "m2", False),
        OrderKey("param", "p1", True),
        OrderKey("attribute", "start_time", True),
        OrderKey("tag", "a b", True),
        OrderKey("metric", "m", False),
    ]


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("created", OrderKey("attribute", "start_time", True)),
        ("`Run Name` desc", OrderKey("attribute", "run_name", False)),
        ('metrics."a b" DESC', OrderKey("metric", "a b", False)),
        ("metrics.'a b'", OrderKey("metric", "a b", True)),
        ("tags.mlflow.runName", OrderKey("tag", "mlflow.runName", True)),
        ("  param.p   Asc ", OrderKey("param", "p", True)),
        ("end_time", OrderKey("attribute", "end_time", True)),
    ],
)
def test_order_by_aliases_and_quoting(clause: str, expected: OrderKey) -> None:
    assert parse_order_by([clause]) == [expected]


def test_no_order_by() -> None:
    assert parse_order_by(None) == []
    assert parse_order_by([]) == []
    assert parse_order_by((), "experiment") == []


@pytest.mark.parametrize(
    ("order_by", "message"),
    [
        (["metrics.a DESC ASC"], "unexpected token 'ASC' at position 15; expected the end of the clause"),
        (["metrics.a FOO"], "unexpected token 'FOO' at position 10; expected ASC or DESC"),
        ([""], "Invalid order_by clause '': unexpected end of input at position 0"),
        (["metrics.a, metrics.b"], "unexpected token ',' at position 9"),
        (["datasets.name"], "cannot order runs by dataset"),
        (["experiment_id"], "invalid attribute key 'experiment_id'"),
        (["foo.a"], "unknown entity type 'foo'"),
        (["metrics.a > 1"], "unexpected token '>' at position 10"),
        ("metrics.a", "expected a list of strings"),
        ([3], "Invalid order_by clause 3: expected a string"),
    ],
)
def test_order_by_errors(order_by: object, message: str) -> None:
    assert message in _bad_order(order_by)


def test_experiment_order_by() -> None:
    assert parse_order_by(["name", "creation_time DESC", "attribute.experiment_id"], "experiment") == [
        OrderKey("attribute", "name", True),
        OrderKey("attribute", "creation_time", False),
        OrderKey("attribute", "experiment_id", True),
    ]
    assert "cannot order experiments by tag" in _bad_order(["tags.t"], "experiment")
    assert "invalid attribute key 'lifecycle_stage'" in _bad_order(["lifecycle_stage"], "experiment")


def test_positions_are_zero_based_character_offsets() -> None:
    filter_string = "metrics.a > 1 AND params.`key with spaces` = 'v' AND tags.t ~ 'x'"
    message = _bad_filter(filter_string)
    position = int(re.search(r"position (\d+)", message).group(1))  # type: ignore[union-attr]
    assert filter_string[position] == "~"
