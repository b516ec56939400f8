"""Traces on SQL: the primitives of :class:`tracklet.stores.traces.TraceStore`, with spans.

Tables (revision 0002, :mod:`tracklet_sql._schema`): ``trace_info`` (one row per trace,
MLflow's column names), ``trace_tags`` and ``trace_request_metadata`` (key/value rows),
``spans`` (one row per span: its ids, name, type, status and times as columns, the whole
``Span.to_dict()`` as JSON in ``content``).

Writes are one transaction each (:func:`tracklet_sql._engine.write`, retried on deadlocks
and serialization failures). Spans and the info of one trace may arrive at the same time
from different server workers, so every write that merges into a trace first makes sure
its ``trace_info`` row exists with an insert-if-absent (``ON CONFLICT DO NOTHING``,
``INSERT IGNORE``, ``INSERT OR IGNORE``), then locks it (``SELECT … FOR UPDATE`` on
PostgreSQL and MySQL; sqlite's ``BEGIN IMMEDIATE`` already serialises writers) before
reading what is stored and writing the merge: concurrent writers of one trace queue on
its row instead of overwriting each other's merge. Several traces are locked in id
order, so two writers cannot deadlock on them.

Reads: a search is one query for the page of ``trace_info`` rows
(:mod:`tracklet_sql._search_traces`) and one for the page's tags and metadata together.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tracklet.exceptions import INVALID_PARAMETER_VALUE, NOT_IMPLEMENTED, TrackletException
from tracklet.stores import refusals
from tracklet.stores.traces import (
    ARTIFACT_LOCATION_TAG,
    TraceStore,
    artifact_location_for,
    merge_trace_info,
    no_such_trace,
    no_trace_tag,
    trace_info_from_spans,
)

from ._engine import write
from ._mlflow_revisions import SPANS
from ._mlflow_traces import PROMOTED_COLUMNS, PROMOTED_KEYS, columns_from_metadata, metadata_from_columns
from ._schemas import Schema
from ._write import DriverSql, _executemany, _insert_ignore, _upsert, driver_sql

if TYPE_CHECKING:
    from tracklet.entities import Span, TraceInfo
    from tracklet.search import TraceSearch

__all__ = ["SqlTraces"]

_INT_MAX = 2**31 - 1
_CHUNK = 500  # ids per IN list
_INFO_FIELDS = (
    "experiment_id",
    "timestamp_ms",
    "execution_time_ms",
    "status",
    "client_request_id",
    "request_preview",
    "response_preview",
)
_SPAN_FIELDS = (
    "experiment_id",
    "parent_span_id",
    "name",
    "type",
    "status",
    "start_time_unix_nano",
    "end_time_unix_nano",
    "duration_ns",
    "content",
)


def _experiment_key(experiment_id: Any) -> int | None:
    text = str(experiment_id)
    if text.isascii() and text.isdecimal() and len(text) <= 10:
        number = int(text)
        if str(number) == text and number <= _INT_MAX:
            return number
    return None


def _inserted(result: sa.CursorResult[Any], dialect: str) -> bool:
    """Whether an insert-if-absent of one row inserted it."""
    if dialect == "postgresql":
        return result.first() is not None
    return bool(result.rowcount == 1)


@lru_cache(maxsize=32)
def _compiled_upsert(
    dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...], update: tuple[str, ...]
) -> DriverSql:
    """The driver-level SQL of an upsert of ``columns`` overwriting ``update``."""
    name = "mysql" if dialect.name == "mariadb" else dialect.name
    compiled = _upsert(name, table, update).compile(dialect=dialect, column_keys=list(columns))
    return driver_sql(compiled, columns)


def upsert_rows(
    conn: sa.Connection, table: sa.Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (tuples of ``columns``, the primary key first), overwriting the other
    columns where the key exists: one ``executemany`` straight to the driver."""
    if rows:
        update = tuple(c for c in columns if c not in {k.name for k in table.primary_key.columns})
        _executemany(conn, _compiled_upsert(conn.dialect, table, columns, update), columns, rows)


_KV_COLUMNS = ("request_id", "key", "value")
TRACE_NAME_TAG = "mlflow.traceName"  # tracklet's table order


