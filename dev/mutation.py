"""Mutation testing of cgraph's core with cosmic-ray: which small changes to the code do the tests miss?

    pip install cosmic-ray                 # once (not a dependency of cgraph or its tests)
    python dev/mutation.py core/ops        # mutate cgraph_cli/core/ops.py, run the tests it needs per mutant
    python dev/mutation.py core/ops core/layers   # several modules, one after another
    python dev/mutation.py --report core/ops      # the score and the survivors of the last run
    python dev/mutation.py --confirm core/ops     # run each survivor again under the full examples
    python dev/mutation.py --sample 300 core/engine   # a random 300 of its mutants (seeded), for a score in an hour
    python dev/mutation.py --list          # the modules and the tests each one runs

cosmic-ray changes one operator, number or comparison at a time (a mutant), runs the tests, and
counts the mutant killed when they fail (or time out). The score is killed / all mutants. Each
module runs only the test files that exercise it (MODULES below), stopping at the first failure,
with a tenth of each property test's examples (CGRAPH_QUICK=1), so a run takes an hour or two,
not days; `--confirm` then runs each survivor with every example, and a survivor those kill
counts as killed. A survivor that no test can kill because it changes no number anyone can see
(an equivalent mutant) is explained in docs/mutation.md.

Each module runs in its own copy of the project (under --work, default /tmp/cgraph-mutation), so
the work tree is never touched and two modules can run side by side on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "dev"))

from planted_bugs import copy_tree  # noqa: E402

# module -> (the few test files that kill most of its mutants fast, quickest killers first;
#            every test file that exercises it, for the survivors of the first)
MODULES = {
    "core/ops": (
        ["test_examples", "test_exact_integers", "test_ops", "test_oracle", "test_properties"],
        ["test_engine", "test_sweep", "test_derive", "test_arrays", "test_check", "test_formulas", "test_explain"],
    ),
    "core/layers": (["test_examples", "test_oracle", "test_arrays"], ["test_check", "test_graphs", "test_explain"]),
    "core/engine": (
        ["test_examples", "test_exact_integers", "test_engine", "test_oracle", "test_properties"],
        ["test_schedule", "test_check", "test_explain", "test_draw", "test_api", "test_graphs", "test_hardening"],
    ),
    "core/schedule": (
        ["test_examples", "test_schedule", "test_oracle", "test_engine"],
        ["test_properties", "test_derive"],
    ),
    "core/arrays": (
        ["test_examples", "test_arrays", "test_oracle"],
        ["test_check", "test_graphs", "test_explain", "test_draw"],
    ),
    "core/graph": (
        ["test_examples", "test_loader", "test_engine"],
        ["test_cli", "test_graphs", "test_errors", "test_formulas"],
    ),
    "commands/check": (["test_check"], ["test_arrays", "test_fuzz"]),
    "commands/derive": (["test_derive", "test_properties"], ["test_hardening", "test_formulas", "test_exact_integers"]),
    "read/formula": (["test_formulas"], ["test_loader", "test_exact_integers"]),
}

TIMEOUT = 300.0  # seconds per mutant: past it, a mutant that loops forever counts as killed


def work_dir(base: Path, module: str) -> Path:
    return base / module.replace("/", "-")


def test_command(module: str, python: str, quick: bool = True) -> str:
    """The first pass runs the quick killers with a tenth of the examples, stopping at the first
    failure, the first file on its own (most mutants die there, and one file starts fast); the
    confirmation runs every file that exercises the module, with every example."""
    first, rest = MODULES[module]
    pytest = f"{shlex.quote(python)} -m pytest -q -p no:cacheprovider -m 'not slow'"
    if not quick:
        return f"{pytest} -x " + " ".join(f"tests/{name}.py" for name in first + rest)
    head, *tail = first
    both = f"{pytest} -x tests/{head}.py" + (
        f" && {pytest} -x " + " ".join(f"tests/{n}.py" for n in tail) if tail else ""
    )
    return f"sh -c {shlex.quote(both)}"


def config(module: str, python: str) -> str:
    return (
        "[cosmic-ray]\n"
        f'module-path = "cgraph_cli/{module}.py"\n'
        f"timeout = {TIMEOUT}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(test_command(module, python))}\n"
        '[cosmic-ray.distributor]\nname = "local"\n'
    )


def environment(tree: Path, quick: bool = True) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    if quick:
        env["CGRAPH_QUICK"] = "1"
    return env


def run(module: str, base: Path, python: str, sample: int | None = None) -> None:
    tree = work_dir(base, module)
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    copy_tree(ROOT, tree)
    (tree / "cr.toml").write_text(config(module, python), encoding="utf-8")
    env = environment(tree)
    subprocess.run(["cosmic-ray", "init", "cr.toml", "session.sqlite"], cwd=tree, env=env, check=True)
    skip_annotations(tree / "session.sqlite", tree / "cgraph_cli" / f"{module}.py")
    if sample is not None:
        take_a_sample(tree, sample)
    baseline = subprocess.run(["cosmic-ray", "baseline", "cr.toml"], cwd=tree, env=env, capture_output=True, text=True)
    if baseline.returncode != 0:
        raise SystemExit(f"the tests fail without any mutant; fix that first:\n{baseline.stdout[-3000:]}")
    subprocess.run(["cosmic-ray", "exec", "cr.toml", "session.sqlite"], cwd=tree, env=env, check=True)


def annotation_spans(path: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where the type annotations are, as ((line, column), (line, column)) from start to end: under
    `from __future__ import annotations` Python never evaluates them, so a mutant there (`str | int`
    made `str - int`) changes nothing."""
    import ast

    spans = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        notes = []
        if isinstance(node, ast.AnnAssign):
            notes.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
            named = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
            notes += [node.returns, *(a.annotation for a in named if a is not None)]
        spans += [((n.lineno, n.col_offset), (n.end_lineno, n.end_col_offset)) for n in notes if n is not None]
    return spans


