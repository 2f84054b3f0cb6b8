"""Handling: working a signal once it is routed, from acknowledgement to the rating.

Public: `actions` (check and perform any action by name), `rules` (the action table: who may,
in which state, what is asked, the confirmation), `questions` (a head asks, the reporter
answers), `reminders` (the SLA sweep), `queues` (mine, a department's queue, one signal).
Inside: `workflow` (each action's use case), `merging` ("me too" and merges), `guards` (each
refusal once), `outgoing` (the cards and notes a change queues), `audit` (events).
"""
