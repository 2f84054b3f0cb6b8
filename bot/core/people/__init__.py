"""People: who is who (departments, heads, leadership, languages) and their personal data.

Public: `directory` (first contact, language, department, heads), `privacy` (retention and
`voc forget`).
"""
