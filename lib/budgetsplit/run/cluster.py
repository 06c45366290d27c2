"""Ray: connect this process to a cluster, or start a local instance, failing fast on a dead address.

    from budgetsplit.run.cluster import connect
    connect("10.0.0.5:6379")     # a running cluster's head (HOST:PORT, or ray://HOST:PORT)
    connect(None)                # a local instance in this process

`ray.init(address=...)` keeps retrying an address where nothing listens for more than a minute,
printing connection warnings, and hangs where another service listens. `connect` first checks the
address (`check_address`): a plain TCP connection (at most `PROBE_TIMEOUT_S`), then a gRPC
handshake, the protocol of Ray's head (GCS) and of its client server (ray://), within
`HANDSHAKE_TIMEOUT_S`. So a wrong host or port, a cluster that is down, or a port where some other
service listens ends in one `ConfigError` naming the address within seconds; an address that
speaks gRPC is then handed to Ray. None, "auto" and "local" are Ray's own lookups and are not
probed. With Ray's TLS on ($RAY_USE_TLS) the handshake needs Ray's certificates and is skipped.
A `--params DIR` folder (config.PARAMS_ENV) travels to the workers in the job's runtime_env.
"""

from __future__ import annotations

import os
import socket

from budgetsplit.config.params import PARAMS_ENV, ConfigError

PROBE_TIMEOUT_S = 10.0
HANDSHAKE_TIMEOUT_S = 10.0
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


_START = "start one with `ray start --head` and pass the address it prints, or omit --address"


def check_address(
    address: str | None,
    timeout_s: float = PROBE_TIMEOUT_S,
    handshake_s: float = HANDSHAKE_TIMEOUT_S,
) -> None:
    """Raise a ConfigError unless a gRPC server (a Ray head or client server) answers at `address`."""
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
            f"no Ray cluster answers there ({reason} within {timeout_s:g} s); {_START}",
        ) from None
    if os.environ.get("RAY_USE_TLS", "0").lower() not in ("0", "false", ""):
        return
    if not _speaks_grpc(target, handshake_s):
        raise ConfigError(
            "--address",
            "address",
            address,
            f"something listens there but it is not Ray (no gRPC handshake within "
            f"{handshake_s:g} s); check the port, or {_START}",
        )


def _speaks_grpc(target: tuple[str, int], timeout_s: float) -> bool:
    import grpc  # installed with ray

    host, port = target
    channel = grpc.insecure_channel(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout_s)
        return True
    except grpc.FutureTimeoutError:
        return False
    finally:
        channel.close()


def connect(address: str | None, **init_kwargs) -> None:
    """`ray.init(address, **init_kwargs)` after `check_address`; the caller shuts Ray down."""
    import ray

    check_address(address)
    if os.environ.get(PARAMS_ENV):
        env = init_kwargs.setdefault("runtime_env", {}).setdefault("env_vars", {})
        env.setdefault(PARAMS_ENV, os.environ[PARAMS_ENV])
    ray.init(address=address or None, **init_kwargs)
