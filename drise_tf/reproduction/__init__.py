"""One command for everything: the profiles (:mod:`.profiles`) and the run that trains if needed, explains,
measures and draws every figure (:mod:`.run`)."""
from drise_tf.reproduction.profiles import PROFILES, Profile, get_profile
from drise_tf.reproduction.run import (
    has_trained_model,
    reproduce,
    run_dir_for,
    train_profile,
)

__all__ = ["PROFILES", "Profile", "get_profile", "has_trained_model", "reproduce", "run_dir_for", "train_profile"]
