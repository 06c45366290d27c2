"""Ray: connect this process to a cluster, or start a local instance, failing fast on a dead address.

    from budgetsplit.cluster import connect
    connect("10.0.0.5:6379")     # a running cluster's head (HOST:PORT, or ray://HOST:PORT)
    connect(None)                # a local instance in this process

`ray.init(address=...)` keeps retrying an address where nothing listens for more than a minute,
printing connection warnings. `connect` first opens a plain TCP connection to the address
(`check_address`, at most `PROBE_TIMEOUT_S`), so a wrong host or port, or a cluster that is down,
ends in one `ConfigError` naming the address within seconds; an address that answers is then
handed to Ray. None, "auto" and "local" are Ray's own lookups and are not probed.
A `--params DIR` folder (config.PARAMS_ENV) travels to the workers in the job's runtime_env.
"""

from __future__ import annotations

import os
import socket

from budgetsplit.config import PARAMS_ENV, ConfigError

PROBE_TIMEOUT_S = 10.0
_RAY_LOOKUPS = (None, "", "auto", "local")


def parse_address(address: str | None) -> tuple[str, int] | None:
    """(host, port) to probe for a Ray address; None for Ray's own lookups (local, auto)."""
    if address in _RAY_LOOKUPS:
        return None
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            "--address", "address", address, "expected HOST:PORT or ray://HOST:PORT (or auto)"
        )
    return host.strip("[]"), int(port)  # [::1]:6379 -> ::1


def check_address(address: str | None, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Raise a ConfigError unless something accepts TCP connections at `address`."""
    target = parse_address(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=timeout_s):
            pass
    except OSError as e:  # refused, unreachable, unknown host, or no answer within timeout_s
        reason = "no answer" if isinstance(e, TimeoutError) else e.strerror or type(e).__name__
        raise ConfigError(
            "--address",
            "address",
            address,
            f"no Ray cluster answers there ({reason} within {timeout_s:g} s); start one with "
            "`ray start --head` and pass the address it prints, or omit --address for a local one",
        ) from None


def connect(address: str | None, **init_kwargs) -> None:
    """`ray.init(address, **init_kwargs)` after `check_address`; the caller shuts Ray down."""
    import ray

    check_address(address)
    if os.environ.get(PARAMS_ENV):
        env = init_kwargs.setdefault("runtime_env", {}).setdefault("env_vars", {})
        env.setdefault(PARAMS_ENV, os.environ[PARAMS_ENV])
    ray.init(address=address or None, **init_kwargs)
