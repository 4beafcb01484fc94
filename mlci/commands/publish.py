"""``mlci publish RESULT.json``: the trusted half of the fork-safe flow.

It publishes a result computed elsewhere (``mlci ci --no-publish`` on the pull
request) and runs no code from the pull request: the config and templates are
the trusted checkout's, where and what to publish come from the trusted event,
the verdict follows the reasons, and in a ``workflow_run`` job the uploaded
comparison is checked against the pull request's committed files.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path

from mlci.adapters import git
from mlci.commands import common
from mlci.configfile import load
from mlci.engine import project
from mlci.forge import PublishError
from mlci.model.config import Config
from mlci.model.errors import ConfigError, RunError
from mlci.model.result import Result
from mlci.model.run import Log, PublishTarget


def load_result(path: str) -> Result:
    from mlci.model.result import validate

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("result file not found", file=path) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not a JSON result file: {exc}", file=path) from exc
    except RecursionError as exc:  # json recurses per level: 100,000 nested lists end here
        raise ConfigError("not a result mlci can read: nested too deeply", file=path) from exc
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ConfigError(f"not a result mlci can read: {exc}", file=path) from exc
    try:
        validate(doc)
    except Exception as exc:  # jsonschema.ValidationError
        where = "/".join(str(p) for p in getattr(exc, "absolute_path", ())) or "(root)"
        raise ConfigError(
            f"not a valid mlci result at {where}: {getattr(exc, 'message', exc)}", file=path
        ) from exc
    try:
        return Result.from_dict(doc)
    except (TypeError, ValueError, KeyError) as exc:  # valid JSON Schema, but not a shape mlci made
        raise ConfigError(f"not a result mlci can read: {exc}", file=path) from exc


def _refuse_inside_checkout(result_file: str, root: Path | None) -> None:
    """A result unpacked into the trusted checkout brought neighbours that pose as its files.

    An artifact is a folder chosen by the untrusted run: unpacked into the checkout,
    its ``mlci.yaml`` (say, ``report.status_context: security/scan``) or templates
    replace the trusted ones. mlci's own default output, under ``.git/mlci``, is
    not something an artifact can write, and stays allowed.
    """
    if root is None:
        return
    path = Path(result_file).resolve()
    own = (git.common_dir(root) / "mlci").resolve()
    if path.is_relative_to(root.resolve()) and not path.is_relative_to(own):
        raise ConfigError(
            "the result file lies inside the checkout, where the files unpacked with it would pose as "
            "this repository's own (mlci.yaml, templates). Download the artifact outside the checkout, "
            "e.g. `path: ${{ runner.temp }}/mlci-artifact` in actions/download-artifact, and pass "
            "that file",
            file=result_file,
        )


def run_publish(
    result_file: str, opts: common.CiOptions, env: Mapping[str, str] | None = None
) -> int:
    run = common.start(env, token=opts.github_token)
    env, log, event = run.env, run.log, run.event
    try:
        found = project.find(opts.check.cwd)
        root: Path | None = found.git_root
    except RunError:
        root = None
    _refuse_inside_checkout(result_file, root)
    result = load_result(result_file)
    if root is not None and event.result_from_untrusted_run:
        common.fetch_history(root, log)  # the recomputed comparison's auto limits read it
    # the config of the trusted checkout (the base branch), not of the PR
    cfg = (
        load(
            opts.check.config_path,
            found.root,
            explicit=opts.check.config_path is not None,
            project=found.label,
        )
        if root
        else Config()
    )
    client = run.forge.client(run.ctx, env, log)
    target = run.forge.publish_target(run.ctx, result, client, log)
    pr, head_sha = target.pr, target.head_sha
    from mlci.engine import gate

    # Whatever the event, a file cannot choose its verdict or waive its own failures: the
    # verdict follows the reasons, and an override comes only from the label on the PR (below).
    result = dataclasses.replace(result, override=None, verdict=gate.verdict(result.reasons))
    if event.result_from_untrusted_run:
        # Written by an untrusted run: what would speak for this repository (its MLflow link,
        # the link to "its" run) is replaced by what this trusted run knows.
        result = dataclasses.replace(
            result,
            mlflow=None,
            context=dataclasses.replace(result.context, run_url=target.run_url),
        )
        result = _verify(result, cfg, root, target, log)
    elif event.run_url and not result.context.run_url:
        result = dataclasses.replace(
            result, context=dataclasses.replace(result.context, run_url=event.run_url)
        )
    result = dataclasses.replace(result, context=dataclasses.replace(result.context, pr=pr))
    labels: tuple[str, ...] = ()
    if client is not None and pr is not None:
        try:
            labels = client.pull(pr).labels
        except PublishError as exc:
            log.warning(f"cannot read the labels of #{pr}: {exc}")
    result = common.apply_label_override(result, cfg, labels, client, pr, log)
    # the trusted run renders with mlci's own templates only: no repository override
    run.summary(common.markdown(result, cfg, None))
    common.publish(
        run,
        result,
        cfg,
        client,
        pr=pr,
        head_sha=head_sha,
        run_url=result.context.run_url,
        root=None,
        files={"result-path": result_file, "report-path": ""},
        without_token="nothing published",
    )
    common.print_result(result, cfg, opts.fmt, None, log=log)
    return common.exit_code(result)


def _verify(
    result: Result, cfg: Config, root: Path | None, target: PublishTarget, log: Log
) -> Result:
    """The fork-safe check: the uploaded comparison against the PR head's committed files."""
    from mlci.engine import verify

    if target.head_sha is None:
        return result
    if root is None:
        found = verify.Verification(
            problem="mlci publish runs outside a git checkout of the repository "
            "(add actions/checkout before it)"
        )
        return verify.apply(result, found, cfg, Path.cwd(), target.head_sha)
    base = target.base_sha
    if base is None and verify.ensure_commit(target.head_sha, root, log.info):
        base = git.merge_base("HEAD", target.head_sha, root)  # the checkout is the base branch
    if base is None:
        found = verify.Verification(
            problem="the pull request's base commit is unknown (not in the event, "
            "and no merge base with the checkout)"
        )
    else:
        found = verify.recompute(result, cfg, root, base, target.head_sha, log.info)
    if found.problem or found.differences:
        log.warning(
            f"the uploaded result does not match the pull request's committed files: "
            f"{found.problem or '; '.join(found.differences[:5])}",
            title="mlci: verification",
        )
    return verify.apply(result, found, cfg, root, target.head_sha)
