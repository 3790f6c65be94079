"""Load test of the web server: `python -m benchmarks.load --seconds 60` (see __main__)."""
