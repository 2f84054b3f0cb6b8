"""Reporting: the weekly digest, rising themes, NPS and the internal pulses.

Public: `digest` (figures, texts, who may see which), `pulses` (who is asked, answers),
`periods` (weeks, pulse rounds, schedules in company time), `nps` (the score and its margin).
Inside: `themes` (the words whose share of complaints grew).
"""
