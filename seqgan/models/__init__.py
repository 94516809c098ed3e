from seqgan.models.discriminator import Discriminator
from seqgan.models.generator import Generator
from seqgan.models.oracle import build_oracle, oracle_params
from seqgan.models.sampling import sample_from_logits

__all__ = ["Discriminator", "Generator", "build_oracle", "oracle_params", "sample_from_logits"]
