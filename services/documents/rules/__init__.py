"""The documents rules: plain functions over plain values, no I/O, no nameko, no eventlet."""
