"""Customers as accounts: a signal's free-text customer matched to one account.

`names` turns a customer text into comparable forms (legal forms, quotes and punctuation
dropped, Cyrillic written in Latin letters, a sound skeleton); `matching` decides whether two
texts name the same customer: surely, perhaps (ask the reporter), or not; `accounts` finds an
account for a text, joins signals to it, merges and splits accounts; `importing` reads a
customer list. Pure: the standard library, rapidfuzz and storage only.
"""
