"""Restore: read the target, map ids by natural keys, plan, then apply with a ledger."""
