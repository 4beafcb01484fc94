"""Hostile inputs a pull request controls: secrets in stage logs, terminal escapes, odd values, config.

One row per payload, each run against the real CLI (in process, or as a subprocess where a
payload could hang the process) and, where something is published, the fake GitHub. A row
asserts what the user sees: an exit code, one clear line, and nothing that escapes its place.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import DVC_YAML, VENV_BIN, GitRepo, metrics_repo
from tests.test_ci import RULES, TOKEN, comments
from tests.test_ci import gh as gh  # noqa: F401 - the fixture

# Every control character but newline and tab: C0, DEL and C1 (0x9b is the 8-bit CSI).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


# --- 5. secrets in stage logs -----------------------------------------------------------------

SECRETS = {
    "GITHUB_TOKEN": "ghs_actionsTOKENvalue0001",
    "MLCI_GITHUB_TOKEN": "ghp_personalTOKENvalue0002",
    "MLFLOW_TRACKING_TOKEN": "dapi-mlflowTOKEN0003",
    "MLFLOW_TRACKING_PASSWORD": "hunter2-mlflow-0004",
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE00000005",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/0006",
    "AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;AccountKey=abc0007==",
    "GOOGLE_APPLICATION_CREDENTIALS": "/runner/_temp/gcp-key-0008.json",
    "HF_TOKEN": "hf_huggingfaceTOKEN0009",
    "DB_PASSWORD": "correct horse battery 0010",
    "OPENAI_API_KEY": "sk-proj-openaiKEY0011",
    "SSH_PRIVATE_KEY": "-----BEGIN KEY-----\nMIIEpAIBAAKCAQEA0012\n-----END KEY-----",
}

# The planted names and LEAK_SEEN print last, so the kept log tail (its last lines) holds them
# however many other variables the runner sets (make, pytest-xdist and CI add their own).
LEAK = """\
import json, os, sys
LAST = set(PLANTED) | {"LEAK_SEEN"}
names = sorted(os.environ)
with open(os.environ["LEAK_SEEN"], "w") as f:
    json.dump(names, f)
for name in sorted(names, key=lambda n: (n in LAST, n)):
    print(f"{name}={os.environ[name]}")
