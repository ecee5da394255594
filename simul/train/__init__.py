"""Training of every model family: ``simul train CONFIG [key=value ...]``."""

from simul.train.config import TrainConfig, load_train_config
from simul.train.trainer import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "load_train_config", "train"]
