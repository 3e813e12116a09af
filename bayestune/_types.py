"""Small types shared across the layers (so that both sides of an arrow can name them)."""

from __future__ import annotations

from typing import Literal

__all__ = ["Direction"]

#: Whether smaller (a loss) or larger (an accuracy) objective values are better.
Direction = Literal["minimize", "maximize"]
