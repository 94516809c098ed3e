from seqgan.models.discriminator import Discriminator
from seqgan.models.generator import Generator, sample_from_logits
from seqgan.models.oracle import build_oracle, oracle_params

__all__ = ["Discriminator", "Generator", "build_oracle", "oracle_params", "sample_from_logits"]
