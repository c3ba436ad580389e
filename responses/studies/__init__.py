"""Real-time experience tracking studies: a code book, participants enrolled with consent, a pre-survey, a diary
period in which participants text a short code for every encounter with the brand or a competitor, and a
post-survey; and their compliance. Modules:

- `model` — the study as a brand defines it, validation, compliance figures (pure);
- `codes` — reading a texted code such as ``BT45`` (pure); `texts` — the replies, per language;
- `setup` — creating and changing a study (its touchpoints and triggers); `queries`, `reports` — their SQL;
- `participation` — enrolment, withdrawal, the end of diaries, and what a participant's text becomes
  (`handle_code`, a step of the inbound dispatcher `responses.replies`);
- `diary` — the participant's diary page: their reports, and comments on them.
"""
