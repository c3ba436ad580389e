"""Questionnaires: the short-survey model, its validation, branching, renderings and answer parsing.

Pure: no I/O, and nothing of lxt is imported here.
"""
