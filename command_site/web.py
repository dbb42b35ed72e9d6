"""The web process: daphne, with two protections its command line cannot set.

- Request bodies over the limit (command_site.request_limits) are refused with 413 as soon as
  the headers say so (Content-Length) or the streamed body passes it (chunked), before daphne
  buffers them: daphne otherwise reads a whole body into memory before the application sees it.
- Its access log hides secrets in URLs (command_site.log_redaction).

Usage is daphne's own: `python -m command_site.web -b 127.0.0.1 -p 8000 command_site.asgi:application`.
"""

from __future__ import annotations

import daphne.cli

from command_site.log_redaction import RedactedAccessLog
from command_site.request_limits import install_daphne_body_limit


def main() -> None:
    daphne.cli.AccessLogGenerator = RedactedAccessLog
    install_daphne_body_limit()
    daphne.cli.CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
