"""XpmHook: the HTTP provider's hook for the ``xpm_default`` connection, giving a frozen config and a session.

The connection form, the base URL (host, schema and port, read the HTTP provider's way), the extras and
``test_connection`` are the hook's; the requests are sent by the XPM client's own transport (rate governor,
retries, redaction), so XPM has one HTTP stack. The hook only turns the Connection into ``XpmConfig``.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.http.hooks.http import HttpHook

from classxpm.airflow.connections import XPM_CONN_ID
from classxpm.xpm.config import DEFAULT_API_BASE_URL, XpmConfig
from classxpm.xpm.errors import ConfigurationError, Retriable
from classxpm.xpm.session import XpmSession


class XpmHook(HttpHook):
    """Xero Practice Manager: login = client id, password = client secret, host = API base URL.

    Extras (all optional, defaulting to Xero's production values and limits): ``authorize_url``,
    ``token_url``, ``revocation_url``, ``connections_url``, ``redirect_uri``, ``scopes``, ``timeout_seconds``,
    ``attempts``, ``minute_limit``, ``max_in_flight``, ``day_limit``, ``reserve_share``.
    """

    conn_name_attr = "xpm_conn_id"
    default_conn_name = XPM_CONN_ID
    conn_type = "xpm"
    hook_name = "Xero Practice Manager"
    default_host = DEFAULT_API_BASE_URL

    def __init__(self, xpm_conn_id: str = XPM_CONN_ID) -> None:
        super().__init__(method="GET", http_conn_id=xpm_conn_id)
        self.xpm_conn_id = xpm_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel the connection form for an OAuth app registration."""
        return {
            "hidden_fields": ["schema", "port"],
            "relabeling": {"login": "Client ID", "password": "Client secret", "host": "API base URL"},
            "placeholders": {
                "host": DEFAULT_API_BASE_URL,
                "extra": '{"redirect_uri": "http://127.0.0.1:8765/callback", "day_limit": 5000, '
                '"reserve_share": 0.1}',
            },
        }

    def get_config(self) -> XpmConfig:
        """Return the frozen client config of the connection.

        Raises:
            ConfigurationError: The connection lacks credentials, its host is not a full URL, or it holds
                an invalid or unknown setting.
        """
        connection = self.get_connection(self.xpm_conn_id)
        if connection.host and "://" not in connection.host:
            # The HTTP provider would make a bare host plain http: XPM is only ever reached over https.
            raise ConfigurationError(f"the API base URL must be a full https:// URL, not {connection.host!r}")
        base_url = self.url_from_endpoint(None)
        return XpmConfig.from_settings(
            connection.login or "", connection.password or "", base_url, _settings(connection.extra_dejson)
        )

    def get_conn(self, *_args: Any, **_kwargs: Any) -> XpmSession:  # type: ignore[override]
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


def _settings(extras: dict[str, Any]) -> dict[str, Any]:
    """The extras under their own names: the form may store them as ``extra__xpm__<name>``, blank as null."""
    named = {key.removeprefix(f"extra__{XpmHook.conn_type}__"): value for key, value in extras.items()}
    return {key: value for key, value in named.items() if value not in (None, "")}
