"""The error every config loader raises: file, line and a message a person can act on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem found in a config; ``line`` is 1-based, None when no source line is known."""

    filename: str
    line: int | None
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.filename}: {self.message}"
        return f"{self.filename}:{self.line}: {self.message}"


class ConfigError(ValueError):
    """A config that cannot be used.

    ``filename``, ``line`` and ``message`` describe the first problem; ``issues`` holds every
    problem found in the same pass so that a user fixes them in one go rather than one per run.
    ``str(e)`` is ``"filename:line: message"``, one line per issue.
    """

    def __init__(
        self, filename: str, line: int | None, message: str, issues: list[ConfigIssue] | None = None
    ):
        self.filename = filename
        self.line = line
        self.message = message
        self.issues: list[ConfigIssue] = issues or [ConfigIssue(filename, line, message)]
        super().__init__("\n".join(str(i) for i in self.issues))

    @classmethod
    def from_issues(cls, issues: list[ConfigIssue]) -> ConfigError:
        if not issues:
            raise ValueError("ConfigError.from_issues needs at least one issue")
        first = issues[0]
        return cls(first.filename, first.line, first.message, list(issues))
