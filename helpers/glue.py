"""Name a value a chapter computed, so the book's text can quote it.

On the website, :func:`glue` is myst-nb's own ``glue``: the text quotes the value with
``{glue:}`name```. In a chapter notebook opened anywhere else (Colab, Binder, a laptop)
myst-nb is usually not installed; then the value is simply shown, or kept quiet when
``display=False``, so every chapter runs top to bottom with the student package alone.
"""

from __future__ import annotations

from typing import Any


def glue(name: str, value: Any, display: bool = True) -> None:
    """Record `value` under `name` for the book's text; show it too unless `display` is False."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            from IPython.display import display as show

            show(value)
        return
    myst_glue(name, value, display=display)
