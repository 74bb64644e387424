"""thinfile's settings: one typed object composed of the sections in each stage's settings module."""

from __future__ import annotations

from thinfile.features.settings import GeneratorParams, HistorySettings, InferSettings
from thinfile.serving.batch.settings import BatchSettings
from thinfile.serving.settings import ServingSettings
from thinfile.training.settings import LoopSettings, PromotionGate, TrainingSettings

__all__ = ["BatchSettings", "GeneratorParams", "PromotionGate", "ServingSettings", "Settings", "TrainingSettings"]


class Settings(TrainingSettings):
    """Every section: the training job's (scale, cutoffs, train, pipeline, fairness, audit, stability), the
    synthetic world's (generator) and batch jobs' (batch). The service reads ServingSettings from THINFILE_*."""

    generator: GeneratorParams = GeneratorParams()
    batch: BatchSettings = BatchSettings()
    promotion: PromotionGate = PromotionGate()
    history: HistorySettings = HistorySettings()
    loop: LoopSettings = LoopSettings()
    infer: InferSettings = InferSettings()
