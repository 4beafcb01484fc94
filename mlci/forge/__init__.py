"""The code host: its run context, publishing results, PR-comment commands. GitHub today."""
