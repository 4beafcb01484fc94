"""Hostile inputs against the trusted paths: templates, forged results and comments, GitHub outages.

One row per payload (``pytest.param(..., id=...)``); every row runs the real CLI
(``mlci.cli.main`` in process) against a real git/DVC repository and the fake
GitHub. Each table reproduces an attack from issue 13; a new bad input found
later joins its table as one more row.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from mlci.forge.github import publish
from mlci.model.result import Repro, Revision, StageRun
from mlci.report.comment import ReportText
from tests.conftest import metrics_repo
from tests.test_ci import (
    REPO,
    Actions,
    comments,
    regressing_pr,
    untrusted_result,
    workflow_run_payload,
)
from tests.test_ci import gh as gh  # noqa: F401 - the fixture
from tests.test_commands import pr as pr  # noqa: F401 - the fixture: PR #7 with a failing report
from tests.test_commands import reactions, replies, statuses

# --- helpers --------------------------------------------------------------------------

_OWN_COMMANDS = {"warning", "error", "notice", "group", "endgroup", "debug"}


def injected_commands(log: str) -> list[str]:
    """The workflow commands the Actions runner would execute from ``log`` that mlci did not mean.

    The runner reads ``::name props::data`` from a line that starts with ``::`` (after
    blanks) and the legacy ``##[name]`` anywhere in a line; ``::stop-commands::TOKEN``
    turns this off until ``::TOKEN::``. mlci's own commands (annotations, groups, its
    stop/resume pair) are allowed; their data is escaped, so it is one line.
    """
    found, stop = [], None
    for line in log.splitlines():
        text = line.strip()
        if stop is not None:
            if text == f"::{stop}::":
                stop = None
            continue
        if "##[" in text:
            found.append(line)
            continue
        match = re.match(r"::([^\s:]+)([^:]*)::", text)
        if not match:
            continue
        name, props = match.group(1), match.group(2)
        if name == "stop-commands":
            stop = text.split("::")[2]
        elif name not in _OWN_COMMANDS or "owned" in props:
            found.append(line)
    return found


def own_output(err: str) -> str:
    """stderr without Python's "--- Logging error ---" reports.

    In process, a logging handler that DVC installed during an earlier ``mlci`` call
    of the same test still points at that call's (closed) captured stream; a real
    run is one process with one stderr, so these reports are the test's, not mlci's.
    """
    return re.sub(r"--- Logging error ---\n.*?\nArguments: [^\n]*\n", "", err, flags=re.S)


def tamper(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def publish_env(gh: Actions, head: str, base: str, number: int = 9) -> None:
    payload = workflow_run_payload(
        head,
        [
            {
                "number": number,
                "head": {"sha": head, "ref": "feature"},
                "base": {"sha": base, "ref": "main"},
            }
        ],
    )
    payload["workflow_run"]["html_url"] = f"https://github.com/{REPO}/actions/runs/777"
    gh.env("workflow_run", payload)


# --- 1. templates get plain data only ----------------------------------------------------

ESCAPES = [
    pytest.param(
        "{{ fmt.re.enum.sys.modules.os.system('touch MARKER') }}", id="fmt-module-walk-to-os"
    ),
    pytest.param("{{ fmt }}", id="module-in-context"),
    pytest.param("{{ stage_status }}", id="function-in-context"),
    pytest.param("{{ result.to_json() }}", id="bound-method-in-context"),
    pytest.param("{{ result.from_dict }}", id="classmethod-in-context"),
    pytest.param(
        "{{ cycler.__init__.__globals__.os.popen('touch MARKER').read() }}", id="cycler-globals"
    ),
    pytest.param(
        "{{ lipsum.__globals__['os'].popen('touch MARKER').read() }}", id="lipsum-globals"
    ),
    pytest.param(
        "{{ namespace.__init__.__globals__.os.popen('touch MARKER').read() }}",
        id="namespace-globals",
    ),
    pytest.param(
        "{{ joiner.__init__.__globals__.os.popen('touch MARKER').read() }}", id="joiner-globals"
    ),
    pytest.param("{{ cycler }}{{ lipsum }}{{ namespace }}{{ dict }}", id="jinja-globals-exist"),
    pytest.param(
        "{% for c in ''.__class__.__mro__[1].__subclasses__() %}{% if c.__name__ == 'Popen' %}"
        "{{ c(['touch', 'MARKER']) }}{% endif %}{% endfor %}",
        id="str-subclasses",
    ),
    pytest.param("{{ attention.__class__.__base__.__subclasses__() }}", id="list-subclasses"),
    pytest.param("{{ stage_status.__globals__.os.system('touch MARKER') }}", id="function-globals"),
    pytest.param("{{ self._TemplateReference__context.parent }}", id="template-self-context"),
    pytest.param("{{ headline.format.__self__ }}", id="str-format-self"),
    pytest.param(
        "{{ '{0.__class__.__mro__[1].__subclasses__}'.format(headline) }}", id="format-string"
    ),
]


@pytest.mark.parametrize("template", ["report.md.j2", "report.html.j2"])
@pytest.mark.parametrize("payload", ESCAPES)
def test_a_repository_template_gets_plain_data_only(dvc_repo, mlci, tmp_path, payload, template):
    marker = tmp_path / "pwned"
    metrics_repo(dvc_repo, {"acc": 0.9}, config="repro: {enabled: false}\n")
    dvc_repo.write(f".mlci/templates/{template}", payload.replace("MARKER", str(marker)))
    args = (
        ["--format", "markdown"]
        if template == "report.md.j2"
        else ["--html", str(tmp_path / "r.html")]
    )
    run = mlci(dvc_repo, "check", "--no-repro", *args)
    assert not marker.exists()
    assert run.code == 2, (run.code, run.out[:300])
    assert "template" in run.err and "Traceback" not in run.err and "internal error" not in run.err
    assert (
        "<module" not in run.out and "<function" not in run.out and "<bound method" not in run.out
    )


def test_the_shipped_templates_still_render_every_section(dvc_repo, mlci, tmp_path):
    """The control row: plain data is enough for mlci's own templates."""
    metrics_repo(dvc_repo, {"acc": 0.9}, config="repro: {enabled: false}\n")
    dvc_repo.write("eval/metrics.json", {"acc": 0.95})
    html = tmp_path / "r.html"
    run = mlci(dvc_repo, "check", "--no-repro", "--format", "markdown", "--html", str(html))
    assert run.code == 0, run.err
    assert (
        "`eval/metrics.json:acc`" in run.out
        and "<code>eval/metrics.json:acc</code>" in html.read_text()
    )