print("token in a URL: https://bot:" + os.environ.get("PASSED_TOKEN", "none") + "@example.com/x")
sys.exit(1)
""".replace("PLANTED", repr(sorted(SECRETS)))


def leaking_pipeline(repo: GitRepo, config: str) -> None:
    """A one-stage pipeline that prints its whole environment and fails (so its log is kept)."""
    repo.write("leak.py", LEAK)
    repo.write(
        "dvc.yaml",
        "stages:\n  leak:\n    cmd: python leak.py\n    deps: [leak.py]\n"
        "    metrics:\n      - m.json:\n          cache: false\n",
    )
    repo.write("m.json", {"acc": 0.9})
    repo.write("mlci.yaml", config)
    repo.commit("leaky pipeline")


def all_text_under(*roots: Path) -> bytes:
    """Every byte of every file under ``roots``: where a leaked value could have been written."""
    out = []
    for root in roots:
        for file in root.rglob("*"):
            if file.is_file() and ".git/objects" not in file.as_posix():
                out.append(file.read_bytes())
    return b"\n".join(out)


@pytest.mark.slow
@pytest.mark.parametrize("channel", ["check-outputs-and-mlflow", "ci-comment-and-summary"])
def test_secrets_neither_reach_stages_nor_leave_in_a_log_tail(
    gh,
    tmp_path,
    monkeypatch,  # noqa: F811
    channel,
):
    seen_file = tmp_path / "seen.json"
    monkeypatch.setenv("LEAK_SEEN", str(seen_file))
    db = tmp_path / "mlflow" / "m.db"
    config = f"mlflow:\n  tracking_uri: sqlite:///{db}\n" if channel.startswith("check") else ""
    leaking_pipeline(gh.repo, config + "repro:\n  pull: false\n")
    outputs = tmp_path / "out"
    if channel.startswith("check"):
        for name, value in SECRETS.items():
            monkeypatch.setenv(name, value)
        run = gh.run(
            "check",
            "--repro",
            "--base",
            "main",
            "--output",
            str(outputs / "r.json"),
            "--html",
            str(outputs / "r.html"),
            "--report",
            str(outputs / "r.md"),
        )
    else:
        head = gh.repo.git("rev-parse", "HEAD")
        gh.pull_request(7, head, head)
        for name, value in SECRETS.items():
            if name != "GITHUB_TOKEN":  # the fake GitHub's token stays the one it checks
                monkeypatch.setenv(name, value)
        run = gh.run("ci", "--repro", "--output", str(outputs / "r.json"))
    assert run.code == 1, run.err
    assert "Traceback" not in run.err
    seen = set(json.loads(seen_file.read_text()))
    withheld = {n for n in SECRETS if n in seen}
    assert withheld == set(), f"stages received {withheld}"
    assert "LEAK_SEEN" in seen and "PATH" in seen  # ordinary variables still reach the stage
    doc = json.loads((outputs / "r.json").read_text())
    tail = doc["repro"]["stages"][0]["log_tail"]
    assert "LEAK_SEEN=" in tail  # the tail is there, so the absence below means something
    everything = all_text_under(tmp_path) + run.out.encode() + run.err.encode()
    if channel.startswith("ci"):
        [comment] = comments(gh.fake)
        assert "LEAK_SEEN=" in comment["body"]
        everything += comment["body"].encode() + gh.summary.read_bytes()
    else:
        assert db.exists() and doc["mlflow"]["run_id"]
    secrets = dict(SECRETS) if channel.startswith("check") else dict(SECRETS, GITHUB_TOKEN=TOKEN)
    for name, value in secrets.items():
        for part in [value, *value.splitlines()]:
            assert part.encode() not in everything, f"{name} leaked"


@pytest.mark.slow
def test_pass_env_hands_one_variable_to_stages_and_still_redacts_it(
    dvc_repo, mlci, tmp_path, monkeypatch
):
    seen_file = tmp_path / "seen.json"
    monkeypatch.setenv("LEAK_SEEN", str(seen_file))
    monkeypatch.setenv("PASSED_TOKEN", "pass-me-through-0013")
    monkeypatch.setenv("OTHER_TOKEN", "keep-me-out-0014")
    leaking_pipeline(dvc_repo, "repro:\n  pull: false\n  pass_env: [PASSED_TOKEN]\n")
    run = mlci(dvc_repo, "check", "--repro", "--base", "main", "--format", "json")
    assert run.code == 1, run.err
    seen = set(json.loads(seen_file.read_text()))
    assert "PASSED_TOKEN" in seen and "OTHER_TOKEN" not in seen
    tail = run.json()["repro"]["stages"][0]["log_tail"]
    assert "PASSED_TOKEN=***" in tail and "https://***@example.com/x" in tail
    assert "pass-me-through-0013" not in run.out + run.err


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param(
            "repro:\n  pass_env: GITHUB_TOKEN\n", "repro.pass_env: expected a list", id="not-a-list"
        ),
        pytest.param(
            "repro:\n  pass_env: [GITHUB TOKEN]\n",
            "repro.pass_env[0]: expected a variable name",
            id="not-a-name",
        ),
        pytest.param(
            "repro:\n  pass_env: [[A]]\n", "repro.pass_env[0]: expected a string", id="nested"
        ),
    ],
)
def test_pass_env_is_validated_like_any_key(git_repo, mlci, config, message):
    metrics_repo(git_repo, {"acc": 0.9}, config=config)
    run = mlci(git_repo, "check", "--no-repro")
    assert run.code == 2 and message in run.err and "Traceback" not in run.err


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        *[pytest.param(n, True, id=n) for n in SECRETS],
        *[
            pytest.param(n, True, id=n)
            for n in (
                "ACTIONS_RUNTIME_TOKEN",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                "DVC_REMOTE_PASSWD",
                "npm_config__authToken",
                "APIKEY",
                "AZURE_CLIENT_ID",
                "GCP_SA_CREDS",
                "SMTP_PASS",
            )
        ],
        *[
            pytest.param(n, False, id=n)
            for n in (
                "PATH",
                "HOME",
                "PWD",
                "GITHUB_SHA",
                "GIT_AUTHOR_NAME",
                "KEYBOARD_LAYOUT",
                "MONKEY",
                "PASSAGE",
                "DVC_STAGE",
            )
        ],
    ],
)
def test_the_rule_for_secret_looking_names(name, secret):
    from mlci.engine import redact

    assert redact.is_secret_name(name) is secret


def test_redaction_keeps_the_log_readable():
    from mlci.engine import redact

    env = {
        "API_TOKEN": "s3cr3t-value",
        "SHORT_KEY": "abc",
        "AWS_REGION": "us-east-1",
        "HOME": "/home/x",
    }
    r = redact.Redactor.from_env(env)
    assert r("got s3cr3t-value at /home/x") == "got *** at /home/x"
    assert r("a short key abc stays") == "a short key abc stays"  # too short to tell from a word
    assert r("git clone https://user:pw@host/r.git") == "git clone https://***@host/r.git"
    assert redact.stage_env(env, ["API_TOKEN"]) == {"API_TOKEN": "s3cr3t-value", "HOME": "/home/x"}


# --- 7. terminal escapes --------------------------------------------------------------------

ESCAPES = [
    pytest.param("\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\", id="osc8-link"),
    pytest.param("\x1b]52;c;ZWNobyBwd25lZA==\x07", id="osc52-clipboard"),
    pytest.param("\x1bP+q544e\x1b\\", id="dcs"),
    pytest.param("\x9b2J\x9b31m", id="csi-8bit"),
    pytest.param("\x1b[2J\x1b[31mred", id="csi-7bit"),
    pytest.param("bell\x07back\x08\x08cr\rdel\x7f", id="c0-and-del"),
    pytest.param("\x90dcs8\x9c\x9d0;title\x07", id="c1-dcs-osc"),
]


def visible(payload: str) -> str:
    return CONTROL.sub("", payload)


def assert_clean(*texts: str) -> None:
    for text in texts:
        bad = sorted({f"U+{ord(c):04X}" for c in CONTROL.findall(text)})
        assert not bad, f"control characters reached the terminal: {bad}"


@pytest.mark.parametrize("payload", ESCAPES)
@pytest.mark.parametrize("fmt_name", ["text", "markdown", "json"])
def test_pr_controlled_names_cannot_drive_the_terminal(dvc_repo, mlci, payload, fmt_name):
    metrics_repo(dvc_repo, {"acc": 0.9}, params={"lr": 0.1}, config="repro: {enabled: false}\n")
    dvc_repo.git("checkout", "-q", "-b", "feature")
    dvc_repo.write("eval/metrics.json", {"acc": 0.8, f"m{payload}": 1.0})
    dvc_repo.write("params.yaml", json.dumps({"train": {"lr": f"v{payload}", f"p{payload}": 2}}))
    run = mlci(dvc_repo, "check", "--format", fmt_name)
    assert run.code in (0, 1), run.err
    assert "eval/metrics.json:m" in run.out  # the row is there, only its controls are gone
    assert_clean(run.out, run.err)
    if fmt_name == "json":
        doc = json.loads(run.out)  # still the exact name, escaped as JSON
        assert f"eval/metrics.json:m{payload}" in [m["name"] for m in doc["metrics"]]


@pytest.mark.parametrize("payload", ESCAPES)
def test_an_error_message_cannot_drive_the_terminal(git_repo, mlci, payload):
    metrics_repo(git_repo, {"acc": 0.9}, config="repro: {enabled: false}\n")
    run = mlci(git_repo, "check", "--base", f"no-such{payload}")
    assert run.code == 3 and "unknown base revision" in run.err
    assert_clean(run.out, run.err)


# --- 8. odd values --------------------------------------------------------------------------

HUGE = 10**400 + 7  # 401 digits


ODD_VALUES = [
    pytest.param("metric", {"acc": HUGE}, None, id="401-digit-metric"),
    pytest.param("metric", {"acc": -HUGE}, None, id="401-digit-negative-metric"),
    pytest.param("metric", {"acc": 1e308, "loss": -1e308}, None, id="metric-1e308"),
    pytest.param(
        "plot", [{"step": 0, "loss": 1e308}, {"step": 1, "loss": -1e308}], None, id="plot-1e308"
    ),
    pytest.param(
        "plot", [{"step": 1e308, "loss": 1}, {"step": -1e308, "loss": 2}], None, id="plot-x-1e308"
    ),
    pytest.param(
        "plot", [{"step": 0, "loss": HUGE}, {"step": 1, "loss": 2}], None, id="plot-401-digit"
    ),
    pytest.param(
        "plot", [{"step": 0, "loss": "abc"}, {"step": 1, "loss": "def"}], None, id="plot-strings"
    ),
    pytest.param(
        "plot", [{"step": 0, "loss": {"a": 1}}, {"step": 1, "loss": [1, 2]}], None, id="plot-dicts"
    ),
    pytest.param(
        "plot", [{"step": {"a": 1}, "loss": 1}, {"step": "x", "loss": 2}], None, id="plot-x-dicts"
    ),
    pytest.param("plot", [1, "two", None, [3]], None, id="plot-points-not-records"),
    pytest.param(
        "plot",
        [{"step": 0, "loss": 1}, {"step": 1, "loss": "x"}, "y"],
        None,
        id="plot-mixed-points",
    ),
    pytest.param(
        "plot",
        [{"step": 0, "loss": "1e999"}, {"step": 1, "loss": "-1e999"}],
        None,
        id="plot-strings-beyond-float",
    ),
    pytest.param(
        "metric",
        {"acc": 0.8, "\ud800lone": 1, "p\udcff": "\udfff"},
        None,
        id="lone-surrogates-in-metric-names",
    ),
    pytest.param(
        "plot", [{"step": 0, "loss": 1, "\ud800": "\udcff"}], None, id="lone-surrogates-in-plot"
    ),
    pytest.param("plotdir", None, b"\xff\xfe-latin1-\xe9.json", id="non-utf8-plot-file"),
    pytest.param("metricfile", None, b"m\xff.json", id="non-utf8-metric-file"),
]


def odd_repo(repo: GitRepo, kind: str, value, raw_name: bytes | None) -> tuple[str, str]:
    """Base on main with ordinary values, head on branch feature with the odd one."""
    rules = RULES + "    - name: loss\n      direction: lower\n"
    metrics_repo(repo, {"acc": 0.9, "loss": 0.1}, config=rules)
    extra = {
        "plot": "plots:\n  - curve.json:\n      x: step\n      y: loss\n",
        "plotdir": "plots:\n  - curves\n",
        "metricfile": "metrics:\n  - mdir\n",
    }.get(kind)
    if extra:
        repo.write("dvc.yaml", DVC_YAML + extra)
        repo.write("curve.json", [{"step": 0, "loss": 1.0}, {"step": 1, "loss": 0.5}])
        repo.write("curves/a.json", [{"step": 0, "loss": 1.0}, {"step": 1, "loss": 0.5}])
        repo.write("mdir/ok.json", {"x": 1})
    base = repo.commit("baseline")
    repo.git("checkout", "-q", "-b", "feature")
    if kind == "metric":
        repo.write("eval/metrics.json", value)
    elif kind == "plot":
        repo.write("curve.json", value)
    elif raw_name is not None:
        # how Python names a file whose name is not UTF-8 (bytes kept as surrogates)
        name = raw_name.decode("utf-8", "surrogateescape")
        folder = repo.path / ("curves" if kind == "plotdir" else "mdir")
        (folder / name).write_text(
            json.dumps([{"step": 0, "loss": 2.0}] if kind == "plotdir" else {"y": 2})
        )
    head = repo.commit("odd values")
    return base, head


@pytest.mark.parametrize(("kind", "value", "raw_name"), ODD_VALUES)
def test_odd_values_are_rendered_or_named_and_publishing_finishes(gh, kind, value, raw_name):  # noqa: F811
    base, head = odd_repo(gh.repo, kind, value, raw_name)
    gh.pull_request(7, base, head)
    out = gh.tmp / "r.json"
    run = gh.run("ci", "--output", str(out))
    assert run.code in (0, 1), run.err
    assert "Traceback" not in run.err and "internal error" not in run.err, run.err[-3000:]
    [comment] = comments(gh.fake)
    assert "mlci" in comment["body"] and gh.summary.read_text().strip()
    doc = json.loads(out.read_text())
    from mlci.model.result import validate

    validate(doc)
    html = Path(gh.outputs()["html-path"]).read_text()
    assert "<html" in html
    if kind == "metric":
        shown = {m["name"]: m for m in doc["metrics"]}
        assert "eval/metrics.json:acc" in shown
    elif kind.startswith("plot"):
        assert doc["plots"], "the odd plot is in the result (drawn or with the reason it is not)"
    else:
        assert any(m["name"].startswith("mdir/") for m in doc["metrics"]), doc["metrics"]
    for fmt_name in ("text", "markdown", "json"):
        again = gh.run("check", "--base", base, "--format", fmt_name)
        assert again.code in (0, 1) and "Traceback" not in again.err, again.err


NESTED = 100_000


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda d: "[" * d + "]" * d, id="list"),
        pytest.param(lambda d: '{"a":' * d + "1" + "}" * d, id="object"),
        pytest.param(lambda d: '{"notes": ' + "[" * d + "]" * d + "}", id="inside-notes"),
        pytest.param(
            lambda d: '{"verdict": "pass", "x": 1' + "0" * 5000 + "}", id="5000-digit-number"
        ),
    ],
)
def test_a_result_nested_100k_deep_is_a_usage_error(gh, tmp_path, shape):  # noqa: F811
    base, head = odd_repo(gh.repo, "metric", {"acc": 0.8}, None)
    gh.pull_request(7, base, head)
    forged = tmp_path / "forged.json"
    forged.write_text(shape(NESTED))
    run = gh.run("publish", str(forged))
    assert run.code == 2, run.err
    assert "Traceback" not in run.err and "forged.json" in run.err
    assert len(run.err.strip().splitlines()) == 1


# --- 9. config fuzzing ----------------------------------------------------------------------


def alias_bomb(levels: int = 9) -> str:
    """Nine levels of nine: 9**9 (387 million) strings once every alias is expanded."""
    lines = ['  - &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        refs = ",".join([f"*l{i - 1}"] * 9)
        lines.append(f"  - &l{i} [{refs}]")
    return "\n".join(lines)


BOMB = f"x-anchors:\n{alias_bomb()}\n"


def bomb_config(where: str) -> str:
    indent = " " * (10 if where == "expect" else 6)
    anchors = "\n".join(indent + line for line in alias_bomb().splitlines())
    if where == "read":
        return f"data:\n  - path: d.csv\n    read:\n      bomb:\n{anchors}\n"
    if where == "expect":
        return (
            "data:\n  - path: d.csv\n    expect:\n      - expect_column_values_to_be_in_set:\n"
            f"          column: a\n          value_set:\n{anchors}\n"
        )
    if where == "spark-conf":
        return f"spark:\n  conf:\n    bomb:\n{anchors}\n"
    if where == "merge-keys":
        maps = ["      m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9}"]
        for i in range(1, 9):
            maps.append(
                f"      m{i}: &m{i} {{" + ", ".join(f"k{j}: *m{i - 1}" for j in range(9)) + "}"
            )
        return "data:\n  - path: d.csv\n    read:\n" + "\n".join(maps) + "\n"
    raise AssertionError(where)


DEEP = 5000
DIGITS = "1" * 5000

CONFIG_ATTACKS = [
    pytest.param(bomb_config("read"), "alias", id="alias-bomb-in-read"),
    pytest.param(bomb_config("expect"), "alias", id="alias-bomb-in-expectation"),
    pytest.param(bomb_config("spark-conf"), "alias", id="alias-bomb-in-spark-conf"),
    pytest.param(bomb_config("merge-keys"), "alias", id="alias-bomb-by-merge-keys"),
    pytest.param(
        "data:\n  - path: d.csv\n    read: &r {skiprows: 1, x: *r}\n", "alias", id="alias-cycle"
    ),
    pytest.param(
        f"data:\n  - path: d.csv\n    read: {{x: {'[' * DEEP}{']' * DEEP}}}\n",
        "nested",
        id="5000-deep-list",
    ),
    pytest.param(
        f"data:\n  - path: d.csv\n    read: {'{a: ' * DEEP}1{'}' * DEEP}\n",
        "nested",
        id="5000-deep-mapping",
    ),
    pytest.param(
        f"metrics:\n  rules:\n    - {{name: acc, min: {DIGITS}}}\n",
        "number",
        id="5000-digit-number-min",
    ),
    pytest.param(
        f"data:\n  - path: d.csv\n    read: {{skiprows: {DIGITS}}}\n",
        "number",
        id="5000-digit-number-in-read",
    ),
    pytest.param(
        f"metrics:\n  rules:\n    - {{name: acc, min: 0x{'f' * 5000}}}\n",
        "number",
        id="5000-hex-digit-number",
    ),
    pytest.param(
        f"metrics:\n  rules:\n    - {{name: acc, max: -{DIGITS}.5}}\n",
        "number",
        id="5000-digit-float",
    ),
    pytest.param(
        '"acc\\nmlci.yaml:1: base: injected line": 1\n', "unknown key", id="newline-in-key"
    ),
    pytest.param(
        'metrics:\n  "x\\r\\nmlci.yaml:9: fake": 1\n', "unknown key", id="crlf-in-nested-key"
    ),
    pytest.param('"\\e]52;c;cHduZWQ=\\a": 1\n', "unknown key", id="osc52-in-key"),
    pytest.param('"a\\u2028b\\x85c": 1\n', "unknown key", id="unicode-line-separators-in-key"),
    pytest.param(
        'data:\n  - path: d.csv\n    expect:\n      - "expect_\\nx": {}\n',
        "expect",
        id="newline-in-expectation",
    ),
]


@pytest.mark.parametrize(("config", "what"), CONFIG_ATTACKS)
def test_hostile_config_is_refused_in_one_line(git_repo, config, what):
    metrics_repo(git_repo, {"acc": 0.9}, config="repro: {enabled: false}\n" + config)
    git_repo.write("d.csv", "a\n1\n")
    git_repo.commit("hostile config")
    # a subprocess: before the fix some of these ran for minutes or ate the machine's memory
    proc = subprocess.run(
        [str(VENV_BIN / "mlci"), "check", "--no-repro"],
        cwd=git_repo.path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().split("\n")
    assert len(lines) == 1, lines[:3]
    assert lines[0].startswith("mlci: error: mlci.yaml:"), lines[0][:200]
    assert what in lines[0]
    assert_clean(proc.stderr)
    assert len(lines[0]) < 600


def test_an_ordinary_config_with_anchors_still_loads(git_repo, mlci):
    config = (
        "repro: {enabled: false}\nmetrics:\n  rules:\n    - {name: acc, direction: &d higher}\n"
        "    - {name: loss, direction: *d}\n"
    )
    metrics_repo(git_repo, {"acc": 0.9, "loss": 0.1}, config=config)
    run = mlci(git_repo, "check")
    assert run.code == 0, run.err
