"""URL converters shared by every app.

`<id:…>` is a database id: 1 to 18 digits, so it always fits a 64-bit integer column. Django's
`<int:…>` matches any length, and a 20-digit id made SQLite raise OverflowError (a 500) where
the answer is simply "not found".
"""

from __future__ import annotations


class DatabaseIdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(int(value))
