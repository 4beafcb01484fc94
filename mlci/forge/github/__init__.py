"""GitHub: the REST client, the Actions run context and log, publishing, PR-comment commands."""