def _bare(info: TraceInfo) -> TraceInfo:
    """``info`` without tags and metadata: what a just-inserted ``trace_info`` row holds."""
    return dataclasses.replace(info, tags={}, trace_metadata={})


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield list(items[start : start + _CHUNK])


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _state_value(state: Any) -> str:
    return str(getattr(state, "value", state))


def info_row(info: TraceInfo, experiment_key: int) -> dict[str, Any]:
    """The ``trace_info`` row of a TraceInfo."""
    return {
        "request_id": info.trace_id,
        "experiment_id": experiment_key,
        "timestamp_ms": int(info.request_time),
        "execution_time_ms": None if info.execution_duration is None else int(info.execution_duration),
        "status": _state_value(info.state),
        "client_request_id": _text(info.client_request_id),
        "request_preview": _text(info.request_preview),
        "response_preview": _text(info.response_preview),
    }


#: TraceInfo's fields in the order to_trace_info passes them (MLflow's order).
_TRACE_INFO_FIELDS = (
    "trace_id",
    "trace_location",
    "request_time",
    "state",
    "request_preview",
    "response_preview",
    "client_request_id",
    "execution_duration",
    "trace_metadata",
    "tags",
)


@lru_cache(maxsize=1)
def _entities() -> tuple[Any, Any, Any, Any, dict[str, Any]]:
    """TraceInfo, TraceLocation, MlflowExperimentLocation, the MLFLOW_EXPERIMENT location
    type and the TraceStates by value, imported on first use."""
    from tracklet.entities.trace_info import TraceInfo
    from tracklet.entities.trace_location import MlflowExperimentLocation, TraceLocation, TraceLocationType
    from tracklet.entities.trace_state import TraceState

    names = tuple(f.name for f in dataclasses.fields(TraceInfo))[: len(_TRACE_INFO_FIELDS)]
    assert names == _TRACE_INFO_FIELDS, f"TraceInfo's fields changed: {names}"
    states = {state.value: state for state in TraceState}
    return TraceInfo, TraceLocation, MlflowExperimentLocation, TraceLocationType.MLFLOW_EXPERIMENT, states


def to_trace_info(row: Any, tags: dict[str, str], metadata: dict[str, str]) -> TraceInfo:
    """The TraceInfo of a ``trace_info`` row and its tags and metadata (each info its own
    location: TraceInfo.experiment_id's setter changes it in place). Positional arguments:
    a page builds a hundred of these."""
    info_class, location_class, experiment_class, experiment_type, states = _entities()
    info: TraceInfo = info_class(
        row.request_id,
        location_class(experiment_type, experiment_class(str(row.experiment_id))),
        row.timestamp_ms,
        states[row.status],
        row.request_preview,
        row.response_preview,
        row.client_request_id,
        row.execution_time_ms,
        metadata,
        tags,
    )
    return info


def span_row(span: Span, experiment_key: int, trace_id: str | None = None) -> dict[str, Any]:
    """The ``spans`` row of a span (``trace_id``: its trace id when the caller has it:
    reading it decodes an attribute)."""
    start, end = int(span.start_time_ns), span.end_time_ns
    code = span.status.status_code
    return {
        "trace_id": span.trace_id if trace_id is None else trace_id,
        "span_id": span.span_id,
        "experiment_id": experiment_key,
        "parent_span_id": span.parent_id,
        "name": span.name,
        "type": _text(span.span_type),
        "status": str(getattr(code, "value", code)),
        "start_time_unix_nano": start,
        "end_time_unix_nano": None if end is None else int(end),
        "duration_ns": None if end is None else int(end) - start,
        "content": json.dumps(span.to_dict(), ensure_ascii=False, default=str),
    }


@dataclasses.dataclass(frozen=True)
class _Statements:
    """One schema's trace tables and statements, built once per schema (building one costs
    more than running it on sqlite)."""

    ti: sa.Table
    tt: sa.Table
    tm: sa.Table
    sp: sa.Table
    span_columns: tuple[str, ...]  # the spans columns written, table order (not generated ones)
    experiment: sa.Select[Any]
    one_trace: sa.Select[Any]
    lock_trace: sa.Select[Any]
    update_info: sa.Update
    info_by_id: sa.Select[Any]
    key_values: sa.CompoundSelect[Any]
    info_fields: tuple[str, ...]  # the trace_info columns an info's row sets
    promoted_by_id: sa.Select[Any] | None  # MLflow's promoted metadata columns, by id
    spans_of: sa.Select[Any]
    spans_single: sa.Select[Any]


