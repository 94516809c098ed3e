"""SeqGAN (Yu et al., AAAI 2017) in PyTorch: generator, discriminator, roll-outs, trainer."""

__version__ = "0.1.0"
