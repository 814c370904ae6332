"""Typed jobs, an asyncio job queue with priorities and retries, and checkpoint ledgers."""
