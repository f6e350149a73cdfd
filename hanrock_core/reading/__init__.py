"""Stage 1, reading: corpora in their release layouts (IEMOCAP, SEMAINE, OpenFace, Vokaturi, a
bring-your-own table), the embedded synthetic corpus, splits, and the talkturn table they all produce."""