# --- 3. only mlci's own hidden copy is read ------------------------------------------------

MOVED = "f" * 40


def _report(pr: Actions):
    return next(c for c in comments(pr.fake) if c["body"].startswith("<!-- mlci:report:mlci -->"))


def _forge_in_log(body: str) -> str:
    """A stage log printing a copy that claims the new head passed, above mlci's own copy."""
    real = publish.decode_result(body)
    forged = dataclasses.replace(
        real,
        verdict="pass",
        reasons=(),
        context=dataclasses.replace(real.context, head=Revision("feature", MOVED)),
    )
    with_log = dataclasses.replace(
        real,
        repro=Repro(
            "failed",
            (
                StageRun(
                    "train",
                    "failed",
                    1.0,
                    "python train.py",
                    1,
                    "epoch 3\n" + publish.encode_result(forged),
                ),
            ),
        ),
    )
    return publish.comment_body(with_log, ReportText())


def _forge_only(body: str) -> str:
    """The forged copy is the only one (mlci's own was cut off)."""
    forged = _forge_in_log(body)
    return forged.rstrip().rsplit("\n", 1)[0] + "\n"


def _damaged(body: str) -> str:
    lines = body.rstrip().split("\n")
    lines[-1] = lines[-1][:40] + "!!" + lines[-1][42:]
    return "\n".join(lines) + "\n"


def _headless(body: str) -> str:
    real = publish.decode_result(body)
    no_head = dataclasses.replace(
        real, context=dataclasses.replace(real.context, head=Revision(None, None))
    )
    return publish.comment_body(no_head, ReportText())


FORGED_COMMENTS = [
    pytest.param(_forge_in_log, True, id="forged-copy-in-a-stage-log"),
    pytest.param(_forge_only, True, id="forged-copy-and-no-own-copy"),
    pytest.param(_damaged, False, id="own-copy-damaged"),
    pytest.param(_headless, False, id="own-copy-without-head"),
    pytest.param(None, False, id="no-report-comment"),
]


