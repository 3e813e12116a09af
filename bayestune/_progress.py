"""Progress bars where a person waits: on in a terminal or a notebook, off in scripts.

``progress="auto"`` shows a bar when standard error is a terminal or the code runs in a
Jupyter kernel, and nothing otherwise (a script's log stays clean); True and False force
it on or off.
"""

from __future__ import annotations

import sys
from typing import Any, Literal

from bayestune.exceptions import InvalidValueError

__all__ = ["Progress", "interactive", "progress_enabled", "new_bar"]

#: ``"auto"`` (a terminal or a notebook), True (always) or False (never).
Progress = bool | Literal["auto"]


def interactive() -> bool:
    """True when a person is likely watching: stderr is a terminal, or a Jupyter kernel
    runs the code."""
    try:
        if sys.stderr is not None and sys.stderr.isatty():
            return True
    except (AttributeError, ValueError):  # a replaced or closed stream
        pass
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001  (a stripped-down IPython)
        return False
    return shell is not None and hasattr(shell, "kernel")


def progress_enabled(progress: Any, name: str = "progress") -> bool:
    """Resolve a :data:`Progress` option.

    Raises:
        InvalidValueError: for anything but ``"auto"``, True or False.
    """
    if progress == "auto" and isinstance(progress, str):
        return interactive()
    if isinstance(progress, bool):
        return progress
    raise InvalidValueError(f"{name} must be 'auto', True or False, got {name}={progress!r}")


def new_bar(total: int | None, desc: str, unit: str, *, leave: bool = True) -> Any:
    """A tqdm bar on stderr (a notebook widget in Jupyter where ipywidgets is installed;
    tqdm's text bar otherwise, which notebooks show too)."""
    bar_class: Any = None
    if "ipykernel" in sys.modules:
        try:
            import ipywidgets  # noqa: F401, PLC0415
            from tqdm.notebook import tqdm as bar_class  # noqa: PLC0415
        except ImportError:
            bar_class = None
    if bar_class is None:
        from tqdm import tqdm as bar_class  # noqa: PLC0415
    return bar_class(total=total, desc=desc, unit=unit, leave=leave, dynamic_ncols=True)
