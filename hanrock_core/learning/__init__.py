"""Stage 3, learning: the models (HAN, flat-MTL HAN, HAN-ROCK; the bag-of-words floor), their
training, kept models and prediction."""
