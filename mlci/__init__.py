"""mlci: CI/CD for ML repositories kept in DVC, Great Expectations and MLflow."""

__version__ = "0.1.0"
