"""Which interfaces are safe to serve on without credentials."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine only ('localhost', 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_credentials(
    host: str, service: str, credential: object, missing: str, remedy: str, no_auth: bool
) -> None:
    """Raise ValueError when `service` would be open to the network without `credential`.

    Args:
        host: Interface to bind.
        service: What is served, for the message ('the chat page').
        credential: The password or token; falsy when none is set.
        missing: What is missing, for the message ('auth').
        remedy: How to set it ('Pass auth=(user, password)').
        no_auth: The caller accepts an open service.
    """
    if not is_loopback(host) and not credential and not no_auth:
        raise ValueError(
            f"refusing to serve {service} on {host} without {missing}: anyone on the network "
            f"could use it. {remedy}, bind 127.0.0.1, or pass no_auth=True if you mean it."
        )


def check_page_host(host: str, auth: object, no_auth: bool) -> None:
    """Raise ValueError for the chat page on a non-loopback host without auth, unless
    `no_auth` is set (here, not in the UI module, so checking needs no Gradio import)."""
    require_credentials(host, "the chat page", auth, "auth", "Pass auth=(user, password)", no_auth)
