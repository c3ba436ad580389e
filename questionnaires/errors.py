"""Typed errors of questionnaire definitions (field errors themselves are `plumbing.errors`)."""

from __future__ import annotations

from plumbing.errors import DefinitionInvalid


class QuestionnaireInvalid(DefinitionInvalid):
    title = "Invalid questionnaire"
