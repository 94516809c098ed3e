"""``seqgan verdict``: the question every user of a text GAN should ask first, asked of their own data. Does
adversarial training beat early-stopped, temperature-tuned MLE, and does it beat rewards that carry no information
about the sequence? Every system swept over temperature, compared at matched diversity on the frontiers that fit
the data, seeds paired, a t-test per comparison.

Modules: :mod:`.systems` (what is compared, each system's config), :mod:`.jobs` (resumable training in worker
processes, the budget, the progress), :mod:`.measure` (the test-split sweeps, the frontiers), :mod:`.judge` (the
verdicts), :mod:`.report` (results.md and the PNGs from verdict.json alone), :mod:`.runner` (all of it in order).
"""

from seqgan.tools.verdict.runner import Options, report_from_json, report_from_runs, run

__all__ = ["Options", "report_from_json", "report_from_runs", "run"]
