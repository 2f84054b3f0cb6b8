"""Presentation: what people read, in their language, as platform-free messages.

Public: `render` (cards, notes, replies), `messages` (OutboundMessage, Button), `views` (the
immutable values the core returns), `event_words` (each event kind's words).
Inside: `visibility` (a signal as one viewer may see it: anonymity applied), `dates` (month
names and time-zone cities from a table Babel wrote).
"""
