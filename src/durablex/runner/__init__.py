"""The runner process: claiming, leases, timers, concurrency and graceful stop."""

from durablex.runner.runner import Runner

__all__ = ["Runner"]
