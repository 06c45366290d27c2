"""Ray connection: a dead address is one clear error within seconds, not minutes of retries."""

import time

import pytest

from budgetsplit.cli import main
from budgetsplit.config.params import ConfigError, load_params
from budgetsplit.run import grid
from budgetsplit.run.cluster import check_address, parse_address


@pytest.mark.parametrize(
    "address, want",
    [
        (None, None),
        ("auto", None),
        ("local", None),
        ("10.0.0.5:6379", ("10.0.0.5", 6379)),
        ("ray://head:10001", ("head", 10001)),
        ("[::1]:6379", ("::1", 6379)),
    ],
)
def test_parse_address(address, want):
    assert parse_address(address) == want


@pytest.mark.parametrize("address", ["head", "head:", ":6379", "head:port", "head:70000"])
def test_malformed_address_is_named(address):
    with pytest.raises(ConfigError, match=rf"key 'address' = '{address}': expected HOST:PORT"):
        parse_address(address)


def test_an_address_where_nothing_or_something_else_listens_fails_within_seconds():
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # the gRPC probe's requests are refused: no need to print
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    t0 = time.monotonic()
    try:  # a plain HTTP server answers TCP but is not Ray: Ray's own client would hang on it
        with pytest.raises(ConfigError, match=rf"'127.0.0.1:{port}': something listens there but"):
            check_address(f"127.0.0.1:{port}", handshake_s=3)
    finally:
        server.shutdown()
        server.server_close()
    assert time.monotonic() - t0 < 60
    # The server is closed: nothing listens on that port any more.
    with pytest.raises(ConfigError, match=rf"'127.0.0.1:{port}': no Ray cluster answers there"):
        check_address(f"127.0.0.1:{port}")


def test_ray_executor_on_a_dead_address_fails_fast(tmp_path, capsys):
    params = load_params("smoke", "math", overrides={"output_dir": str(tmp_path)})
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match="no Ray cluster answers there"):
        grid.run_grid(params, executor="ray", address="127.0.0.1:1", progress=False)
    args = [
        "grid",
        "--profile",
        "smoke",
        "--task",
        "math",
        "--executor",
        "ray",
        "--address",
        "127.0.0.1:1",
        "--set",
        f"output_dir={tmp_path}",
    ]
    assert main(args) == 2
    assert time.monotonic() - t0 < 60  # Ray's own retries took over 90 s
    err = capsys.readouterr().err
    assert err.startswith("error: --address: key 'address' = '127.0.0.1:1': no Ray cluster")
    assert not list(tmp_path.iterdir())  # nothing was trained or written
