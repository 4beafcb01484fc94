"""Git reads: one `git` subprocess per question (mlci.adapters.git) against GitPython.

GitPython answers object reads through one persistent `git cat-file --batch` process
per repository, so each read after the first skips a process start; but importing
GitPython and opening the repository cost time first. mlci asks git few questions per
run (resolve the base and head, read dvc.lock or a .dvc file at a commit or two), so
the question is where the break-even lies. Each workload runs in a fresh Python
process (as an `mlci` run would), interleaved, wall and CPU medians:

    import + open + N x (resolve a rev, read a file at that rev, the file's blob id)

for N = 1 (a typical check), 10 and 100. GitPython is worth it where its column is
not above the subprocess one. The result is informational (no target). GitPython is
not a dependency of mlci (this benchmark is why); DVC's scmrepo installs it.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from _common import BIN, ROOT, report, run, side_by_side, timed_cpu

WORKLOAD = {
    "subprocess": """
import sys
from pathlib import Path
from mlci.adapters import git
root, n = Path(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    sha = git.resolve("main" if i % 2 else "HEAD", root)
    assert git.show_file(sha, "dvc.lock", root)
    assert git.blob_id(sha, "data/deep/file.csv", root)
""",
    "gitpython": """
import sys
from pathlib import Path
import git
root, n = Path(sys.argv[1]), int(sys.argv[2])
repo = git.Repo(root)
for i in range(n):
    commit = repo.rev_parse(("main" if i % 2 else "HEAD") + "^{commit}")
    assert (commit.tree / "dvc.lock").data_stream.read()
    assert (commit.tree / "data/deep/file.csv").hexsha
repo.close()
""",
}


def build(where: Path) -> Path:
    repo = where / "repo"
    repo.mkdir()
    (repo / "data" / "deep").mkdir(parents=True)
    (repo / "data" / "deep" / "file.csv").write_text("a,b\n" + "1,2\n" * 1000)
    (repo / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n"
        + "".join(
            f"  s{i}:\n    cmd: x\n    outs:\n    - path: o{i}\n      md5: {i:032x}\n"
            for i in range(50)
        )
    )
    for cmd in (
        "git init -q -b main",
        "git config user.email bench@example.com",
        "git config user.name bench",
        "git add -A",
        "git commit -q -m one",
        "git checkout -q -b pr",
        "echo more >> data/deep/file.csv",
        "git commit -q -am two",
    ):
        run(cmd, repo)
    return repo


def main() -> int:
    py = str(BIN / "python")
    with tempfile.TemporaryDirectory() as tmp:
        repo = build(Path(tmp))
        scripts = {}
        for name, code in WORKLOAD.items():
            scripts[name] = Path(tmp) / f"workload_{name}.py"  # not subprocess.py: stdlib's name
            scripts[name].write_text(code)
        ours, ref = side_by_side(
            [py, "-c", "import git"], [py, "-c", "import mlci.adapters.git"], ROOT, repeat=7
        )
        report("import git (GitPython) vs import mlci.adapters.git", ours, ref, "informational")
        for n in (1, 10, 100):
            a = [py, str(scripts["gitpython"]), str(repo), str(n)]
            b = [py, str(scripts["subprocess"]), str(repo), str(n)]
            for cmd in (a, b):  # warm-up (file cache, bytecode), and the workload must work
                proc = run(cmd, ROOT, check=False)
                if proc.returncode != 0:
                    raise SystemExit(f"workload failed: {cmd}\n{proc.stderr.decode()}")
            ta, tb = [], []
            for _ in range(7):
                ta.append(timed_cpu(a, ROOT))
                tb.append(timed_cpu(b, ROOT))
            med = statistics.median
            report(
                f"N={n}: GitPython (mlci's column) vs subprocess per question (reference)",
                med(t[0] for t in ta),
                med(t[0] for t in tb),
                "informational; <= 1.0 to use GitPython",
                cpu=(med(t[1] for t in ta), med(t[1] for t in tb)),
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
