"""Routing: which department owns a signal, from its words and from the company's history.

Public: `keywords` (the tokenizer `stems` and the keyword `Router`), `learned` (the model
blended with the keywords), `training` (train, share and report on the model).
Inside: `chinese` (word segmentation, loaded on the first Chinese text).
"""
