"""Evaluation: NLL, entropy and sample metrics, BLEU and Self-BLEU, quality-diversity frontiers."""
