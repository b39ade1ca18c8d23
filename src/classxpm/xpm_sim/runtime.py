"""The running simulator's parts in one object every route reads: config, store, clock, limits, faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from classxpm.xpm_sim.clock import SimClock
from classxpm.xpm_sim.config import SimConfig
from classxpm.xpm_sim.faults import Faults
from classxpm.xpm_sim.limits import RateLimiter
from classxpm.xpm_sim.seeding import install_defaults, sync_app
from classxpm.xpm_sim.store import Store

CLOCK_OFFSET = "clock_offset_seconds"


class Simulator:
    """Config (replaceable while running), the store, the clock, the rate limiter and the fault rules.

    Args:
        config: The settings it starts with; ``reset`` with ``{"config": "default"}`` returns to them.
        store: Its records; a fresh in-memory store when omitted. A store loaded from a state file keeps
            its records and its clock offset; an empty one gets the default state.
    """

    def __init__(self, config: SimConfig, store: Store | None = None) -> None:
        self.initial_config = config
        self.config = config
        self.store = store or Store()
        self.clock = SimClock(config.time_scale)
        self.limiter = RateLimiter(lambda: self.config, self.clock)
        self.faults = Faults()
        offset = self.store.meta(CLOCK_OFFSET)
        if offset is not None:
            self.clock.set(datetime.now(UTC) + timedelta(seconds=offset))
        if self.store.is_empty:
            install_defaults(self.store, self.config)
        else:
            sync_app(self.store, self.config)

    def now(self) -> datetime:
        """The simulated current time."""
        return self.clock.now()

    def apply_config(self, config: SimConfig) -> None:
        """Switch to new settings; the clock's scale and the registered app follow them."""
        self.config = config
        self.clock.set_scale(config.time_scale)
        sync_app(self.store, config)

    def reset(self, default_config: bool) -> None:
        """Return to the default state: records, call log, limits, faults and clock; config on request."""
        if default_config:
            self.config = self.initial_config
        self.store.clear()
        self.store.clear_calls()
        self.limiter.reset()
        self.faults.clear()
        self.clock.set(datetime.now(UTC))
        self.clock.set_scale(self.config.time_scale)
        install_defaults(self.store, self.config)

    def move_clock(self, moment: datetime) -> datetime:
        """Set the simulated time and remember its offset from real time, so a restart keeps it."""
        moved = self.clock.set(moment)
        self.store.set_meta(CLOCK_OFFSET, (moved - datetime.now(UTC)).total_seconds())
        return moved
