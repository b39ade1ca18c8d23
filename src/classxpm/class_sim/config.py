"""The Class simulator's settings: credentials, limits, lifetimes, and a switch for each open point.

The reference (``shared/reference/class-api.md`` §8) leaves several behaviours open; each is a switch here,
so the client can be tested against every answer Class might give.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from classxpm.xpm_sim.config import checked_setting

DEFAULT_CLIENT_ID = "classxpm-class-demo"
DEFAULT_CLIENT_SECRET = "classxpm-class-demo-secret"  # noqa: S105 - the documented secret of a local simulator
DEFAULT_USERNAME = "api.user@harbour.example"
DEFAULT_PASSWORD = "class-demo-password"  # noqa: S105 - the documented password of a local simulator
DEFAULT_BUSINESS_CODE = "HARBOURCO"

_CHOICES: dict[str, tuple[Any, ...]] = {"fund_list_shape": ("object", "array")}


@dataclass(frozen=True)
class ClassSimConfig:
    """Everything a run of the Class simulator can be told; PATCH /_sim/config changes it while it runs.

    Attributes:
        client_id: The registered OAuth client.
        client_secret: Its secret (HTTP Basic on the token endpoint).
        username: The one Class user of the password flow (ROPC).
        password: That user's password.
        business_code: The code of the demo business (the demo data's one business).
        minute_limit: Calls per OAuth client per rate window (Class: 500 a minute).
        time_scale: Simulated seconds per real second: a window lasts ``60 / time_scale`` real seconds.
        access_lifetime_seconds: Access tokens' lifetime (Class: 15 minutes).
        fund_list_shape: ``object`` gives ``Data: {FundSummaries, TotalCount}``; ``array`` wraps it in a list.
        mask_tfns: TFNs come back masked (all but the last three digits as ``*``).
        password_refresh: The password flow returns a refresh token (when ``offline_access`` is asked for).
        member_detail_email: member-detail carries ``InvitationDetails.PersistedEmailAddress``.
        fund_detail_addresses: fund-detail carries ``PhysicalAddress`` and ``MailingAddress``.
        export_scope: The scope the reference-data export needs; a token without it gets 401.
    """

    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    username: str = DEFAULT_USERNAME
    password: str = DEFAULT_PASSWORD
    business_code: str = DEFAULT_BUSINESS_CODE
    minute_limit: int = 500
    time_scale: float = 1.0
    access_lifetime_seconds: int = 899
    fund_list_shape: str = "object"
    mask_tfns: bool = False
    password_refresh: bool = True
    member_detail_email: bool = True
    fund_detail_addresses: bool = False
    export_scope: str = "fund.read"

    def patched(self, fields: dict[str, Any]) -> ClassSimConfig:
        """A copy with ``fields`` changed, each checked as the XPM simulator checks its settings.

        Raises:
            ConfigError: A field is unknown, has the wrong type or is not one of its choices.
        """
        current = dataclasses.asdict(self)
        for key, value in fields.items():
            current[key] = checked_setting(key, value, current, _CHOICES)
        return ClassSimConfig(**current)
