"""Reading and validating TOML files with one-line errors that name the file and key."""

from __future__ import annotations

from pathlib import Path

import tomllib

from svibench.errors import ConfigError


def read_toml(path: Path) -> dict:
    """Parse a TOML file; a missing file, bad syntax or bad encoding is a ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: malformed TOML ({e})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None


def check_keys(table: dict, allowed: set[str], where: str) -> None:
    """Reject the first key of ``table`` that is not in ``allowed``, listing what is."""
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key '{unknown[0]}' (allowed: {', '.join(sorted(allowed))})"
        )
