"""Where chunks of scenarios run: here, one after another, or on a Dask cluster (the dist extra).

A runner takes a task (a module-level function task(job, start, count) -> its chunk's result), the
job (what the chunks share: the graph as text, and what to do) and the chunks as (start, count),
and gives the results in the chunks' order. On Dask the job is sent to the workers once, and each
worker reads the graph from its text once (plan_of).
"""

from __future__ import annotations

_PLANS: dict = {}  # a process reads a graph once: its text -> its plan


def graph_text(plan) -> str:
    """The graph as the text a job carries to the workers (plan_of reads it back)."""
    from ..show.formats import graph_yaml

    return graph_yaml(plan.to_draft(), [])


def plan_of(text: str):
    """The graph of this text (a worker's copy, read once)."""
    plan = _PLANS.get(text)
    if plan is None:
        from ..read.loader import load_text

        plan = _PLANS[text] = load_text(text, "<graph>")
    return plan


class Interrupted(Exception):
    """Ctrl-C stopped a runner: the results so far (folded, if it folds), and the chunks they are of."""

    def __init__(self, parts: list, spans: list[tuple[int, int]]):
        super().__init__("interrupted")
        self.parts, self.spans = parts, spans


def in_process(task, job: dict, spans: list[tuple[int, int]], progress=None, fold=None) -> list:
    """The chunks here, one after another. With `fold` (two results -> one, in any order), each
    result is folded in as it comes, and the one result is the list's only element: memory stays
    that of one chunk however many there are. Ctrl-C raises Interrupted with what was done."""
    parts: list = []
    done: list[tuple[int, int]] = []
    try:
        for start, count in spans:
            part = task(job, start, count)
            parts = [fold(parts[0], part)] if fold is not None and parts else parts + [part]
            done.append((start, count))
            if progress is not None:
                progress(len(done), len(spans))
    except KeyboardInterrupt:
        raise Interrupted(parts, done) from None
    return parts


def on_dask(client):
    """A runner over a Dask cluster's workers: the job scattered to them once, each chunk a task
    (with `fold`, the results are folded in as they complete)."""

    def run(task, job: dict, spans: list[tuple[int, int]], progress=None, fold=None) -> list:
        from distributed import as_completed

        [shared] = client.scatter([job], broadcast=True)
        futures = client.map(task, [shared] * len(spans), [s for s, _ in spans], [c for _, c in spans], pure=False)
        if fold is None:
            parts = client.gather(futures)
        else:
            parts = []
            for done, future in enumerate(as_completed(futures), 1):
                part = future.result()
                future.release()
                parts = [fold(parts[0], part)] if parts else [part]
                if progress is not None:
                    progress(done, len(spans))
        if progress is not None:
            progress(len(spans), len(spans))
        return parts

    return run


def worker_environment():
    """Dask's settings for the worker processes of a local cluster, less MALLOC_TRIM_THRESHOLD_: Dask
    sets it to give memory back sooner, and it makes glibc map and unmap every large array, which
    slows a chunk of scenarios by half (measured: 1.00 s a chunk against 0.69 s without it)."""
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return dask.config.set({"distributed.nanny.pre-spawn-environ": environ})
