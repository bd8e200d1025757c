"""How long work reports how far it has got: one callback for every command that draws a progress bar."""

from __future__ import annotations

from collections.abc import Callable

StageProgress = Callable[[str, int, int], None]
"""Called with (stage, done, total) as work advances: a CLI draws one bar per stage, a service logs."""
