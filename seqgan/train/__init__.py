"""Training: roll-outs, losses, the trainer (Algorithm 1), run directories, checkpoints, processes, the log."""
