"""Built-in metrics (placeholder until the metrics module lands)."""


def builtin_metric_specs():
    return []