def _info_fields(schema: Schema) -> tuple[str, ...]:
    name = schema.trace_name_column
    fields = _INFO_FIELDS if name is None else (*_INFO_FIELDS, name)
    return (*fields, *PROMOTED_COLUMNS) if schema.promoted_metadata else fields


def _name_as_tag(schema: Schema) -> list[sa.Select[Any]]:
    """MLflow's schema: the name column read back as the tag ``mlflow.traceName``."""
    if schema.trace_name_column is None:
        return []
    ti = schema.trace_info
    name = ti.c[schema.trace_name_column]
    return [
        sa.select(
            sa.literal_column("0").label("kind"),
            ti.c.request_id,
            sa.literal_column(f"'{TRACE_NAME_TAG}'"),
            name,
        ).where(ti.c.request_id.in_(sa.bindparam("ids", expanding=True)), name.is_not(None))
    ]


@cache
def _statements(schema: Schema) -> _Statements:
    # the trace search compiler is imported on a store's first trace call, not by every
    # process that opens a store (SqlStore inherits these methods)
    from ._search_traces import info_columns

    if not schema.has_traces:
        raise TrackletException(
            f"This MLflow database (schema revision {schema.revision}) predates MLflow's spans table "
            f"(revision {SPANS}), so tracklet-sql stores no traces there. Back it up and upgrade it "
            "with MLflow: mlflow db upgrade <uri>",
            NOT_IMPLEMENTED,
        )
    ti, tt, tm, sp = schema.trace_info, schema.trace_tags, schema.trace_request_metadata, schema.spans
    one_trace = sa.select(ti.c.request_id).where(ti.c.request_id == sa.bindparam("trace_id"))
    return _Statements(
        ti,
        tt,
        tm,
        sp,
        tuple(c.name for c in sp.c if c.computed is None),
        sa.select(schema.experiments.c.lifecycle_stage, schema.experiments.c.artifact_location).where(
            schema.experiments.c.experiment_id == sa.bindparam("key")
        ),
        one_trace,
        one_trace.with_for_update(),
        ti.update()
        .where(ti.c.request_id == sa.bindparam("b_request_id"))
        .values({ti.c[k]: sa.bindparam(f"b_{k}") for k in _info_fields(schema)}),
        sa.select(*info_columns(schema)).where(ti.c.request_id.in_(sa.bindparam("ids", expanding=True))),
        sa.union_all(
            sa.select(sa.literal_column("0").label("kind"), tt.c.request_id, tt.c.key, tt.c.value).where(
                tt.c.request_id.in_(sa.bindparam("ids", expanding=True))
            ),
            sa.select(sa.literal_column("1").label("kind"), tm.c.request_id, tm.c.key, tm.c.value).where(
                tm.c.request_id.in_(sa.bindparam("ids", expanding=True))
            ),
            *_name_as_tag(schema),
        ),
        _info_fields(schema),
        sa.select(ti.c.request_id, *(ti.c[c] for c in PROMOTED_COLUMNS)).where(
            ti.c.request_id.in_(sa.bindparam("ids", expanding=True))
        )
        if schema.promoted_metadata
        else None,
        sa.select(sp.c.trace_id, sp.c.content)
        .where(sp.c.trace_id.in_(sa.bindparam("ids", expanding=True)))
        .order_by(sp.c.trace_id, sp.c.start_time_unix_nano, sp.c.span_id),
        sa.select(sp.c.content)
        .where(sp.c.trace_id.in_(sa.bindparam("ids", expanding=True)))
        .order_by(sp.c.start_time_unix_nano, sp.c.span_id),
    )


@lru_cache(maxsize=64)
def _key_values_sql(schema: Schema, dialect: sa.Dialect, count: int) -> tuple[str, tuple[str, ...] | None]:
    """The tags and metadata of ``count`` traces in the driver's own terms, and the order of
    its positional parameters (None: named ones). Sent with ``exec_driver_sql``: the hot
    path of a search skips SQLAlchemy's per-call expansion of the id lists (half the time
    of the query on sqlite)."""
    state = (
        _statements(schema)
        .key_values.compile(dialect=dialect)
        .construct_expanded_state({"ids": [str(i) for i in range(count)]})
    )
    positions = tuple(state.positiontup) if state.positiontup is not None else None
    return state.statement, positions


