"""Notifications: channels that reach the customer's phone, and the arq worker's jobs."""
