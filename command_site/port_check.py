"""`make run` asks this first: is the port a port, and is it free on 127.0.0.1?

    python -m command_site.port_check 8000     # exit 0, or 1 with a sentence saying what to do
"""

from __future__ import annotations

import socket
import sys


def main(argv: list[str]) -> int:
    raw = argv[0] if argv else ""
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        print(f"PORT must be a number from 1 to 65535, not {raw!r}. For example: make run PORT=8001")
        return 1
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", int(raw)))
        except OSError as exc:
            print(f"Port {raw} is not free on 127.0.0.1 ({exc.strerror}): another Command, or another server.")
            print("Stop it, or start Command on another port: make run PORT=8001")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
