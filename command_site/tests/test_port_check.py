"""`make run` checks its port before starting anything (command_site.port_check)."""

import socket

from command_site.port_check import main


def test_a_free_port_passes_and_a_taken_one_is_explained(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main([str(port)]) == 1
        out = capsys.readouterr().out
        assert f"Port {port} is not free on 127.0.0.1" in out and "make run PORT=8001" in out
    assert main([str(port)]) == 0


def test_a_port_that_is_not_a_port_is_refused(capsys):
    for raw in ("abc", "0", "70000", "", "-1"):
        assert main([raw]) == 1
        assert "PORT must be a number from 1 to 65535" in capsys.readouterr().out
