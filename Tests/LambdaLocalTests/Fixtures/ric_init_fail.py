"""A handler module whose import fails, as a broken deployment would."""
raise RuntimeError("cannot reach the configuration store during init")


def handler(event, context):  # pragma: no cover - never reached
    return event
