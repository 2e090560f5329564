"""lps_robot: Latent Policy Steering on real robot arms."""

__version__ = "0.1.0"
