"""XpmHook: turns the ``xpm_default`` connection into a frozen config and an authorised XPM client."""

from __future__ import annotations

from typing import Any

from airflow.sdk.bases.hook import BaseHook

from classxpm.airflow.connections import XPM_CONN_ID, xpm_config_from
from classxpm.xpm.config import DEFAULT_API_BASE_URL, XpmConfig
from classxpm.xpm.errors import ConfigurationError, Retriable
from classxpm.xpm.session import XpmSession


class XpmHook(BaseHook):
    """Xero Practice Manager: login = client id, password = client secret, host = API base URL.

    Extras (all optional, defaulting to Xero's production values): ``authorize_url``, ``token_url``,
    ``revocation_url``, ``connections_url``, ``redirect_uri``, ``scopes``, ``timeout_seconds``, ``attempts``.
    """

    conn_name_attr = "xpm_conn_id"
    default_conn_name = XPM_CONN_ID
    conn_type = "xpm"
    hook_name = "Xero Practice Manager"

    def __init__(self, xpm_conn_id: str = XPM_CONN_ID) -> None:
        super().__init__()
        self.xpm_conn_id = xpm_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel the connection form for an OAuth app registration."""
        return {
            "hidden_fields": ["schema", "port"],
            "relabeling": {"login": "Client ID", "password": "Client secret", "host": "API base URL"},
            "placeholders": {
                "host": DEFAULT_API_BASE_URL,
                "extra": '{"redirect_uri": "http://127.0.0.1:8765/callback"}',
            },
        }

    def get_config(self) -> XpmConfig:
        """Return the frozen client config of the connection."""
        return xpm_config_from(self.get_connection(self.xpm_conn_id))

    def get_conn(self) -> XpmSession:
        """Return an XPM session (HTTP pool and token calls); the caller closes it."""
        return XpmSession(self.get_config())

    def test_connection(self) -> tuple[bool, str]:
        """Check that Xero accepts the client id and secret (a dummy refresh token is refused as expected)."""
        try:
            config = self.get_config()
            with XpmSession(config) as session:
                session.identity.check_client_credentials()
        except ConfigurationError as exc:
            return False, str(exc)
        except Retriable as exc:
            return False, f"Xero could not be reached: {exc}"
        return True, f"Xero accepted the client credentials at {config.token_url}"