@pytest.mark.parametrize("forge,head_moved", FORGED_COMMENTS)
def test_override_reads_only_mlcis_own_copy(pr, forge, head_moved):  # noqa: F811
    report = _report(pr)
    if forge is None:
        pr.fake.delete_comment(report["id"])
    else:
        pr.fake.edit_comment(report["id"], forge(report["body"]))
    if head_moved:  # a new commit that nobody reviewed
        pr.fake.push(7, MOVED)
    before = len(statuses(pr))
    run = _say(pr, "/mlci override looks fine")
    assert run.code == 0
    assert statuses(pr)[before:] == []  # no success status on anything
    assert "mlci:override" not in pr.fake.labels(7)
    # the check run of the report (failure) is the only one, on either commit
    assert [c["conclusion"] for r in (pr.head, MOVED) for c in pr.fake.check_runs(r)] == ["failure"]
    assert pr.fake.calls("issues/update-comment") == []  # the comment is not rewritten
    [reply] = replies(pr, run.comment_id)
    assert "Wait for mlci's report" in reply
    assert reactions(pr, run.comment_id) == ["eyes", "-1"]


def test_override_still_works_on_an_intact_report(pr):  # noqa: F811
    """The control row for the table above."""
    run = _say(pr, "/mlci override looks fine")
    assert run.code == 0 and statuses(pr)[-1]["state"] == "success"
    assert "looks fine" in _report(pr)["body"]


# --- 2. GitHub outages: one error wrapper, lazy loads included ---------------------------------


def _say(gh: Actions, body: str, user: str = "maintainer", env: dict[str, str] | None = None):
    from tests.ghfake.payloads import event_payload

    seeded = gh.fake.add_comment(7, body, user=user)
    payload = event_payload("issue_comment", "created", repo=REPO, pr_number=7, body=body)
    payload["comment"]["id"] = seeded.id
    payload["comment"]["user"]["login"] = user
    payload["comment"]["user"]["type"] = "User"
    gh.env("issue_comment", payload)
    for name, value in (env or {}).items():
        gh.mp.setenv(name, value)
    run = gh.run("ci")
    run.comment_id = seeded.id
    return run


def _fault(fake, status: int | str, operation: str) -> None:
    if status == "timeout":
        fake.hang_next(10, operation=operation)
    else:
        fake.fail_next(10, status=status, operation=operation, message="outage")


OUTAGE_ENV = {"MLCI_GITHUB_RETRIES": "0", "MLCI_GITHUB_TIMEOUT": "1"}
STATUSES = [500, 401, 404, "timeout"]

COMMAND_OUTAGES = [
    *(
        pytest.param("/mlci override fine", "pulls/get", s, id=f"override-pulls-get-{s}")
        for s in STATUSES
    ),
    *(pytest.param("/mlci rerun", "pulls/get", s, id=f"rerun-pulls-get-{s}") for s in STATUSES),
    pytest.param(
        "/mlci override fine",
        "repos/get-collaborator-permission-level",
        502,
        id="override-permission-502",
    ),
    pytest.param(
        "/mlci override fine", "issues/list-comments", 404, id="override-list-comments-404"
    ),
    pytest.param(
        "/mlci rerun", "actions/list-workflow-runs-for-repo", 500, id="rerun-list-runs-500"
    ),
    pytest.param("/mlci help", "issues/create-comment", 503, id="help-reply-503"),
]


@pytest.mark.parametrize("body,operation,status", COMMAND_OUTAGES)
def test_a_command_that_cannot_reach_github_says_so_in_one_line(pr, body, operation, status):  # noqa: F811
    pr.fake.add_workflow_run(
        head_sha=pr.head, name="mlci", path=".github/workflows/mlci.yml", event="pull_request"
    )
    _fault(pr.fake, status, operation)
    before = len(statuses(pr))
    run = _say(pr, body, env=OUTAGE_ENV)
    err = own_output(run.err)
    assert run.code == 3, err
    assert "Traceback" not in err and "internal error" not in err
    errors = [line for line in err.splitlines() if line.startswith("mlci: error:")]
    assert len(errors) == 1 and "cannot reach GitHub" in errors[0]
    assert sum("cannot reach GitHub" in line for line in err.splitlines()) == 1
    assert all(s["state"] != "success" for s in statuses(pr)[before:])
    assert "stopped: GitHub did not answer" in pr.summary.read_text()


