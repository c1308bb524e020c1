"""A WinRM session that runs our PowerShell scripts on a Windows host and returns their JSON output."""

from __future__ import annotations

import logging
from typing import Any

import requests
import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMError, WinRMOperationTimeoutError, WinRMTransportError

from providers.hyperv.powershell import parse_json
from providers.types import ProviderError

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 600


class WinRMClient:
    """PowerShell over WS-Management (pywinrm), one short-lived shell per script.

    Args:
        host: the Windows host (Hyper-V host or VMM server).
        port: its WinRM listener port (5986 for HTTPS, 5985 for HTTP).
        username: ``user``, ``DOMAIN\\user`` or ``user@REALM``.
        password: never logged nor put in an error message.
        transport: ``ntlm``, ``kerberos``, ``credssp`` or ``basic`` (pywinrm's names).
        scheme: ``https`` (default) or ``http`` (where pywinrm encrypts NTLM/Kerberos/CredSSP messages).
        allow_untrusted: accept a certificate that does not verify.
        timeout: seconds one WinRM operation may take.
    """

    def __init__(
        self, host: str, port: int, username: str, password: str, *, transport: str = "ntlm",
        scheme: str = "https", allow_untrusted: bool = False, timeout: int = 60,
    ) -> None:
        self.host = host
        self.endpoint = f"{scheme}://{_url_host(host)}:{port}/wsman"
        self._session = winrm.Session(
            self.endpoint, auth=(username, password), transport=transport,
            server_cert_validation="ignore" if allow_untrusted else "validate",
            operation_timeout_sec=timeout, read_timeout_sec=timeout + 10,
        )

    def run(self, script: str, what: str) -> str:
        """Run ``script``; its standard output. A failing script raises ``ProviderError`` with its error text."""
        try:
            result = self._session.run_ps(script)
        except InvalidCredentialsError:
            raise ProviderError(f"{what}: {self.endpoint} rejected the credentials (check user name, password "
                                "and transport)") from None
        except requests.exceptions.SSLError as exc:
            raise ProviderError(f"{what}: TLS with {self.endpoint} failed ({_short(exc)}); set allow_untrusted "
                                "for a self-signed certificate") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise ProviderError(f"{what}: cannot reach WinRM at {self.endpoint} ({_short(exc)})") from None
        except (WinRMTransportError, WinRMOperationTimeoutError, WinRMError) as exc:
            raise ProviderError(f"{what}: WinRM error from {self.endpoint}: {_short(exc)}") from None
        out = result.std_out.decode("utf-8", "replace")
        if result.status_code != 0:
            err = result.std_err.decode("utf-8", "replace").strip() or out.strip()
            raise ProviderError(f"{what} failed on {self.host}: {err[:MAX_ERROR_CHARS]}")
        return out

    def run_json(self, script: str, what: str) -> list[dict[str, Any]]:
        """Run a script ending in ``ConvertTo-Json``; its objects as a list."""
        return parse_json(self.run(script, what), what)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "..."
