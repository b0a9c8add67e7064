"""pandera schemas, one per boundary table of the pipeline."""
