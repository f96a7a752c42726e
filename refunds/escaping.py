"""`escape(value)`: Django's `conditional_escape` for the pages that write HTML in Python.

The same result — a safe string (anything with `__html__`) as it is, anything else through
the standard library's `html.escape`, which is what `django.utils.html.escape` calls — without
the lazy-text wrapper and the `SafeString` made for every value. The queue writes ~250 values
per page (templatetags/queue_tags.py, lean_forms.py); `format_html` there was ~2.5 ms of it.
It returns a plain `str`: mark the finished markup safe once.
"""

from __future__ import annotations

import html


def escape(value) -> str:
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))
