"""Small helpers shared by tests (instead of importing one test module from another)."""

from __future__ import annotations

import urllib.error
import urllib.request


def http_status(url: str, token: str | None = None) -> int:
    """The status of a GET, with a bearer token if given; 0 while nothing answers yet."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, ConnectionError):  # not listening yet, or a guard closing on a server still starting
        return 0
