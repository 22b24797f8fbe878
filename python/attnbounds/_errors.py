"""Exceptions raised by attnbounds: each names the field, the value given and what is allowed.

They mirror the library's one error type (the CLI prints the same message): ``str(err)`` is the
CLI's message; ``err.field``, ``err.value``, ``err.allowed`` are its parts; ``err.kind`` says
which kind of error it is.
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "AttnboundsError",
    "InvalidValueError",
    "ShapeMismatchError",
    "FileError",
    "ParseError",
    "TooLargeError",
    "ViolationError",
]


class _ErrorParts(Exception):
    """The parts every attnbounds exception carries (one ``__init__`` for both roots below)."""

    def __init__(
        self,
        message: str,
        kind: str,
        field: Optional[str],
        value: Optional[str],
        allowed: Optional[str],
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.field = field
        self.value = value
        self.allowed = allowed


class AttnboundsError(_ErrorParts, ValueError):
    """Bad input: ``field`` (what was wrong), ``value`` (what was given), ``allowed``."""


class InvalidValueError(AttnboundsError):
    """A value outside its domain, e.g. ``delta = 1.5`` (allowed: in (0, 1))."""


class ShapeMismatchError(AttnboundsError):
    """Two shapes that must agree do not: ``value`` is the shape found, ``allowed`` the one expected."""


class FileError(AttnboundsError):
    """A file could not be read: ``field`` is its path, ``allowed`` the operating system's reason."""


class ParseError(AttnboundsError):
    """A file was read but not understood: ``field`` names it, ``allowed`` says why."""


class TooLargeError(AttnboundsError):
    """An input whose memory or work estimate exceeds a limit (docs/limits.md)."""


class ViolationError(_ErrorParts, RuntimeError):
    """A numerical check found a lower estimate above a rigorous upper bound: a finding, never
    an input error. ``field`` names the claim and ``value`` the detail."""
