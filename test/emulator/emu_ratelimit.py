"""Token-bucket rate limiting like Neon's (700 requests/min per account, bursts of 40/s per route).

Two buckets are checked for every /api/v2 request:
  * the account bucket, key = account: refills at rpm/60 tokens per second, holds at most burst tokens;
  * the route bucket, key = (account, route template): refills at burst tokens per second, holds at most
    burst tokens (some routes have their own rate, see DEFAULT_ROUTE_LIMITS / set_route_limit).
A request passes only if both buckets hold a token; then one token is taken from each. A refused request
takes nothing. A rate (rpm or burst) of 0 or less disables limiting. Buckets start full.
"""

import time

# Route templates (as emu_routes.route_template names them) with their own per-route rate (tokens per second,
# capacity), from the Neon docs:
#   POST /organizations/{org_id}/api_keys is limited to 10 requests/s;
#   the consumption endpoints to about 30 requests/minute per account, refilling continuously.
DEFAULT_ROUTE_LIMITS = {
    "POST /organizations/{org_id}/api_keys": (10.0, 10.0),
    "GET /consumption_history/v2/projects": (0.5, 30.0),
}


class RateLimiter:
    __slots__ = ("rpm", "burst", "_acct_rate", "_acct_cap", "_route_rate", "_route_cap",
                 "_accounts", "_routes", "route_limits", "clock")

    def __init__(self, rpm=700, burst=40, route_limits=None, clock=time.monotonic):
        self.clock = clock
        self.route_limits = dict(DEFAULT_ROUTE_LIMITS if route_limits is None else route_limits)
        self._accounts = {}
        self._routes = {}
        self.configure(rpm, burst)

    def configure(self, rpm=None, burst=None):
        """Change the rates; existing buckets keep their tokens (capped to the new capacity)."""
        if rpm is not None:
            self.rpm = float(rpm)
        if burst is not None:
            self.burst = float(burst)
        self._acct_rate = self.rpm / 60.0
        self._acct_cap = self.burst
        self._route_rate = self.burst
        self._route_cap = self.burst
        for b in self._accounts.values():
            if b[0] > self._acct_cap:
                b[0] = self._acct_cap
        for key, b in self._routes.items():
            cap = self.route_limits.get(key[1], (None, self._route_cap))[1]
            if b[0] > cap:
                b[0] = cap

    def set_route_limit(self, route, per_second, capacity=None):
        if per_second is None:
            self.route_limits.pop(route, None)
        else:
            self.route_limits[route] = (float(per_second), float(per_second if capacity is None else capacity))

    @property
    def enabled(self):
        return self.rpm > 0 and self.burst > 0

    def reset(self):
        self._accounts.clear()
        self._routes.clear()

    def allow(self, account, route):
        """Take a token from the account bucket and the (account, route) bucket; False if either is empty."""
        if self.rpm <= 0 or self.burst <= 0:
            return True
        now = self.clock()
        # account bucket
        ab = self._accounts.get(account)
        if ab is None:
            ab = self._accounts[account] = [self._acct_cap, now]
        else:
            t = ab[0] + (now - ab[1]) * self._acct_rate
            ab[0] = t if t < self._acct_cap else self._acct_cap
            ab[1] = now
        # route bucket
        key = (account, route)
        rb = self._routes.get(key)
        special = self.route_limits.get(route) if self.route_limits else None
        if special is None:
            rate, cap = self._route_rate, self._route_cap
        else:
            rate, cap = special
        if rb is None:
            rb = self._routes[key] = [cap, now]
        else:
            t = rb[0] + (now - rb[1]) * rate
            rb[0] = t if t < cap else cap
            rb[1] = now
        if ab[0] < 1.0 or rb[0] < 1.0:
            return False
        ab[0] -= 1.0
        rb[0] -= 1.0
        return True

    def snapshot(self):
        return {"rate_limit_rpm": _clean(self.rpm), "burst_rps": _clean(self.burst),
                "route_limits": {k: {"per_second": _clean(v[0]), "capacity": _clean(v[1])}
                                 for k, v in self.route_limits.items()}}


def _clean(v):
    """1.0 -> 1 for display; other values unchanged."""
    return int(v) if isinstance(v, float) and v.is_integer() else v
