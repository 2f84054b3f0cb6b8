"""Capture: what a reporter says becomes a signal, routed, with its cards queued.

Public: `reports` (capture, capture_many, record_score, suggest, draft checks), `albums`
(files added to a stored report), `evidence.IncomingFile` (a file as an adapter hands it in).
Inside: `batch` writes many captures in one transaction, `group_commit` gathers them,
`similar` finds the open signal a new one repeats ("Same as VOC-12?").
"""