PUBLISH_OUTAGES = [
    *(pytest.param("pulls/get", s, id=f"pulls-get-{s}") for s in STATUSES),
    pytest.param("issues/list-comments", 500, id="list-comments-500"),
    pytest.param("users/get-authenticated", "timeout", id="who-am-i-timeout"),
    pytest.param("repos/create-commit-status", 401, id="status-401"),
    pytest.param("checks/create", 502, id="check-run-502"),
]


@pytest.mark.parametrize("operation,status", PUBLISH_OUTAGES)
def test_publish_keeps_the_gates_exit_code_and_the_summary_in_an_outage(gh, operation, status):  # noqa: F811
    base, head = regressing_pr(gh)
    result = untrusted_result(gh, base, head)
    publish_env(gh, head, base)
    gh.mp.setenv("GITHUB_RUN_ID", "1")
    for name, value in OUTAGE_ENV.items():
        gh.mp.setenv(name, value)
    gh.summary.write_text("")
    _fault(gh.fake, status, operation)
    run = gh.run("publish", str(result))
    err = own_output(run.err)
    assert run.code == 1, err  # the gate's code: the regression fails it
    assert "Traceback" not in err and "internal error" not in err
    assert "### ❌ mlci: gate closed" in gh.summary.read_text()
    assert "::warning" in run.err


# --- 4. forged result files cannot issue workflow commands in the trusted log ------------------


def _stage_key(key: str):
    def change(doc: dict[str, Any]) -> None:
        doc["repro"]["stages"] = [{"name": "train", "status": "ran", key: 1}]

    return change


FORGED_RESULTS = [
    pytest.param(_stage_key("\n::add-mask::owned-secret"), 2, id="stage-key-add-mask"),
    pytest.param(_stage_key("\n::error title=owned::owned"), 2, id="stage-key-error"),
    pytest.param(_stage_key("x ##[add-mask]owned-secret"), 2, id="stage-key-legacy-command"),
    pytest.param(
        _stage_key("\r::set-output name=verdict::pass"), 2, id="stage-key-carriage-return"
    ),
    pytest.param(
        lambda d: d.update(override={"label": None, "\n::add-mask::owned": 1}),
        2,
        id="override-key-add-mask",
    ),
    pytest.param(lambda d: d.update(verdict="\n::add-mask::owned"), 2, id="verdict-add-mask"),
    pytest.param(
        lambda d: d["context"].update(event={"\n::add-mask::owned": 1}), 2, id="context-type"
    ),
    pytest.param(
        lambda d: d["reasons"].append(
            {
                "section": "repro",
                "severity": "fail",
                "message": "x\n::add-mask::owned\n##[add-mask]owned",
            }
        ),
        1,
        id="reason-message-published",
    ),
    pytest.param(lambda d: d["notes"].append("  ::add-mask::owned"), 1, id="note-published"),
]


@pytest.mark.parametrize("change,code", FORGED_RESULTS)
def test_a_forged_result_issues_no_workflow_command(gh, change, code):  # noqa: F811
    base, head = regressing_pr(gh)
    result = untrusted_result(gh, base, head)
    tamper(result, change)
    publish_env(gh, head, base)
    run = gh.run("publish", str(result))
    err = own_output(run.err)
    assert run.code == code, err
    assert "Traceback" not in err and "internal error" not in err
    assert injected_commands(run.err) == [] and injected_commands(run.out) == []
    if code == 2:
        assert "not a valid mlci result" in run.err


def test_the_command_detector_sees_an_injection():
    """The detector above is not vacuous."""
    assert injected_commands("mlci: error: bad key '\n::add-mask::x'")
    assert injected_commands("mlci: error: x ##[add-mask]y")
    assert not injected_commands("::stop-commands::t\n::add-mask::x\n::t::\n::warning::a%0A::b")


# --- 6. a result file inside the checkout is refused ---------------------------------------

FORGED_CONFIG = "report:\n  status_context: security/snyk\nrepro: {enabled: false}\n"


