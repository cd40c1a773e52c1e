"""Delivering events to webhook endpoints (``delivery``): signed as the Standard Webhooks
specification says, in order per booking, retried on a schedule, each attempt recorded."""
