from pathlib import Path

import pytest

from touchpoint.config import load_settings


def test_defaults_live_in_the_data_directory(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "h")
    assert settings.home == (tmp_path / "h").resolve()
    assert settings.operational_url == f"sqlite:///{settings.home / 'touchpoint.db'}"
    assert settings.analytical_dir == settings.home / "analytical"
    assert settings.timezone == "Asia/Shanghai"


def test_toml_file_then_environment_then_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / "touchpoint.toml").write_text(
        'port = 9001\ntimezone = "Asia/Hong_Kong"\nextra_holidays = ["2027-02-08"]\n'
    )
    settings = load_settings(home)
    assert (settings.port, settings.timezone) == (9001, "Asia/Hong_Kong")
    assert [d.isoformat() for d in settings.extra_holidays] == ["2027-02-08"]
    monkeypatch.setenv("TOUCHPOINT_PORT", "9002")
    assert load_settings(home).port == 9002
    assert load_settings(home, port=9003).port == 9003


def test_home_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_HOME", str(tmp_path / "envhome"))
    (tmp_path / "envhome").mkdir()
    (tmp_path / "envhome" / "touchpoint.toml").write_text("port = 9100\n")
    settings = load_settings()
    assert settings.home == (tmp_path / "envhome").resolve()
    assert settings.port == 9100
    assert load_settings(tmp_path / "other").home == (tmp_path / "other").resolve()


def test_bad_setting_names_the_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_PORT", "eighty")
    with pytest.raises(ValueError, match="port"):
        load_settings(tmp_path)