def skip_annotations(session: Path, module_path: Path) -> None:
    """Mark every mutant inside a type annotation as skipped (it is never run, nor counted)."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    spans = annotation_spans(module_path)
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item in list(db.work_items):
            at = tuple(item.mutations[0].start_pos)
            if any(start <= at < end for start, end in spans):
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))


def take_a_sample(tree: Path, size: int, seed: int = 15) -> None:
    """Leave `size` mutants, drawn at random (seeded) from those in code, to run; the others are
    skipped and reported as not sampled. The score of a sample estimates the whole one's."""
    import random

    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(str(tree / "session.sqlite"), WorkDB.Mode.open) as db:
        done = {job for job, _ in db.results}
        jobs = sorted(item.job_id for item in db.work_items if item.job_id not in done)
        left_out = set(jobs) - set(random.Random(seed).sample(jobs, min(size, len(jobs))))
        for job in sorted(left_out):
            db.set_result(job, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
    (tree / "not_sampled.json").write_text(json.dumps(sorted(left_out)))


def results(module: str, base: Path) -> list[dict]:
    """One record per mutant: where, which operator, and whether the tests killed it."""
    tree = work_dir(base, module)
    dump = subprocess.run(
        ["cosmic-ray", "dump", "session.sqlite"], cwd=tree, capture_output=True, text=True, check=True
    ).stdout
    records = []
    for line in dump.splitlines():
        item, result = json.loads(line)
        mutation = item["mutations"][0]
        records.append(
            {
                "job": item["job_id"],
                "operator": mutation["operator_name"].removeprefix("core/"),
                "occurrence": mutation["occurrence"],
                "line": mutation["start_pos"][0],
                "at": mutation["start_pos"],
                "where": mutation.get("definition_name") or "",
                "outcome": (result or {}).get("test_outcome"),
                "worker": (result or {}).get("worker_outcome"),
                "diff": (result or {}).get("diff") or "",
            }
        )
    spans = annotation_spans(tree / "cgraph_cli" / f"{module}.py")
    not_sampled_path = tree / "not_sampled.json"
    not_sampled = set(json.loads(not_sampled_path.read_text())) if not_sampled_path.exists() else set()
    for r in records:
        if any(start <= tuple(r["at"]) < end for start, end in spans):
            r["worker"] = "skipped"  # (a session made before annotations were skipped at init)
        elif r["job"] in not_sampled:
            r["worker"] = "not sampled"
    confirmed = tree / "confirmed.json"
    killed_later = set(json.loads(confirmed.read_text())) if confirmed.exists() else set()
    for r in records:
        if r["outcome"] == "survived" and r["job"] in killed_later:
            r["outcome"] = "killed"
            r["worker"] = "killed under the full examples"
    return records


def report(module: str, base: Path) -> None:
    records = results(module, base)
    skipped = [r for r in records if r["worker"] == "skipped"]
    unsampled = [r for r in records if r["worker"] == "not sampled"]
    records = [r for r in records if r["worker"] not in ("skipped", "not sampled")]
    done = [r for r in records if r["outcome"] is not None]
    killed = [r for r in done if r["outcome"] == "killed"]
    survived = [r for r in done if r["outcome"] == "survived"]
    other = [r for r in done if r["outcome"] not in ("killed", "survived")]
    score = len(killed) / len(done) if done else 0.0
    print(
        f"## {module}.py: {len(killed)} of {len(done)} mutants killed ({100 * score:.1f}%)"
        f"{f', {len(records) - len(done)} not yet run' if len(done) < len(records) else ''}"
        f"{f', {len(other)} incompetent' if other else ''}"
        f"; {len(skipped)} in type annotations, never run"
        f"{f'; a random sample, {len(unsampled)} others not run' if unsampled else ''}"
    )
    for r in sorted(survived, key=lambda r: r["line"]):
        changed = [line for line in r["diff"].splitlines() if line.startswith(("+", "-")) and line[1:2] != line[0]]
        print(f"- line {r['line']} ({r['where']}), {r['operator']}: {' / '.join(c.strip() for c in changed[-2:])}")


def confirm(module: str, base: Path, python: str) -> None:
    """Run each survivor again with every example (not CGRAPH_QUICK); record those the tests kill."""
    tree = work_dir(base, module)
    scratch = base / f"{module.replace('/', '-')}-confirm"
    mutated = f"cgraph_cli/{module}.py"
    if (ROOT / mutated).read_bytes() != (tree / mutated).read_bytes():
        raise SystemExit(f"{mutated} has changed since the run, so its mutants are not these: run it again")
    confirmed_path = tree / "confirmed.json"
    confirmed = set(json.loads(confirmed_path.read_text())) if confirmed_path.exists() else set()
    for r in results(module, base):
        if r["outcome"] != "survived" or r["job"] in confirmed:
            continue
        if scratch.exists():
            shutil.rmtree(scratch)
        scratch.mkdir(parents=True)
        copy_tree(ROOT, scratch)  # the module as it was run; the tests as they are now
        subprocess.run(
            ["cosmic-ray", "apply", f"cgraph_cli/{module}.py", f"core/{r['operator']}", str(r["occurrence"])],
            cwd=scratch,
            check=True,
        )
        ran = subprocess.run(
            shlex.split(test_command(module, python, quick=False)),
            cwd=scratch,
            env=environment(scratch, quick=False) | {"PYTHONDONTWRITEBYTECODE": "1"},
            capture_output=True,
            timeout=TIMEOUT * 4,
        )
        if ran.returncode != 0:
            confirmed.add(r["job"])
            confirmed_path.write_text(json.dumps(sorted(confirmed)))
        print(f"line {r['line']} {r['operator']}: {'killed' if ran.returncode else 'survives'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=f"one of {', '.join(MODULES)}")
    parser.add_argument("--report", action="store_true", help="print the score and survivors of the last run")
    parser.add_argument("--confirm", action="store_true", help="run each survivor again under every example")
    parser.add_argument("--list", action="store_true", help="list the modules and their tests")
    parser.add_argument("--sample", type=int, metavar="N", help="run a random N of the mutants (seeded), not all")
    parser.add_argument("--work", type=Path, default=Path("/tmp/cgraph-mutation"), help="where the copies live")
    parser.add_argument("--python", default=sys.executable, help="the Python that runs the tests")
    args = parser.parse_args()
    if args.list or not args.modules:
        for module, (first, rest) in MODULES.items():
            print(f"{module}: {', '.join(first)}; confirmed by those and {', '.join(rest)}")
        return
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"no module {', '.join(unknown)}; the modules are {', '.join(MODULES)}")
    for module in args.modules:
        if args.confirm:
            confirm(module, args.work, args.python)
        elif not args.report:
            run(module, args.work, args.python, args.sample)
        report(module, args.work)


if __name__ == "__main__":
    main()
