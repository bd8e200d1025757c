"""Event properties by name (事件属性): an event's properties are stored as one JSON object, and a property is
addressed by its exact key — `$os`, `fund.type`, `a/b`, `x"y`, `中文` — never read as a JSON path.

The key reaches the engine as a JSON Pointer (RFC 6901: `/` then the key with `~` written `~0` and `/`
written `~1`), which names one member of the object whatever characters its key holds. The pointer travels as
data — a one-row table read by a scalar subquery — so no property name ever becomes SQL text.

A value is compared with the property's values of the same JSON type: a number with numbers, text with text,
true/false with booleans; a property missing, null or of another type does not match (except `not_in`, which
matches any present value outside the list, and `exists: false`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa
from ibis.expr.types import BooleanValue, JSONValue, Table, Value

Kind = Literal["float64", "string", "boolean"]


@ibis.udf.scalar.builtin(name="json_extract")  # type: ignore[untyped-decorator]
def _json_member(document: dt.JSON, pointer: str) -> dt.JSON:
    """DuckDB's json_extract: the member a JSON Pointer names (NULL when absent or JSON null)."""


@ibis.udf.scalar.builtin(name="json_type")  # type: ignore[untyped-decorator]
def _json_type(value: dt.JSON) -> str:  # type: ignore[empty-body]
    """DuckDB's json_type: NULL, BOOLEAN, BIGINT, UBIGINT, DOUBLE, VARCHAR, ARRAY or OBJECT."""


@ibis.udf.scalar.builtin(name="json_extract_string")  # type: ignore[untyped-decorator]
def _json_text(value: dt.JSON, path: str) -> str:  # type: ignore[empty-body]
    """DuckDB's json_extract_string: a string member unquoted, any other value as its JSON text."""


# Spark has no JSON Pointer: the properties are parsed into a map of VARIANT values, and the member is
# looked up by its key, which still travels as data. A variant's type names its JSON type.
SPARK_MEMBERS = "map<string,variant>"


@ibis.udf.scalar.builtin(name="from_json")  # type: ignore[untyped-decorator]
def _spark_members(document: str, schema: str) -> dt.JSON:
    """Spark's from_json into `SPARK_MEMBERS` (NULL when the text is not a JSON object)."""


@ibis.udf.scalar.builtin(name="element_at")  # type: ignore[untyped-decorator]
def _spark_member(members: dt.JSON, key: str) -> dt.JSON:
    """Spark's element_at: the member whose key is exactly `key` (NULL when absent)."""


@ibis.udf.scalar.builtin(name="schema_of_variant")  # type: ignore[untyped-decorator]
def _spark_type(value: dt.JSON) -> str:  # type: ignore[empty-body]
    """Spark's schema_of_variant: VOID (JSON null), BOOLEAN, BIGINT, DECIMAL(p,s), DOUBLE, STRING…"""


@ibis.udf.scalar.builtin(name="try_variant_get")  # type: ignore[untyped-decorator]
def _spark_float(value: dt.JSON, path: str, kind: str) -> float:  # type: ignore[empty-body]
    """Spark's try_variant_get of the whole value (path `$`) as a double."""


@ibis.udf.scalar.builtin(name="try_variant_get")  # type: ignore[untyped-decorator]
def _spark_string(value: dt.JSON, path: str, kind: str) -> str:  # type: ignore[empty-body]
    """Spark's try_variant_get of the whole value (path `$`) as a string."""


@ibis.udf.scalar.builtin(name="try_variant_get")  # type: ignore[untyped-decorator]
def _spark_boolean(value: dt.JSON, path: str, kind: str) -> bool:  # type: ignore[empty-body]
    """Spark's try_variant_get of the whole value (path `$`) as a boolean."""


def json_pointer(name: str) -> str:
    """The RFC 6901 pointer to the top-level member named exactly `name`."""
    return "/" + name.replace("~", "~0").replace("/", "~1")


def _on_spark(table: Table) -> bool:
    return bool(ibis.get_backend(table).name == "pyspark")


def _as_data(value: str) -> Value:
    """A string as a one-row table's scalar subquery: it reaches the engine as data, never as SQL text."""
    one = ibis.memtable(pa.table({"value": pa.array([value], pa.string())}))
    scalar: Value = one.value.as_scalar()
    return scalar


