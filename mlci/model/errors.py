"""mlci's errors, each tied to the exit code the CLI returns for it.

Raised anywhere, caught once in :func:`mlci.cli.main`: a user error prints one
line and no traceback (the traceback only with ``-v``).
"""

from __future__ import annotations

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_RUNTIME = 3


class MlciError(Exception):
    """Base class; ``exit_code`` says how the process ends."""

    exit_code = EXIT_RUNTIME


class ConfigError(MlciError):
    """A usage or configuration mistake (exit 2).

    ``file`` and ``line`` locate the problem when it is in a file, ``key`` is
    the dotted key path (``metrics.rules[0].direction``).
    """

    exit_code = EXIT_USAGE

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.key = key
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        key = f"{self.key}: " if self.key else ""
        return f"{where}{key}{self.message}"


class RunError(MlciError):
    """mlci could not finish: not a git repo, unknown revision, DVC failed (exit 3)."""

    exit_code = EXIT_RUNTIME
