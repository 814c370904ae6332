"""Service mode: events, queues, the `serve` worker, metrics."""
