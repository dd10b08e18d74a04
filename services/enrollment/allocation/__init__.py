"""Lottery and allocation engine that any parent can verify.

Pure domain code (no service, database or nameko). The modules, in the order a draw uses them:

- `instance`: schools and applicants, validated, with a canonical serialisation per record;
- `draw`: the commitment to a frozen instance, the seed from public values, lottery numbers;
- `mechanisms`: single-school lottery and student-proposing deferred acceptance;
- `publication`: the directory of publishable files (written and read back);
- `verify`: re-derives everything from the published files and names the first discrepancy;
- `synthetic`: realistic synthetic instances for tests, benchmarks and demo data.

`python -m services.enrollment.allocation --help` lists the commands.
"""
