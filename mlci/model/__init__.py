"""The data mlci computes and reads: results, configuration, errors, text helpers.

Imports nothing else of mlci, so every other layer can use it.
"""
