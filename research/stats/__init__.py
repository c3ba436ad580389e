"""Touchpoint analytics and tracking-study statistics, computed in SQL with confidence intervals. Modules:

- `model` — the result Structs and the validated query (pure);
- `query` — a query from request parameters: defaults, the bucket cap, the time zone (pure);
- `methods` — the intervals (NPS, t, Wilson, Welch) and the words that describe them (pure);
- `scales` — which answers are scores: the scale questions of the brand's questionnaire versions;
- `touchpoints` — figures by touchpoint, trigger or questionnaire, per bucket and over the range, from the two
  statements of `figures_sql`;
- `studies` — a tracking study's shares of experience, positivity, consideration change and its association
  with the touchpoints reported (SQL).
"""
