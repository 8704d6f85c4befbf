"""Tokens kept per server URL in the user's config folder, readable by the user only (0600)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_SERVER = "http://127.0.0.1:8000"


def normalise_server(url: str) -> str:
    """The server URL as credentials are keyed: no trailing slash, a scheme."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = f"http://{url}"
    return url


def config_dir() -> Path:
    """$XDG_CONFIG_HOME/bitimage, else ~/.config/bitimage."""
    base = os.environ.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "bitimage"


class CredentialStore:
    """A JSON file `{"servers": {url: {"token", "email"}}}` written atomically with mode 0600."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "credentials.json"

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"servers": {}}
        except (OSError, ValueError):
            return {"servers": {}}  # unreadable or corrupt: behave as logged out
        if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
            return {"servers": {}}
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".credentials-", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2, sort_keys=True)
                handle.write("\n")
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def get(self, server: str) -> dict[str, str] | None:
        """The saved entry (`token`, `email`) for a server, or None."""
        entry = self._read()["servers"].get(normalise_server(server))
        if isinstance(entry, dict) and isinstance(entry.get("token"), str):
            return {k: str(v) for k, v in entry.items()}
        return None

    def token(self, server: str) -> str | None:
        """The saved token for a server, or None."""
        entry = self.get(server)
        return entry["token"] if entry else None

    def save(self, server: str, token: str, email: str | None = None) -> None:
        """Keep the token of a server (replacing any earlier one)."""
        data = self._read()
        entry = {"token": token, **({"email": email} if email else {})}
        data["servers"][normalise_server(server)] = entry
        self._write(data)

    def remove(self, server: str) -> bool:
        """Forget a server's token; True if there was one."""
        data = self._read()
        if data["servers"].pop(normalise_server(server), None) is None:
            return False
        self._write(data)
        return True
