"""Show the library's own code in a notebook, next to the equation it implements.

``show_source(iqlib.neural.iql.value_loss)`` renders the function's source as a code block
(``inspect.getsource``), so the code a reader sees is the code the notebook runs, never a copy.
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["source_of", "show_source"]


def source_of(*objects: Any) -> str:
    """The source text of each function, class or module in ``objects``, joined by blank lines.

    Raises:
      TypeError: if an object has no Python source (a builtin, or a jitted wrapper without
        ``__wrapped__``).
    """
    parts = []
    for obj in objects:
        obj = inspect.unwrap(obj)
        try:
            parts.append(inspect.getsource(obj).rstrip())
        except (OSError, TypeError) as err:
            raise TypeError(f"no Python source for {obj!r}: {err}") from None
    return "\n\n\n".join(parts)


def show_source(*objects: Any) -> str:
    """Display :func:`source_of` ``objects`` as a Python code block in Jupyter; return the text.

    Outside a kernel (IPython missing) the text is printed instead.
    """
    text = source_of(*objects)
    try:
        from IPython.display import Markdown, display  # optional: present only inside a Jupyter kernel
    except ImportError:
        print(text)
        return text
    display(Markdown(f"```python\n{text}\n```"))
    return text