def _in_root(gh: Actions, result: Path) -> Path:
    (gh.repo.path / "mlci.yaml").write_text(FORGED_CONFIG)  # the artifact's neighbour
    target = gh.repo.path / "mlci-result.json"
    target.write_text(result.read_text())
    return target


def _in_subfolder(gh: Actions, result: Path) -> Path:
    folder = gh.repo.path / "artifact"
    folder.mkdir()
    (folder / "mlci.yaml").write_text(FORGED_CONFIG)
    target = folder / "mlci-result.json"
    target.write_text(result.read_text())
    return target


def _through_symlink(gh: Actions, result: Path) -> Path:
    inside = _in_root(gh, result)
    link = gh.tmp / "elsewhere.json"
    link.symlink_to(inside)
    return link


RESULT_PLACES = [
    pytest.param(_in_root, id="checkout-root-with-forged-config"),
    pytest.param(_in_subfolder, id="checkout-subfolder"),
    pytest.param(_through_symlink, id="symlink-into-the-checkout"),
]


@pytest.mark.parametrize("place", RESULT_PLACES)
def test_publish_refuses_a_result_inside_the_checkout(gh, place):  # noqa: F811
    base, head = regressing_pr(gh)
    result = untrusted_result(gh, base, head)
    gh.repo.git("checkout", "-q", "main")  # the trusted half checks out the default branch
    path = place(gh, result)
    publish_env(gh, head, base)
    before = len(gh.fake.requests)
    run = gh.run("publish", str(path))
    assert run.code == 2, run.err
    assert "outside the checkout" in run.err and "runner.temp" in run.err
    assert gh.fake.requests[before:] == []
    assert all(s["context"] != "security/snyk" for s in gh.fake.statuses())


def test_publish_accepts_a_result_outside_the_checkout(gh):  # noqa: F811
    """The control row: the file in $RUNNER_TEMP, as the example workflow downloads it."""
    base, head = regressing_pr(gh)
    result = untrusted_result(gh, base, head)
    gh.repo.git("checkout", "-q", "main")
    publish_env(gh, head, base)
    run = gh.run("publish", str(result))
    assert run.code == 1, run.err
    [status] = gh.fake.statuses(head)
    assert status["context"] == "mlci"


# --- 10. smaller ones ---------------------------------------------------------------------

SECRET = "s3cr3tPW"

DOCTOR_URLS = [
    pytest.param(
        "dvc", f"https://ci-user:{SECRET}@127.0.0.1:9/cache", id="dvc-https-user-password"
    ),
    pytest.param("dvc", f"ssh://git:{SECRET}@127.0.0.1:9/cache", id="dvc-ssh-user-password"),
    pytest.param("dvc", f"webdav://{SECRET}@127.0.0.1:9/cache", id="dvc-webdav-token-as-user"),
    pytest.param("dvc", f"http://127.0.0.1:9/cache?token={SECRET}", id="dvc-http-token-in-query"),
    pytest.param("mlflow", f"http://bot:{SECRET}@127.0.0.1:9", id="mlflow-user-password"),
    pytest.param(
        "mlflow", f"http://127.0.0.1:9/?access_token={SECRET}", id="mlflow-token-in-query"
    ),
]


@pytest.mark.parametrize("where,url", DOCTOR_URLS)
def test_doctor_masks_credentials_in_remote_urls(dvc_repo, mlci, where, url):
    metrics_repo(dvc_repo, {"acc": 0.9})
    if where == "dvc":
        dvc_repo.dvc("remote", "add", "-d", "store", url)
        what = "DVC remote 'store'"
    else:
        dvc_repo.write("mlci.yaml", f"mlflow:\n  tracking_uri: '{url}'\n")
        what = "MLflow"
    run = mlci(dvc_repo, "doctor")
    assert SECRET not in run.out and SECRET not in run.err
    [line] = [ln for ln in run.out.splitlines() if what in ln]
    assert "***" in line and "127.0.0.1" in line  # still says which remote


def _push_env(gh: Actions, head: str, base: str) -> None:
    from tests.ghfake.payloads import event_payload

    payload = event_payload("push", repo=REPO)
    payload.update({"before": base, "after": head, "ref": "refs/heads/feature"})
    gh.env("push", payload)
    gh.mp.setenv("GITHUB_SHA", head)


