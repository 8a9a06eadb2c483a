"""Movies: reading camera files (``io``), their metadata, ingestion, regions, simulation."""
