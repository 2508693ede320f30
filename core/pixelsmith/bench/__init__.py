"""The benchmark harness behind ``pixelsmith bench``: tasks, runner, report and compare."""

from .compare import compare_results, format_comparison, load_results
from .report import OUTPUT_FILES, check_output_dir, summarize, write_report
from .runner import DEGRADED, REAL_DATA, BenchOptions, BenchResult, run_bench
from .tasks import SUITES, BenchPlan, Task, image_seed, make_plan, restorer_params

__all__ = [
    "BenchOptions",
    "BenchResult",
    "BenchPlan",
    "Task",
    "SUITES",
    "DEGRADED",
    "REAL_DATA",
    "OUTPUT_FILES",
    "run_bench",
    "make_plan",
    "image_seed",
    "restorer_params",
    "write_report",
    "check_output_dir",
    "summarize",
    "compare_results",
    "format_comparison",
    "load_results",
]