def _dispatch_env(gh: Actions, head: str, base: str) -> None:
    from tests.ghfake.payloads import event_payload

    gh.env("workflow_dispatch", event_payload("workflow_dispatch", repo=REPO))
    gh.mp.setenv("GITHUB_SHA", head)


def _forge_pass(doc: dict[str, Any]) -> None:
    doc["verdict"] = "pass"
    doc["override"] = {
        "label": "mlci:override",
        "by": "a-real-maintainer",
        "reason": "fine",
        "at": None,
    }


def _no_pr(doc: dict[str, Any]) -> None:
    _forge_pass(doc)
    doc["context"]["pr"] = None


OTHER_EVENTS = [
    pytest.param(_push_env, _forge_pass, 2, id="push-result-names-a-pr"),
    pytest.param(_dispatch_env, _forge_pass, 2, id="dispatch-result-names-a-pr"),
    pytest.param(
        lambda gh, head, base: gh.pull_request(7, base, head),
        _forge_pass,
        2,
        id="pull-request-for-another-pr",
    ),
    pytest.param(
        lambda gh, head, base: gh.pull_request(9, base, base),
        _forge_pass,
        2,
        id="pull-request-for-another-commit",
    ),
    pytest.param(
        lambda gh, head, base: gh.pull_request(9, base, head),
        _forge_pass,
        1,
        id="pull-request-forged-verdict-and-override",
    ),
    pytest.param(_push_env, _no_pr, 1, id="push-forged-verdict-and-override"),
    pytest.param(_dispatch_env, _no_pr, 1, id="dispatch-forged-verdict-and-override"),
]


@pytest.mark.parametrize("event,forge,code", OTHER_EVENTS)
def test_publish_outside_workflow_run_trusts_no_pr_verdict_or_override(gh, event, forge, code):  # noqa: F811
    base, head = regressing_pr(gh)
    result = untrusted_result(gh, base, head)
    tamper(result, forge)
    event(gh, head, base)
    before = len(gh.fake.requests)
    run = gh.run("publish", str(result))
    err = own_output(run.err)
    assert run.code == code, err
    if code == 2:
        assert (
            "refusing" in err or "is for no pull request" in err or "but this run is for PR" in err
        )
        assert [r for r in gh.fake.requests[before:] if r.is_write] == []
        return
    [status] = gh.fake.statuses()
    assert status["state"] == "failure" and gh.fake.statuses(head) == [status]
    bodies = [c["body"] for c in comments(gh.fake)]
    assert all("a-real-maintainer" not in b and "overridden" not in b for b in bodies)
    assert "gate closed" in gh.summary.read_text()


MARKER = "<!-- mlci:report:mlci -->"
HUMAN_COMMENTS = [
    pytest.param(MARKER + "\nMy own notes on this PR, please keep them.", id="marker-and-prose"),
    pytest.param(
        MARKER + "\nquoting the bot:\n<!-- mlci:result:AAAA -->\nand more of my words",
        id="marker-and-a-quoted-copy-in-the-middle",
    ),
    pytest.param(
        MARKER + "\nmy notes\n<!-- mlci:result:bm90IHpsaWI= -->", id="marker-and-a-broken-copy-last"
    ),
]


@pytest.mark.parametrize("human", HUMAN_COMMENTS)
def test_a_personal_token_never_edits_its_owners_own_comment(gh, human):  # noqa: F811
    base, head = regressing_pr(gh)
    gh.pull_request(7, base, head)
    gh.fake.add_token("ghp_personal", "release-bot-user")
    gh.mp.setenv("GITHUB_TOKEN", "ghp_personal")
    own = gh.fake.add_comment(7, human, user="release-bot-user")
    assert gh.run("ci").code == 1
    assert [c["body"] for c in gh.fake.comments(7) if c["id"] == own.id] == [human]
    assert gh.fake.calls("issues/update-comment") == []
    [created] = gh.fake.calls("issues/create-comment")
    assert publish.is_own_comment(created.body["body"])
    # and the next run edits mlci's comment, still not the human's
    gh.repo.write("eval/metrics.json", {"acc": 0.95})
    gh.repo.commit("better")
    assert gh.run("ci").code == 0
    [edit] = gh.fake.calls("issues/update-comment")
    assert not edit.path.endswith(f"/comments/{own.id}")
    assert [c["body"] for c in gh.fake.comments(7) if c["id"] == own.id] == [human]


