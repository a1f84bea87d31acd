"""Secret values out of what is published or shown: `scrub` replaces each by [REDACTED] in nested data.

Used by `silo publish` (silo.publish) and the viewer; a module of its own so that the viewer does not
import the datasets library (silo.publish's dependency: about 100 MB of memory and seconds to import).
"""

from __future__ import annotations

import os
import re
from typing import Any

SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH", re.I)
REDACTED = "[REDACTED]"


def secret_values() -> list[str]:
    """Values of secret-looking environment variables and the hub login token (never written anywhere)."""
    found = {v for k, v in os.environ.items() if SECRET_NAME.search(k) and len(v) >= 8}
    try:
        from huggingface_hub import get_token

        tok = get_token()
        if tok:
            found.add(tok)
    except Exception:  # noqa: BLE001 - a broken login file must not stop a publish; nothing to redact then
        pass
    return sorted(found, key=len, reverse=True)


def scrub(x: Any, secrets: list[str]) -> Any:
    """Replace every secret value inside strings of a nested structure."""
    if isinstance(x, str):
        for s in secrets:
            if s in x:
                x = x.replace(s, REDACTED)
        return x
    if isinstance(x, dict):
        return {k: scrub(v, secrets) for k, v in x.items()}
    if isinstance(x, list):
        return [scrub(v, secrets) for v in x]
    return x
