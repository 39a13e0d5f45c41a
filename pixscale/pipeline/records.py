"""The per-view rows of a run: what each view of a sample became (or why it failed)."""


def _fail(sample, key, error, retry=False):
    row = {
        "sample": sample,
        "view": key,
        "status": "failed",
        "error": error,
        "before": None,
        "after": None,
        "scale": None,
        "limited": None,
    }
    if retry:
        row["retry"] = True
    return row
