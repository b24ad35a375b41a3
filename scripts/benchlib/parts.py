"""The parts of the benchmarks, in the order they run (BENCH_PARTS picks some of them by name; they
always run in this order).

A part is a module part_<name>.py whose PART (common.Part) names its mixin of Bench (measurements)
and its mixin of Report (its sections of the document). Adding a part is adding its module and its
line below; its settings are read in Bench.__init__ (scripts/bench.py) or, as the rest part's, at
the start of its measure_<name>(); report.SECTION_ORDER places its contributions to the shared
sections if they should not come last."""

from . import part_backup, part_branch, part_console, part_containers, part_diff, part_import, part_pitr, part_rest

PARTS = (
    part_branch.PART,
    part_pitr.PART,
    part_diff.PART,
    part_rest.PART,
    part_containers.PART,
    part_backup.PART,
    part_console.PART,
    part_import.PART,
)
