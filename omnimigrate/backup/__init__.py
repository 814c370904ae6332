"""Backup: walk an instance with typed jobs and commit a snapshot."""
