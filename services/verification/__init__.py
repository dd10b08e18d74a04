"""Verification (身份证及户籍信息核验): each submitted version checked against the population
registry. `rules/` decides, `registry.py` asks the registry."""
