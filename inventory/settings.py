"""One settings object: defaults, then INVSYNC_* environment variables, then explicit overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inventory.errors import ConfigError

ENV_PREFIX = "INVSYNC_"


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
        return cls(**values)
