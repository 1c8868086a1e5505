"""Argument types shared by the command-line front ends (argparse ``type=`` callables)."""

from __future__ import annotations

import argparse

__all__ = ["positive_int", "positive_seconds"]


def positive_int(text: str) -> int:
    """A whole number of at least 1 (a count of frames or files)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def positive_seconds(text: str) -> float:
    """A duration in seconds, more than 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not more than 0 seconds")
    return value
