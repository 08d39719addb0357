"""Settings: bad values stop start-up with one line naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldops import settings as settings_module
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
