"""Clients for one Omni instance, one per API key, sharing a connection pool; each key has its
own rate limiter, since Omni's limit is per key."""

from __future__ import annotations

from functools import partial

from omnimigrate.http.client import pool_of
from omnimigrate.platforms.omni.client import OmniClient

client_pool = partial(pool_of, OmniClient)
