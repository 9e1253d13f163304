"""leadscore: orchestration, command line and demo data for the lead-scoring warehouse."""

__version__ = "0.1.0"
