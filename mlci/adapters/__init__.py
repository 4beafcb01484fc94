"""One module per outside system mlci drives: DVC, git, Great Expectations, MLflow.

The only code that imports those libraries or runs their programs.
"""
