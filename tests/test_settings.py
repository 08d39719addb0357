"""Settings: bad values stop start-up with one line naming the setting."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from domain.cases.capture_gate import LocationMode
from fieldops import settings as settings_module
from fieldops.bootstrap import bootstrap
from fieldops.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FIELDOPS_WEB_PORT", "eighty"),
        ("FIELDOPS_WEB_PORT", "70000"),
        ("FIELDOPS_BUSINESS_TIMEZONE", "Mars/Olympus"),
        ("FIELDOPS_DEFAULT_LOCALE", "fr"),
        ("FIELDOPS_DATABASE_URL", "mysql://x"),
        ("FIELDOPS_SESSION_IDLE_MINUTES", "0"),
    ],
)
def test_bad_value_names_the_setting(monkeypatch: pytest.MonkeyPatch, variable: str,
                                     value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as bad:
        load_settings()
    assert str(bad.value).startswith(f"{variable}:")
    assert "\n" not in str(bad.value)


def test_webhook_needs_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDOPS_WEBHOOK_URL", "https://ops.example.com/telegram/webhook")
    with pytest.raises(SettingsError, match="FIELDOPS_WEBHOOK_SECRET"):
        load_settings()


def test_secret_key_is_generated_once_and_kept(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setattr(settings_module, "VAR_DIR", tmp_path / "var")
    monkeypatch.delenv("FIELDOPS_SECRET_KEY", raising=False)
    first = load_settings().secret_key
    assert len(first) >= 40
    assert load_settings().secret_key == first
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o077 == 0


def test_admin_and_chat_get_the_capture_settings(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setattr(settings_module, "VAR_DIR", tmp_path / "var")
    for name, value in (("WORKING_DAYS", "1,2,3,4,5,6"), ("WORKING_HOURS", "09:00-18:00"),
                        ("LOCATION_MODE", "required"), ("PHOTO_MAX_MB", "5"),
                        ("MEDIA_ROOT", str(tmp_path / "media")),
                        ("BOX_COUNT_MAX_AGE_HOURS", "12")):
        monkeypatch.setenv(f"FIELDOPS_{name}", value)
    settings = load_settings()
    config = bootstrap(settings).admin
    assert config.capture is not None and config.box_count_max_age_hours == 12
    capture = config.capture
    assert (capture.hours.weekdays, capture.hours.start, capture.hours.end) == (
        frozenset(range(6)), time(9, 0), time(18, 0))
    assert capture.location_mode == LocationMode.REQUIRED
    assert capture.photo_limits.max_bytes == 5 * 1024 * 1024
    assert capture.media.root == tmp_path / "media"
    assert capture.cipher.decrypt(capture.cipher.encrypt("11010519491231002X")) == (
        "11010519491231002X")
    assert (tmp_path / "var" / "data_key").read_text() != settings.secret_key


def test_working_hours_must_be_a_real_opening_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDOPS_WORKING_HOURS", "18:00-09:00")
    with pytest.raises(SettingsError, match="FIELDOPS_WORKING_HOURS"):
        load_settings()
