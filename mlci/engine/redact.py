"""Secrets in the environment: which variables look secret, what stages see, what logs keep.

A pipeline stage is the pull request's code. It runs with mlci's environment minus every
secret-looking variable (mlci's own GitHub and MLflow tokens, cloud and DVC remote
credentials), unless ``repro.pass_env`` names it. Whatever a stage prints still goes through
:class:`Redactor` before it is kept: the value of every secret-looking variable of mlci's own
environment, passed or not, becomes ``***`` in the live log and in the log tail that the
comment, job summary, result JSON, HTML report and MLflow artifacts show.

The rule for a secret-looking name (case does not matter): one of its words (split at ``_``,
``-`` and ``.``) is a secret word below, or ends in one (``APIKEY``, ``GHTOKEN``), or the name
starts with a cloud provider's prefix (``AWS_``, ``AZURE_``, ``GOOGLE_``, ``GCP_``, ...), whose
SDKs read credentials from many differently named variables. Certificate-authority paths
(``AWS_CA_BUNDLE``, ``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE``, ...) are not secrets: stages see them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

SECRET_WORDS = (
    "TOKEN",
    "SECRET",
    "SECRETS",
    "PASSWORD",
    "PASSWD",
    "PASS",
    "PASSPHRASE",
    "KEY",
    "KEYS",
    "CREDENTIAL",
    "CREDENTIALS",
    "CREDS",
    "PRIVATE",
    "SIGNATURE",
    "COOKIE",
)
SECRET_ENDINGS = (
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "APIKEY",
    "ACCESSKEY",
    "SECRETKEY",
    "CREDENTIALS",
)
SECRET_PREFIXES = ("AWS_", "AZURE_", "GOOGLE_", "GCP_", "GCLOUD_", "ALIBABA_CLOUD_")
# Paths to certificate authorities, not secrets: a stage behind a TLS-intercepting proxy needs
# them to reach S3 or PyPI at all (AWS_CA_BUNDLE would otherwise go with the AWS_ prefix).
CERTIFICATE_PATHS = frozenset(
    {
        "AWS_CA_BUNDLE",
        "REQUESTS_CA_BUNDLE",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "CURL_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "GIT_SSL_CAINFO",
        "PIP_CERT",
    }
)
# Values shorter than this are not hidden: "true", "1" or "us" would blank out ordinary words.
MIN_SECRET_LENGTH = 6
MASK = "***"

_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@:]+:[^/\s@]+@")


def is_secret_name(name: str) -> bool:
    """Does the environment variable ``name`` look like it holds a secret?"""
    upper = name.upper()
    if upper in CERTIFICATE_PATHS:
        return False
    if upper.startswith(SECRET_PREFIXES):
        return True
    words = [w for w in re.split(r"[_.\-]+", upper) if w]
    return any(w in SECRET_WORDS or w.endswith(SECRET_ENDINGS) for w in words)


def stage_env(env: Mapping[str, str], pass_env: Iterable[str] = ()) -> dict[str, str]:
    """The environment a stage runs with: ``env`` minus secret-looking names not in ``pass_env``."""
    allowed = set(pass_env)
    return {k: v for k, v in env.items() if k in allowed or not is_secret_name(k)}


def withheld(env: Mapping[str, str], pass_env: Iterable[str] = ()) -> list[str]:
    """The names :func:`stage_env` leaves out, sorted (names are not secret; values are)."""
    allowed = set(pass_env)
    return sorted(k for k in env if k not in allowed and is_secret_name(k))


class Redactor:
    """Replaces known secret values (and the password of a URL) in text with ``***``."""

    def __init__(self, values: Iterable[str]) -> None:
        parts = set()
        for value in values:
            # a multi-line secret (a private key) may be printed one line at a time
            for part in [value, *value.splitlines()]:
                part = part.strip()
                if len(part) >= MIN_SECRET_LENGTH:
                    parts.add(part)
        # longest first, so that a secret containing another is hidden whole
        ordered = sorted(parts, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Redactor:
        return cls(v for k, v in env.items() if is_secret_name(k) and v)

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return _URL_CREDENTIALS.sub(lambda m: m.group(1) + MASK + "@", text)
