"""What the fake instances of every platform share: checking exchanges against a spec."""
