"""The nameko/eventlet edge: dependency providers and the process launcher.

Only service entrypoint modules (`service.py`) and the launcher import from here; domain rules
never do.
"""
