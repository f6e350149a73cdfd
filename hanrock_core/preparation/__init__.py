"""Stage 2, preparation: from a talkturn table to what a model reads and learns from -- the dataset
settings, MONAH narratives, auxiliary targets and their loss weights, vocabulary, word vectors and
content context."""
