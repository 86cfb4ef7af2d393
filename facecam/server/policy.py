"""Who may reach `facecam serve`, decided before anything is loaded: another interface than the
loopback needs a token; the port must be free. No web framework is imported here."""

from __future__ import annotations

import ipaddress
import socket

from ..errors import FacecamError, UsageError
from ..validate import shorten


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        raise UsageError(f"{shorten(host)} is not an IP address or localhost", param="host") from None


def check_listen(host: str, port: int, token: str | None) -> None:
    """Refuse to serve without a token on another interface than the loopback, or on a busy port."""
    if not is_loopback(host) and token is None:
        raise UsageError(f"serving on {host} needs FACECAM_TOKEN set or --token-file (changes to the registry require it)")
    if not 1 <= port <= 65535:
        raise UsageError(f"{port}: must be 1-65535", param="port")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # as uvicorn does: a port left in TIME_WAIT by the last run (a restart) is free, one listened on is not
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            raise FacecamError(f"cannot listen on {url(host, port)[7:]}: {err.strerror}") from None  # without http://


def check_tls(cert, key) -> dict:
    """uvicorn's TLS settings for --tls-cert/--tls-key (both or neither), checked by loading them."""
    import ssl

    if (cert is None) != (key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    if cert is None:
        return {}
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(str(cert), str(key))
    except ssl.SSLError as err:  # before OSError, of which it is one
        raise UsageError(f"--tls-cert {cert} / --tls-key {key}: not a PEM certificate and its key ({err.reason or err})") from None
    except OSError as err:
        raise UsageError(f"--tls-cert/--tls-key: {err.filename or cert}: {err.strerror or err}") from None
    return {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}


def url(host: str, port: int, *, tls: bool = False) -> str:
    """http(s)://host:port, with an IPv6 address in brackets."""
    scheme = "https" if tls else "http"
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
