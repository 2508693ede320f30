"""Built-in degradations (placeholder until the degradations module lands)."""


def builtin_degradation_specs():
    return []
