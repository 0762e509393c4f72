"""bench/sections.py: the groups of result sections that bench/run.sh's BENCH_SECTIONS names, for run.sh (which
rows a re-run replaces) and bench/report.py (which machine measured each group)."""
GROUPS = {"speed": {"sgemm", "efficiency", "sweep", "base"}, "accuracy": {"accuracy"}, "mpi": {"mpi"},
          "authors": {"authors-params", "authors-speed", "authors-fourier"}}
