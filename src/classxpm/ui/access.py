"""Who is asking and what they may do, decided by Airflow's auth manager from Airflow's own JWT.

The signed-in user comes from Airflow's ``get_user`` dependency (the ``_token`` cookie of the UI, or a
Bearer header), exactly as Airflow's REST API reads it. Managing the integration (authorise, unlink) is
allowed to roles that may edit the ``xpm_default`` connection, since the grant is that connection's
credential; re-syncing to those same roles when they may also trigger ``class_xpm_sync``; reading to
roles that may see plugin views.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from classxpm.airflow.connections import XPM_CONN_ID
from classxpm.errors import Fatal

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.base_auth_manager import BaseAuthManager

SYNC_DAG_ID = "class_xpm_sync"
VIEW_NAME = "Class XPM"
TOKEN_COOKIE = "_token"  # noqa: S105 (a cookie name: Airflow's COOKIE_NAME_JWT_TOKEN)
_bearer = HTTPBearer(auto_error=False)


class Refused(Fatal):
    """The user's Airflow role does not allow the action."""

    def __init__(self, action: str) -> None:
        super().__init__(f"Your Airflow role does not allow you to {action}.")


@dataclass(frozen=True)
class Viewer:
    """The signed-in Airflow user and what the pages let them do."""

    name: str
    can_manage: bool
    can_resync: bool
    token: str | None

    def require_manage(self, action: str) -> None:
        """Raise ``Refused`` unless the user may authorise or unlink."""
        if not self.can_manage:
            raise Refused(action)

    def require_resync(self) -> None:
        """Raise ``Refused`` unless the user may trigger the sync."""
        if not self.can_resync:
            raise Refused("re-sync the integration")


async def airflow_user(
    request: Request, bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Any:
    """The user Airflow's API would see for this request (Airflow's own dependency does the work)."""
    from airflow.api_fastapi.core_api.security import get_user

    return await get_user(request, None, bearer)


def auth_manager() -> BaseAuthManager:
    """Airflow's configured auth manager."""
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager()


def viewer(
    request: Request,
    user: Annotated[Any, Depends(airflow_user)],
    manager: Annotated[Any, Depends(auth_manager)],
) -> Viewer:
    """Resolve the user's rights once per request; refuse users who may not see the pages at all."""
    from airflow.api_fastapi.auth.managers.models.resource_details import (
        ConnectionDetails,
        DagAccessEntity,
        DagDetails,
    )

    if not manager.is_authorized_custom_view(method="GET", resource_name=VIEW_NAME, user=user):
        raise HTTPException(status_code=403, detail="Your Airflow role does not allow these pages.")
    connection = ConnectionDetails(conn_id=XPM_CONN_ID)
    can_manage = manager.is_authorized_connection(method="PUT", details=connection, user=user)
    can_run = manager.is_authorized_dag(
        method="POST", access_entity=DagAccessEntity.RUN, details=DagDetails(id=SYNC_DAG_ID), user=user
    )
    return Viewer(user.get_name(), can_manage, can_manage and can_run, _token(request))


def _token(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:]
    return request.cookies.get(TOKEN_COOKIE)


ViewerDep = Annotated[Viewer, Depends(viewer)]
