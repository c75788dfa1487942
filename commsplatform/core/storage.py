"""Static files storage: whitenoise's compressed manifest storage, leaving in-document references alone."""

import re
from collections.abc import Callable
from typing import Any

from whitenoise.storage import CompressedManifestStaticFilesStorage  # type: ignore[import-untyped]


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Hashed, compressed static files, as whitenoise's storage, except for `url(%23…)` in stylesheets.

    An inline SVG in a data URL (Leaflet-Geoman's toolbar icons) refers to its own elements with `url(%23id)`, the
    encoded `url(#id)`. Django's manifest storage skips `#id` but not its encoded form, and rewrites it into
    `url("#id#id")`, which blanks the icons.
    """

    def url_converter(
        self, name: str, hashed_files: Any, template: str | None = None
    ) -> Callable[[re.Match[str]], str]:
        convert = super().url_converter(name, hashed_files, template)

        def converter(match: re.Match[str]) -> str:
            groups = match.groupdict()
            if groups.get("url", "").startswith("%23"):
                return groups["matched"]
            return convert(match)

        return converter
