"""`Whole` and `MaybeWhole`: true/false is not a number, and the bounds reach the JSON Schema."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, ValidationError

from touchpoint.core.numbers import MaybeWhole, Whole


class Body(BaseModel):
    count: Whole = Field(default=1, ge=1, le=9)
    days: MaybeWhole = Field(default=None, ge=1, le=9)


@pytest.mark.parametrize("field", ["count", "days"])
@pytest.mark.parametrize("flag", ["true", "false"])
def test_a_flag_is_not_a_whole_number(field: str, flag: str) -> None:
    with pytest.raises(ValidationError, match="a whole number, not true/false"):
        Body.model_validate_json(f'{{"{field}": {flag}}}')


def test_whole_numbers_and_integral_floats_pass_and_null_only_where_allowed() -> None:
    assert Body.model_validate_json('{"count": 3.0, "days": 9}').model_dump() == {"count": 3, "days": 9}
    assert Body.model_validate_json('{"days": null}').days is None
    with pytest.raises(ValidationError):
        Body.model_validate_json('{"count": null}')


def test_the_bounds_are_in_the_json_schema_where_validators_read_them() -> None:
    properties = Body.model_json_schema()["properties"]
    assert (properties["count"]["minimum"], properties["count"]["maximum"]) == (1, 9)
    assert properties["days"]["anyOf"][0] == {"type": "integer", "minimum": 1, "maximum": 9}
