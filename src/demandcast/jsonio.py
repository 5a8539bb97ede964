"""JSON as every stage writes it: strict (no NaN or Infinity), sorted keys, written atomically.

Python's ``json`` writes ``NaN`` and ``Infinity`` by default, which strict parsers (browsers,
jq, most other languages) reject; an undefined number must be ``null`` with its reason
beside it. Sorted keys and no timestamps keep a report's bytes, and so its DVC hash, the
same for the same inputs. Writing to a temporary file and renaming it means a stage that
fails never leaves half a report behind.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path


def _nonfinite(obj, path: str = "$") -> str | None:
    """The path of the first NaN or infinite number in ``obj``, or None."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return path
    if isinstance(obj, dict):
        for key, value in obj.items():
            found = _nonfinite(value, f"{path}.{key}")
            if found:
                return found
    if isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            found = _nonfinite(value, f"{path}[{i}]")
            if found:
                return found
    return None


def dumps(obj) -> str:
    """Strict JSON text, keys sorted, two-space indent, a final newline."""
    try:
        return json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"
    except ValueError:
        raise ValueError(f"not strict JSON: {_nonfinite(obj)} is NaN or infinite; "
                         "an undefined number must be None with a reason") from None


def write(path, obj) -> Path:
    """Write ``obj`` to ``path`` as :func:`dumps` text, atomically."""
    return write_text(path, dumps(obj))


def write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def loads_strict(text: str):
    """Parse JSON rejecting NaN and Infinity (what a strict parser does)."""
    def refuse(token: str):
        raise ValueError(f"not strict JSON: {token}")

    return json.loads(text, parse_constant=refuse)
