"""HAN-ROCK core library: corpora, narratives, auxiliary targets, models, studies.

This package never imports Dagster; `hanrock_assets` wires it into an orchestrated platform.
"""

__version__ = "0.1.0"
