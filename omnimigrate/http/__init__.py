"""HTTP plumbing every platform client shares: one attempt (transport), the rate limiter,
retries, and the error types."""
