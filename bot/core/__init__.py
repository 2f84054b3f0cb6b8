"""The platform-free core: what people do with cases, and the rules for it.

It imports the standard library, `storage/`, the libraries of its domain and itself; never an
adapter (`handlers/`), a job (`jobs/`), a platform SDK or a web framework. The composition root
(`bot/cli.py`, `bot/runtime.py`, `bot/server.py`, `bot/demo.py`) wires it to those.
tests/unit/test_architecture.py enforces this.
"""