def property_json(table: Table, name: str) -> JSONValue:
    """The JSON value of the event property named exactly `name` (NULL when the event lacks it; JSON null
    when it holds null). On Spark, a VARIANT (read it with `property_value` and `property_present`)."""
    if _on_spark(table):
        members = _spark_members(table.properties, SPARK_MEMBERS)
        variant: JSONValue = _spark_member(members, _as_data(name))
        return variant
    member: JSONValue = _json_member(table.properties.cast("json"), _as_data(json_pointer(name)))
    return member


def property_value(table: Table, name: str, kind: Kind) -> Value:
    """The property as a number, text or boolean; NULL when missing or of another JSON type."""
    member = property_json(table, name)
    if not _on_spark(table):
        value: Value = member.unwrap_as(kind)
        return value
    spark_type = _spark_type(member)
    if kind == "float64":
        number = spark_type.isin(["BIGINT", "DOUBLE"]) | spark_type.startswith("DECIMAL")
        return number.ifelse(_spark_float(member, "$", "double"), ibis.null("float64"))
    if kind == "string":
        return (spark_type == "STRING").ifelse(_spark_string(member, "$", "string"), ibis.null("string"))
    return (spark_type == "BOOLEAN").ifelse(_spark_boolean(member, "$", "boolean"), ibis.null("boolean"))


def property_text(table: Table, name: str) -> Value:
    """The property's scalar value as text, whatever its JSON type: a string as itself, an integer as its
    digits, another number as a decimal (`2.5`), a boolean as `true`/`false`; NULL when
    missing, null, an array or an object. What distinct counts, first, last and value keep: a fund code
    sent as the number 110011 is the code "110011"."""
    member = property_json(table, name)
    if _on_spark(table):
        spark_type = _spark_type(member)
        as_string = _spark_string(member, "$", "string")
        number = (spark_type == "DOUBLE") | spark_type.startswith("DECIMAL")
        return ibis.cases(
            (spark_type.isin(["STRING", "BIGINT", "BOOLEAN"]), as_string),
            (number, _spark_float(member, "$", "double").cast("string")),
            else_=ibis.null("string"),
        )
    scalar = _json_type(member).isin(["VARCHAR", "BIGINT", "UBIGINT", "DOUBLE", "BOOLEAN"])
    text: Value = scalar.ifelse(_json_text(member, "$"), ibis.null("string"))
    return text


def property_present(table: Table, name: str) -> BooleanValue:
    """Whether each event has the property with a value other than null."""
    member = property_json(table, name)
    kind = _spark_type(member) if _on_spark(table) else _json_type(member)
    present: BooleanValue = (kind != ("VOID" if _on_spark(table) else "NULL")).fill_null(False)
    return present


def kind_of(value: object) -> Kind:
    """The JSON type a filter value is compared with."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "float64"
    return "string"


def property_matches(table: Table, name: str, op: str, value: Any) -> BooleanValue:
    """Whether each event's property `name` passes `op value` (see the module docstring)."""
    if op == "exists":
        present = property_present(table, name)
        return present if value in (None, True) else ~present
    if op in ("in", "not_in"):
        return _membership(table, name, op == "not_in", list(value))
    if value is None:  # `= null`: missing or null; `!= null`: present
        present = property_present(table, name)
        return present if op == "!=" else ~present
    target = property_value(table, name, kind_of(value))
    return _compare(target, op, float(value) if kind_of(value) == "float64" else value)


def _membership(table: Table, name: str, negate: bool, values: Sequence[Any]) -> BooleanValue:
    """`in`: the property equals one of `values` (each compared within its JSON type); `not_in`: the property
    is present and equals none of them."""
    by_kind: dict[Kind, list[Any]] = {}
    for item in values:
        if item is not None:
            by_kind.setdefault(kind_of(item), []).append(float(item) if kind_of(item) == "float64" else item)
    found: BooleanValue = ibis.literal(False)
    for kind, members in by_kind.items():
        found |= property_value(table, name, kind).isin(members).fill_null(False)
    if not negate:
        return found
    return property_present(table, name) & ~found


def _compare(target: Value, op: str, value: Any) -> BooleanValue:
    comparisons: dict[str, Any] = {
        "=": lambda: target == value,
        "!=": lambda: target != value,
        ">": lambda: target > value,
        ">=": lambda: target >= value,
        "<": lambda: target < value,
        "<=": lambda: target <= value,
    }
    if op not in comparisons:
        raise ValueError(f"operator {op!r} is not one of =, !=, >, >=, <, <=, in, not_in, exists")
    result: BooleanValue = comparisons[op]()
    return result