def key_values(
    schema: Schema, conn: sa.Connection, ids: Sequence[str]
) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """``{trace id: (tags, metadata)}`` of ``ids``, in one query per 500 ids."""
    found: dict[str, tuple[dict[str, str], dict[str, str]]] = {i: ({}, {}) for i in ids}
    for chunk in _chunks(list(found)):
        for kind, request_id, key, value in _driver_rows(
            conn, *_key_values_sql(schema, conn.dialect, len(chunk)), False, chunk
        ):
            found[request_id][int(kind)][key] = "" if value is None else value
        promoted = _statements(schema).promoted_by_id
        if promoted is not None:
            for row in conn.execute(promoted, {"ids": chunk}):
                found[row.request_id][1].update(metadata_from_columns(row._asdict()))
    return found


def load_infos(schema: Schema, conn: sa.Connection, ids: Sequence[str]) -> dict[str, TraceInfo]:
    """The stored infos of those of ``ids`` that exist."""
    rows = {}
    info_by_id = _statements(schema).info_by_id
    for chunk in _chunks(list(dict.fromkeys(ids))):
        rows.update({row.request_id: row for row in conn.execute(info_by_id, {"ids": chunk})})
    extra = key_values(schema, conn, list(rows))
    return {i: to_trace_info(row, *extra[i]) for i, row in rows.items()}


