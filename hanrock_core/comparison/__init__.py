"""Stage 5, comparison: significance under the paper's A.4 and the paired test, their calibration,
and the tables a finished study writes."""
