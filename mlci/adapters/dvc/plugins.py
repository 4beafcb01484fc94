"""DVC's remote URL schemes: for a cloud remote, the plugin it needs, mlci's extra that installs
it and where its credentials come from; for a network remote, its default port.

``mlci init`` writes the workflow from it, ``mlci doctor`` checks a remote against it, the
reachability probe dials its ports, and DVC's "requires dvc-s3" errors are turned into the
extra to add.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RemotePlugin:
    extra: str  # mlci's optional dependency (pip install 'mlci[s3]', the action's `extras:`)
    module: str  # the plugin's import name, to tell whether it is installed
    workflow_secrets: tuple[str, ...]  # what a generated workflow passes on from secrets
    credential_env: tuple[str, ...]  # variables any of which can carry credentials
    credential_options: tuple[str, ...]  # remote options any of which can carry them
    credential_files: tuple[str, ...]  # files under $HOME that can hold them


_S3 = RemotePlugin(
    "s3",
    "dvc_s3",
    ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    (
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ),
    ("access_key_id", "profile", "credentialpath", "configpath"),
    (".aws/credentials", ".aws/config"),
)
_GS = RemotePlugin(
    "gs",
    "dvc_gs",
    ("GOOGLE_APPLICATION_CREDENTIALS",),
    ("GOOGLE_APPLICATION_CREDENTIALS",),
    ("credentialpath",),
    (".config/gcloud/application_default_credentials.json",),
)
_AZURE = RemotePlugin(
    "azure",
    "dvc_azure",
    ("AZURE_STORAGE_CONNECTION_STRING",),
    (
        "AZURE_STORAGE_CONNECTION_STRING",
        "AZURE_STORAGE_KEY",
        "AZURE_STORAGE_SAS_TOKEN",
        "AZURE_CLIENT_SECRET",
    ),
    ("connection_string", "account_key", "sas_token", "client_secret", "allow_anonymous_login"),
    (),
)

# remote URL scheme -> its plugin (gcs:// is DVC's other name for gs://)
REMOTE_PLUGINS: dict[str, RemotePlugin] = {"s3": _S3, "gs": _GS, "gcs": _GS, "azure": _AZURE}

# network remotes reached over a host and port: the port when the URL names none (what a
# connection test dials; the cloud schemes above are checked through their credentials)
DEFAULT_PORTS: dict[str, int] = {"http": 80, "https": 443, "ssh": 22, "webdav": 80, "webdavs": 443}
