"""Incidents, acknowledgement, escalation policies and on-call schedules: the pure core.

Everything here is plain data and functions over an injected ``now`` (float epoch seconds).
Nothing performs I/O: the manager returns the actions to perform (notify someone, arm a timer)
and its whole state serialises to JSON-able dicts so that the shell can store it durably.
"""
