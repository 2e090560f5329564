"""LPS networks: observation encoder, MeanFlow decoder, latent actor, critic ensemble."""

from lps_robot.models.actor import LatentActor, sphere_project, sphere_sample
from lps_robot.models.critic import CriticEnsemble
from lps_robot.models.encoders import ObsEncoder
from lps_robot.models.meanflow import MeanFlowDecoder, meanflow_loss
from lps_robot.models.mlp import mlp

__all__ = [
    "CriticEnsemble",
    "LatentActor",
    "MeanFlowDecoder",
    "ObsEncoder",
    "meanflow_loss",
    "mlp",
    "sphere_project",
    "sphere_sample",
]
