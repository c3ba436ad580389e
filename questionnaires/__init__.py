"""Questionnaires: the short-survey model, its validation, branching, renderings and answer parsing.

Pure: no I/O, and nothing of lxt is imported here. Modules, in dependency order:

- `errors` — `FieldError`, `QuestionnaireInvalid`, JSON `pointer()`.
- `conditions` — the condition language shared with triggers (check, evaluate).
- `model` — the definition Structs (`Definition`, question types, `AnswerValue`).
- `locales` — locale tags, fallback, localized texts.
- `messages`, `lexicon` — lxt's own texts per language; words and numbers customers reply with.
- `parse` — answers from SMS, JSON and HTML forms (`parse_sms`, `parse_structured`, `parse_form`).
- `flow` — the next question, early ends, answer-set consistency (`next_step`, `check_answers`).
- `gsm`, `sms`, `render` — SMS encoding and composition; SMS, web and app renderings.
- `validate` — semantic errors and warnings (`validate_definition`).
- `load` — decoding JSON/YAML to a validated `Definition` (`load_definition`, `definition_from_obj`).
- `scores` — NPS, top-two-box, means.
"""