class SqlTraces(TraceStore):
    """The trace half of :class:`tracklet_sql.store.SqlStore` (a mixin: it uses the store's
    ``engine``, ``dialect``)."""

    trace_capabilities = frozenset({"span_storage"})
    engine: sa.Engine
    dialect: str
    schema: Schema

    @property
    def _t(self) -> _Statements:
        return _statements(self.schema)

    def _info_row(self, info: TraceInfo, experiment_key: int) -> dict[str, Any]:
        """:func:`info_row`, with the name column where the schema keeps the name there."""
        row = info_row(info, experiment_key)
        if self.schema.trace_name_column is not None:
            row[self.schema.trace_name_column] = info.tags.get(TRACE_NAME_TAG)
        if self.schema.promoted_metadata:
            row.update(columns_from_metadata(info.trace_metadata))
        return row

    def _is_name_column(self, key: str) -> bool:
        return key == TRACE_NAME_TAG and self.schema.trace_name_column is not None

    # -- helpers -------------------------------------------------------------------------

    def _trace_experiment(self, conn: sa.Connection, experiment_id: str) -> tuple[int, str]:
        """The key and artifact location of an active experiment (MLflow's refusals otherwise)."""
        key = _experiment_key(experiment_id)
        row = None if key is None else conn.execute(self._t.experiment, {"key": key}).first()
        if row is None or key is None:
            raise refusals.no_such_experiment(str(experiment_id))
        if row.lifecycle_stage != "active":
            raise refusals.experiment_not_active(str(experiment_id), row.lifecycle_stage)
        return key, str(row.artifact_location or "")

    def _lock_traces(self, conn: sa.Connection, rows: list[dict[str, Any]]) -> dict[str, TraceInfo]:
        """Make sure each row's trace exists (inserting the row where absent) and hold it
        locked until commit, in id order; returns the infos of the traces that were
        already stored (to merge into), read after the lock."""
        existing: list[str] = []
        t = self._t
        insert = _insert_ignore(self.dialect, t.ti)
        if self.dialect == "postgresql":  # psycopg reports no rowcount for ON CONFLICT DO NOTHING
            insert = insert.returning(t.ti.c.request_id)  # type: ignore[attr-defined]
        for row in sorted(rows, key=lambda r: r["request_id"]):
            trace_id = row["request_id"]
            if self.dialect == "sqlite":  # writers are serialised by BEGIN IMMEDIATE
                if not _inserted(conn.execute(insert, row), self.dialect):
                    existing.append(trace_id)
                continue
            lock = {"trace_id": trace_id}
            if conn.execute(t.lock_trace, lock).first() is not None:
                existing.append(trace_id)
            elif not _inserted(conn.execute(insert, row), self.dialect):
                # another writer inserted it meanwhile (we waited for its commit): lock theirs
                conn.execute(t.lock_trace, lock)
                existing.append(trace_id)
            # else: we inserted the row, which our transaction holds locked
        return load_infos(self.schema, conn, existing)

    def _write_infos(
        self, conn: sa.Connection, merged: list[tuple[TraceInfo, int, TraceInfo | None]]
    ) -> None:
        """Write infos over their locked rows (``(info, experiment key, what was stored)``):
        the row where it changed, the tags and metadata that changed (upserts, key order)."""
        tag_rows, meta_rows = [], []
        for info, key, before in merged:
            row = self._info_row(info, key)
            if before is None or self._info_row(before, int(before.experiment_id)) != row:
                conn.execute(self._t.update_info, {f"b_{k}": v for k, v in row.items()})
            old_tags = before.tags if before is not None else {}
            old_meta = before.trace_metadata if before is not None else {}
            tag_rows += [
                (info.trace_id, k, _text(v))
                for k, v in sorted(info.tags.items())
                if old_tags.get(k) != v and not self._is_name_column(k)
            ]
            meta_rows += [
                (info.trace_id, k, _text(v))
                for k, v in sorted(info.trace_metadata.items())
                if old_meta.get(k) != v and not (self.schema.promoted_metadata and k in PROMOTED_KEYS)
            ]
        upsert_rows(conn, self._t.tt, _KV_COLUMNS, tag_rows)
        upsert_rows(conn, self._t.tm, _KV_COLUMNS, meta_rows)

    # -- primitives ----------------------------------------------------------------------

    def _start_trace(self, trace_info: TraceInfo) -> TraceInfo:
        """Create or merge into the trace (:func:`merge_trace_info`): the trace moves to
        the incoming experiment, spans included."""
        return write(self.engine, lambda conn: self._start_trace_on(conn, trace_info))

    def _start_trace_on(self, conn: sa.Connection, trace_info: TraceInfo) -> TraceInfo:
        trace_id = trace_info.trace_id
        key, location = self._trace_experiment(conn, trace_info.experiment_id)
        stored = self._lock_traces(conn, [self._info_row(trace_info, key)]).get(trace_id)
        merged = merge_trace_info(stored, trace_info, artifact_location_for(location, trace_id))
        self._write_infos(conn, [(merged, key, stored if stored is not None else _bare(trace_info))])
        if stored is not None and str(stored.experiment_id) != str(key):
            sp = self._t.sp
            conn.execute(sp.update().where(sp.c.trace_id == trace_id).values(experiment_id=key))
        return merged  # what get_trace_info reads next

    def log_trace_spans(self, trace_info: TraceInfo, spans: Sequence[Span]) -> TraceInfo:
        """``log_spans(<its experiment>, spans)`` then ``start_trace(trace_info)`` in one
        transaction: what a client storing an ended trace does, at half the cost (one
        commit, one lock). tracklet-sql's own, beyond the contract; same checks, same
        result as the two calls."""
        from tracklet.entities import Span
        from tracklet.stores.traces import check_trace_info, validate_trace_id

        checked = check_trace_info(trace_info)
        for span in spans:
            if not isinstance(span, Span):
                raise TrackletException(
                    f"Invalid spans: expected Span entries, got {type(span).__name__}.",
                    INVALID_PARAMETER_VALUE,
                )
            validate_trace_id(span.trace_id, "span.trace_id")
        experiment_id = str(checked.experiment_id)
        listed = list(spans)

        def log_and_start(conn: sa.Connection) -> TraceInfo:
            if listed:
                self._log_spans_on(conn, experiment_id, listed)
            return self._start_trace_on(conn, checked)

        return write(self.engine, log_and_start)

    def _get_trace_info(self, trace_id: str) -> TraceInfo:
        with self.engine.connect() as conn:
            found = load_infos(self.schema, conn, [trace_id]).get(trace_id)
        if found is None:
            raise no_such_trace(trace_id)
        return found

    def _batch_get_trace_infos(self, trace_ids: Sequence[str]) -> list[TraceInfo]:
        with self.engine.connect() as conn:
            found = load_infos(self.schema, conn, trace_ids)
        return [found[i] for i in trace_ids if i in found]

    def _search_traces(self, search: TraceSearch) -> tuple[list[TraceInfo], str | None]:
        """One page: a query for the ``trace_info`` rows, one for their tags and metadata."""
        keys = [k for k in (_experiment_key(e) for e in search.experiment_ids) if k is not None]
        self._t  # noqa: B018 - refuses a database without trace tables
        from ._search_traces import search_trace_rows

        with self.engine.connect() as conn:
            page = search_trace_rows(conn, self.dialect, keys, search, self.schema)
            extra = key_values(self.schema, conn, [row.request_id for row in page.rows])
        return [to_trace_info(row, *extra[row.request_id]) for row in page.rows], page.token

    def _set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        def set_tag(conn: sa.Connection) -> None:
            self._existing_trace(conn, trace_id)
            if self._is_name_column(key):
                self._set_name_column(conn, trace_id, value)
                return
            upsert_rows(conn, self._t.tt, _KV_COLUMNS, [(trace_id, key, value)])

        write(self.engine, set_tag)

    def _delete_trace_tag(self, trace_id: str, key: str) -> None:
        def delete(conn: sa.Connection) -> None:
            self._existing_trace(conn, trace_id)
            tt = self._t.tt
            if self._is_name_column(key):
                deleted = self._set_name_column(conn, trace_id, None)
            else:
                deleted = conn.execute(
                    tt.delete().where(tt.c.request_id == trace_id, tt.c.key == key)
                ).rowcount
            if deleted == 0:
                raise no_trace_tag(trace_id, key)

        write(self.engine, delete)

    def _set_name_column(self, conn: sa.Connection, trace_id: str, value: str | None) -> int:
        """Set (or clear) MLflow's name column; how many names changed from set to anything."""
        ti = self._t.ti
        column = ti.c[str(self.schema.trace_name_column)]
        statement = ti.update().where(ti.c.request_id == trace_id)
        if value is None:
            statement = statement.where(column.is_not(None))
        return int(conn.execute(statement.values({column: value})).rowcount)

    def _existing_trace(self, conn: sa.Connection, trace_id: str) -> None:
        if conn.execute(self._t.one_trace, {"trace_id": trace_id}).first() is None:
            raise no_such_trace(trace_id)

    def _delete_traces(
        self,
        experiment_id: str,
        max_timestamp_millis: int | None = None,
        max_traces: int | None = None,
        trace_ids: Sequence[str] | None = None,
    ) -> int:
        key = _experiment_key(experiment_id)
        if key is None:
            return 0

        t = self._t
        _ti, _sp, _tt, _tm = t.ti, t.sp, t.tt, t.tm

        def delete(conn: sa.Connection) -> int:
            statement = sa.select(_ti.c.request_id).where(_ti.c.experiment_id == key)
            if self.dialect != "sqlite":
                statement = statement.with_for_update()
            if trace_ids is not None:  # in chunks: sqlite takes at most 32,766 parameters
                ids = []
                for chunk in _chunks(trace_ids):
                    ids += [row[0] for row in conn.execute(statement.where(_ti.c.request_id.in_(chunk)))]
            else:
                statement = statement.where(_ti.c.timestamp_ms <= max_timestamp_millis)
                if max_traces is not None:  # oldest first
                    statement = statement.order_by(_ti.c.timestamp_ms, _ti.c.request_id).limit(max_traces)
                ids = [row[0] for row in conn.execute(statement)]
            count = 0
            for chunk in _chunks(ids):
                for table, column in (
                    (_sp, _sp.c.trace_id),
                    (_tt, _tt.c.request_id),
                    (_tm, _tm.c.request_id),
                ):
                    conn.execute(table.delete().where(column.in_(chunk)))
                count += conn.execute(_ti.delete().where(_ti.c.request_id.in_(chunk))).rowcount
            return count

        return write(self.engine, delete)

    def _log_spans(self, experiment_id: str, spans: list[Span]) -> list[Span]:
        """Keep the spans (a re-sent span replaces the stored one) and create or update
        their traces' infos from them (:func:`trace_info_from_spans`), in one transaction.
        A new trace goes to ``experiment_id``; an existing one stays where it is."""
        return write(self.engine, lambda conn: self._log_spans_on(conn, experiment_id, spans))

    def _log_spans_on(self, conn: sa.Connection, experiment_id: str, spans: list[Span]) -> list[Span]:
        by_trace: dict[str, list[Span]] = {}
        for span in spans:
            by_trace.setdefault(span.trace_id, []).append(span)
        key, location = self._trace_experiment(conn, experiment_id)
        fresh = {}
        for trace_id, group in by_trace.items():
            info = trace_info_from_spans(experiment_id, group, None)
            tags = {**info.tags, ARTIFACT_LOCATION_TAG: artifact_location_for(location, trace_id)}
            fresh[trace_id] = dataclasses.replace(info, tags=tags)
        stored = self._lock_traces(conn, [self._info_row(info, key) for info in fresh.values()])
        merged, experiment_of = [], {}
        for trace_id, group in sorted(by_trace.items()):
            before = stored.get(trace_id)
            if before is None:  # inserted by this call, as fresh[trace_id]
                experiment_of[trace_id] = key
                continue
            info = trace_info_from_spans(experiment_id, group, before)
            experiment_of[trace_id] = int(before.experiment_id)
            merged.append((info, experiment_of[trace_id], before))
        new_rows = [(fresh[t], key, None) for t in sorted(by_trace) if t not in stored]
        # a new trace's row is in place; its tags and metadata are not yet
        merged += [(info, k, _bare(info)) for info, k, _ in new_rows]
        self._write_infos(conn, merged)
        rows = {}
        t = self._t
        for trace_id, group in by_trace.items():
            for span in group:
                row = span_row(span, experiment_of[trace_id], trace_id)
                rows[trace_id, row["span_id"]] = tuple(row[c] for c in t.span_columns)
        upsert_rows(conn, t.sp, t.span_columns, [rows[k] for k in sorted(rows)])
        return spans

    def _get_trace_spans(self, trace_id: str) -> list[Span]:
        with self.engine.connect() as conn:
            contents = _driver_rows(conn, *_spans_sql(self.schema, conn.dialect, 1, True), [trace_id])
            if not contents:
                self._existing_trace(conn, trace_id)
        return _spans(contents)

    def batch_get_trace_spans(self, trace_ids: Sequence[str]) -> dict[str, list[Span]]:
        """The stored spans of each of ``trace_ids`` (``[]`` for a trace without any, or
        unknown), ordered as :meth:`get_trace_spans` orders them, in one query per 500
        traces: what a client loading a page of traces with their spans wants (tracklet-sql's
        own, beyond the contract)."""
        from tracklet.stores.traces import validate_trace_id

        ids = list(dict.fromkeys(validate_trace_id(t, "trace_ids") for t in trace_ids))
        found: dict[str, list[Span]] = {t: [] for t in ids}
        with self.engine.connect() as conn:
            for chunk in _chunks(ids):
                rows = _driver_rows(conn, *_spans_sql(self.schema, conn.dialect, len(chunk)), chunk)
                for trace_id, content in rows:
                    found[trace_id].append(content)
        return {t: _spans(contents) for t, contents in found.items()}  # type: ignore[arg-type]


