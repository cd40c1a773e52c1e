"""Notifications: the outbox and its delivery, iMIP invitations, templates, per-user
settings, and online meetings."""
