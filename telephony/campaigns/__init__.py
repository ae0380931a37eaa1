"""Outbound campaigns: a list of leads dialed at a pace, within a schedule, each dial permitted by the gate."""
