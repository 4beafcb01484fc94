"""Benchmark: the action's set-up (action.yml) against a plain `python -m venv && pip install .`.

The set-up steps of ``action.yml`` (``prep`` and ``install``) run here as a
runner runs them: their ``run:`` scripts under ``bash -eo pipefail``, with
``$GITHUB_OUTPUT``, ``$RUNNER_TEMP`` (a fresh folder each round, so uv is
installed again with pip and the venv is new) and the action as a copy of the
tracked files. ``python3`` on PATH is the base interpreter of this venv, and
no other ``uv`` is on PATH.

* warm       uv's package cache filled by an earlier round (a self-hosted runner,
             or a hosted one on its second job in a row)
* cold       an empty uv cache dir and an empty pip cache (a hosted runner)
* cache hit  the venv restored by actions/cache: the install step only checks it
* plain pip  ``python3 -m venv V && V/bin/pip install .`` with pip's cache warm

Target (issue 14): warm at most a quarter of plain pip. Also printed: the
venv's size and its compressed size (what actions/cache stores), and the
measurement behind "no --compile-bytecode": the install with it, and the first
and second `mlci check --no-repro` on the example in a venv without bytecode.

    python benchmarks/bench_action.py [--rounds 2] [--no-pip]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.25


def action_copy(dest: Path) -> Path:
    """What a runner checks out for `uses: mlci/mlci@...`: the tracked files."""
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for rel in files:
        if rel in ("action.yml", "pyproject.toml", "README.md") or rel.startswith(
            ("mlci/", "templates/")
        ):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    return dest


def base_env(work: Path) -> dict[str, str]:
    """A runner-like environment: the base python3 first on PATH, no uv, no venv."""
    bindir = work / "bin"
    bindir.mkdir(exist_ok=True)
    base = (
        Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    )
    for name in ("python3", "python"):
        if not (bindir / name).exists():
            (bindir / name).symlink_to(base)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VIRTUAL_ENV", "UV_", "PYTHON", "MLCI_", "GITHUB_", "RUNNER_"))
    }
    env.update(
        PATH=f"{bindir}{os.pathsep}/usr/bin{os.pathsep}/bin",
        RUNNER_OS="Linux",
        RUNNER_ARCH="X64",
        DVC_NO_ANALYTICS="1",
    )
    return env


def run_steps(
    action: Path, runner_temp: Path, env: dict[str, str], *, extras: str = ""
) -> dict[str, str]:
    """The prep and install steps of action.yml, as the runner runs them; returns their outputs."""
    steps = {
        s.get("id"): s for s in yaml.safe_load((action / "action.yml").read_text())["runs"]["steps"]
    }
    runner_temp.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, str] = {}
    for step_id in ("prep", "install"):
        out = runner_temp / f"output-{step_id}"
        out.write_text("")
        step_env = dict(
            env,
            RUNNER_TEMP=str(runner_temp),
            GITHUB_OUTPUT=str(out),
            MLCI_ACTION_PATH=str(action),
            MLCI_EXTRAS=extras,
        )
        for name, value in steps[step_id].get("env", {}).items():
            if value.startswith("${{ steps.prep.outputs."):
                step_env[name] = outputs[value.removeprefix("${{ steps.prep.outputs.").rstrip(" }")]
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", steps[step_id]["run"]],
            cwd=runner_temp,
            env=step_env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            sys.exit(
                f"bench: step {step_id} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        for line in out.read_text().splitlines():
            key, _, value = line.partition("=")
            outputs[key] = value
    return outputs


def timed(func) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def du(path: Path) -> int:
    return int(
        subprocess.run(
            ["du", "-sb", str(path)], capture_output=True, text=True, check=True
        ).stdout.split()[0]
    )


def packed(path: Path, work: Path) -> int | None:
    """Size of the venv as actions/cache stores it (tar + zstd), when zstd is there."""
    if not shutil.which("zstd"):
        return None
    archive = work / "venv.tar.zst"
    subprocess.run(
        ["tar", "-I", "zstd -T0", "-cf", str(archive), "-C", str(path.parent), path.name],
        check=True,
    )
    size = archive.stat().st_size
    archive.unlink()
    return size


def first_runs(venv: Path, env: dict[str, str], work: Path) -> tuple[float, float]:
    """`mlci check --no-repro` on the example in a venv without bytecode: the run that compiles
    what it imports (and writes it), then the next one (which loads it)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import example_repo

    repo = example_repo(work / "first")
    cmd = [str(venv / "bin" / "mlci"), "check", "--no-repro", "--base", "main"]
    run_env = dict(env, PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", NO_COLOR="1")
    # fills mlci's validation cache without writing bytecode, so both timed runs do the same work
    subprocess.run(
        cmd, cwd=repo, env=dict(run_env, PYTHONDONTWRITEBYTECODE="1"), capture_output=True
    )
    times = []
    for _ in range(2):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=repo, env=run_env, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return times[0], times[1]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--no-pip", action="store_true", help="skip the (minutes long) plain pip install"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mlci-bench-action-"))
    try:
        load_before = os.getloadavg()[0]
        env = base_env(work)
        action = action_copy(work / "action")
        warm_cache = work / "uv-cache-warm"
        warm_env = dict(env, UV_CACHE_DIR=str(warm_cache))
        print("filling uv's cache (one untimed set-up) ...", flush=True)
        run_steps(action, work / "warm-up", warm_env)

        warm, cold, hit = [], [], []
        outputs: dict[str, str] = {}
        for i in range(args.rounds):
            temp = work / f"warm-{i}"
            warm.append(timed(lambda t=temp: outputs.update(run_steps(action, t, warm_env))))
            # the venv is there: checked only
            hit.append(timed(lambda t=temp: run_steps(action, t, warm_env)))
            cold_env = dict(
                env,
                UV_CACHE_DIR=str(work / f"uv-cold-{i}"),
                PIP_CACHE_DIR=str(work / f"pip-cold-{i}"),
            )
            cold_dir = work / f"cold-{i}"
            cold.append(timed(lambda d=cold_dir, e=cold_env: run_steps(action, d, e)))
            shutil.rmtree(work / f"uv-cold-{i}", ignore_errors=True)
            if i:  # keep round 0's folders for what follows
                shutil.rmtree(temp), shutil.rmtree(work / f"cold-{i}")
        venv = work / "warm-0" / "mlci-venv"
        size, zsize = du(venv), packed(venv, work)
        packages = len(list((venv / "lib").glob("python3*/site-packages/*.dist-info")))

        # --compile-bytecode, measured rather than assumed: the same warm install with it ...
        uv = work / "warm-0" / "mlci-uv" / "bin" / "uv"
        compiled = work / "compiled"
        subprocess.run(
            [str(uv), "venv", "-q", "--python", outputs["python"], str(compiled)],
            env=warm_env,
            check=True,
        )
        t_compile = timed(
            lambda: subprocess.run(
                [
                    str(uv),
                    "pip",
                    "install",
                    "-q",
                    "--compile-bytecode",
                    "--python",
                    str(compiled / "bin" / "python"),
                    str(action),
                ],
                env=warm_env,
                cwd=work,
                check=True,
            )
        )
        shutil.rmtree(compiled)
        # ... against what a run pays for compiling only what it imports (a venv with no bytecode)
        first, second = first_runs(venv, env, work)

        pip_t = None
        if not args.no_pip:
            print("plain pip install (warm-up, then timed; minutes) ...", flush=True)

            def plain(dest: Path) -> None:
                subprocess.run([env_python(env), "-m", "venv", str(dest)], env=env, check=True)
                subprocess.run(
                    [
                        str(dest / "bin" / "python"),
                        "-m",
                        "pip",
                        "install",
                        "-q",
                        "--disable-pip-version-check",
                        str(action),
                    ],
                    env=env,
                    cwd=work,
                    check=True,
                    capture_output=True,
                )

            plain(work / "pip-warm-up")
            shutil.rmtree(work / "pip-warm-up")
            pip_t = timed(lambda: plain(work / "pip-venv"))
            pip_size = du(work / "pip-venv")

        mb = 1 << 20
        print(
            f"\nload average before: {load_before:.1f}, after: {os.getloadavg()[0]:.1f} "
            f"({os.cpu_count()} cores); {args.rounds} rounds, medians"
        )
        print(f"{'action set-up, warm uv cache':40} {statistics.median(warm):7.1f} s")
        print(f"{'action set-up, cold (empty caches)':40} {statistics.median(cold):7.1f} s")
        print(
            f"{'action set-up, cache hit (venv restored)':40} {statistics.median(hit):7.1f} s"
            "   (+ actions/cache restore of the archive below)"
        )
        print(f"{'uv install with --compile-bytecode, warm':40} {t_compile:7.1f} s   (not used)")
        print(
            f"{'mlci check --no-repro, compiling imports':40} {first:7.1f} s   (with that bytecode: {second:.1f} s)"
        )
        print(
            f"venv: {size / mb:.0f} MB, {packages} packages"
            + (f", {zsize / mb:.0f} MB as tar.zst (the cache entry)" if zsize else "")
        )
        if pip_t is None:
            print("plain pip install skipped (--no-pip): no verdict")
            return 0
        ratio = statistics.median(warm) / pip_t
        print(
            f"{'plain python -m venv && pip install .':40} {pip_t:7.1f} s   (venv {pip_size / mb:.0f} MB)"
        )
        verdict = "met" if ratio <= TARGET else "MISSED"
        print(
            f"target: warm set-up <= {TARGET:.2f}x plain pip: {verdict} "
            f"({ratio:.2f}x; cold {statistics.median(cold) / pip_t:.2f}x)"
        )
        return 0 if ratio <= TARGET else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


def env_python(env: dict[str, str]) -> str:
    return shutil.which("python3", path=env["PATH"]) or "python3"


if __name__ == "__main__":
    sys.exit(main())
