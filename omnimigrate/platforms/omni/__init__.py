"""Omni Analytics: its API client, object-type handlers, and fake."""
