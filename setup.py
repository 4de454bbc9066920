"""Build of the optional C module tocsin._speedups (everything else is in pyproject.toml).

``optional=True``: without a C compiler the install still succeeds and tocsin runs its Python
code for the same work (60% to 90% more CPU per ingested alert; benchmarks/README.md, runs 15
and 16).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("tocsin._speedups", ["src/tocsin/_speedups.c"], optional=True)])
