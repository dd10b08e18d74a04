"""The enrollment use cases: plain Python over a store (store.py), the rules and a clock.

Nothing here imports nameko, eventlet or psycopg: the service wires them in.
"""
