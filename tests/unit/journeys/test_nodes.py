from unit.journeys.test_runtime import _journey


def test_x() -> None:
    assert _journey("a", [{"id": "x"}])["start"] == "x"
