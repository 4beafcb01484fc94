"""The demo: a real pull-request scenario on the example project.

Copies ``examples/project`` into a new git repository, makes five commits on
``main``, each reproduced (``dvc repro``) and recorded (``mlci check --record``)
as CI's push job would — so the reports show each metric's trend — then makes
two pull-request branches that change a param — one that regresses the model, one that improves it — and runs
``mlci check`` against ``main`` on each: it reproduces the pipeline, compares,
and shows the report and the gate.
Then, as after merge: deploys the baseline model, merges the improvement and
deploys it (MLflow, in the repository's local store), and rolls back.

    python examples/demo.py [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPORTS = Path.cwd() / "demo-reports"  # the PR comment and HTML report of each branch, kept
BIN = Path(sys.executable).parent
HISTORY_SEEDS = ["1", "2", "3", "4"]  # prepare.seed on the main commits before the baseline
BASELINE_SEED = "42"


def run(cmd: list[str], cwd: Path) -> None:
    """Run a ``git`` command, quietly; the demo stops if it fails."""
    proc = subprocess.run(
        cmd, cwd=cwd, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    if proc.returncode != 0:
        sys.exit(
            f"demo: `{' '.join(cmd)}` failed ({proc.returncode})\n{proc.stdout.decode(errors='replace')}"
        )


@contextlib.contextmanager
def _inside(repo: Path, *, capture: bool) -> Iterator[list[str]]:
    """Work in ``repo``; with ``capture``, what is written to stdout and stderr (by Python or
    by a child process) is collected into the list yielded, as a subprocess's pipe would be."""
    here = os.getcwd()
    os.chdir(repo)
    said: list[str] = []
    with tempfile.TemporaryFile() as out:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = (os.dup(1), os.dup(2)) if capture else None
        if saved:
            os.dup2(out.fileno(), 1)
            os.dup2(out.fileno(), 2)
        try:
            yield said
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            if saved:
                for fd, copy in zip((1, 2), saved, strict=True):
                    os.dup2(copy, fd)
                    os.close(copy)
            os.chdir(here)
            out.seek(0)
            said.append(out.read().decode(errors="replace"))


def mlci(args: list[str], repo: Path, *, show: bool = False) -> tuple[int, str]:
    """Run ``mlci ARGS`` in ``repo``, in this process (what the console script runs): DVC, Great
    Expectations and MLflow are imported once for the whole demo, not once per command.
    Returns the exit code and, unless ``show``, the combined output."""
    from mlci.cli import main as mlci_main

    if show:
        print(f"$ mlci {' '.join(args)}", flush=True)
    with _inside(repo, capture=not show) as said:
        code = mlci_main(args)
    return code, "".join(said)


def dvc(args: list[str], repo: Path) -> None:
    """Run ``dvc ARGS`` in ``repo``, in this process (DVC's own command line, imported once)."""
    from dvc.cli import main as dvc_main

    with _inside(repo, capture=True) as said:
        code = dvc_main(args)
    if code != 0:
        sys.exit(f"demo: `dvc {' '.join(args)}` failed ({code})\n{''.join(said)}")


def compile_once() -> None:
    """Let each module the demo's processes import be compiled once, not in every process.

    Where ``PYTHONDONTWRITEBYTECODE`` is set (some shells and CI images set it), every
    interpreter the demo starts (each stage's scikit-learn and pandas) and this one (DVC, Great
    Expectations, MLflow) compiles everything it imports from source, every time: most of the
    demo's time. Inside a virtual environment the compiled files go to one folder of it
    (``PYTHONPYCACHEPREFIX``), none next to a source file. Outside one nothing changes.
    """
    if not sys.dont_write_bytecode or sys.prefix == sys.base_prefix:
        return
    prefix = os.environ.get("PYTHONPYCACHEPREFIX") or str(Path(sys.prefix) / "pycache")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = prefix
    sys.pycache_prefix = prefix
    sys.dont_write_bytecode = False


def set_param(repo: Path, key: str, value: str) -> None:
    """Change ``train.C`` style keys in params.yaml, keeping the file's layout."""
    section, name = key.split(".")
    text = (repo / "params.yaml").read_text()
    pattern = re.compile(rf"(^{section}:\n(?:[ \t]+.*\n)*?[ \t]+{name}:)[ \t]*[^\n]*", re.M)
    new, n = pattern.subn(rf"\g<1> {value}", text)
    if n != 1:
        sys.exit(f"demo: cannot set {key} in params.yaml")
    (repo / "params.yaml").write_text(new)