def _spans(contents: Sequence[Any]) -> list[Span]:
    """The stored spans as LazySpans: parsed and built only when read (a page of traces
    costs one small object per span). The text is what :func:`span_row`'s ``json.dumps``
    wrote, so ``Trace.to_json`` may splice it in unchanged."""
    from tracklet.entities.span import LazySpan

    spans: list[Span] = list(LazySpan.many_from_stored_content(contents, json_dumps=True))
    return spans


@lru_cache(maxsize=64)
def _spans_sql(
    schema: Schema, dialect: sa.Dialect, count: int, single: bool = False
) -> tuple[str, tuple[str, ...] | None, bool]:
    """The spans of ``count`` traces in the driver's terms (``single``: one trace's, just
    the contents), as :func:`_key_values_sql`."""
    statements = _statements(schema)
    statement = statements.spans_single if single else statements.spans_of
    state = statement.compile(dialect=dialect).construct_expanded_state(
        {"ids": [str(i) for i in range(count)]}
    )
    positions = tuple(state.positiontup) if state.positiontup is not None else None
    return state.statement, positions, single


def _driver_rows(
    conn: sa.Connection, sql: str, positions: tuple[str, ...] | None, single: bool, ids: Sequence[str]
) -> list[Any]:
    """Run a statement of :func:`_spans_sql` / :func:`_key_values_sql` on the driver's
    cursor with ``ids`` (plain tuples back; one column: its values)."""
    named = {f"ids_{n}": value for n, value in enumerate(ids, 1)}
    parameters: Any = named if positions is None else tuple(named[p] for p in positions)
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, parameters)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return [row[0] for row in rows] if single else list(rows)
