"""The platform-agnostic engine: backup jobs and checkpoints, plans, the apply loop with
its ledger, and the verify report. It knows no platform: each lives in `omnimigrate.platforms`."""