def make_baseline(repo: Path) -> None:
    shutil.copytree(HERE / "project", repo, dirs_exist_ok=True)
    run(["git", "init", "-q", "-b", "main"], repo)
    run(["git", "config", "user.email", "demo@example.com"], repo)
    run(["git", "config", "user.name", "mlci demo"], repo)
    dvc(["init", "-q"], repo)
    dvc(["config", "core.autostage", "true"], repo)
    print(
        "• main: five commits, each reproduced and recorded as CI's push job would "
        "(mlci check --record: a git note per commit)",
        flush=True,
    )
    # Earlier main commits drew other test splits, so the metrics moved a little from
    # commit to commit: the history the PR reports draw their trends from. The last
    # commit is the baseline the pull requests branch from.
    for seed in [*HISTORY_SEEDS, BASELINE_SEED]:
        set_param(repo, "prepare.seed", seed)
        dvc(["repro", "-q"], repo)
        run(["git", "add", "-A"], repo)
        message = "Baseline model" if seed == BASELINE_SEED else f"Split with seed {seed}"
        run(["git", "commit", "-q", "-m", message], repo)
        code, said = mlci(["check", "--no-repro", "--record", "--format", "json"], repo)
        if code != 0:
            sys.exit(f"demo: recording the check of {message!r} failed ({code})\n{said}")


def pull_request(repo: Path, branch: str, key: str, value: str) -> int:
    run(["git", "checkout", "-q", "-b", branch, "main"], repo)
    set_param(repo, key, value)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", f"Set {key} to {value}"], repo)
    # The PR commits only the param change; mlci reproduces the pipeline (the
    # unchanged prepare stage is skipped), then compares with main. Since the
    # reproduced dvc.lock was not committed, the report also warns about that.
    print(f"\n• {branch}: {key} → {value}, committed without reproducing", flush=True)
    print(f"• {branch}: mlci check --base main (reproduces first)\n", flush=True)
    name = branch.replace("/", "-")
    REPORTS.mkdir(exist_ok=True)
    report, page = REPORTS / f"{name}.md", REPORTS / f"{name}.html"
    code, _ = mlci(
        ["check", "--base", "main", "--report", str(report), "--html", str(page)], repo, show=True
    )
    print(
        f"\n  exit code {code} ({'gate closed' if code == 1 else 'gate open' if code == 0 else 'error'})"
    )
    print(f"  the PR comment mlci would post: {report}\n  the HTML report: {page}")
    if report.exists() and "| trend |" not in report.read_text():
        print("  demo: the report shows no trend of main's recorded history")
        code = -1
    run(
        ["git", "checkout", "-q", "--force", "main"], repo
    )  # drop the reproduced, uncommitted outputs
    return code


def mlci_said(args: list[str], repo: Path) -> int:
    """Run an mlci command, showing only its last lines (the decision), not the whole report."""
    print(f"$ mlci {' '.join(args)}", flush=True)
    code, output = mlci(args, repo)
    said = [
        line
        for line in output.splitlines()
        if line.startswith(("mlci deploy:", "mlci rollback:", "mlci: error:", "  - ", "  note:"))
    ]
    print("\n".join(f"  {line}" for line in said[-6:]), flush=True)
    return code


def after_merge(repo: Path) -> bool:
    """Deploy main, merge the improvement, deploy it, roll back: the MLflow registry at work."""
    print(
        "\n• main: mlci deploy (the first deployment; MLflow store in .git/mlci/mlflow.db)",
        flush=True,
    )
    dvc(["checkout", "-q"], repo)  # the work tree's model.pkl is main's again
    first = mlci_said(["deploy", "--environment", "demo"], repo)
    before = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    print(
        "\n• merge pr/larger-C into main, then deploy it against the commit before the merge",
        flush=True,
    )
    run(["git", "merge", "-q", "--ff-only", "pr/larger-C"], repo)
    dvc(["checkout", "-q"], repo)
    second = mlci_said(["deploy", "--environment", "demo", "--base", before], repo)
    print("\n• something is wrong in production: roll back", flush=True)
    back = mlci_said(["rollback", "--environment", "demo"], repo)
    again = mlci_said(["rollback", "--environment", "demo"], repo)
    return (first, second, back, again) == (0, 0, 0, 3)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, help="where to create the demo repository")
    parser.add_argument("--keep", action="store_true", help="keep the repository afterwards")
    args = parser.parse_args()
    # the stages' `python` is this environment's (scikit-learn), as under `make demo`
    os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    compile_once()
    repo = args.dir or Path(tempfile.mkdtemp(prefix="mlci-demo-"))
    if args.dir and args.dir.exists() and any(args.dir.iterdir()):
        sys.exit(f"demo: {args.dir} is not empty")
    repo.mkdir(parents=True, exist_ok=True)
    try:
        make_baseline(repo)
        regress = pull_request(repo, "pr/smaller-C", "train.C", "0.001")
        improve = pull_request(repo, "pr/larger-C", "train.C", "0.5")
        deployed = after_merge(repo)
    finally:
        if args.keep or args.dir:
            print(f"\nThe demo repository is in {repo}")
        else:
            shutil.rmtree(repo, ignore_errors=True)
    ok = regress == 1 and improve == 0 and deployed
    print(
        "\ndemo:",
        "the gate closed on the regression and opened on the improvement; the improvement "
        "was deployed and rolled back"
        if ok
        else f"unexpected exit codes: regress={regress}, improve={improve}, deploy/rollback ok={deployed}",
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