PLOT_TITLES = [
    pytest.param('a\\"b', id="backslash-quote"),
    pytest.param('\\"\\"', id="two-backslash-quotes"),
    pytest.param('x\\\\"y', id="double-backslash-quote"),
    pytest.param("end\\", id="trailing-backslash"),
    pytest.param('say "hi"', id="plain-quotes"),
    pytest.param("it's", id="apostrophe"),
]


@pytest.mark.slow
@pytest.mark.parametrize("title", PLOT_TITLES)
def test_a_plot_label_cannot_break_the_vega_chart(dvc_repo, mlci, tmp_path, title):
    from tests import browser

    # the title, and the y field (a column of the PR's data file), which becomes the axis title
    dvc_repo.write(
        "dvc.yaml",
        f"plots:\n  - loss.json:\n      x: step\n      y: {json.dumps(title)}\n"
        f"      title: {json.dumps(title)}\n",
    )
    dvc_repo.write("loss.json", [{"step": 0, title: 1.0}, {"step": 1, title: 0.5}])
    dvc_repo.commit("baseline")
    dvc_repo.write("loss.json", [{"step": 0, title: 0.9}, {"step": 1, title: 0.4}])
    page = tmp_path / "report.html"
    run = mlci(dvc_repo, "check", "--no-repro", "--html", str(page))
    assert run.code == 0, run.err
    dom = browser.dump_dom(page)
    assert re.findall(r'data-drawn="(\w+)"', dom) == ["yes"], re.findall(
        r"could not draw[^<]{0,200}", dom
    )


# --- the fork-safe verdict: the trusted half recomputes what it can --------------------------


def _raise_head(doc: dict[str, Any]) -> None:
    doc["metrics"][0]["head"] = 0.99
    doc["metrics"][0].update(
        status="improved", outcome="pass", message=None, delta=0.09, delta_pct=10.0
    )
    doc["reasons"] = []
    doc["verdict"] = "pass"


def _drop_failing_metric(doc: dict[str, Any]) -> None:
    doc["metrics"] = []
    doc["reasons"] = []
    doc["verdict"] = "pass"


def _add_metric(doc: dict[str, Any]) -> None:
    doc["metrics"].append(
        dict(
            doc["metrics"][0],
            name="eval/metrics.json:bonus",
            base=None,
            head=1.0,
            status="new",
            outcome="info",
            delta=None,
            delta_pct=None,
            message=None,
        )
    )


def _change_param(doc: dict[str, Any]) -> None:
    for p in doc["params"]:
        if p["name"].endswith("train.lr"):
            p["head"] = 0.5


FORK_SAFE = [
    pytest.param(
        _raise_head,
        "eval/metrics.json:acc: uploaded 0.99, committed 0.85",
        id="metric-value-raised",
    ),
    pytest.param(
        _drop_failing_metric,
        "eval/metrics.json:acc is missing from the uploaded result",
        id="failing-metric-dropped",
    ),
    pytest.param(
        _add_metric,
        "eval/metrics.json:bonus is in the uploaded result but not in the committed",
        id="metric-invented",
    ),
    pytest.param(
        _change_param, "param params.yaml:train.lr: uploaded 0.5, committed 0.1", id="param-changed"
    ),
]


@pytest.mark.parametrize("forge,difference", FORK_SAFE)
def test_fork_safe_publish_says_when_the_upload_disagrees_with_the_committed_files(
    gh, forge, difference
):  # noqa: F811
    base, head = regressing_pr(gh)
    result = untrusted_result(gh, base, head)
    tamper(result, forge)
    gh.repo.git("checkout", "-q", "main")
    publish_env(gh, head, base)
    run = gh.run("publish", str(result))
    err = own_output(run.err)
    assert run.code == 1, err
    [comment] = comments(gh.fake)
    headline = comment["body"].splitlines()[1]
    assert "does not match the pull request's committed files" in headline
    assert "> [!CAUTION]" in comment["body"] and difference in comment["body"]
    assert "| ❌ | `eval/metrics.json:acc` | 0.9 | 0.85 |" in comment["body"]  # the recomputed row
    [status] = gh.fake.statuses(head)
    assert status["state"] == "failure"
    assert "does not match" in gh.summary.read_text()
    assert gh.repo.git("status", "--porcelain") == ""  # nothing was run or written in the checkout


