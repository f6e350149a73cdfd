"""Stage 7, checks of the platform itself: the speed benchmark, the GPU check and the headless browser."""
