"""Adapters of the language port (`bot.core.meaning.Embedder`) and the choice among them.

`VOC_LANGUAGE`: `auto` (the default) uses the bundled model where its package is installed and
is off elsewhere; `off` compares words only, as before; `endpoint` asks the OpenAI-compatible
endpoint at `VOC_EMBEDDINGS_URL` for `VOC_EMBEDDINGS_MODEL`, with `VOC_EMBEDDINGS_KEY` as its
bearer token if set.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import SecretStr

from bot.core.meaning import Embedder, Off
from bot.language import bundled
from bot.language.endpoint import EndpointModel


class LanguageSettings(Protocol):
    """The settings the factory reads (bot.config.Settings has them)."""

    @property
    def voc_language(self) -> str: ...

    @property
    def voc_embeddings_url(self) -> str | None: ...

    @property
    def voc_embeddings_model(self) -> str | None: ...

    @property
    def voc_embeddings_key(self) -> SecretStr | None: ...


class LanguageSettingError(ValueError):
    """The settings ask for a layer they do not describe fully (names settings, no values)."""


def build_embedder(settings: LanguageSettings) -> Embedder:
    """The language layer the settings choose."""
    mode = settings.voc_language
    if mode == "off":
        return Off()
    if mode == "endpoint":
        missing = [name for name, value in (("VOC_EMBEDDINGS_URL", settings.voc_embeddings_url),
                                            ("VOC_EMBEDDINGS_MODEL",
                                             settings.voc_embeddings_model)) if not value]
        if missing:
            raise LanguageSettingError(
                f"VOC_LANGUAGE=endpoint needs {' and '.join(missing)} (an OpenAI-compatible "
                "embeddings endpoint, e.g. http://127.0.0.1:11434/v1, and its model's name)")
        key = settings.voc_embeddings_key
        return EndpointModel(str(settings.voc_embeddings_url), str(settings.voc_embeddings_model),
                             key.get_secret_value() if key is not None else None)
    if mode == "auto":
        return bundled.BundledModel() if bundled.installed() else Off()
    raise LanguageSettingError(f"VOC_LANGUAGE must be auto, off or endpoint, not {mode!r}")


def status(embedder: Embedder) -> str:
    """One start-up line: which language layer routing, "me too" and themes use."""
    return f"language layer: {embedder.status()}"


__all__ = ["LanguageSettingError", "LanguageSettings", "build_embedder", "status"]
