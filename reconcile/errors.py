"""Errors a data officer can act on: each names the file and what to do."""

from __future__ import annotations


class InputError(Exception):
    """An input file cannot be used as given. The message names the file and the fix."""


class RunRefused(Exception):
    """The run cannot start (another run holds the output folder, bad parameters)."""
