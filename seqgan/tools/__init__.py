"""Tools around training: human evaluation (Turing test), plots, speed benchmarks."""
