"""`hooked-audio serve` refuses a port outside 0-65535 while parsing (it used to serve on the
port number modulo 65536), before the model loads."""

from __future__ import annotations

import pytest

from tests.commands.conftest import one_line_error


@pytest.mark.parametrize("port", ["70000", "65536", "-1"])
def test_a_port_out_of_range_is_refused(cli, no_model, port):
    error = one_line_error(cli("serve", "--port", port), "serve")
    assert "argument --port" in error and ("0 to 65535" in error or ">= 0" in error)
