"""The steps of a check (reproduce, lock status, data, metrics, plots, gate) and their orchestration.

Imports the model, the config loader and the adapters; never the code host or the reports.
"""
