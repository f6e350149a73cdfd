"""Stage 5, comparison: verdicts under the paper's A.4 and the paired test (seeds, or slot by slot over two
searches), its simulations and calibration, and the tables a finished study writes."""
