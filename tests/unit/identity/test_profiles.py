from touchpoint.identity.profiles import apply_operation


def test_set_once_keeps_existing_values() -> None:
    change = apply_operation({"a": 1}, "profile_set_once", {"a": 2, "b": 3}, {})
    assert change.writes == {"b": 3}


def test_increment_adds_to_numbers_and_starts_from_zero() -> None:
    change = apply_operation(
        {"n": 2, "s": "x"}, "profile_increment", {"n": 3, "m": 1.5, "s": 1, "bad": "x"}, {}
    )
    assert change.writes == {"n": 5, "m": 1.5, "s": 1}


def test_append_extends_lists_without_repeats() -> None:
    change = apply_operation({"codes": ["600519"]}, "profile_append", {"codes": ["600519", "000001"]}, {})
    assert change.writes == {"codes": ["600519", "000001"]}


def test_unset_and_delete() -> None:
    assert apply_operation({"a": 1}, "profile_unset", {"a": True, "b": False}, {}).removes == {"a"}
    assert apply_operation({"a": 1}, "profile_delete", {}, {}).delete_all


def test_posthog_set_with_set_once() -> None:
    change = apply_operation({"plan": "x"}, "profile_set", {"risk": "C3"}, {"plan": "y", "first_seen": "d"})
    assert change.writes == {"risk": "C3", "first_seen": "d"}
