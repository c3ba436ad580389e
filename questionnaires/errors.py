"""Typed errors of questionnaire definitions (field errors themselves are `plumbing.errors`)."""

from __future__ import annotations

from plumbing.errors import DefinitionInvalid, FieldError, pointer


class QuestionnaireInvalid(DefinitionInvalid):
    title = "Invalid questionnaire"


__all__ = ["DefinitionInvalid", "FieldError", "QuestionnaireInvalid", "pointer"]
