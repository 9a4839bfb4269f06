"""The programs the benchmarks run in a process of their own: the minimal clients pisync is
measured against (:mod:`.raw_reads`, :mod:`.naive_sync`), the measuring wrapper
(:mod:`.measured`) and the load child (:mod:`.load_child`). Real modules, so ruff and mypy
check them; each is run as ``python benchmarks/baselines/NAME.py ARGS``."""
