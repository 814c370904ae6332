"""What the fake instances of every platform share: the request pipeline around their routes,
the spec they are checked against, serving on loopback, and their policies (limits, faults,
the request log). Nothing here imports a platform."""
