"""One settings object: defaults, then INVSYNC_* environment variables, then explicit overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inventory.errors import ConfigError

ENV_PREFIX = "INVSYNC_"
LOG_FORMATS = ("text", "json")
TASK_ENGINES = ("auto", "procrastinate", "local")
_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no", "")


@dataclass(frozen=True)
class Settings:
    """Where the instance lives and how to reach its database; the master key never prints."""

    home: Path = Path("instance")
    database_url: str = ""
    master_key: str | None = field(default=None, repr=False)
    lever_base_url: str = "https://api.lever.co/v1"
    smtp_url: str | None = None
    log_level: str = "INFO"
    secret_key: str | None = field(default=None, repr=False)
    behind_proxy: str | None = None
    log_format: str = "text"
    metrics_token: str | None = field(default=None, repr=False)
    metrics_public: bool = False
    task_engine: str = "auto"
    retry_stalled: bool = False
    # The address Lever reaches this instance at (https://invsync.example.com), for the webhook
    # URL the hires page shows; without it, the address the admin's browser used.
    public_url: str | None = None

    @property
    def secret_key_file(self) -> Path:
        """The file holding the web app's session-signing key when INVSYNC_SECRET_KEY is not set."""
        return self.home / "web-secret.key"

    @property
    def key_file(self) -> Path:
        """The master key file used when INVSYNC_MASTER_KEY is not set."""
        return self.home / "master.key"

    @property
    def db_url(self) -> str:
        """The database URL, defaulting to a SQLite file inside the instance folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'invsync.db').resolve()}"

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from defaults, then INVSYNC_* variables, then keyword overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name in (
            "home",
            "database_url",
            "master_key",
            "lever_base_url",
            "smtp_url",
            "log_level",
            "secret_key",
            "behind_proxy",
            "log_format",
            "metrics_token",
            "metrics_public",
            "task_engine",
            "retry_stalled",
            "public_url",
        ):
            raw = env.get(ENV_PREFIX + name.upper())
            if raw:
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "home" in values:
            values["home"] = Path(values["home"]).expanduser()
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        if "metrics_public" in values:
            values["metrics_public"] = _flag("metrics_public", values["metrics_public"])
        if "retry_stalled" in values:
            values["retry_stalled"] = _flag("retry_stalled", values["retry_stalled"])
        if "task_engine" in values:
            values["task_engine"] = _task_engine(values["task_engine"])
        if "log_format" in values:
            values["log_format"] = _log_format(values["log_format"])
        return cls(**values)


def _flag(name: str, value: object) -> bool:
    """A yes/no setting: a bool, or 1/true/yes and 0/false/no in any case."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ConfigError(
        f"{ENV_PREFIX}{name.upper()} must be 1, true, yes, 0, false or no, got {value!r}"
    )


def _log_format(value: object) -> str:
    """The log format, checked to be one invsync writes."""
    text = str(value).strip().lower()
    if text not in LOG_FORMATS:
        raise ConfigError(f"{ENV_PREFIX}LOG_FORMAT must be text or json, got {value!r}")
    return text


def _task_engine(value: object) -> str:
    """The task engine: auto (Procrastinate on PostgreSQL, local on SQLite) or one by name."""
    text = str(value).strip().lower()
    if text not in TASK_ENGINES:
        raise ConfigError(
            f"{ENV_PREFIX}TASK_ENGINE must be auto, procrastinate or local, got {value!r}"
        )
    return text
