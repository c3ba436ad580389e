"""Customers of a brand: identity by external id, contact data (E.164 phones, locales, IANA time zones), push
tokens, attributes, the consent ledger and opt-outs. Below `triggers`, which decides about them."""
