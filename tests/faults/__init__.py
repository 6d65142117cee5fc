"""Fault tests: the platform under database outages, read-only and full disks, and clients that never read."""
