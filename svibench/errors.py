"""The one exception type that the CLI turns into a one-line message and exit code 2."""

from __future__ import annotations


class SvibenchError(Exception):
    """A problem with the user's input or environment (not a bug).

    The message must say what is wrong and where (file, key, case, clip), in one line.
    The CLI prints it without a traceback and exits with code 2.
    """


class ConfigError(SvibenchError):
    """Malformed or invalid TOML / CLI values."""


class GeneratorOutputError(SvibenchError):
    """A generator returned frames of the wrong shape, dtype or with NaN/inf values."""


class MissingWeightsError(SvibenchError):
    """A model file is not on disk; the message says which one and how to get it."""
