"""The pandas DataFrame ``search_traces`` returns: MLflow 3.17's ``traces_to_df``.

One row per trace, MLflow's columns in MLflow's order (``trace_id``, ``trace`` (the trace's
JSON), ``client_request_id``, ``state``, ``request_time``, ``execution_duration``,
``request``, ``response``, ``trace_metadata``, ``tags``, ``spans``, ``assessments``), plus
one column per ``extract_fields`` entry (MLflow's deprecated ``"span.inputs.field"`` form).
pandas is imported only when a DataFrame is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from tracklet.exceptions import TrackletException

if TYPE_CHECKING:
    import pandas

    from tracklet.entities import Span, Trace

__all__ = ["SPANS_COLUMN_NAME", "TRACE_DATAFRAME_COLUMNS", "trace_to_row", "traces_to_dataframe"]

SPANS_COLUMN_NAME = "spans"

#: MLflow's ``Trace.pandas_dataframe_columns()``.
TRACE_DATAFRAME_COLUMNS = (
    "trace_id",
    "trace",
    "client_request_id",
    "state",
    "request_time",
    "execution_duration",
    "request",
    "response",
    "trace_metadata",
    "tags",
    SPANS_COLUMN_NAME,
    "assessments",
)


def traces_to_dataframe(
    traces: Sequence[Trace], extract_fields: Sequence[str] | None = None
) -> pandas.DataFrame:
    """The traces as MLflow's ``search_traces`` DataFrame (same columns, order and dtypes)."""
    import pandas as pd

    columns = list(TRACE_DATAFRAME_COLUMNS)
    parsed = _parse_fields(list(extract_fields)) if extract_fields is not None else []
    columns.extend(str(field) for field in parsed)
    rows = []
    for trace in traces:
        row = trace_to_row(trace)
        for field in parsed:
            row[str(field)] = None
            for span in trace.data.spans:
                if field.span_name == span.name:
                    row[str(field)] = _extract_field(span, field)
        rows.append(row)
    return pd.DataFrame.from_records(data=rows, columns=columns)


def trace_to_row(trace: Trace) -> dict[str, Any]:
    """MLflow's ``Trace.to_pandas_dataframe_row()`` (the entity builds it)."""
    return trace.to_pandas_dataframe_row()


# -- extract_fields (MLflow's deprecated parameter) -------------------------------------


class _ParsedField(NamedTuple):
    span_name: str
    field_type: Literal["inputs", "outputs"]
    field_name: str | None

    def __str__(self) -> str:
        if self.field_name is not None:
            return f"{self.span_name}.{self.field_type}.{self.field_name}"
        return f"{self.span_name}.{self.field_type}"


def _extract_field(span: Span, field: _ParsedField) -> Any:
    value = span.inputs if field.field_type == "inputs" else span.outputs
    if isinstance(value, dict) and field.field_name is not None and field.field_name in value:
        return value.get(field.field_name)
    if field.field_name is None:
        return value
    return None


def _invalid(message: str) -> TrackletException:
    return TrackletException.invalid_parameter_value(message)


class _FieldParser:
    """MLflow's parser of ``span_name.[inputs|outputs][.field_name]`` (backticks quote dots)."""

    def __init__(self, field: str) -> None:
        self.field = field
        self.pos = 0

    def peek(self) -> str | None:
        return self.field[self.pos] if self.pos < len(self.field) else None

    def next(self) -> str:
        char = self.field[self.pos]
        self.pos += 1
        return char

    def has_next(self) -> bool:
        return self.peek() is not None

    def until(self, stop: str | None = None) -> str:
        start = self.pos
        while (char := self.peek()) and char != stop:
            self.pos += 1
        return self.field[start : self.pos]

    def _quoted_or(self, stop: str | None) -> str:
        if self.peek() == "`":
            self.next()
            text = self.until("`")
            if self.peek() != "`":
                raise _invalid(f"Expected closing backtick: {self.field!r}")
            self.next()
            return text
        return self.until(stop)

    def parse(self) -> _ParsedField:
        span_name = self._quoted_or(".")
        if self.peek() != ".":
            raise _invalid(f"Expected dot after span name: {self.field!r}")
        self.next()
        field_type = self.until(".")
        if field_type not in ("inputs", "outputs"):
            raise _invalid(f"Invalid field type: {field_type!r}. Expected 'inputs' or 'outputs'.")
        if self.has_next():
            self.next()
        field_name: str | None = None
        if self.has_next():
            quoted = self.peek() == "`"
            field_name = self._quoted_or(None)
            if quoted and self.has_next():
                raise _invalid(f"Unexpected characters after closing backtick: {self.field!r}")
        return _ParsedField(span_name, "inputs" if field_type == "inputs" else "outputs", field_name)


def _parse_fields(fields: list[str]) -> list[_ParsedField]:
    return [_FieldParser(field).parse() for field in fields]