@pytest.mark.parametrize(
    "acc,code",
    [pytest.param(0.85, 1, id="honest-regression"), pytest.param(0.95, 0, id="honest-improvement")],
)
def test_fork_safe_publish_of_an_honest_result_adds_no_alarm(gh, acc, code):  # noqa: F811
    """The control rows for the table above."""
    base, head = regressing_pr(gh, acc=acc)
    result = untrusted_result(gh, base, head) if code == 1 else _passing_result(gh, base, head)
    gh.repo.git("checkout", "-q", "main")
    publish_env(gh, head, base)
    run = gh.run("publish", str(result))
    assert run.code == code, own_output(run.err)
    [comment] = comments(gh.fake)
    assert "does not match" not in comment["body"] and "[!CAUTION]" not in comment["body"]
    assert "recomputed the metric and param comparison from the committed files" in comment["body"]


def _passing_result(gh: Actions, base: str, head: str) -> Path:
    gh.pull_request(9, base, head)
    out = gh.tmp / "mlci-result.json"
    assert gh.run("ci", "--no-publish", "--output", str(out)).code == 0
    return out


def test_fork_safe_publish_fetches_the_pr_head_into_a_fresh_checkout(gh, tmp_path):  # noqa: F811
    """The trusted job checks out the default branch only; the PR head is fetched by its sha."""
    from tests.conftest import GitRepo, sh

    base, head = regressing_pr(gh)
    result = untrusted_result(gh, base, head)
    tamper(result, _raise_head)
    trusted = tmp_path / "trusted"
    sh(
        [
            "git",
            "clone",
            "-q",
            "--no-local",
            "--single-branch",
            "--branch",
            "main",
            str(gh.repo.path),
            str(trusted),
        ],
        tmp_path,
    )
    assert GitRepo(trusted).git("cat-file", "-t", head, check=False) != "commit"
    publish_env(gh, head, base)
    run = gh._mlci(trusted, "publish", str(result))
    assert run.code == 1, own_output(run.err)
    [comment] = comments(gh.fake)
    assert "eval/metrics.json:acc: uploaded 0.99, committed 0.85" in comment["body"]


def test_fork_safe_publish_lists_dvc_cached_metrics_it_cannot_check(gh, tmp_path):  # noqa: F811
    """Metrics only in the DVC cache (not in git) are not in the trusted runner's fresh clone."""
    from tests.conftest import sh

    repo = gh.repo
    repo.write(
        "dvc.yaml",
        "stages:\n  train:\n    cmd: cp src.json eval/m.json\n    deps: [src.json]\n"
        "    outs: []\n    metrics:\n      - eval/m.json\n",
    )
    repo.write("mlci.yaml", "repro: {enabled: false}\n")
    repo.write("src.json", {"acc": 0.9})
    (repo.path / "eval").mkdir(exist_ok=True)
    repo.dvc("repro", "-q")
    base = repo.commit("baseline")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("src.json", {"acc": 0.8})
    repo.dvc("repro", "-q")
    head = repo.commit("feature")
    assert "eval/m.json" not in repo.git("ls-files")  # the metric lives in the DVC cache only
    result = untrusted_result_passing_or_not(gh, base, head)
    trusted = tmp_path / "trusted"
    sh(
        [
            "git",
            "clone",
            "-q",
            "--no-local",
            "--single-branch",
            "--branch",
            "main",
            str(repo.path),
            str(trusted),
        ],
        tmp_path,
    )
    publish_env(gh, head, base)
    run = gh._mlci(trusted, "publish", str(result))
    assert run.code in (0, 1), own_output(run.err)
    [comment] = comments(gh.fake)
    assert "could not be checked" in comment["body"] and "eval/m.json:acc" in comment["body"]
    assert "[!CAUTION]" not in comment["body"]


def untrusted_result_passing_or_not(gh: Actions, base: str, head: str) -> Path:
    gh.pull_request(9, base, head)
    out = gh.tmp / "mlci-result.json"
    assert gh.run("ci", "--no-publish", "--output", str(out)).code in (0, 1)
    return out
